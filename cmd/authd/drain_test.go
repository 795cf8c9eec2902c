package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/authd/authd/internal/testenv"
)

// TestSIGTERMDrainsUnderLoad: signed-in users read /me in a loop and stop
// sending once /ready turns 503, as a load balancer does. SIGTERM arrives
// in the middle of it. /ready says "draining" at once while every other
// request is still answered for SHUTDOWN_DRAIN (its default), so no
// request fails; a recovery request accepted during the drain is left in
// the queue for an instance that stays (the workers stopped taking jobs
// first), and the next instance delivers it exactly once.
func TestSIGTERMDrainsUnderLoad(t *testing.T) {
	dbURL, sink := databaseAndSink(t, "authd_test_drain_")
	bin := authdBinary(t)
	settings := []string{"DEV_MODE=true", "DATABASE_URL=" + dbURL, "VALKEY_URL=" + testenv.ValkeyURL(),
		"VALKEY_KEY_PREFIX=" + testPrefix + "drain:", "SMTP_HOST=" + sink.Host(), "SMTP_PORT=" + strconv.Itoa(sink.Port()),
		"ARGON2_MEMORY_KIB=256", "ARGON2_ITERATIONS=1", "LOG_LEVEL=info", "MAIL_RETRY_BASE=100ms"}
	p, addr := startBinary(t, bin, settings)
	base := "http://" + addr

	const users = 3
	clients := make([]*apiClient, users)
	emails := make([]string, users)
	for i := range clients {
		emails[i] = strings.ToLower(testenv.RandomName("drain")) + "@example.com"
		clients[i] = newAPIClient(base)
		if err := clients[i].expect(http.StatusCreated, http.MethodPost, "/api/v1/auth/register", credentials(emails[i], "correct horse battery")); err != nil {
			t.Fatal(err)
		}
		if _, err := sink.WaitFor(emails[i], "Verify", 30*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	waitMailJobsDone(t, dbURL) // the queue is empty before the drain

	// The watcher is the load balancer's health check.
	var draining atomic.Bool
	watchCtx, stopWatching := context.WithCancel(context.Background())
	defer stopWatching()
	var wg sync.WaitGroup
	wg.Go(func() {
		hc := &http.Client{Timeout: time.Second}
		for watchCtx.Err() == nil {
			if resp, err := hc.Get(base + "/ready"); err == nil {
				var body struct{ Status string }
				_ = json.NewDecoder(resp.Body).Decode(&body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusServiceUnavailable && body.Status == "draining" {
					draining.Store(true)
					return
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	var load tally
	for _, c := range clients {
		// No retry here: a 503 from a draining instance would be a failure.
		wg.Go(func() {
			for !draining.Load() && watchCtx.Err() == nil {
				status, err := c.once(http.MethodGet, "/api/v1/auth/me", "")
				if err == nil && status != http.StatusOK {
					err = errStatus(status)
				}
				load.record(err)
			}
		})
	}
	for deadline := time.Now().Add(30 * time.Second); load.count() < 50; {
		if time.Now().After(deadline) {
			t.Fatalf("only %d requests in 30s", load.count())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := syscall.Kill(p.PID(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !draining.Load(); {
		if time.Now().After(deadline) {
			t.Fatalf("/ready did not turn to 503 draining\n%s", p.out)
		}
		select {
		case <-p.Exited():
			t.Fatalf("authd exited without draining\n%s", p.out)
		case <-time.After(5 * time.Millisecond):
		}
	}
	// Draining, and still serving: a new request on a new connection.
	late := newAPIClient(base)
	if err := late.expect(http.StatusAccepted, http.MethodPost, "/api/v1/auth/recovery", `{"email":"`+emails[0]+`"}`); err != nil {
		t.Fatalf("a request during the drain: %v\n%s", err, p.out)
	}
	stopWatching()
	wg.Wait()
	select {
	case <-p.Exited():
	case <-time.After(60 * time.Second):
		t.Fatalf("authd did not exit after the drain\n%s", p.out)
	}
	if err := p.Stop(0); err != nil {
		t.Fatalf("authd did not exit cleanly: %v\n%s", err, p.out)
	}
	t.Logf("%d requests before the drain was seen", load.sent)
	if len(load.failures) > 0 {
		t.Errorf("%d of %d requests failed, the first: %v", len(load.failures), load.sent, load.failures[:min(5, len(load.failures))])
	}
	if !strings.Contains(p.out.String(), "draining") {
		t.Errorf("no drain in the log:\n%s", p.out)
	}

	// The workers had stopped: the request is queued, never attempted.
	if n := untouchedMailJobs(t, dbURL); n != 1 {
		t.Fatalf("%d untouched mail jobs after the drain, want the recovery request's 1 (jobs: %v)\n%s", n, mailJobs(t, dbURL), p.out)
	}
	startBinary(t, bin, append(settings, "SHUTDOWN_DRAIN=0")) // its own stop is not under test
	if _, err := sink.WaitFor(emails[0], "Reset", 60*time.Second); err != nil {
		t.Fatal(err)
	}
	waitMailJobsDone(t, dbURL)
	if n := countSubject(sink.Messages(), emails[0], "Reset"); n != 1 {
		t.Errorf("%d recovery mails delivered, want 1", n)
	}
}

type errStatus int

func (e errStatus) Error() string { return "status " + strconv.Itoa(int(e)) }

// untouchedMailJobs counts mail jobs that no worker has attempted.
func untouchedMailJobs(t *testing.T, dbURL string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind IN ('send_mail', 'answer_mail_request') AND state = 'available' AND attempt = 0`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
