package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	vk "github.com/valkey-io/valkey-go"

	"github.com/authd/authd/api"
	"github.com/authd/authd/internal/argon2id"
	"github.com/authd/authd/internal/auth"
	"github.com/authd/authd/internal/blocklist"
	"github.com/authd/authd/internal/httpapi"
	"github.com/authd/authd/internal/mailqueue"
	"github.com/authd/authd/internal/postgres"
	"github.com/authd/authd/internal/session"
	"github.com/authd/authd/internal/smtp"
	"github.com/authd/authd/internal/testenv"
	"github.com/authd/authd/internal/valkey"
	"github.com/authd/authd/migrations"
)

// Shared by every test of this binary: one fresh database, one Valkey
// client and one key prefix, removed again in TestMain.
var (
	testDB     *postgres.DB
	testValkey vk.Client
	testPrefix string
	testSink   *testenv.SMTPSink
	testTokens *postgres.TokenStore
)

// testSecret seals queued mails in tests.
var testSecret = []byte("0123456789abcdef0123456789abcdef")

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dbURL, drop, err := testenv.CreateDatabase(testenv.RandomName("authd_test_httpapi_"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer drop()
	testDB, err = postgres.Open(ctx, dbURL, postgres.PoolOptions{MaxConns: 8, QueryTimeout: 5 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer testDB.Close()
	mig, err := postgres.NewMigrator(testDB, migrations.FS)
	if err == nil {
		_, err = mig.Up(ctx)
		mig.Close()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	testValkey, err = valkey.Open(ctx, testenv.ValkeyURL(), valkey.Options{})
	if err != nil {
		fmt.Fprintf(os.Stderr, "Valkey at %s is not reachable (run `make test`, which starts it): %v\n", testenv.ValkeyURL(), err)
		return 1
	}
	defer testValkey.Close()
	testPrefix = testenv.RandomName("authd-test-httpapi-") + ":"
	defer func() {
		if err := testenv.DeleteKeys(testValkey, testPrefix); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}()
	testSink, err = testenv.StartSMTPSink()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer testSink.Close()
	mailer, err := smtp.New(smtp.Config{Host: testSink.Host(), Port: testSink.Port(), TLS: "none", Timeout: 2 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// One queue with workers for the whole package: every test server
	// queues through it, and its retries are fast so outage tests are short.
	queue, err := mailqueue.New(testDB.Pool, mailer,
		func(ctx context.Context, now time.Time) (int64, error) { return testTokens.PurgeExpired(ctx, now) },
		mailqueue.Config{Secret: testSecret, Workers: 2, SendTimeout: 2 * time.Second, RetryBase: 50 * time.Millisecond,
			RetryMax: 300 * time.Millisecond, GiveUpAfter: time.Minute, PollEvery: 100 * time.Millisecond},
		prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	testTokens = postgres.NewTokenStore(testDB, queue)
	if err := queue.Start(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer queue.Stop(context.Background())
	return m.Run()
}

// cheapArgon2 keeps tests fast; the parameters are injected like in production.
var cheapArgon2 = argon2id.Params{Memory: 256, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

type serverOptions struct {
	secure          bool
	cookieName      string
	valkey          vk.Client // defaults to testValkey
	checks          map[string]httpapi.Check
	prefix          string           // Valkey key prefix of the throttles; defaults to a fresh one per server
	now             func() time.Time // the clock of the use cases and sessions
	mailLimit       int              // mails per address per hour; 0 means 100
	requireVerified bool
	strict          bool
	limits          auth.Limits
	hasher          auth.PasswordHasher // defaults to a cheap Argon2id
	store           auth.IdentityStore  // defaults to PostgreSQL
	maxInFlight     int
	trustedProxies  []*net.IPNet
	corsOrigins     []string
	trustedOrigins  []string
}

// testServer is authd's HTTP API over the real PostgreSQL and Valkey.
type testServer struct {
	*httptest.Server
	t        testing.TB
	contract *contract
	store    *valkey.SessionStore
	cookie   string
	logs     *bytes.Buffer
}

func newServer(t testing.TB, o serverOptions) *testServer {
	t.Helper()
	if o.valkey == nil {
		o.valkey = testValkey
	}
	if o.prefix == "" {
		// Throttle state is per server unless a test shares it on purpose.
		o.prefix = testPrefix + testenv.RandomName("t") + ":"
	}
	if o.mailLimit == 0 {
		o.mailLimit = 100
	}
	if o.cookieName == "" {
		o.cookieName = "authd_session"
	}
	if o.checks == nil {
		o.checks = map[string]httpapi.Check{
			"postgres": testDB.Ping,
			"valkey":   func(ctx context.Context) error { return valkey.Ping(ctx, o.valkey) },
		}
	}
	logs := &bytes.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	hasher := o.hasher
	if hasher == nil {
		h, err := argon2id.New(cheapArgon2)
		if err != nil {
			t.Fatal(err)
		}
		hasher = h
	}
	now := o.now
	if now == nil {
		now = time.Now
	}
	index := valkey.NewSessionIndex(o.valkey, testPrefix, 2*time.Second)
	store := o.store
	if store == nil {
		store = postgres.NewIdentityStore(testDB)
	}
	identities := auth.NewService(auth.Deps{
		Store: store, Hasher: hasher, Profiles: valkey.NewProfileCache(o.valkey, testPrefix, time.Minute, 2*time.Second), Sessions: index, Audit: postgres.NewAuditLog(testDB),
		Tokens: testTokens, Limiter: valkey.NewWindow(o.valkey, o.prefix, 2*time.Second),
		Lockouts: valkey.NewLockout(o.valkey, o.prefix, 2*time.Second), Limits: o.limits, StrictRegistration: o.strict,
		Mail: auth.MailSettings{PublicURL: "https://app.example.test", Product: "authd", RecoveryTTL: time.Hour,
			VerificationTTL: 24 * time.Hour, CodeTTL: 15 * time.Minute, CodeAttempts: 5, PerAddressLimit: o.mailLimit,
			RequireVerified: o.requireVerified},
		Policy: auth.PasswordPolicy{MinLength: 8, Blocklist: &blocklist.Common{}}, PrivilegedWindow: 15 * time.Minute, Now: now, Log: log,
	})
	sessionStore := valkey.NewSessionStore(o.valkey, testPrefix, 2*time.Second)
	sessions := session.NewManager(sessionStore, index,
		session.Cookie{Name: o.cookieName, Secure: o.secure, Lifetime: 24 * time.Hour}, time.Minute, now, log)
	cfg := httpapi.Config{BodyLimit: 64 << 10, ReadyTimeout: time.Second, OpenAPI: api.OpenAPI,
		TrustedProxies: o.trustedProxies, CORSOrigins: o.corsOrigins, TrustedOrigins: o.trustedOrigins, MaxInFlight: o.maxInFlight}
	e, err := httpapi.New(identities, sessions, o.checks, cfg, prometheus.NewRegistry(), log)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: httptest.NewServer(e), t: t, contract: newContract(t), store: sessionStore, cookie: o.cookieName, logs: logs}
	t.Cleanup(ts.Close)
	return ts
}

// client is one browser-like client with its own cookie jar.
type client struct {
	// noContract skips the OpenAPI check, for requests that deliberately
	// use undocumented methods or paths.
	noContract bool
	ts         *testServer
	jar        *cookiejar.Jar
	hc         *http.Client
}

func (ts *testServer) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{ts: ts, jar: jar, hc: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
}

// response is a finished exchange, already checked against the OpenAPI document.
type response struct {
	*http.Response
	body []byte
}

func (r response) problem(t *testing.T) problemBody {
	t.Helper()
	var p problemBody
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("problem body %q: %v", r.body, err)
	}
	return p
}

func (r response) profile(t *testing.T) auth.Profile {
	t.Helper()
	var p auth.Profile
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("profile body %q: %v", r.body, err)
	}
	return p
}

type problemBody struct {
	Type   string            `json:"type"`
	Status int               `json:"status"`
	Code   string            `json:"code"`
	Detail string            `json:"detail"`
	Errors []auth.FieldError `json:"errors"`
}

// do sends a request; body may be a string (sent as is) or a value (sent as JSON).
func (c *client) do(method, path string, body any, header ...string) response {
	c.ts.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			c.ts.t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, c.ts.URL+path, rd)
	if err != nil {
		c.ts.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.ts.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.ts.t.Fatal(err)
	}
	if !c.noContract {
		c.ts.contract.check(c.ts.t, req, resp, b)
	}
	return response{Response: resp, body: b}
}

// sessionToken is the raw token in the client's cookie jar.
func (c *client) sessionToken() string {
	u, _ := http.NewRequest(http.MethodGet, c.ts.URL, nil)
	for _, ck := range c.jar.Cookies(u.URL) {
		if ck.Name == c.ts.cookie {
			return ck.Value
		}
	}
	return ""
}

func (c *client) setSessionToken(token string) {
	u, _ := http.NewRequest(http.MethodGet, c.ts.URL, nil)
	c.jar.SetCookies(u.URL, []*http.Cookie{{Name: c.ts.cookie, Value: token, Path: "/"}})
}

func wantStatus(t *testing.T, r response, want int) {
	t.Helper()
	if r.StatusCode != want {
		t.Fatalf("%s %s: status = %d, want %d; body: %s", r.Request.Method, r.Request.URL.Path, r.StatusCode, want, r.body)
	}
}

var userSeq = time.Now().UnixNano()

// newEmail returns an address no other test uses.
func newEmail(name string) string {
	userSeq++
	return fmt.Sprintf("%s.%d@example.com", name, userSeq)
}

type credentials struct {
	Identifier string `json:"identifier"`
	Password   string `json:"password"`
}

// register creates a user through the API and returns its credentials.
func (c *client) register(t *testing.T) credentials {
	t.Helper()
	cr := credentials{Identifier: newEmail("user"), Password: "correct horse battery staple"}
	wantStatus(t, c.do(http.MethodPost, "/api/v1/auth/register", cr), http.StatusCreated)
	return cr
}

// routesOf lists the server's routes as "METHOD /path" in OpenAPI syntax.
func routesOf(ts *testServer) []string {
	e := ts.Config.Handler.(*echo.Echo)
	var out []string
	for _, r := range e.Routes() {
		if strings.HasSuffix(r.Name, "glob..func1") || r.Method == echo.RouteNotFound {
			continue
		}
		path := r.Path
		for _, seg := range strings.Split(path, "/") {
			if strings.HasPrefix(seg, ":") {
				path = strings.Replace(path, seg, "{"+seg[1:]+"}", 1)
			}
		}
		out = append(out, r.Method+" "+path)
	}
	return out
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func hashOf(token string) string { return session.HashToken(token) }
