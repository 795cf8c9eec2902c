package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authd/authd/internal/app"
	"github.com/authd/authd/internal/testenv"
	"github.com/authd/authd/internal/valkey"
)

var (
	testDBURL  string
	testPrefix string
	// testSink receives every mail of the instances these tests start, so
	// that none goes to whatever listens on the default SMTP port (a
	// developer's own inbox).
	testSink *testenv.SMTPSink
)

func TestMain(m *testing.M) {
	url, drop, err := testenv.CreateDatabase(testenv.RandomName("authd_test_cmd_"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testDBURL = url
	testPrefix = testenv.RandomName("authd-test-cmd-") + ":"
	testSink, err = testenv.StartSMTPSink()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		drop()
		os.Exit(1)
	}
	code := m.Run()
	testSink.Close()
	if builtBin != "" {
		os.RemoveAll(filepath.Dir(builtBin))
	}
	if vc, err := valkey.Open(context.Background(), testenv.ValkeyURL(), valkey.Options{}); err == nil {
		if err := testenv.DeleteKeys(vc, testPrefix); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		vc.Close()
	}
	drop()
	os.Exit(code)
}

// env is a test environment for run(): the test database and key prefix,
// the test's SMTP sink, cheap Argon2 parameters, and whatever the test adds.
func env(extra ...string) func(string) string {
	m := envMap(extra...)
	return func(k string) string { return m[k] }
}

func envMap(extra ...string) map[string]string {
	m := map[string]string{
		"SMTP_HOST":         testSink.Host(),
		"SMTP_PORT":         strconv.Itoa(testSink.Port()),
		"DEV_MODE":          "true",
		"DATABASE_URL":      testDBURL,
		"VALKEY_URL":        testenv.ValkeyURL(),
		"VALKEY_KEY_PREFIX": testPrefix,
		"ARGON2_MEMORY_KIB": "256",
		"ARGON2_ITERATIONS": "1",
		"LOG_LEVEL":         "warn",
		// Stop at once; the drain has tests of its own that set it.
		"SHUTDOWN_DRAIN": "0",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i]] = extra[i+1]
	}
	return m
}

// noTune is the process tuning of a test: none, since a test must not
// re-tune the test binary's runtime.
func noTune(*app.App) {}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// instance is one running authd, started through run() as main does.
type instance struct {
	addr   string
	cancel context.CancelFunc
	done   chan error
	out    *testenv.LogBuffer
}

func start(t *testing.T, getenv func(string) string, addr string) *instance {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{addr: addr, cancel: cancel, done: make(chan error, 1), out: &testenv.LogBuffer{}}
	go func() { in.done <- run(ctx, []string{"serve"}, getenv, in.out, in.out, noTune) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/health")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case err := <-in.done:
			t.Fatalf("authd exited before serving: %v\n%s", err, in.out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("authd did not answer /health\n%s", in.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(func() { in.stop(t) })
	return in
}

// stop sends the equivalent of SIGTERM and waits for a clean exit.
func (in *instance) stop(t *testing.T) {
	t.Helper()
	if in.cancel == nil {
		return
	}
	in.cancel()
	in.cancel = nil
	select {
	case err := <-in.done:
		if err != nil {
			t.Errorf("authd exited with %v\n%s", err, in.out)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("authd did not stop\n%s", in.out)
	}
}

func post(t *testing.T, hc *http.Client, url string, body any) *http.Response {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := hc.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestRestartKeepsSessions: sessions live in Valkey, not in the process,
// so a client stays logged in across a restart (and across instances).
func TestRestartKeepsSessions(t *testing.T) {
	addr := freeAddr(t)
	getenv := env("HTTP_ADDR", addr, "PUBLIC_URL", "http://"+addr, "LOG_LEVEL", "info")
	first := start(t, getenv, addr)

	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	base := "http://" + addr + "/api/v1/auth"
	email := strings.ToLower(testenv.RandomName("restart")) + "@example.com"
	if r := post(t, hc, base+"/register", map[string]string{"identifier": email, "password": "correct horse battery"}); r.StatusCode != http.StatusCreated {
		t.Fatalf("register: %d", r.StatusCode)
	}
	first.stop(t)
	if !strings.Contains(first.out.String(), `"msg":"stopped"`) {
		t.Errorf("no clean shutdown logged:\n%s", first.out)
	}

	start(t, getenv, addr)
	resp, err := hc.Get(base + "/me")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /me after restart = %d, want 200", resp.StatusCode)
	}
}

// TestShutdownFinishesInFlightRequests starts many logins, stops the
// server while they run, and expects every one of them to get its answer.
func TestShutdownFinishesInFlightRequests(t *testing.T) {
	addr := freeAddr(t)
	// Expensive hashing, queued rather than shed, keeps requests in flight
	// while shutdown begins.
	in := start(t, env("HTTP_ADDR", addr, "PUBLIC_URL", "http://"+addr, "ARGON2_MEMORY_KIB", "65536", "ARGON2_ITERATIONS", "3", "HASH_WAIT_BUDGET", "1m"), addr)
	base := "http://" + addr + "/api/v1/auth"

	var wg sync.WaitGroup
	statuses := make([]int, 6)
	started := make(chan struct{}, len(statuses))
	for i := range statuses {
		wg.Go(func() {
			b, _ := json.Marshal(map[string]string{"identifier": fmt.Sprintf("nobody%d@example.com", i), "password": "correct horse battery"})
			req, _ := http.NewRequest(http.MethodPost, base+"/login", bytes.NewReader(b))
			req.Header.Set("Content-Type", "application/json")
			started <- struct{}{}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return // refused after shutdown began: never accepted, so not in flight
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		})
	}
	for range statuses {
		<-started
	}
	// Shut down only once the server is hashing, so requests are in flight.
	waitMetric(t, "http://"+addr+"/metrics", "authd_hash_in_flight", func(v float64) bool { return v >= 1 })
	in.stop(t)
	wg.Wait()
	answered := 0
	for _, s := range statuses {
		if s != 0 {
			answered++
			if s != http.StatusUnauthorized {
				t.Errorf("in-flight login got %d, want 401", s)
			}
		}
	}
	if answered == 0 {
		t.Error("no request was in flight when shutdown began; the test proved nothing")
	}
}

// waitMetric polls a Prometheus text endpoint until the unlabelled sample
// name satisfies ok, or fails the test after a deadline.
func waitMetric(t *testing.T, url, name string, ok func(float64) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for _, line := range strings.Split(string(body), "\n") {
				if v, found := strings.CutPrefix(line, name+" "); found {
					if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && ok(f) {
						return
					}
				}
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s at %s never reached the awaited value", name, url)
}

func TestMigrateCommands(t *testing.T) {
	url, drop, err := testenv.CreateDatabase(testenv.RandomName("authd_test_cmd_migrate_"))
	if err != nil {
		t.Fatal(err)
	}
	defer drop()
	getenv := env("DATABASE_URL", url)
	ctx := context.Background()
	steps := []struct {
		args []string
		want string
	}{
		{[]string{"migrate", "version"}, "0"},
		{[]string{"migrate", "status"}, "pending"},
		{[]string{"migrate", "up"}, "applied"},
		{[]string{"migrate", "status"}, "applied"},
		{[]string{"migrate", "up"}, "applied 0 migration(s)"},
		{[]string{"migrate", "down"}, "rolled back"},
		{[]string{"migrate", "status"}, "pending"},
	}
	for _, s := range steps {
		var out, errOut bytes.Buffer
		if err := run(ctx, s.args, getenv, &out, &errOut, noTune); err != nil {
			t.Fatalf("authd %v: %v\n%s", s.args, err, errOut.String())
		}
		if !strings.Contains(out.String(), s.want) {
			t.Errorf("authd %v printed %q, want %q in it", s.args, out.String(), s.want)
		}
	}
}

// prodSecret is a SECRET_KEY that production mode accepts.
const prodSecret = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

func TestConfigErrorsNameTheVariable(t *testing.T) {
	tests := []struct {
		env  []string
		want string
	}{
		{[]string{"ARGON2_MEMORY_KIB", "lots"}, "ARGON2_MEMORY_KIB"},
		{[]string{"DEV_MODE", "false", "PUBLIC_URL", "", "SECRET_KEY", prodSecret}, "PUBLIC_URL is required"},
		{[]string{"DEV_MODE", "false", "PUBLIC_URL", "https://a.example", "COOKIE_SECURE", "false", "SECRET_KEY", prodSecret}, "COOKIE_SECURE"},
		{[]string{"SESSION_LIFETIME", "forever"}, "SESSION_LIFETIME"},
		{[]string{"DATABASE_URL", "mysql://user:hunter2@db/x"}, "DATABASE_URL"},
	}
	for _, tt := range tests {
		err := run(context.Background(), []string{"serve"}, env(tt.env...), &bytes.Buffer{}, &bytes.Buffer{}, noTune)
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "hunter2") || strings.Count(err.Error(), "\n") > 0 {
			t.Errorf("env %v: err = %v, want one line naming %s (and no secrets)", tt.env, err, tt.want)
		}
	}
}

func TestHelpListsSettings(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"--help"}, env(), &out, &out, noTune); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"DATABASE_URL", "VALKEY_URL", "HTTP_ADDR", "PUBLIC_URL", "COOKIE_SECURE", "SESSION_LIFETIME", "ARGON2_MEMORY_KIB", "AUTO_MIGRATE", "default: :8080"} {
		if !strings.Contains(out.String(), v) {
			t.Errorf("--help does not mention %s", v)
		}
	}
	if err := run(context.Background(), []string{"bogus"}, env(), &out, &out, noTune); err == nil {
		t.Error("an unknown command did not fail")
	}
}
