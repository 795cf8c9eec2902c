package httpapi_test

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/authd/authd/internal/testenv"
	"github.com/authd/authd/internal/valkey"
)

// TestSentinelFailoverUnderLoad: authd on Valkey behind three sentinels
// keeps serving while its master is killed and the replica promoted: the
// sessions written before the failover (and replicated) still work after
// it, authd recovers by itself, and every answer meanwhile is a 200 or a
// fast 503 with Retry-After, never a 500 and never a hang.
func TestSentinelFailoverUnderLoad(t *testing.T) {
	s, err := testenv.StartSentinels()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	vc, err := valkey.Open(ctx, s.URL(), valkey.Options{DialTimeout: time.Second, CommandTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer vc.Close()
	ts := newServer(t, serverOptions{valkey: vc, env: map[string]string{"DEPENDENCY_TIMEOUT": "1s"}})

	const users = 8
	clients := make([]*client, users)
	for i := range clients {
		clients[i] = ts.client()
		clients[i].register(t)
	}
	// What the replica has received survives the failover: wait until it
	// has every write so far.
	if got, err := s.Master.Do("WAIT", "1", "5000"); err != nil || got != "1" {
		t.Fatalf("WAIT for the replica = %q, %v", got, err)
	}

	type result struct {
		status  int
		retry   string
		elapsed time.Duration
	}
	var (
		mu      sync.Mutex
		results []result
		stop    = make(chan struct{})
		wg      sync.WaitGroup
	)
	for _, c := range clients {
		c.noContract = true // the 503s during the failover are checked below
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				r := c.do(http.MethodGet, "/api/v1/auth/me", nil)
				mu.Lock()
				results = append(results, result{r.StatusCode, r.Header.Get("Retry-After"), time.Since(start)})
				mu.Unlock()
				time.Sleep(20 * time.Millisecond) // a bounded load, not a flood
			}
		})
	}
	before, err := s.MasterAddr()
	if err != nil {
		t.Fatal(err)
	}
	s.Master.Kill()
	// Recovered: the sentinels name the replica, and every client is
	// served again.
	deadline := time.Now().Add(30 * time.Second)
	for {
		after, err := s.MasterAddr()
		if err == nil && after != before && allServed(clients) {
			break
		}
		if time.Now().After(deadline) {
			close(stop)
			wg.Wait()
			t.Fatalf("no recovery within 30 s (master %s → %s, err %v)", before, after, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	close(stop)
	wg.Wait()

	var ok, unavailable int
	for _, r := range results {
		switch {
		case r.status == http.StatusOK:
			ok++
		case r.status == http.StatusServiceUnavailable:
			unavailable++
			if n, err := strconv.Atoi(r.retry); err != nil || n < 1 {
				t.Errorf("a 503 without Retry-After (%q)", r.retry)
			}
			// The dependency timeout is 1 s; a reply that took ten times
			// that was a hang, not a quick refusal.
			if r.elapsed > 10*time.Second {
				t.Errorf("a 503 after %v: a hang, not a fast refusal", r.elapsed)
			}
		default:
			t.Errorf("an answer %d during the failover, want 200 or 503", r.status)
		}
	}
	t.Logf("%d answers during the failover: %d × 200, %d × 503", len(results), ok, unavailable)
	// Every session written before the failover works after it.
	for i, c := range clients {
		if r := c.do(http.MethodGet, "/api/v1/auth/me", nil); r.StatusCode != http.StatusOK {
			t.Errorf("client %d after the failover: %d %s", i, r.StatusCode, r.body)
		}
	}
}

// allServed says whether /me answers 200 for every client now.
func allServed(clients []*client) bool {
	for _, c := range clients {
		if r := c.do(http.MethodGet, "/api/v1/auth/me", nil); r.StatusCode != http.StatusOK {
			return false
		}
	}
	return true
}
