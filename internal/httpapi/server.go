// Package httpapi is the HTTP adapter of authd: Echo routes under /api/v1,
// strict JSON decoding, session cookies and problem+json errors. Handlers
// stay thin: decode, call one use case, render. Of sessions this layer
// knows only the cookie: the token comes in with it, and a use case that
// starts or ends a session hands back what the cookie must say.
package httpapi

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/authd/authd/internal/auth"
)

// Identities are the identity use cases the handlers call.
type Identities interface {
	Authenticate(ctx context.Context, tokens []string) (auth.Session, bool, error)
	Register(ctx context.Context, cmd auth.Register) (auth.Registered, error)
	Login(ctx context.Context, cmd auth.Login) (auth.LoggedIn, error)
	Logout(ctx context.Context, current auth.Session, c auth.Client) error
	CurrentProfile(ctx context.Context, id uuid.UUID) (auth.Profile, error)
	ChangePassword(ctx context.Context, cmd auth.ChangePassword) (auth.PasswordChanged, error)
	UpdateProfile(ctx context.Context, cmd auth.UpdateProfile) (auth.Identity, error)
	ListSessions(ctx context.Context, current auth.Session) ([]auth.Session, error)
	RevokeSession(ctx context.Context, current auth.Session, sessionID string, c auth.Client) error
	RevokeOtherSessions(ctx context.Context, current auth.Session, c auth.Client) (int, error)
	Activity(ctx context.Context, id uuid.UUID) ([]auth.Event, error)
	RequestRecovery(ctx context.Context, cmd auth.RequestRecovery) error
	CompleteRecovery(ctx context.Context, cmd auth.CompleteRecovery) error
	ResendVerification(ctx context.Context, cmd auth.ResendVerification) error
	VerifyEmail(ctx context.Context, token string, c auth.Client) (auth.Identity, error)
	SendVerificationCode(ctx context.Context, id uuid.UUID) error
	SubmitVerificationCode(ctx context.Context, id uuid.UUID, code string, c auth.Client) (auth.Identity, error)
	DeleteAccount(ctx context.Context, sess auth.Session, c auth.Client) error
	RequestEmailChange(ctx context.Context, cmd auth.ChangeEmail) error
	CancelEmailChange(ctx context.Context, token string, c auth.Client) error

	RequireCompleteSession(ctx context.Context, sess auth.Session) error
	LoginSecondFactor(ctx context.Context, cmd auth.SecondFactorLogin) (auth.LoggedIn, error)
	SetUpTOTP(ctx context.Context, sess auth.Session) (auth.TOTPSetup, error)
	ConfirmTOTP(ctx context.Context, sess auth.Session, code string, c auth.Client) (auth.TOTPConfirmed, error)
	RemoveTOTP(ctx context.Context, sess auth.Session, c auth.Client) error
	RegenerateRecoveryCodes(ctx context.Context, sess auth.Session, c auth.Client) (auth.RecoveryCodes, error)
	BeginPasskeyRegistration(ctx context.Context, sess auth.Session) (auth.Ceremony, error)
	FinishPasskeyRegistration(ctx context.Context, cmd auth.RegisterPasskey) (auth.PasskeyRegistered, error)
	ListPasskeys(ctx context.Context, sess auth.Session) ([]auth.Passkey, error)
	RenamePasskey(ctx context.Context, sess auth.Session, id uuid.UUID, name string, c auth.Client) (auth.Passkey, error)
	DeletePasskey(ctx context.Context, sess auth.Session, id uuid.UUID, c auth.Client) error
	BeginPasskeyLogin(ctx context.Context, sess auth.Session, c auth.Client) (auth.Ceremony, error)
	FinishPasskeyLogin(ctx context.Context, cmd auth.PasskeyLogin) (auth.LoggedIn, error)
}

// Check is one readiness probe of a dependency.
type Check func(ctx context.Context) error

// Cookie is how the session cookie is set. It is HttpOnly and
// SameSite=Lax always; Secure unless explicitly turned off for development.
type Cookie struct {
	Name   string
	Domain string
	Secure bool
}

// Config is what the server needs besides its collaborators.
type Config struct {
	Cookie       Cookie
	BodyLimit    int64
	ReadyTimeout time.Duration
	OpenAPI      []byte
	// TrustedProxies are the networks whose X-Forwarded-For is believed;
	// without any, the client IP is the socket's peer.
	TrustedProxies []*net.IPNet
	// CORSOrigins may call the API from a browser with credentials. They
	// are trusted by the CSRF check too.
	CORSOrigins []string
	// TrustedOrigins pass the CSRF check without CORS (e.g. an SPA dev
	// server on another port of the same site).
	TrustedOrigins []string
	// MaxInFlight caps concurrent API requests; more are shed with 503.
	MaxInFlight int
	// ShedDelay is how long a request shed with 503 overloaded waits
	// before its reply (outside the in-flight cap; 0: none).
	ShedDelay time.Duration
	// Web is the web app (index.html and static/), served at /; nil
	// serves none (WEB_UI=false).
	Web fs.FS
	// MetricsElsewhere leaves /metrics off this handler: it is served on
	// a listener of its own (METRICS_ADDR), which clients never reach.
	MetricsElsewhere bool
	// Tracer makes each request a span (none when nil).
	Tracer trace.Tracer
	// Draining reports that the instance is shutting down: /ready answers
	// 503 "draining" so that load balancers stop sending, while every
	// other route is served as before (nil: never).
	Draining func() bool
}

// Server holds the collaborators of the handlers.
type Server struct {
	identities Identities
	checks     map[string]Check
	cfg        Config
	log        *slog.Logger
	metrics    *metrics
}

// New builds the Echo instance with every route and middleware.
func New(identities Identities, checks map[string]Check, cfg Config, reg *prometheus.Registry, log *slog.Logger) (*echo.Echo, error) {
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = time.Second
	}
	s := &Server{identities: identities, checks: checks, cfg: cfg, log: log, metrics: newMetrics(reg)}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	// The socket address, never a client-supplied header: X-Forwarded-For
	// from anyone would let clients pick their own rate-limit bucket.
	e.IPExtractor = ipExtractor(cfg.TrustedProxies)
	e.HTTPErrorHandler = s.errorHandler
	csrf, err := newCSRF(append(append([]string{}, cfg.CORSOrigins...), cfg.TrustedOrigins...))
	if err != nil {
		return nil, err
	}
	e.Pre(s.requestID)
	if cfg.Tracer != nil {
		// First, so the access log line and everything after carry the
		// request's trace id.
		e.Use(traceRequests(cfg.Tracer))
	}
	e.Use(s.accessLog, s.recoverPanic, securityHeaders)
	if cfg.MaxInFlight > 0 {
		e.Use(limitInFlight(cfg.MaxInFlight))
	}
	if len(cfg.CORSOrigins) > 0 {
		e.Use(cors(cfg.CORSOrigins))
	}
	e.Use(csrf, s.bodyLimit)
	s.routes(e, reg)
	if err := s.webRoutes(e); err != nil {
		return nil, fmt.Errorf("web app: %w", err)
	}
	return e, nil
}
