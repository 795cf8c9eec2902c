package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestHostileInput sends malformed requests; each gets a clear 4xx
// problem, and none of them creates an account.
func TestHostileInput(t *testing.T) {
	ts := newServer(t, serverOptions{})
	email := newEmail("hostile")
	valid := `{"identifier":"` + email + `","password":"correct horse battery"}`
	tests := []struct {
		name        string
		contentType string
		body        string
		wantStatus  int
		wantCode    string
	}{
		{"not JSON", "application/json", `{"identifier":`, 400, "malformed_json"},
		{"empty body", "application/json", ``, 400, "malformed_json"},
		{"array", "application/json", `[` + valid + `]`, 400, "malformed_json"},
		{"two objects", "application/json", valid + valid, 400, "malformed_json"},
		{"duplicate keys", "application/json", `{"identifier":"` + email + `","identifier":"x@example.com","password":"correct horse battery"}`, 400, "malformed_json"},
		{"duplicate keys differing in case", "application/json", `{"identifier":"` + email + `","IDENTIFIER":"x@example.com","password":"correct horse battery"}`, 400, "malformed_json"},
		{"duplicate keys by Unicode folding", "application/json", `{"identifier":"` + email + `","password":"correct horse battery","pa\u017fsword":"other pass phrase"}`, 400, "malformed_json"},
		{"lone high surrogate", "application/json", `{"identifier":"a\ud800` + email + `","password":"correct horse battery"}`, 400, "malformed_json"},
		{"lone low surrogate", "application/json", `{"identifier":"a\udc00` + email + `","password":"correct horse battery"}`, 400, "malformed_json"},
		{"high surrogate then a letter", "application/json", `{"identifier":"a\ud800\u0041` + email + `","password":"correct horse battery"}`, 400, "malformed_json"},
		{"deep nesting", "application/json", `{"identifier":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, 400, "malformed_json"},
		{"invalid UTF-8", "application/json", `{"identifier":"` + email + "\xff" + `","password":"correct horse battery"}`, 400, "malformed_json"},
		{"NUL in e-mail", "application/json", `{"identifier":"` + email + `\u0000","password":"correct horse battery"}`, 422, "invalid_input"},
		{"wrong type", "application/json", `{"identifier":["` + email + `"],"password":"correct horse battery"}`, 422, "invalid_input"},
		{"10000-char e-mail", "application/json", `{"identifier":"` + strings.Repeat("a", 10000) + `@example.com","password":"correct horse battery"}`, 422, "invalid_input"},
		{"SQL in e-mail", "application/json", `{"identifier":"x'; DROP TABLE identities; --@example.com","password":"correct horse battery"}`, 422, "invalid_input"},
		{"HTML in username", "application/json", `{"identifier":"` + email + `","password":"correct horse battery","username":"<script>alert(1)</script>"}`, 422, "invalid_input"},
		{"text/plain", "text/plain", valid, 415, "unsupported_media_type"},
		{"form", "application/x-www-form-urlencoded", "identifier=" + email, 415, "unsupported_media_type"},
		{"huge body", "application/json", `{"identifier":"` + strings.Repeat("a", 70<<10) + `"}`, 413, "body_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ts.client()
			r := c.do(http.MethodPost, "/api/v1/auth/register", tt.body, "Content-Type", tt.contentType)
			wantStatus(t, r, tt.wantStatus)
			if p := r.problem(t); p.Code != tt.wantCode || p.Status != tt.wantStatus {
				t.Errorf("problem = %+v, want code %s", p, tt.wantCode)
			}
			if r.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("Content-Type = %q", r.Header.Get("Content-Type"))
			}
		})
	}
	// None of the above created the account, so the valid request still can.
	wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/register", valid), http.StatusCreated)
}

func TestMethodNotAllowedAndNotFound(t *testing.T) {
	ts := newServer(t, serverOptions{})
	c := ts.client()
	c.noContract = true
	r := c.do(http.MethodGet, "/api/v1/auth/login", nil)
	wantStatus(t, r, http.StatusMethodNotAllowed)
	if p := r.problem(t); p.Code != "method_not_allowed" {
		t.Errorf("code = %s", p.Code)
	}
	if r.Header.Get("Allow") == "" {
		t.Error("405 without an Allow header")
	}
	// GET on logout would let a cross-site <img> log users out.
	wantStatus(t, c.do(http.MethodGet, "/api/v1/auth/logout", nil), http.StatusMethodNotAllowed)
}

// TestEveryRouteIsDocumented compares the server's routes with the
// OpenAPI document in both directions.
func TestEveryRouteIsDocumented(t *testing.T) {
	ts := newServer(t, serverOptions{})
	documented := map[string]bool{}
	for _, op := range ts.contract.operations() {
		documented[op] = true
	}
	served := map[string]bool{}
	for _, r := range routesOf(ts) {
		served[r] = true
		if !documented[r] {
			t.Errorf("route %s is not in api/openapi.yaml", r)
		}
	}
	for op := range documented {
		if !served[op] {
			t.Errorf("api/openapi.yaml documents %s, which the server does not serve", op)
		}
	}
}
