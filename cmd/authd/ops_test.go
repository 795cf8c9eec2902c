package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/authd/authd/internal/testenv"
)

// TestHealthcheck: `authd healthcheck` (the image's HEALTHCHECK) exits 0
// only when the authd on HTTP_ADDR answers /ready with 200.
func TestHealthcheck(t *testing.T) {
	addr := freeAddr(t)
	start(t, env("HTTP_ADDR", addr, "PUBLIC_URL", "http://localhost:"+portOf(addr)), addr)
	notReady := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ready" {
			t.Errorf("healthcheck asked for %s, want /ready", r.URL.Path)
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"status":"unavailable","checks":{"postgres":"unavailable"}}`))
	}))
	defer notReady.Close()
	_, port, _ := net.SplitHostPort(addr)
	tests := []struct {
		name, httpAddr string
		ok             bool
		want           string
	}{
		{"ready", addr, true, "ready"},
		{"every interface is probed on loopback", ":" + port, true, "ready"},
		{"not ready", strings.TrimPrefix(notReady.URL, "http://"), false, "503"},
		{"nothing listens", freeAddr(t), false, "connect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			// Production mode without any other setting: the probe must
			// need nothing but HTTP_ADDR.
			err := run(context.Background(), []string{"healthcheck"}, func(k string) string {
				if k == "HTTP_ADDR" {
					return tt.httpAddr
				}
				return ""
			}, &out, &errOut, noTune)
			if (err == nil) != tt.ok {
				t.Fatalf("healthcheck = %v, want ok=%v", err, tt.ok)
			}
			got := out.String()
			if err != nil {
				got = err.Error()
			}
			if !strings.Contains(got, tt.want) {
				t.Errorf("healthcheck said %q, want %q in it", got, tt.want)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	for _, arg := range []string{"version", "--version"} {
		var out bytes.Buffer
		if err := run(context.Background(), []string{arg}, func(string) string { return "" }, &out, &out, noTune); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(out.String(), "authd ") || !strings.Contains(out.String(), "(commit ") || !strings.Contains(out.String(), "go1.") {
			t.Errorf("authd %s printed %q", arg, out.String())
		}
	}
}

// TestMigrateNeedsOnlyDatabaseURL: a migration job is given the database
// and nothing else, in production mode, where serve would refuse to start.
func TestMigrateNeedsOnlyDatabaseURL(t *testing.T) {
	url, drop, err := testenv.CreateDatabase(testenv.RandomName("authd_test_cmd_migonly_"))
	if err != nil {
		t.Fatal(err)
	}
	defer drop()
	var out, errOut bytes.Buffer
	getenv := func(k string) string {
		if k == "DATABASE_URL" {
			return url
		}
		return ""
	}
	if err := run(context.Background(), []string{"migrate", "up"}, getenv, &out, &errOut, noTune); err != nil {
		t.Fatalf("migrate up with DATABASE_URL alone: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "applied") {
		t.Errorf("migrate up printed %q", out.String())
	}
}

// TestServeChecksBeforeMigrating: an instance that cannot listen, or cannot
// reach Valkey, fails before it applies a migration.
func TestServeChecksBeforeMigrating(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		name string
		env  []string
		want string
	}{
		{"address taken", []string{"HTTP_ADDR", busy.Addr().String()}, "HTTP_ADDR"},
		{"metrics address taken", []string{"HTTP_ADDR", freeAddr(t), "METRICS_ADDR", busy.Addr().String()}, "METRICS_ADDR"},
		{"Valkey unreachable", []string{"HTTP_ADDR", freeAddr(t), "VALKEY_URL", "redis://" + freeAddr(t) + "/0", "DEPENDENCY_TIMEOUT", "200ms"}, "VALKEY_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, drop, err := testenv.CreateDatabase(testenv.RandomName("authd_test_cmd_order_"))
			if err != nil {
				t.Fatal(err)
			}
			defer drop()
			getenv := env(append([]string{"DATABASE_URL", url, "AUTO_MIGRATE", "true"}, tt.env...)...)
			err = run(context.Background(), []string{"serve"}, getenv, &bytes.Buffer{}, &bytes.Buffer{}, noTune)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("serve = %v, want an error naming %s", err, tt.want)
			}
			conn, err := pgx.Connect(context.Background(), url)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(context.Background())
			var tables int
			if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables); err != nil {
				t.Fatal(err)
			}
			if tables != 0 {
				t.Errorf("%d tables were made before serve gave up; it must check first", tables)
			}
		})
	}
}

// TestMetricsOnTheirOwnListener: with METRICS_ADDR, /metrics answers there
// and nowhere that clients reach.
func TestMetricsOnTheirOwnListener(t *testing.T) {
	addr, metricsAddr := freeAddr(t), freeAddr(t)
	start(t, env("HTTP_ADDR", addr, "METRICS_ADDR", metricsAddr, "PUBLIC_URL", "http://localhost:"+portOf(addr)), addr)
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("/metrics on HTTP_ADDR = %d, want 404", resp.StatusCode)
	}
	if m := scrape(t, "http://"+metricsAddr+"/metrics"); m["authd_hash_pool_size"] < 1 {
		t.Errorf("/metrics on METRICS_ADDR lacks authd_hash_pool_size: %v", m)
	}
}
