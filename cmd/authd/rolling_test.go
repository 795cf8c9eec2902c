package main

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authd/authd/internal/testenv"
)

// TestRollingRestartLosesNothing: three authd processes behind a load
// balancer that health-checks /ready, under a steady bounded load of
// signed-in users reading their profile and of sign-ins and sign-outs.
// The instances are restarted one after the other (SIGTERM, wait for the
// exit, start again, wait until the balancer sends to it again). No request
// fails at a client that retries a 503 once, and every session from before
// the roll still works on each instance.
func TestRollingRestartLosesNothing(t *testing.T) {
	bin := authdBinary(t)
	// SHUTDOWN_DRAIN is 40 health checks of the balancer: time enough for
	// it to take the instance out before the instance stops listening.
	settings := []string{"DEV_MODE=true", "DATABASE_URL=" + testDBURL, "VALKEY_URL=" + testenv.ValkeyURL(),
		"VALKEY_KEY_PREFIX=" + testPrefix + "rolling:", "SMTP_HOST=" + testSink.Host(), "SMTP_PORT=" + strconv.Itoa(testSink.Port()),
		"ARGON2_MEMORY_KIB=256", "ARGON2_ITERATIONS=1", "LOG_LEVEL=warn",
		"PUBLIC_URL=http://localhost:8080", "SHUTDOWN_DRAIN=2s"}
	addrs := make([]string, 3)
	procs := make([]*process, 3)
	for i := range addrs {
		addrs[i] = freeAddr(t)
		procs[i] = startBinaryAt(t, bin, settings, addrs[i])
	}
	lb := newBalancer(t, addrs...)
	for _, addr := range addrs {
		lb.waitInRotation(t, addr, false)
	}

	const users = 4
	const password = "correct horse battery"
	clients := make([]*apiClient, users)
	emails := make([]string, users)
	for i := range clients {
		emails[i] = strings.ToLower(testenv.RandomName("rolling")) + "@example.com"
		clients[i] = newAPIClient(lb.URL)
		if err := clients[i].expect(http.StatusCreated, http.MethodPost, "/api/v1/auth/register", credentials(emails[i], password)); err != nil {
			t.Fatal(err)
		}
	}
	sessions := make([]*http.Cookie, users)
	for i, c := range clients {
		sessions[i] = c.session
	}

	// The load: each user reads /me in a loop and, every tenth round,
	// signs in on a second device and signs that device out again.
	ctx, stopLoad := context.WithCancel(context.Background())
	defer stopLoad()
	var load tally
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() {
			for round := 0; ctx.Err() == nil; round++ {
				load.record(c.expect(http.StatusOK, http.MethodGet, "/api/v1/auth/me", ""))
				if round%10 == 9 {
					device := newAPIClient(lb.URL)
					load.record(device.expect(http.StatusOK, http.MethodPost, "/api/v1/auth/login", credentials(emails[i], password)))
					load.record(device.expect(http.StatusNoContent, http.MethodPost, "/api/v1/auth/logout", ""))
				}
				time.Sleep(5 * time.Millisecond) // a bounded load, not a flood
			}
		})
	}

	for i, addr := range addrs {
		before := load.count()
		if err := procs[i].Stop(60 * time.Second); err != nil {
			t.Fatalf("instance %d did not stop cleanly: %v\n%s", i, err, procs[i].out)
		}
		procs[i] = startBinaryAt(t, bin, settings, addr)
		lb.waitInRotation(t, addr, true)
		if load.count() == before {
			t.Fatalf("no request was sent while instance %d restarted; the test proved nothing", i)
		}
	}
	stopLoad()
	wg.Wait()

	t.Logf("%d requests during the rolling restart; served by instance: %d, %d, %d", load.sent,
		lb.backend(addrs[0]).served.Load(), lb.backend(addrs[1]).served.Load(), lb.backend(addrs[2]).served.Load())
	if len(load.failures) > 0 {
		t.Errorf("%d of %d requests failed, the first: %v", len(load.failures), load.sent, load.failures[:min(5, len(load.failures))])
	}
	// No session lost: each one from before the roll, on each instance.
	for i, ck := range sessions {
		for _, addr := range addrs {
			c := newAPIClient("http://" + addr)
			c.session = ck
			if err := c.expect(http.StatusOK, http.MethodGet, "/api/v1/auth/me", ""); err != nil {
				t.Errorf("user %d's session on %s after the roll: %v", i, addr, err)
			}
		}
	}
}
