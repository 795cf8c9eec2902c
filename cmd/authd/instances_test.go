package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/internal/testenv"
)

// TestTwoInstancesShareState runs two authd processes' worth of run() on
// different ports over the same PostgreSQL and Valkey: what one changes,
// the other sees at once.
func TestTwoInstancesShareState(t *testing.T) {
	addrA, addrB := freeAddr(t), freeAddr(t)
	a := start(t, env("HTTP_ADDR", addrA, "PUBLIC_URL", "http://"+addrA), addrA)
	b := start(t, env("HTTP_ADDR", addrB, "PUBLIC_URL", "http://"+addrB), addrB)

	email := strings.ToLower(testenv.RandomName("twoinst")) + "@example.com"
	pw := "correct horse battery"
	// The same browser session, sent to either instance (a load balancer).
	laptop := newBrowser(t)
	if r := laptop.send(t, a, http.MethodPost, "/api/v1/auth/register", `{"identifier":"`+email+`","password":"`+pw+`"}`); r != http.StatusCreated {
		t.Fatalf("register on A: %d", r)
	}
	phone := newBrowser(t)
	if r := phone.send(t, b, http.MethodPost, "/api/v1/auth/login", `{"identifier":"`+email+`","password":"`+pw+`"}`); r != http.StatusOK {
		t.Fatalf("login on B: %d", r)
	}
	if r := phone.send(t, a, http.MethodGet, "/api/v1/auth/me", ""); r != http.StatusOK {
		t.Fatalf("phone's session on A: %d", r)
	}

	// A profile change through B is visible through A.
	if r := phone.send(t, b, http.MethodPut, "/api/v1/auth/settings", `{"method":"profile","traits":{"geo_location":"Tallinn"}}`); r != http.StatusOK {
		t.Fatalf("settings on B: %d", r)
	}
	if r := laptop.send(t, a, http.MethodGet, "/api/v1/auth/me", ""); r != http.StatusOK || !strings.Contains(laptop.last, `"geo_location":"Tallinn"`) {
		t.Errorf("me on A after change on B: %d %s", r, laptop.last)
	}

	// Sessions ended through A are gone on B.
	if r := laptop.send(t, a, http.MethodDelete, "/api/v1/auth/sessions", ""); r != http.StatusNoContent {
		t.Fatalf("revoke others on A: %d", r)
	}
	if r := phone.send(t, b, http.MethodGet, "/api/v1/auth/me", ""); r != http.StatusUnauthorized {
		t.Errorf("phone on B after revoke on A: %d, want 401", r)
	}
	if r := laptop.send(t, b, http.MethodGet, "/api/v1/auth/me", ""); r != http.StatusOK {
		t.Errorf("laptop on B: %d, want 200", r)
	}
	// Logging out through B ends the session on A.
	if r := laptop.send(t, b, http.MethodPost, "/api/v1/auth/logout", ""); r != http.StatusNoContent {
		t.Fatalf("logout on B: %d", r)
	}
	if r := laptop.send(t, a, http.MethodGet, "/api/v1/auth/me", ""); r != http.StatusUnauthorized {
		t.Errorf("laptop on A after logout on B: %d, want 401", r)
	}
}

// browser keeps one cookie for every instance, as a browser does behind a
// load balancer with one host name.
type browser struct {
	hc    *http.Client
	token *http.Cookie
	last  string
}

func newBrowser(t *testing.T) *browser {
	return &browser{hc: &http.Client{Timeout: 10 * time.Second}}
}

func (br *browser) send(t *testing.T, in *instance, method, path, body string) int {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://"+in.addr+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if br.token != nil {
		req.AddCookie(br.token)
	}
	resp, err := br.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	br.last = string(b)
	for _, ck := range resp.Cookies() {
		if ck.Name == "authd_session" {
			if ck.MaxAge < 0 || ck.Value == "" {
				br.token = nil
			} else {
				br.token = ck
			}
		}
	}
	return resp.StatusCode
}
