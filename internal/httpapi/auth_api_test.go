package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/internal/testenv"
	"github.com/authd/authd/internal/valkey"
)

func TestRegisterMeLogout(t *testing.T) {
	ts := newServer(t, serverOptions{})
	c := ts.client()
	email := newEmail("alice")
	r := c.do(http.MethodPost, "/api/v1/auth/register", map[string]string{
		"identifier": strings.ToUpper(email[:1]) + email[1:], "password": "correct horse battery staple",
		"username": "alice" + strings.Split(email, ".")[1][:8], "geo_location": "Berlin",
	})
	wantStatus(t, r, http.StatusCreated)
	p := r.profile(t)
	if p.Email != email || p.EmailVerified || p.State != "active" || p.GeoLocation == nil || *p.GeoLocation != "Berlin" {
		t.Errorf("register profile = %+v", p)
	}
	if c.sessionToken() == "" {
		t.Fatal("register did not set a session cookie")
	}

	me := c.do(http.MethodGet, "/api/v1/auth/me", nil)
	wantStatus(t, me, http.StatusOK)
	if got := me.profile(t); got.ID != p.ID || got.Email != email {
		t.Errorf("me = %+v, want id %s", got, p.ID)
	}

	token := c.sessionToken()
	wantStatus(t, c.do(http.MethodPost, "/api/v1/auth/logout", nil), http.StatusNoContent)
	wantStatus(t, c.do(http.MethodGet, "/api/v1/auth/me", nil), http.StatusUnauthorized)

	// Replaying the old cookie after logout must not work: the session is gone server side.
	replay := ts.client()
	replay.setSessionToken(token)
	wantStatus(t, replay.do(http.MethodGet, "/api/v1/auth/me", nil), http.StatusUnauthorized)
	wantStatus(t, replay.do(http.MethodPost, "/api/v1/auth/logout", nil), http.StatusUnauthorized)
}

func TestRegisterAcceptsEmailAlias(t *testing.T) {
	ts := newServer(t, serverOptions{})
	c := ts.client()
	r := c.do(http.MethodPost, "/api/v1/auth/register", map[string]string{"email": newEmail("alias"), "password": "correct horse battery"})
	wantStatus(t, r, http.StatusCreated)
	bad := ts.client().do(http.MethodPost, "/api/v1/auth/register", map[string]string{"email": "nope", "password": "correct horse battery"})
	wantStatus(t, bad, http.StatusUnprocessableEntity)
	if p := bad.problem(t); len(p.Errors) != 1 || p.Errors[0].Field != "email" {
		t.Errorf("errors = %+v, want one naming the field email", p.Errors)
	}
}

func TestRegisterDuplicateEmailIgnoresCase(t *testing.T) {
	ts := newServer(t, serverOptions{})
	cr := ts.client().register(t)
	dup := ts.client().do(http.MethodPost, "/api/v1/auth/register", credentials{Identifier: strings.ToUpper(cr.Identifier), Password: "another long password"})
	wantStatus(t, dup, http.StatusConflict)
	if p := dup.problem(t); p.Code != "email_taken" || len(p.Errors) != 1 || p.Errors[0].Field != "identifier" {
		t.Errorf("problem = %+v", p)
	}
}

func TestRegisterValidation(t *testing.T) {
	ts := newServer(t, serverOptions{})
	tests := []struct {
		name       string
		body       map[string]any
		wantFields []string
	}{
		{"missing everything", map[string]any{}, []string{"identifier", "password"}},
		{"bad e-mail", map[string]any{"identifier": "no-at-sign", "password": "correct horse battery"}, []string{"identifier"}},
		{"short password", map[string]any{"identifier": newEmail("v"), "password": "short"}, []string{"password"}},
		{"long password", map[string]any{"identifier": newEmail("v"), "password": strings.Repeat("p", 129)}, []string{"password"}},
		{"password contains e-mail", map[string]any{"identifier": "mallory@example.com", "password": "mallory@example.com!"}, []string{"password"}},
		{"bad username", map[string]any{"identifier": newEmail("v"), "password": "correct horse battery", "username": "<b>"}, []string{"username"}},
		{"wrong type", map[string]any{"identifier": newEmail("v"), "password": 12345678}, []string{"password"}},
		{"unknown field", map[string]any{"identifier": newEmail("v"), "password": "correct horse battery", "state": "admin"}, []string{"state"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.client().do(http.MethodPost, "/api/v1/auth/register", tt.body)
			wantStatus(t, r, http.StatusUnprocessableEntity)
			p := r.problem(t)
			var got []string
			for _, f := range p.Errors {
				got = append(got, f.Field)
			}
			if strings.Join(got, ",") != strings.Join(tt.wantFields, ",") || p.Code != "invalid_input" {
				t.Errorf("code %s, fields %v, want invalid_input %v", p.Code, got, tt.wantFields)
			}
			if r.Header.Get("Set-Cookie") != "" {
				t.Error("a failed registration set a cookie")
			}
		})
	}
}

func TestLoginFailuresAreIndistinguishable(t *testing.T) {
	ts := newServer(t, serverOptions{})
	cr := ts.client().register(t)

	wrong := ts.client().do(http.MethodPost, "/api/v1/auth/login", credentials{Identifier: cr.Identifier, Password: "not the password"})
	unknown := ts.client().do(http.MethodPost, "/api/v1/auth/login", credentials{Identifier: newEmail("ghost"), Password: "not the password"})
	wantStatus(t, wrong, http.StatusUnauthorized)
	wantStatus(t, unknown, http.StatusUnauthorized)
	if string(wrong.body) != string(unknown.body) {
		t.Errorf("bodies differ:\nwrong password: %s\nunknown e-mail: %s", wrong.body, unknown.body)
	}
	for _, h := range []string{"Content-Type", "Cache-Control", "Set-Cookie", "Content-Length"} {
		if wrong.Header.Get(h) != unknown.Header.Get(h) {
			t.Errorf("header %s differs: %q vs %q", h, wrong.Header.Get(h), unknown.Header.Get(h))
		}
	}
	if p := wrong.problem(t); p.Code != "invalid_credentials" {
		t.Errorf("code = %s, want invalid_credentials", p.Code)
	}
}

func TestLoginRotatesSession(t *testing.T) {
	ts := newServer(t, serverOptions{})
	c := ts.client()
	cr := c.register(t)
	first := c.sessionToken()

	// Logging in again while logged in replaces the session.
	wantStatus(t, c.do(http.MethodPost, "/api/v1/auth/login", cr), http.StatusOK)
	second := c.sessionToken()
	if second == "" || second == first {
		t.Fatalf("session token after login = %q, want a new one (was %q)", second, first)
	}
	old := ts.client()
	old.setSessionToken(first)
	wantStatus(t, old.do(http.MethodGet, "/api/v1/auth/me", nil), http.StatusUnauthorized)
	wantStatus(t, c.do(http.MethodGet, "/api/v1/auth/me", nil), http.StatusOK)

	// A token planted before login (session fixation) is not adopted.
	planted := ts.client()
	planted.setSessionToken("attacker-chosen-token-value-000000000000000")
	wantStatus(t, planted.do(http.MethodPost, "/api/v1/auth/login", cr), http.StatusOK)
	if tok := planted.sessionToken(); tok == "attacker-chosen-token-value-000000000000000" || len(tok) < 43 {
		t.Errorf("token after login = %q, want a fresh 256-bit token", tok)
	}
}

func TestSessionCookieAttributes(t *testing.T) {
	tests := []struct {
		name       string
		opts       serverOptions
		wantSecure bool
	}{
		{"dev mode", serverOptions{env: map[string]string{"COOKIE_NAME": "authd_session"}}, false},
		{"production", serverOptions{env: map[string]string{"COOKIE_NAME": "__Host-authd_session", "COOKIE_SECURE": "true"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newServer(t, tt.opts)
			r := ts.client().do(http.MethodPost, "/api/v1/auth/register", credentials{Identifier: newEmail("cookie"), Password: "correct horse battery"})
			wantStatus(t, r, http.StatusCreated)
			cookies := r.Cookies()
			if len(cookies) != 1 || len(r.Header.Values("Set-Cookie")) != 1 {
				t.Fatalf("Set-Cookie = %q, want exactly one cookie", r.Header.Values("Set-Cookie"))
			}
			ck := cookies[0]
			if ck.Name != tt.opts.env["COOKIE_NAME"] || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Domain != "" || ck.Secure != tt.wantSecure {
				t.Errorf("cookie = %+v", ck)
			}
			if ck.MaxAge < 86000 || ck.MaxAge > 86401 {
				t.Errorf("Max-Age = %d, want about 24h", ck.MaxAge)
			}
			if len(ck.Value) < 43 { // 32 random bytes in base64url
				t.Errorf("token %q is shorter than 256 bits", ck.Value)
			}
			if got := r.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", got)
			}
		})
	}
}

func TestSessionStoredUnderHashOnly(t *testing.T) {
	ts := newServer(t, serverOptions{})
	c := ts.client()
	c.register(t)
	token := c.sessionToken()
	ctx := context.Background()

	key := ts.sessionKey(token)
	if n, err := testValkey.Do(ctx, testValkey.B().Exists().Key(key).Build()).AsInt64(); err != nil || n != 1 {
		t.Fatalf("EXISTS %s = %d, %v; want the session under the token's hash", key, n, err)
	}
	ttl, err := testValkey.Do(ctx, testValkey.B().Pttl().Key(key).Build()).AsInt64()
	if err != nil || ttl <= 0 || ttl > (24*time.Hour).Milliseconds() {
		t.Errorf("PTTL = %d, %v; want the 24h lifetime as expiry", ttl, err)
	}
	keys, err := testValkey.Do(ctx, testValkey.B().Keys().Pattern(testPrefix+"*").Build()).AsStrSlice()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if strings.Contains(k, token) {
			t.Errorf("key %q contains the raw session token", k)
		}
		v, _ := testValkey.Do(ctx, testValkey.B().Get().Key(k).Build()).ToString()
		if strings.Contains(v, token) {
			t.Errorf("value of %q contains the raw session token", k)
		}
	}
}

func TestSessionDeletedInValkeyIsRejected(t *testing.T) {
	ts := newServer(t, serverOptions{})
	c := ts.client()
	c.register(t)
	key := ts.sessionKey(c.sessionToken())
	if err := testValkey.Do(context.Background(), testValkey.B().Del().Key(key).Build()).Error(); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, c.do(http.MethodGet, "/api/v1/auth/me", nil), http.StatusUnauthorized)
}

func TestReadRequestsDoNotWriteSessions(t *testing.T) {
	ts := newServer(t, serverOptions{})
	c := ts.client()
	c.register(t)
	for range 3 {
		r := c.do(http.MethodGet, "/api/v1/auth/me", nil)
		wantStatus(t, r, http.StatusOK)
		if sc := r.Header.Values("Set-Cookie"); len(sc) != 0 {
			t.Errorf("GET /me set cookies %q; a read must not renew or rewrite the session", sc)
		}
	}
}

func TestValkeyDownGives503(t *testing.T) {
	broken, err := valkey.Open(context.Background(), testenv.ValkeyURL(), valkey.Options{})
	if err != nil {
		t.Fatal(err)
	}
	broken.Close() // every later call fails like a lost connection
	ts := newServer(t, serverOptions{valkey: broken})
	c := ts.client()
	c.setSessionToken("some-token-from-an-earlier-login-0000000000")

	r := c.do(http.MethodGet, "/api/v1/auth/me", nil)
	wantStatus(t, r, http.StatusServiceUnavailable)
	if p := r.problem(t); p.Code != "service_unavailable" || strings.Contains(string(r.body), "valkey") {
		t.Errorf("problem = %s; want service_unavailable without internals", r.body)
	}
	if r.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	if !strings.Contains(ts.logs.String(), "find session") {
		t.Errorf("no log line names the failing dependency; logs:\n%s", ts.logs)
	}

	ready := ts.client().do(http.MethodGet, "/ready", nil)
	wantStatus(t, ready, http.StatusServiceUnavailable)
	if !strings.Contains(string(ready.body), `"valkey":"unavailable"`) || !strings.Contains(string(ready.body), `"postgres":"ok"`) {
		t.Errorf("ready body = %s", ready.body)
	}
}

func TestHealthReadyAndOpenAPI(t *testing.T) {
	ts := newServer(t, serverOptions{})
	c := ts.client()
	wantStatus(t, c.do(http.MethodGet, "/health", nil), http.StatusOK)
	wantStatus(t, c.do(http.MethodGet, "/ready", nil), http.StatusOK)
	doc := c.do(http.MethodGet, "/api/v1/openapi.yaml", nil)
	wantStatus(t, doc, http.StatusOK)
	if !strings.HasPrefix(string(doc.body), "openapi: 3") {
		t.Errorf("openapi.yaml starts with %q", doc.body[:min(20, len(doc.body))])
	}
	m := c.do(http.MethodGet, "/metrics", nil)
	wantStatus(t, m, http.StatusOK)
	if !strings.Contains(string(m.body), "authd_http_requests_total") {
		t.Error("metrics lack authd_http_requests_total")
	}
}

// TestSessionFoundAmongDuplicateCookies: clients send stale or junk
// duplicates of the session cookie (the old service's k6 script sends
// `authd_session="[object Object]"` before the real one); the session is
// found among the first few cookies of its name, wherever the real one is.
func TestSessionFoundAmongDuplicateCookies(t *testing.T) {
	ts := newServer(t, serverOptions{})
	owner := ts.client()
	owner.register(t)
	token := owner.sessionToken()
	junk := `authd_session="[object Object]"`
	tests := []struct {
		name   string
		cookie string
		want   int
	}{
		{"junk before the real one", junk + "; authd_session=" + token, http.StatusOK},
		{"junk after the real one", "authd_session=" + token + "; " + junk, http.StatusOK},
		{"among other cookies", "theme=dark; " + junk + "; other=1; authd_session=" + token, http.StatusOK},
		{"only junk", junk + "; authd_session=not-a-session", http.StatusUnauthorized},
		{"beyond the first four of the name", strings.Repeat(junk+"; ", 4) + "authd_session=" + token, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantStatus(t, ts.client().do(http.MethodGet, "/api/v1/auth/me", nil, "Cookie", tt.cookie), tt.want)
		})
	}
}
