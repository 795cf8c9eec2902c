package httpapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/authd/authd/internal/testenv"
	"github.com/authd/authd/internal/valkey"
)

// TestValkeyRestartIsSurvived: while its Valkey is down, authd answers
// 503 with Retry-After within the dependency timeout, never 500 and never
// a hang; once Valkey is back on its address, authd serves again without
// a restart of its own.
func TestValkeyRestartIsSurvived(t *testing.T) {
	srv, err := testenv.StartRedis()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	vc, err := valkey.Open(ctx, "redis://"+srv.Addr()+"/0", valkey.Options{DialTimeout: 500 * time.Millisecond, CommandTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer vc.Close()
	ts := newServer(t, serverOptions{valkey: vc, env: map[string]string{"DEPENDENCY_TIMEOUT": "1s"}})
	c := ts.client()
	cr := c.register(t)
	wantStatus(t, c.do(http.MethodGet, "/api/v1/auth/me", nil), http.StatusOK)

	srv.Kill()
	c.noContract = true
	for _, path := range []string{"/api/v1/auth/me", "/ready"} {
		start := time.Now()
		r := c.do(http.MethodGet, path, nil)
		if r.StatusCode != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
			t.Errorf("GET %s with Valkey down: %d (Retry-After %q), want 503 with Retry-After", path, r.StatusCode, r.Header.Get("Retry-After"))
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("GET %s with Valkey down took %v: a hang", path, d)
		}
	}
	login := ts.client()
	login.noContract = true
	if r := login.do(http.MethodPost, "/api/v1/auth/login", cr); r.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("login with Valkey down: %d, want 503", r.StatusCode)
	}

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	// The restarted Valkey kept nothing (no persistence here): the old
	// session is gone, a new login works, without restarting authd.
	deadline := time.Now().Add(20 * time.Second)
	for {
		again := ts.client()
		again.noContract = true
		r := again.do(http.MethodPost, "/api/v1/auth/login", cr)
		if r.StatusCode == http.StatusOK {
			wantStatus(t, again.do(http.MethodGet, "/api/v1/auth/me", nil), http.StatusOK)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("authd did not serve again within 20 s of Valkey's restart: last login %d %s", r.StatusCode, r.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	wantStatus(t, ts.client().do(http.MethodGet, "/ready", nil), http.StatusOK)
}
