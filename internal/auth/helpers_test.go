package auth_test

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/internal/auth"
	"github.com/authd/authd/internal/auth/authtest"
)

// The use cases run against the fakes of package authtest, on a clock the
// tests move by hand.

const (
	password    = "correct horse battery"
	newPassword = "staple horse correct"
	publicURL   = "https://app.example.com"
)

var (
	client       = auth.NewClient("192.0.2.10", "test-agent/1.0", "req-1")
	errInjected  = errors.New("injected failure")
	errAvailable = auth.Unavailable("fake store", errInjected)
)

// env is a Service on fakes.
type env struct {
	*authtest.Fakes
	svc  *auth.Service
	logs *logRecorder
}

func defaultDeps(f *authtest.Fakes, logs *logRecorder) auth.Deps {
	d := f.Deps()
	d.Limits = auth.Limits{
		LoginAccount:      auth.LockoutPolicy{Free: 3, Base: time.Minute, Max: 15 * time.Minute, ResetAfter: 24 * time.Hour},
		LoginAccountTotal: auth.LockoutPolicy{Free: 10, Base: time.Minute, Max: 15 * time.Minute, ResetAfter: 24 * time.Hour},
		LoginIP:           auth.LockoutPolicy{Free: 20, Base: time.Minute, Max: time.Hour, ResetAfter: time.Hour},
		RegisterPerIP:     10,
		MailRequestsIP:    20,
	}
	d.Mail = auth.MailSettings{PublicURL: publicURL, Product: "authd", RecoveryTTL: time.Hour,
		VerificationTTL: 24 * time.Hour, CodeTTL: 15 * time.Minute, CodeAttempts: 3, PerAddressLimit: 5}
	d.Policy = auth.PasswordPolicy{MinLength: 8, Blocklist: authtest.NewBlocklist("password123")}
	d.PrivilegedWindow = 15 * time.Minute
	d.Log = slog.New(logs)
	return d
}

func newEnv(t *testing.T, opts ...func(*auth.Deps)) *env {
	t.Helper()
	f := authtest.New()
	logs := &logRecorder{}
	d := defaultDeps(f, logs)
	for _, o := range opts {
		o(&d)
	}
	return &env{Fakes: f, svc: auth.NewService(d), logs: logs}
}

func strict(d *auth.Deps)          { d.StrictRegistration = true }
func requireVerified(d *auth.Deps) { d.Mail.RequireVerified = true }

// user stores an active identity with password, as a test's starting point.
func (e *env) user(t *testing.T, address string, change ...func(*auth.Identity)) auth.Identity {
	t.Helper()
	email, err := auth.ParseEmail(address)
	if err != nil {
		t.Fatal(err)
	}
	now := e.Clock.Now().Add(-48 * time.Hour)
	i := auth.Identity{ID: uuid.Must(uuid.NewV7()), Email: email, PasswordHash: authtest.HashOf(password),
		State: auth.StateActive, CreatedAt: now, UpdatedAt: now}
	for _, c := range change {
		c(&i)
	}
	e.Identities.Put(i)
	return i
}

func verified(i *auth.Identity) {
	at := i.CreatedAt
	i.EmailVerifiedAt = &at
}

func inactive(i *auth.Identity) { i.State = auth.StateInactive }

// session starts a session of the identity authenticated at authAt, as
// Authenticate would return it.
func (e *env) session(t *testing.T, id uuid.UUID, authAt time.Time) (auth.Session, string) {
	t.Helper()
	started, err := e.Sessions.Start(context.Background(), auth.Session{IdentityID: id, AuthenticatedAt: authAt,
		CreatedAt: authAt, LastSeenAt: authAt, IP: "198.51.100.1", UserAgent: "other-device"})
	if err != nil {
		t.Fatal(err)
	}
	s, ok, err := e.Sessions.Find(context.Background(), started.Token)
	if err != nil || !ok {
		t.Fatalf("Find = %v, %v", ok, err)
	}
	e.Sessions.ResetCalls()
	return s, started.Token
}

func (e *env) works(t *testing.T, token string) bool {
	t.Helper()
	_, ok, err := e.Sessions.Find(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func (e *env) stored(t *testing.T, id uuid.UUID) auth.Identity {
	t.Helper()
	i, ok := e.Identities.Get(id)
	if !ok {
		t.Fatalf("identity %v not stored", id)
	}
	return i
}

// lastMail returns the last mail to the address with the template.
func (e *env) lastMail(t *testing.T, to, template string) auth.Mail {
	t.Helper()
	mails := e.Outbox.To(to, template)
	if len(mails) == 0 {
		t.Fatalf("no %q mail to %s (outbox: %+v)", template, to, e.Outbox.Mails())
	}
	return mails[len(mails)-1]
}

// tokenOf returns the token in a mailed link.
func tokenOf(t *testing.T, m auth.Mail) string {
	t.Helper()
	u, err := url.Parse(m.Data["Link"])
	if err != nil {
		t.Fatal(err)
	}
	token := u.Query().Get("token")
	if token == "" {
		t.Fatalf("no token in %q", m.Data["Link"])
	}
	return token
}

// accountKey is the lock-out key of the account from the tests' client.
func accountKey(email string) auth.ThrottleKey { return pairKey(email, client.IP) }

// pairKey is the lock-out key of an account from one client address.
func pairKey(email, ip string) auth.ThrottleKey {
	return auth.ThrottleKey{Scope: "login:account-client", Subject: email + "\x00" + ip}
}

// totalKey is the lock-out key of an account from every address.
func totalKey(email string) auth.ThrottleKey {
	return auth.ThrottleKey{Scope: "login:account", Subject: email}
}

// wantErr fails unless err is an *auth.Error of kind and code.
func wantErr(t *testing.T, err error, kind auth.Kind, code string) *auth.Error {
	t.Helper()
	var ae *auth.Error
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v (%T), want an *auth.Error %s", err, err, code)
	}
	if ae.Kind != kind || ae.Code != code {
		t.Fatalf("err = %v (kind %d), want kind %d, code %s", err, ae.Kind, kind, code)
	}
	return ae
}

// wantFields fails unless err is invalid input naming exactly the fields
// with the codes, "field=code".
func wantFields(t *testing.T, err error, want ...string) {
	t.Helper()
	ae := wantErr(t, err, auth.KindInvalid, auth.CodeInvalidInput)
	var got []string
	for _, f := range ae.Fields {
		got = append(got, f.Field+"="+f.Code)
	}
	if !slices.Equal(got, want) {
		t.Errorf("fields = %v, want %v", got, want)
	}
}

func wantTypes(t *testing.T, a *authtest.AuditLog, want ...auth.EventType) {
	t.Helper()
	if got := a.Types(); !slices.Equal(got, want) {
		t.Errorf("audit events = %v, want %v", got, want)
	}
}

// logRecorder is a slog.Handler that keeps what was logged.
type logRecorder struct {
	mu      sync.Mutex
	records []string // "LEVEL message"
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, r.Level.String()+" "+r.Message)
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// logged reports whether a record at that level contains msg.
func (l *logRecorder) logged(level slog.Level, msg string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.ContainsFunc(l.records, func(r string) bool {
		return strings.HasPrefix(r, level.String()+" ") && strings.Contains(r, msg)
	})
}

func (l *logRecorder) wantLogged(t *testing.T, level slog.Level, msg string) {
	t.Helper()
	if !l.logged(level, msg) {
		l.mu.Lock()
		defer l.mu.Unlock()
		t.Errorf("no %s log with %q; logged: %q", level, msg, l.records)
	}
}
