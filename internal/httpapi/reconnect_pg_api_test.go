package httpapi_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/authd/authd/internal/app"
	"github.com/authd/authd/internal/postgres"
	"github.com/authd/authd/internal/testenv"
)

// TestPostgresRestartIsSurvived: authd on a PostgreSQL of the test's own,
// under a bounded load of sign-ins and profile reads, which is killed (SIGKILL of the postmaster, as a crash) and started
// again: meanwhile requests that need it answer 503 with Retry-After
// within the dependency timeout, never 500 and never a hang; after it,
// authd serves again without a restart of its own, and what was
// committed before the crash is there.
func TestPostgresRestartIsSurvived(t *testing.T) {
	pg, err := testenv.StartPostgres()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pg.Stop) // after the pool is closed: a smart shutdown waits for its connections
	ts := serverOnDatabase(t, pg.URL("postgres"))
	c := ts.client()
	cr := c.register(t)

	load := startFaultLoad(t, ts, 4)
	killed := time.Now()
	pg.Kill()
	load.waitFor(t, "503 after PostgreSQL was killed", killed, func(a faultAnswer) bool { return a.status == http.StatusServiceUnavailable })
	c.noContract = true
	fresh := ts.client()
	fresh.noContract = true
	for _, try := range []struct {
		name string
		do   func() response
	}{
		{"login", func() response { return fresh.do(http.MethodPost, "/api/v1/auth/login", cr) }},
		{"registration", func() response {
			return fresh.do(http.MethodPost, "/api/v1/auth/register", credentials{Identifier: newEmail("down"), Password: "correct horse battery staple"})
		}},
		{"readiness", func() response { return fresh.do(http.MethodGet, "/ready", nil) }},
	} {
		start := time.Now()
		r := try.do()
		if r.StatusCode != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
			t.Errorf("%s with PostgreSQL down: %d (Retry-After %q) %s, want 503 with Retry-After", try.name, r.StatusCode, r.Header.Get("Retry-After"), r.body)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%s with PostgreSQL down took %v: a hang", try.name, d)
		}
	}

	if err := pg.Start(); err != nil {
		t.Fatalf("restart PostgreSQL: %v\n%s", err, pg.Log())
	}
	restarted := time.Now()
	deadline := time.Now().Add(20 * time.Second)
	for {
		again := ts.client()
		again.noContract = true
		r := again.do(http.MethodPost, "/api/v1/auth/login", cr)
		if r.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("authd did not serve again within 20 s of PostgreSQL's restart: %d %s", r.StatusCode, r.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	wantStatus(t, ts.client().do(http.MethodGet, "/ready", nil), http.StatusOK)
	// The session from before the crash lives in Valkey and still works.
	wantStatus(t, c.do(http.MethodGet, "/api/v1/auth/me", nil), http.StatusOK)
	// The load signs in again; a right password never got a 401 meanwhile.
	load.waitFor(t, "sign-in after the restart", restarted, func(a faultAnswer) bool { return a.op == "login" && a.status == http.StatusOK })
	t.Logf("the load was served again within %v of the restart", time.Since(restarted).Round(10*time.Millisecond))
	if n := load.end(t, map[string][]int{"login": {200, 503}, "me": {200, 503}}); n == 0 {
		t.Error("the load saw no 503: the fault was not under load")
	}
}

// TestPostgresFailoverToAStandby: authd's DATABASE_URL names a primary and
// its streaming standby (libpq's multi-host form with
// target_session_attrs=read-write, as pgx reads it). Under a bounded load
// of sign-ins and profile reads the primary crashes and the standby is
// promoted: meanwhile every answer is a 200 or a fast 503, and afterwards
// authd writes to the new primary without a restart or a change of
// setting, with every identity the standby had received.
func TestPostgresFailoverToAStandby(t *testing.T) {
	primary, err := testenv.StartPostgres()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(primary.Stop)
	standby, err := primary.StartStandby()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(standby.Stop)
	url := fmt.Sprintf("postgres://postgres@127.0.0.1:%d,127.0.0.1:%d/postgres?sslmode=disable&target_session_attrs=read-write",
		primary.Port, standby.Port)
	ts := serverOnDatabase(t, url)
	c := ts.client()
	cr := c.register(t)
	load := startFaultLoad(t, ts, 4)
	// Asynchronous replication: what the standby has when the primary
	// dies is what survives. Wait until it has the registrations.
	if err := primary.CaughtUp(standby, 30*time.Second); err != nil {
		t.Fatal(err)
	}

	killed := time.Now()
	primary.Kill()
	load.waitFor(t, "503 after the primary crashed", killed, func(a faultAnswer) bool { return a.status == http.StatusServiceUnavailable })
	if err := standby.Promote(); err != nil {
		t.Fatal(err)
	}
	promoted := time.Now()
	load.waitFor(t, "sign-in after the promotion", promoted, func(a faultAnswer) bool { return a.op == "login" && a.status == http.StatusOK })
	t.Logf("the load was served again within %v of the promotion", time.Since(promoted).Round(10*time.Millisecond))

	// The new primary takes writes: a registration, then its login.
	fresh := ts.client()
	fresh.noContract = true
	wantStatus(t, fresh.do(http.MethodPost, "/api/v1/auth/register", credentials{Identifier: newEmail("promoted"), Password: "correct horse battery staple"}), http.StatusCreated)
	// The identity from before the crash is there, and its session (in
	// Valkey) still works.
	again := ts.client()
	again.noContract = true
	wantStatus(t, again.do(http.MethodPost, "/api/v1/auth/login", cr), http.StatusOK)
	wantStatus(t, c.do(http.MethodGet, "/api/v1/auth/me", nil), http.StatusOK)
	if n := load.end(t, map[string][]int{"login": {200, 503}, "me": {200, 503}}); n == 0 {
		t.Error("the load saw no 503: the fault was not under load")
	}
}

// serverOnDatabase is a test server on a PostgreSQL of the test's own at
// url, migrated, with a 1 s dependency timeout and no mail workers.
func serverOnDatabase(t *testing.T, url string) *testServer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := postgres.Open(ctx, url, postgres.PoolOptions{MaxConns: 8, ConnectTimeout: time.Second, QueryTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close) // after the server's own cleanup, which runs first
	if err := app.MigrateUp(ctx, db, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	return newServer(t, serverOptions{db: db, env: map[string]string{"DATABASE_URL": url, "DEPENDENCY_TIMEOUT": "1s", "MAIL_WORKERS": "0"}})
}
