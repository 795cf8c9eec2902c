package httpapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/authd/authd/internal/testenv"
	"github.com/authd/authd/internal/valkey"
)

// TestValkeyRestartIsSurvived: under a bounded load of sign-ins and
// profile reads, Valkey is killed and started again. While it is down, authd answers
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

	load := startFaultLoad(t, ts, 4)
	killed := time.Now()
	srv.Kill()
	load.waitFor(t, "503 after Valkey was killed", killed, func(a faultAnswer) bool { return a.status == http.StatusServiceUnavailable })
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
	restarted := time.Now()
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
	// Valkey's data was lost: the session from before is refused, not
	// mistaken for another, and its user signs in again.
	wantStatus(t, c.do(http.MethodGet, "/api/v1/auth/me", nil), http.StatusUnauthorized)
	// The load is served again too. A session it signed in before the
	// kill and read after the restart is gone with Valkey's data: 401.
	load.waitFor(t, "profile read after the restart", restarted, func(a faultAnswer) bool { return a.op == "me" && a.status == http.StatusOK })
	t.Logf("the load was served again within %v of the restart", time.Since(restarted).Round(10*time.Millisecond))
	if n := load.end(t, map[string][]int{"login": {200, 503}, "me": {200, 401, 503}}); n == 0 {
		t.Error("the load saw no 503: the fault was not under load")
	}
}
