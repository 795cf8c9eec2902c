package httpapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	vk "github.com/valkey-io/valkey-go"

	"github.com/authd/authd/internal/app"
	"github.com/authd/authd/internal/auth"
	"github.com/authd/authd/internal/config"
	"github.com/authd/authd/internal/httpapi"
	"github.com/authd/authd/internal/logging"
	"github.com/authd/authd/internal/postgres"
	"github.com/authd/authd/internal/testenv"
	"github.com/authd/authd/internal/valkey"
)

// Shared by every test of this binary: one fresh database, one Valkey
// client and one key prefix, removed again in TestMain, and one SMTP sink
// that every server mails to.
var (
	testDB     *postgres.DB
	testDBURL  string
	testValkey vk.Client
	testPrefix string
	testSink   *testenv.SMTPSink
)

// testSecret is the SECRET_KEY of the test servers (base64 of 32 bytes).
const testSecret = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

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
	testDBURL = dbURL
	testDB, err = postgres.Open(ctx, dbURL, postgres.PoolOptions{MaxConns: 16, QueryTimeout: 5 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer testDB.Close()
	if err := app.MigrateUp(ctx, testDB, slog.New(slog.DiscardHandler)); err != nil {
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
	return m.Run()
}

// serverOptions are what a test changes of the shipped configuration:
// env overrides settings by their environment names; the rest are the
// composition root's overrides.
type serverOptions struct {
	env            map[string]string
	prefix         string       // VALKEY_KEY_PREFIX; a fresh one per server unless shared on purpose
	valkey         vk.Client    // defaults to testValkey
	db             *postgres.DB // defaults to testDB; databaseURL must name it then
	checks         map[string]httpapi.Check
	now            func() time.Time // the clock of the use cases
	wrapHasher     func(auth.PasswordHasher) auth.PasswordHasher
	wrapIdentities func(auth.IdentityStore) auth.IdentityStore
}

// testEnv is the environment of every test server: what `authd serve`
// reads, with cheap hashing, fast mail retries, the test sink, and the
// abuse limits off unless a test turns one on.
func testEnv(prefix string) map[string]string {
	return map[string]string{
		"DEV_MODE": "true", "AUTO_MIGRATE": "false", "LOG_LEVEL": "info",
		"DATABASE_URL": testDBURL, "VALKEY_URL": testenv.ValkeyURL(), "VALKEY_KEY_PREFIX": prefix,
		"SECRET_KEY": testSecret, "PUBLIC_URL": "https://app.example.test",
		"COOKIE_NAME": "authd_session", "COOKIE_SECURE": "false",
		"ARGON2_MEMORY_KIB": "256", "ARGON2_ITERATIONS": "1", "ARGON2_PARALLELISM": "1",
		"HASH_WAIT_BUDGET": "10s", "SHED_DELAY": "0",
		"SMTP_HOST": testSink.Host(), "SMTP_PORT": strconv.Itoa(testSink.Port()), "SMTP_TLS": "none",
		"MAIL_WORKERS": "2", "MAIL_SEND_TIMEOUT": "2s", "MAIL_RETRY_BASE": "50ms", "MAIL_RETRY_MAX": "300ms",
		"MAIL_GIVE_UP_AFTER": "1m", "MAIL_LIMIT_PER_HOUR": "100",
		"LOGIN_ACCOUNT_FREE_ATTEMPTS": "0", "LOGIN_ACCOUNT_TOTAL_FREE_ATTEMPTS": "0", "LOGIN_IP_FREE_ATTEMPTS": "0",
		"REGISTER_LIMIT_PER_IP": "0", "MAIL_REQUESTS_PER_IP": "0",
		"MAX_IN_FLIGHT": "512", "SESSION_TOUCH_INTERVAL": "1m",
	}
}

// testServer is authd's HTTP API as app.New builds it for `authd serve`,
// over the real PostgreSQL, Valkey and an SMTP sink.
type testServer struct {
	*httptest.Server
	t        testing.TB
	app      *app.App
	contract *contract
	prefix   string
	cookie   string
	logs     *testenv.LogBuffer
}

func newServer(t testing.TB, o serverOptions) *testServer {
	t.Helper()
	if o.valkey == nil {
		o.valkey = testValkey
	}
	if o.prefix == "" {
		o.prefix = testPrefix + testenv.RandomName("t") + ":"
	}
	env := testEnv(o.prefix)
	maps.Copy(env, o.env)
	db := testDB
	if o.db != nil {
		db = o.db
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	logs := &testenv.LogBuffer{}
	log := logging.New(logs, cfg.LogLevel)
	a, err := app.New(context.Background(), cfg, log, app.Overrides{
		DB: db, Valkey: o.valkey, Now: o.now, Checks: o.checks,
		WrapHasher: o.wrapHasher, WrapIdentities: o.wrapIdentities,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: httptest.NewServer(a.Handler), t: t, app: a, contract: newContract(t),
		prefix: o.prefix, cookie: cfg.CookieName, logs: logs}
	t.Cleanup(func() {
		ts.Close()
		a.Close()
	})
	return ts
}

// stop shuts the server and its mail workers down before the test ends.
func (ts *testServer) stop() {
	ts.Close()
	ts.app.Close()
}

// sessionKey is the Valkey key of the session with that raw token: the
// store keeps only a hash of the token.
func (ts *testServer) sessionKey(token string) string { return ts.prefix + "session:" + hashOf(token) }

func hashOf(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
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

// profileBody is the profile as the API sends it.
type profileBody struct {
	ID            uuid.UUID `json:"id"`
	Email         string    `json:"email"`
	EmailVerified bool      `json:"email_verified"`
	Username      *string   `json:"username"`
	GeoLocation   *string   `json:"geo_location"`
	State         string    `json:"state"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

func (r response) profile(t *testing.T) profileBody {
	t.Helper()
	var p profileBody
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("profile body %q: %v", r.body, err)
	}
	return p
}

type fieldErrorBody struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

type problemBody struct {
	Type   string           `json:"type"`
	Status int              `json:"status"`
	Code   string           `json:"code"`
	Detail string           `json:"detail"`
	Errors []fieldErrorBody `json:"errors"`
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
