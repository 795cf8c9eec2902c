// Package adminapi is the HTTP adapter of authd's admin API: Echo routes
// under /admin/v1 on a listener of their own (ADMIN_ADDR), never the
// public one, for operators and their tools. Every call needs a bearer
// token of the token file (Tokens), and every call that gets through is
// an audit event naming the token, recorded by the use case it calls.
// Errors are the public API's problem documents (httpapi.WriteProblem).
package adminapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/authd/authd/internal/auth"
	"github.com/authd/authd/internal/httpapi"
	"github.com/authd/authd/internal/logging"
)

// Admin are the admin use cases the handlers call (auth.Service's).
type Admin interface {
	ListIdentities(ctx context.Context, by auth.Actor, q auth.IdentityQuery) (auth.IdentityPage, error)
	GetIdentity(ctx context.Context, by auth.Actor, id uuid.UUID) (auth.ManagedIdentity, error)
	CreateIdentity(ctx context.Context, by auth.Actor, cmd auth.NewIdentity) (auth.ManagedIdentity, error)
	UpdateIdentity(ctx context.Context, by auth.Actor, cmd auth.IdentityChange) (auth.ManagedIdentity, error)
	DeleteIdentity(ctx context.Context, by auth.Actor, id uuid.UUID) error
	IdentitySessions(ctx context.Context, by auth.Actor, id uuid.UUID) ([]auth.Session, error)
	EndIdentitySession(ctx context.Context, by auth.Actor, id uuid.UUID, sessionID string) error
	EndIdentitySessions(ctx context.Context, by auth.Actor, id uuid.UUID) (int, error)
	IssueRecoveryLink(ctx context.Context, by auth.Actor, id uuid.UUID, mail bool) (auth.RecoveryLink, error)
	RemoveSecondFactors(ctx context.Context, by auth.Actor, id uuid.UUID) (auth.Factors, error)
	QueryAudit(ctx context.Context, by auth.Actor, q auth.AuditQuery) (auth.AuditPage, error)
}

var _ Admin = (*auth.Service)(nil)

// Config is what the admin server needs besides its collaborators.
type Config struct {
	BodyLimit int64
	OpenAPI   []byte
}

// Server holds the collaborators of the admin handlers.
type Server struct {
	admin   Admin
	tokens  *Tokens
	cfg     Config
	log     *slog.Logger
	metrics *metrics
}

// New builds the admin API's Echo instance.
func New(admin Admin, tokens *Tokens, cfg Config, reg prometheus.Registerer, log *slog.Logger) *echo.Echo {
	s := &Server{admin: admin, tokens: tokens, cfg: cfg, log: log.With("component", "adminapi"), metrics: newMetrics(reg)}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	// Operators reach this listener directly; no proxy header is believed.
	e.IPExtractor = echo.ExtractIPDirect()
	e.HTTPErrorHandler = s.errorHandler
	e.Pre(s.requestID)
	e.Use(s.accessLog, s.recoverPanic, httpapi.SecurityHeaders, httpapi.NoStore, s.bodyLimit)
	s.routes(e)
	return e
}

// routes lists every endpoint. The token check goes on each route, not
// on a group, so that unknown paths and wrong methods answer 404 and 405.
func (s *Server) routes(e *echo.Echo) {
	e.GET("/admin/v1/openapi.yaml", s.openAPI)
	a := e.Group("/admin/v1")
	auth := s.requireToken
	a.GET("/identities", s.listIdentities, auth)
	a.POST("/identities", s.createIdentity, auth)
	a.GET("/identities/:id", s.getIdentity, auth)
	a.PATCH("/identities/:id", s.updateIdentity, auth)
	a.DELETE("/identities/:id", s.deleteIdentity, auth)
	a.GET("/identities/:id/sessions", s.listSessions, auth)
	a.DELETE("/identities/:id/sessions", s.endSessions, auth)
	a.DELETE("/identities/:id/sessions/:session_id", s.endSession, auth)
	a.POST("/identities/:id/recovery-link", s.recoveryLink, auth)
	a.DELETE("/identities/:id/second-factors", s.removeSecondFactors, auth)
	a.GET("/audit-events", s.auditEvents, auth)
}

func (s *Server) openAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, "application/yaml", s.cfg.OpenAPI)
}

// actorKey is where requireToken leaves the caller for the handlers.
const actorKey = "adminapi.actor"

// errNoToken is the one answer to a missing, unknown or revoked token.
var errNoToken = &auth.Error{Kind: auth.KindUnauthenticated, Code: auth.CodeUnauthenticated,
	Message: "Send a valid admin token: Authorization: Bearer <token>."}

// requireToken admits a call with a token of the file. A refused call
// reaches no use case, so it writes nothing; it is logged and counted.
func (s *Server) requireToken(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		scheme, token, _ := strings.Cut(c.Request().Header.Get(echo.HeaderAuthorization), " ")
		name, ok := "", false
		if strings.EqualFold(scheme, "Bearer") {
			name, ok = s.tokens.Match(strings.TrimSpace(token))
		}
		if !ok {
			s.metrics.refused.Inc()
			s.log.WarnContext(c.Request().Context(), "admin call refused: no valid token", "route", c.Path(), "ip", c.RealIP())
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="authd-admin"`)
			return errNoToken
		}
		c.Set(actorKey, auth.Actor{Name: "admin:" + name,
			Client: auth.NewClient(c.RealIP(), c.Request().UserAgent(), logging.RequestID(c.Request().Context()))})
		return next(c)
	}
}

func actorOf(c echo.Context) auth.Actor {
	a, _ := c.Get(actorKey).(auth.Actor)
	return a
}

func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, fault := httpapi.WriteProblem(c, err)
	if fault {
		s.log.ErrorContext(c.Request().Context(), "admin request failed", "status", status, "route", c.Path(), "error", err)
	}
}

func (s *Server) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(echo.HeaderXRequestID)
		if !validRequestID(id) {
			id = uuid.NewString()
		}
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		c.SetRequest(c.Request().WithContext(logging.WithRequestID(c.Request().Context(), id)))
		return next(c)
	}
}

// validRequestID admits a caller's own short plain id; anything else could
// forge or garble log lines.
func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// accessLog writes one line per call, counts it, and never logs the
// query, body or headers (a token, a password).
func (s *Server) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		if err := next(c); err != nil {
			c.Error(err)
		}
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		status := c.Response().Status
		s.metrics.requests.WithLabelValues(c.Request().Method, route, strconv.Itoa(status)).Inc()
		s.log.InfoContext(c.Request().Context(), "admin request", "method", c.Request().Method, "route", route, "status", status,
			"actor", actorOf(c).Name, "duration_ms", float64(time.Since(start).Microseconds())/1000, "ip", c.RealIP())
		return nil
	}
}

func (s *Server) recoverPanic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				err = auth.Internal("panic", fmt.Errorf("%v", r))
			}
		}()
		return next(c)
	}
}

func (s *Server) bodyLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if req.ContentLength > s.cfg.BodyLimit {
			return echo.NewHTTPError(http.StatusRequestEntityTooLarge)
		}
		req.Body = http.MaxBytesReader(c.Response(), req.Body, s.cfg.BodyLimit)
		return next(c)
	}
}

type metrics struct {
	requests *prometheus.CounterVec
	refused  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authd_admin_requests_total", Help: "Admin API calls by method, route and status.",
		}, []string{"method", "route", "status"}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "authd_admin_refused_total", Help: "Admin API calls refused for want of a valid token (401).",
		}),
	}
	reg.MustRegister(m.requests, m.refused)
	return m
}
