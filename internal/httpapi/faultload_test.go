package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// faultLoad is a bounded load of sign-ins and profile reads that runs
// while a test breaks a dependency: each of its users signs in on a fresh
// client and reads /me with that session, over and over, and every answer
// is recorded.
type faultLoad struct {
	ts   *testServer
	stop chan struct{}
	wg   sync.WaitGroup

	mu      sync.Mutex
	answers []faultAnswer
}

type faultAnswer struct {
	op      string // "login" or "me"
	status  int    // 0: a transport error
	err     string
	retry   string
	elapsed time.Duration
	at      time.Time
}

// startFaultLoad registers users accounts, starts their loops, and returns
// once the load is served (a profile read answered 200).
func startFaultLoad(t *testing.T, ts *testServer, users int) *faultLoad {
	t.Helper()
	l := &faultLoad{ts: ts, stop: make(chan struct{})}
	accounts := make([]credentials, users)
	for i := range accounts {
		accounts[i] = ts.client().register(t)
	}
	for _, cr := range accounts {
		l.wg.Go(func() {
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				c := ts.client()
				if l.send(c, "login", http.MethodPost, "/api/v1/auth/login", cr) == http.StatusOK {
					l.send(c, "me", http.MethodGet, "/api/v1/auth/me", nil)
				}
				time.Sleep(10 * time.Millisecond) // a bounded load, not a flood
			}
		})
	}
	l.waitFor(t, "sign-in before the fault", time.Now(), func(a faultAnswer) bool { return a.op == "me" && a.status == http.StatusOK })
	return l
}

// send is one request of the load, recorded; it never fails the test
// from the load's goroutine.
func (l *faultLoad) send(c *client, op, method, path string, body any) int {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, l.ts.URL+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	a := faultAnswer{op: op, at: start}
	resp, err := c.hc.Do(req)
	a.elapsed = time.Since(start)
	if err != nil {
		a.err = err.Error()
	} else {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		a.status, a.retry = resp.StatusCode, resp.Header.Get("Retry-After")
	}
	l.mu.Lock()
	l.answers = append(l.answers, a)
	l.mu.Unlock()
	return a.status
}

// waitFor polls until an answer after since satisfies ok, or fails.
func (l *faultLoad) waitFor(t *testing.T, what string, since time.Time, ok func(faultAnswer) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		l.mu.Lock()
		for _, a := range l.answers {
			if !a.at.Before(since) && ok(a) {
				l.mu.Unlock()
				return
			}
		}
		l.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 30 s under the load: %s", what, l.summary())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// end stops the load and checks every answer it got: each one's status is
// among those allowed for its operation, a 503 carries Retry-After, and
// none took ten times the dependency timeout of 1 s (a hang, not a quick
// refusal). It returns the count of 503s seen.
func (l *faultLoad) end(t *testing.T, allowed map[string][]int) int {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	unavailable := 0
	bad := 0
	for _, a := range l.answers {
		if a.status == http.StatusServiceUnavailable {
			unavailable++
			if n, err := strconv.Atoi(a.retry); err != nil || n < 1 {
				t.Errorf("%s: a 503 without Retry-After (%q)", a.op, a.retry)
			}
		}
		if a.elapsed > 10*time.Second {
			t.Errorf("%s answered %d after %v: a hang, not a fast refusal", a.op, a.status, a.elapsed)
		}
		ok := false
		for _, s := range allowed[a.op] {
			ok = ok || a.status == s
		}
		if !ok && bad < 5 {
			bad++
			t.Errorf("%s: status %d %s, want one of %v", a.op, a.status, a.err, allowed[a.op])
		}
	}
	t.Logf("under the fault: %s", l.summary())
	return unavailable
}

// summary counts the answers by operation and status.
func (l *faultLoad) summary() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	counts := map[string]int{}
	for _, a := range l.answers {
		counts[a.op+" "+strconv.Itoa(a.status)]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s × %d", k, counts[k])
	}
	return fmt.Sprintf("%d requests: %s", len(l.answers), strings.Join(parts, ", "))
}
