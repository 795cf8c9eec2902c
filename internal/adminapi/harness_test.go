package adminapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	vk "github.com/valkey-io/valkey-go"

	"github.com/authd/authd/api"
	"github.com/authd/authd/internal/adminapi"
	"github.com/authd/authd/internal/app"
	"github.com/authd/authd/internal/config"
	"github.com/authd/authd/internal/logging"
	"github.com/authd/authd/internal/postgres"
	"github.com/authd/authd/internal/testenv"
	"github.com/authd/authd/internal/valkey"
)

// Shared by every test of this binary: one fresh database, one Valkey
// client and key prefix, one SMTP sink; removed again in TestMain.
var (
	testDB     *postgres.DB
	testDBURL  string
	testValkey vk.Client
	testPrefix string
	testSink   *testenv.SMTPSink
)

const testSecret = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dbURL, drop, err := testenv.CreateDatabase(testenv.RandomName("authd_test_adminapi_"))
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
	testPrefix = testenv.RandomName("authd-test-adminapi-") + ":"
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

// env is what `authd serve` would read, with cheap hashing, the test
// sink, the abuse limits off, and the admin API on with a token file.
func env(prefix, tokens string) map[string]string {
	return map[string]string{
		"DEV_MODE": "true", "AUTO_MIGRATE": "false", "LOG_LEVEL": "info",
		"DATABASE_URL": testDBURL, "VALKEY_URL": testenv.ValkeyURL(), "VALKEY_KEY_PREFIX": prefix,
		"SECRET_KEY": testSecret, "PUBLIC_URL": "https://app.example.test",
		"COOKIE_NAME": "authd_session", "COOKIE_SECURE": "false",
		"ARGON2_MEMORY_KIB": "256", "ARGON2_ITERATIONS": "1", "ARGON2_PARALLELISM": "1",
		"HASH_WAIT_BUDGET": "10s", "SHED_DELAY": "0",
		"SMTP_HOST": testSink.Host(), "SMTP_PORT": strconv.Itoa(testSink.Port()), "SMTP_TLS": "none",
		"MAIL_WORKERS": "2", "MAIL_SEND_TIMEOUT": "2s", "MAIL_RETRY_BASE": "50ms", "MAIL_RETRY_MAX": "300ms",
		"MAIL_LIMIT_PER_HOUR":         "100",
		"LOGIN_ACCOUNT_FREE_ATTEMPTS": "0", "LOGIN_ACCOUNT_TOTAL_FREE_ATTEMPTS": "0", "LOGIN_IP_FREE_ATTEMPTS": "0",
		"REGISTER_LIMIT_PER_IP": "0", "MAIL_REQUESTS_PER_IP": "0",
		"ADMIN_ADDR": "127.0.0.1:0", "ADMIN_TOKENS_FILE": tokens,
	}
}

// instance is one authd built by the composition root: its admin API and
// its public API, each on a test server of its own, as on two listeners.
type instance struct {
	app    *app.App
	admin  *httptest.Server
	public *httptest.Server
	prefix string
	tokens string // the token file
	token  string // a token named "ops"
}

type options struct {
	env    map[string]string
	prefix string // shared by instances that are one deployment
	tokens string // an existing token file
}

func newInstance(t *testing.T, o options) *instance {
	t.Helper()
	if o.prefix == "" {
		o.prefix = testPrefix + testenv.RandomName("t") + ":"
	}
	in := &instance{prefix: o.prefix, tokens: o.tokens}
	if in.tokens == "" {
		in.tokens = filepath.Join(t.TempDir(), "admin-tokens")
		token, err := adminapi.CreateToken(in.tokens, "ops")
		if err != nil {
			t.Fatal(err)
		}
		in.token = token
	}
	e := env(o.prefix, in.tokens)
	maps.Copy(e, o.env)
	cfg, err := config.Load(func(k string) string { return e[k] })
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), cfg, logging.New(&testenv.LogBuffer{}, cfg.LogLevel), app.Overrides{DB: testDB, Valkey: testValkey})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if a.AdminHandler == nil {
		t.Fatal("the admin API is off")
	}
	in.app, in.admin, in.public = a, httptest.NewServer(a.AdminHandler), httptest.NewServer(a.Handler)
	t.Cleanup(func() {
		in.admin.Close()
		in.public.Close()
		a.Close()
	})
	return in
}

// response is a finished exchange.
type response struct {
	*http.Response
	body []byte
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

type problem struct {
	Code   string `json:"code"`
	Errors []struct {
		Field string `json:"field"`
		Code  string `json:"code"`
	} `json:"errors"`
}

func (r response) problem(t *testing.T) problem {
	t.Helper()
	var p problem
	r.decode(t, &p)
	return p
}

func wantStatus(t *testing.T, r response, want int) {
	t.Helper()
	if r.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d; body: %s", r.Request.Method, r.Request.URL.Path, r.StatusCode, want, r.body)
	}
}

// call makes an admin call with the instance's token, checking the reply
// against the admin API's OpenAPI document.
func (in *instance) call(t *testing.T, method, path string, body any) response {
	t.Helper()
	return in.callWith(t, in.token, method, path, body)
}

func (in *instance) callWith(t *testing.T, token, method, path string, body any) response {
	t.Helper()
	r := send(t, in.admin.URL, method, path, body, "Authorization", "Bearer "+token)
	adminContract(t).check(t, r)
	return r
}

// publicCall is a call on the public API, with a client of its own.
type publicClient struct {
	in *instance
	hc *http.Client
}

func (in *instance) client() *publicClient {
	jar, _ := cookiejar.New(nil)
	return &publicClient{in: in, hc: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
}

func (c *publicClient) do(t *testing.T, method, path string, body any) response {
	t.Helper()
	return sendWith(t, c.hc, c.in.public.URL, method, path, body)
}

func send(t *testing.T, base, method, path string, body any, header ...string) response {
	t.Helper()
	return sendWith(t, &http.Client{Timeout: 10 * time.Second}, base, method, path, body, header...)
}

func sendWith(t *testing.T, hc *http.Client, base, method, path string, body any, header ...string) response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{Response: resp, body: b}
}

// contract validates replies against api/admin-openapi.yaml, as the public
// API's tests validate theirs against api/openapi.yaml.
type contract struct {
	doc    *openapi3.T
	router routers.Router
	opts   *openapi3filter.Options
}

var (
	contractOnce sync.Once
	contractDoc  *contract
	contractErr  error
)

func adminContract(t testing.TB) *contract {
	t.Helper()
	contractOnce.Do(func() {
		openapi3filter.RegisterBodyDecoder("application/yaml", func(body io.Reader, h http.Header, s *openapi3.SchemaRef, enc openapi3filter.EncodingFn) (any, error) {
			return openapi3filter.PlainBodyDecoder(body, h, s, enc)
		})
		if openapi3filter.RegisteredBodyDecoder("application/problem+json") == nil {
			openapi3filter.RegisterBodyDecoder("application/problem+json", openapi3filter.JSONBodyDecoder)
		}
		doc, err := openapi3.NewLoader().LoadFromData(api.AdminOpenAPI)
		if err != nil {
			contractErr = err
			return
		}
		if err := doc.Validate(context.Background()); err != nil {
			contractErr = fmt.Errorf("api/admin-openapi.yaml is not valid: %w", err)
			return
		}
		router, err := gorillamux.NewRouter(doc)
		if err != nil {
			contractErr = err
			return
		}
		contractDoc = &contract{doc: doc, router: router, opts: &openapi3filter.Options{
			MultiError: true, IncludeResponseStatus: true, ExcludeRequestBody: true, ExcludeRequestQueryParams: true,
			AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
			SchemaValidationOptions: []openapi3.SchemaValidationOption{
				openapi3.DisableSchemaErrorDetails(),
				openapi3.WithStringFormatValidators(map[string]openapi3.StringFormatValidator{
					"uuid":  openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC9562),
					"email": openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForEmail),
				}),
			},
		}}
	})
	if contractErr != nil {
		t.Fatalf("contract: %v", contractErr)
	}
	return contractDoc
}

func (c *contract) check(t testing.TB, r response) {
	t.Helper()
	if err := c.validate(r); err != nil {
		t.Errorf("contract: %s %s → %d: %v\nbody: %.2048s", r.Request.Method, r.Request.URL.Path, r.StatusCode, err, r.body)
	}
}

func (c *contract) validate(r response) error {
	route, params, err := c.router.FindRoute(r.Request)
	if err != nil {
		return fmt.Errorf("operation not documented: %w", err)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r.Request, PathParams: params, Route: route, Options: c.opts},
		Status:                 r.StatusCode, Header: r.Header, Body: io.NopCloser(bytes.NewReader(r.body)), Options: c.opts,
	}
	return openapi3filter.ValidateResponse(r.Request.Context(), in)
}

func (c *contract) operations() []string {
	var ops []string
	for path, item := range c.doc.Paths.Map() {
		for method := range item.Operations() {
			ops = append(ops, method+" "+path)
		}
	}
	return ops
}

var seq = time.Now().UnixNano()

// newEmail is an address no other test uses; tag starts it, so that a
// test can list its own identities by prefix.
func newEmail(tag string) string {
	seq++
	return fmt.Sprintf("%s.%d@example.com", strings.ToLower(tag), seq)
}
