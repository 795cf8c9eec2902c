package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/authd/authd/api"
)

// contract validates real responses against api/openapi.yaml, so the document cannot drift from the server.
type contract struct {
	doc    *openapi3.T
	router routers.Router
	opts   *openapi3filter.Options
}

// The document is loaded, validated and routed once per test binary; a
// *contract is read-only afterwards and safe for parallel tests.
var (
	contractOnce   sync.Once
	contractShared *contract
	contractErr    error
)

// newContract returns the contract of api.OpenAPI, failing the test when
// the document does not load or is not valid OpenAPI.
func newContract(t testing.TB) *contract {
	t.Helper()
	contractOnce.Do(func() { contractShared, contractErr = loadContract() })
	if contractErr != nil {
		t.Fatalf("contract: %v", contractErr)
	}
	return contractShared
}

func loadContract() (*contract, error) {
	// application/problem+json and application/yaml have decoders built into
	// kin-openapi, but the yaml one parses the document into a map; the
	// served OpenAPI document is described as a string, so give the raw
	// text to schemas of type string and keep the structural decoding for
	// any other schema.
	openapi3filter.RegisterBodyDecoder("application/yaml", contractYAMLDecoder)
	// The web app's files are documented as strings of their types.
	for _, ct := range []string{"text/html", "text/javascript", "text/css", "image/svg+xml"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.PlainBodyDecoder)
	}
	if openapi3filter.RegisteredBodyDecoder("application/problem+json") == nil {
		openapi3filter.RegisterBodyDecoder("application/problem+json", openapi3filter.JSONBodyDecoder)
	}

	ctx := context.Background()
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI)
	if err != nil {
		return nil, fmt.Errorf("load api/openapi.yaml: %w", err)
	}
	if err := doc.Validate(ctx); err != nil {
		return nil, fmt.Errorf("api/openapi.yaml is not valid: %w", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route api/openapi.yaml: %w", err)
	}
	return &contract{
		doc:    doc,
		router: router,
		opts: &openapi3filter.Options{
			MultiError:            true,
			IncludeResponseStatus: true,
			// Only responses are checked; the request was the test's own.
			ExcludeRequestBody:        true,
			ExcludeRequestQueryParams: true,
			AuthenticationFunc:        openapi3filter.NoopAuthenticationFunc,
			SchemaValidationOptions: []openapi3.SchemaValidationOption{
				// Messages name the failing rule only; check adds the body,
				// which beats a dump of the whole schema.
				openapi3.DisableSchemaErrorDetails(),
				// kin-openapi checks date-time by itself; uuid and email
				// only with these, which apply to this contract alone.
				openapi3.WithStringFormatValidators(map[string]openapi3.StringFormatValidator{
					"uuid":  openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC9562),
					"email": openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForEmail),
				}),
			},
		},
	}, nil
}

// contractYAMLDecoder reads a YAML body as text for a string schema, and as
// structured YAML otherwise.
func contractYAMLDecoder(body io.Reader, h http.Header, schema *openapi3.SchemaRef, enc openapi3filter.EncodingFn) (any, error) {
	if schema != nil && schema.Value != nil && schema.Value.Type.Is("string") {
		return openapi3filter.PlainBodyDecoder(body, h, schema, enc)
	}
	return openapi3filter.YamlBodyDecoder(body, h, schema, enc)
}

// check fails the test (t.Errorf with method, path, status and the validator's message) when resp (with its already-read body) does not match the documented response for req's operation and status; an undocumented path/method or status is also a failure (IncludeResponseStatus: true). req is the request that was sent (the full URL, e.g. from an httptest.Server). Its body may already be consumed: only route lookup needs it.
func (c *contract) check(t testing.TB, req *http.Request, resp *http.Response, body []byte) {
	t.Helper()
	if err := c.validate(req, resp, body); err != nil {
		const max = 2048
		shown := string(body)
		if len(shown) > max {
			shown = shown[:max] + "…"
		}
		t.Errorf("contract: %s %s → %d: %v\nbody: %s", req.Method, req.URL.Path, resp.StatusCode, err, shown)
	}
}

// validate is check without the test: nil when resp and body match the
// documented response of req's operation and resp's status.
func (c *contract) validate(req *http.Request, resp *http.Response, body []byte) error {
	route, pathParams, err := c.router.FindRoute(req)
	if err != nil {
		return fmt.Errorf("operation not documented: %w", err)
	}
	header := resp.Header
	if header == nil {
		header = http.Header{}
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request:    req,
			PathParams: pathParams,
			Route:      route,
			Options:    c.opts,
		},
		Status:  resp.StatusCode,
		Header:  header,
		Body:    io.NopCloser(bytes.NewReader(body)),
		Options: c.opts,
	}
	return openapi3filter.ValidateResponse(req.Context(), in)
}

// operations lists "METHOD /path" for every documented operation (used by a test that compares with the server's routes).
func (c *contract) operations() []string {
	var ops []string
	for path, item := range c.doc.Paths.Map() {
		for method := range item.Operations() {
			ops = append(ops, method+" "+path)
		}
	}
	sort.Strings(ops)
	return ops
}

// TestContractRejectsDrift checks the checker: documented responses pass,
// anything else fails, without a server.
func TestContractRejectsDrift(t *testing.T) {
	c := newContract(t)

	const profile = `{"id":"0190b2a4-6f1e-7c3a-9d2e-5b8f4a1c2d3e","email":"ada@example.com",` +
		`"email_verified":false,"username":null,"geo_location":"London","state":"active",` +
		`"created_at":"2026-01-02T03:04:05.123456Z","updated_at":"2026-01-02T03:04:05Z",` +
		`"aal":"aal1","factors":{"totp":false,"passkeys":0,"recovery_codes_left":0}`
	const problem401 = `{"type":"urn:authd:problem:unauthenticated","title":"Unauthorized",` +
		`"status":401,"detail":"Log in first.","code":"unauthenticated"}`
	const cookie = "__Host-authd_session=abc; Path=/; Max-Age=86400; HttpOnly; Secure; SameSite=Lax"

	type header = map[string]string
	cases := []struct {
		name    string
		method  string
		path    string
		status  int
		header  header
		body    string
		wantErr string // "" means the response must pass
	}{
		{name: "profile", method: "GET", path: "/api/v1/auth/me", status: 200,
			header: header{"Content-Type": "application/json", "X-Request-ID": "r1"}, body: profile + `}`},
		{name: "profile with charset", method: "GET", path: "/api/v1/auth/me", status: 200,
			header: header{"Content-Type": "application/json; charset=UTF-8"}, body: profile + `}`},
		{name: "profile with an extra field", method: "GET", path: "/api/v1/auth/me", status: 200,
			header: header{"Content-Type": "application/json"}, body: profile + `,"password_hash":"x"}`,
			wantErr: "password_hash"},
		{name: "profile without a field", method: "GET", path: "/api/v1/auth/me", status: 200,
			header: header{"Content-Type": "application/json"}, body: strings.Replace(profile, `"state":"active",`, "", 1) + `}`,
			wantErr: "state"},
		{name: "profile with a bad id", method: "GET", path: "/api/v1/auth/me", status: 200,
			header: header{"Content-Type": "application/json"}, body: strings.Replace(profile, "0190b2a4-", "x", 1) + `}`,
			wantErr: "id"},
		{name: "profile with a bad state", method: "GET", path: "/api/v1/auth/me", status: 200,
			header: header{"Content-Type": "application/json"}, body: strings.Replace(profile, `"active"`, `"banned"`, 1) + `}`,
			wantErr: "state"},
		{name: "profile as text", method: "GET", path: "/api/v1/auth/me", status: 200,
			header: header{"Content-Type": "text/plain"}, body: profile + `}`,
			wantErr: "Content-Type"},
		{name: "undocumented status", method: "GET", path: "/api/v1/auth/me", status: http.StatusTeapot,
			header: header{"Content-Type": "application/problem+json"}, body: problem401,
			wantErr: "status is not supported"},
		{name: "problem 401", method: "GET", path: "/api/v1/auth/me", status: 401,
			header: header{"Content-Type": "application/problem+json", "X-Request-ID": "r2"}, body: problem401},
		{name: "problem 401 as plain json", method: "GET", path: "/api/v1/auth/me", status: 401,
			header: header{"Content-Type": "application/json"}, body: problem401,
			wantErr: "Content-Type"},
		{name: "problem without code", method: "GET", path: "/api/v1/auth/me", status: 401,
			header: header{"Content-Type": "application/problem+json"}, body: strings.Replace(problem401, `,"code":"unauthenticated"`, "", 1),
			wantErr: "code"},
		{name: "problem 422 with field errors", method: "POST", path: "/api/v1/auth/register", status: 422,
			header: header{"Content-Type": "application/problem+json"},
			body: `{"type":"urn:authd:problem:invalid_input","title":"Unprocessable Entity","status":422,` +
				`"detail":"Some fields are invalid.","code":"invalid_input",` +
				`"errors":[{"field":"password","code":"password_too_short","message":"Too short."}]}`},
		{name: "field error with an extra field", method: "POST", path: "/api/v1/auth/register", status: 422,
			header: header{"Content-Type": "application/problem+json"},
			body: `{"type":"urn:authd:problem:invalid_input","title":"Unprocessable Entity","status":422,` +
				`"detail":"Some fields are invalid.","code":"invalid_input",` +
				`"errors":[{"field":"password","code":"password_too_short","message":"Too short.","hint":"x"}]}`,
			wantErr: "hint"},
		{name: "503 with Retry-After", method: "GET", path: "/api/v1/auth/me", status: 503,
			header: header{"Content-Type": "application/problem+json", "Retry-After": "1"},
			body:   `{"type":"urn:authd:problem:overloaded","title":"Service Unavailable","status":503,"detail":"Busy.","code":"overloaded"}`},
		{name: "503 without Retry-After", method: "GET", path: "/api/v1/auth/me", status: 503,
			header:  header{"Content-Type": "application/problem+json"},
			body:    `{"type":"urn:authd:problem:overloaded","title":"Service Unavailable","status":503,"detail":"Busy.","code":"overloaded"}`,
			wantErr: "Retry-After"},
		{name: "login sets the cookie", method: "POST", path: "/api/v1/auth/login", status: 200,
			header: header{"Content-Type": "application/json", "Set-Cookie": cookie}, body: profile + `}`},
		{name: "dev-mode cookie", method: "POST", path: "/api/v1/auth/register", status: 201,
			header: header{"Content-Type": "application/json", "Set-Cookie": "authd_session=abc; Path=/; HttpOnly; SameSite=Lax"}, body: profile + `}`},
		{name: "login without a cookie", method: "POST", path: "/api/v1/auth/login", status: 200,
			header: header{"Content-Type": "application/json"}, body: profile + `}`,
			wantErr: "Set-Cookie"},
		{name: "cookie without HttpOnly", method: "POST", path: "/api/v1/auth/login", status: 200,
			header: header{"Content-Type": "application/json", "Set-Cookie": "__Host-authd_session=abc; Path=/; Secure; SameSite=Lax"}, body: profile + `}`,
			wantErr: "Set-Cookie"},
		{name: "logout clears the cookie", method: "POST", path: "/api/v1/auth/logout", status: 204,
			header: header{"Set-Cookie": "__Host-authd_session=; Path=/; Expires=Thu, 01 Jan 1970 00:00:01 GMT; Max-Age=0; HttpOnly; Secure; SameSite=Lax"}},
		{name: "health", method: "GET", path: "/health", status: 200,
			header: header{"Content-Type": "application/json"}, body: `{"status":"ok"}`},
		{name: "not ready", method: "GET", path: "/ready", status: 503,
			header: header{"Content-Type": "application/json"}, body: `{"status":"unavailable","checks":{"postgres":"ok","valkey":"unavailable"}}`},
		{name: "readiness with an unknown check status", method: "GET", path: "/ready", status: 200,
			header: header{"Content-Type": "application/json"}, body: `{"status":"ok","checks":{"postgres":"degraded"}}`,
			wantErr: "/checks/postgres"},
		{name: "metrics", method: "GET", path: "/metrics", status: 200,
			header: header{"Content-Type": "text/plain; version=0.0.4; charset=utf-8; escaping=underscores"},
			body:   "# TYPE up gauge\nup 1\n"},
		{name: "openapi document", method: "GET", path: "/api/v1/openapi.yaml", status: 200,
			header: header{"Content-Type": "application/yaml"}, body: string(api.OpenAPI)},
		{name: "undocumented path", method: "GET", path: "/api/v1/auth/nope", status: 404,
			header: header{"Content-Type": "application/problem+json"}, body: problem401,
			wantErr: "not documented"},
		{name: "undocumented method", method: "PUT", path: "/api/v1/auth/me", status: 405,
			header: header{"Content-Type": "application/problem+json"}, body: problem401,
			wantErr: "not documented"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// The full URL a client of an httptest.Server sends; any host matches.
			req := httptest.NewRequest(tc.method, "http://127.0.0.1:49152"+tc.path, nil)
			resp := &http.Response{StatusCode: tc.status, Header: http.Header{}, Request: req}
			for k, v := range tc.header {
				resp.Header.Set(k, v)
			}
			err := c.validate(req, resp, []byte(tc.body))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("documented response refused: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Errorf("drift not detected (want an error about %q)", tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Errorf("error %q does not mention %q", err, tc.wantErr)
			}
		})
	}

	// check reports through the test it is given.
	req := httptest.NewRequest("GET", "http://127.0.0.1:49152/api/v1/auth/me", nil)
	resp := &http.Response{StatusCode: http.StatusTeapot, Header: http.Header{}}
	rec := &contractRecorder{TB: t}
	c.check(rec, req, resp, nil)
	if len(rec.errors) != 1 || !strings.Contains(rec.errors[0], "GET /api/v1/auth/me → 418") {
		t.Errorf("check reported %q, want one error naming GET /api/v1/auth/me → 418", rec.errors)
	}

	ops := c.operations()
	for _, want := range []string{
		"GET /api/v1/auth/me", "GET /api/v1/openapi.yaml", "GET /health", "GET /metrics", "GET /ready",
		"POST /api/v1/auth/login", "POST /api/v1/auth/logout", "POST /api/v1/auth/register",
	} {
		if i := sort.SearchStrings(ops, want); i == len(ops) || ops[i] != want {
			t.Errorf("operations() = %q, missing %q", ops, want)
		}
	}
}

// contractRecorder captures Errorf so that the self-test can see what check
// reports; everything else goes to the real test.
type contractRecorder struct {
	testing.TB
	errors []string
}

func (r *contractRecorder) Helper() {}

func (r *contractRecorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}
