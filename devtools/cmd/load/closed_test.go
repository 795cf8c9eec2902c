package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authd/authd/devtools/loadreport"
)

// advance moves the fake clock on by d.
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// scripted answers POST /recovery from a script (then 202 for ever) and
// moves the fake clock one second per recovery request, so a closed loop
// of one VU sends an exactly known sequence of requests.
type scripted struct {
	clk    *fakeClock
	mu     sync.Mutex
	script []scriptedReply
	sent   int
}

type scriptedReply struct {
	status     int
	retryAfter string
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != pathRecovery {
		w.WriteHeader(http.StatusOK) // preflight
		return
	}
	s.mu.Lock()
	reply := scriptedReply{status: http.StatusAccepted}
	if s.sent < len(s.script) {
		reply = s.script[s.sent]
	}
	s.sent++
	s.mu.Unlock()
	s.clk.advance(time.Second)
	if reply.retryAfter != "" {
		w.Header().Set("Retry-After", reply.retryAfter)
	}
	w.WriteHeader(reply.status)
}

func TestClosedLoopOn503(t *testing.T) {
	// Two 503s with Retry-After 2, a 202, a 503 without Retry-After, then
	// 202s. One VU, 10 s of the fake clock, one second per request.
	script := []scriptedReply{{503, "2"}, {503, "2"}, {202, ""}, {503, ""}}
	for _, c := range []struct {
		name                        string
		on503                       string
		maxRetries                  int
		requests, ok202, iterations int
		retries, waits, missing     int64
		waited                      float64
		checkPasses, checkFailsShed int64
	}{
		// k6's behaviour: the iteration ends, the next starts at once.
		{"next", on503Next, 10, 10, 7, 10, 0, 0, 0, 0, 7, 2},
		// The same requests, but three of them are resends.
		{"retry", on503Retry, 10, 10, 7, 7, 3, 0, 0, 0, 7, 0},
		// At most one resend: the second 503 of the first login stands.
		{"retry once", on503Retry, 1, 10, 7, 8, 2, 0, 0, 0, 7, 1},
		// Each 503 is followed by its Retry-After (1 s when missing), which
		// uses up the run: five requests in 10 s instead of ten.
		{"honour", on503Honour, 10, 5, 2, 2, 3, 3, 1, 5, 2, 0},
		// Honour without resending: sleep, then the next iteration (the k6
		// script login-closed-honour.js).
		{"honour, no resend", on503Honour, 0, 5, 2, 5, 0, 3, 1, 5, 2, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			clk := newFakeClock()
			srv := httptest.NewServer(&scripted{clk: clk, script: script})
			defer srv.Close()
			cfg := testConfig(srv, "recovery")
			cfg.VUs, cfg.Duration, cfg.On503, cfg.MaxRetries, cfg.clock = 1, 10*time.Second, c.on503, c.maxRetries, clk
			s, err := run(context.Background(), cfg, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			rec := s.Endpoint("recovery")
			if rec.Count != c.requests || rec.Status(202) != c.ok202 || rec.Status(503) != c.requests-c.ok202 {
				t.Errorf("requests %d (%v), want %d with %d × 202", rec.Count, rec.Statuses, c.requests, c.ok202)
			}
			if s.Iterations.Count != int64(c.iterations) || s.Retries.Count != c.retries {
				t.Errorf("iterations %d, retries %d; want %d, %d", s.Iterations.Count, s.Retries.Count, c.iterations, c.retries)
			}
			if s.RetryAfter.Waits != c.waits || s.RetryAfter.Missing != c.missing || s.RetryAfter.WaitedSeconds != c.waited {
				t.Errorf("Retry-After waits %+v, want %d waits of %gs, %d missing", s.RetryAfter, c.waits, c.waited, c.missing)
			}
			if len(s.Checks) != 1 || s.Checks[0].Passes != c.checkPasses || s.Checks[0].FailsShed != c.checkFailsShed {
				t.Errorf("checks %+v, want %d passes and %d shed fails", s.Checks, c.checkPasses, c.checkFailsShed)
			}
			// The 503 without Retry-After is counted apart, whatever the policy.
			if rec.NoRetryAfter503 != 1 || s.Status503.Count != int64(c.requests-c.ok202) || s.Successes.Count != int64(c.ok202) {
				t.Errorf("no-Retry-After 503s %d, 503s %d, successes %d", rec.NoRetryAfter503, s.Status503.Count, s.Successes.Count)
			}
			if s.Executor != "constant-vus" || s.VUs != 1 || s.MaxVUs != 1 || s.On503 != c.on503 {
				t.Errorf("executor %q, vus %d, max_vus %d, on_503 %q", s.Executor, s.VUs, s.MaxVUs, s.On503)
			}
			// Rates are over the run on the fake clock: 10 s.
			if s.DurationSeconds != 10 || rec.SuccessRate != float64(c.ok202)/10 {
				t.Errorf("duration %gs, success rate %g", s.DurationSeconds, rec.SuccessRate)
			}
		})
	}
}

// barrier holds every POST /recovery until n are in flight at once; the
// n-th moves the fake clock past the end of the run, so each VU stops
// after that one iteration. A loop running fewer than n VUs at once never
// fills the barrier, and its requests fail after a generous bound.
type barrier struct {
	n        int
	clk      *fakeClock
	mu       sync.Mutex
	inFlight int
	peak     int
	total    int
	full     chan struct{}
}

func (b *barrier) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != pathRecovery {
		w.WriteHeader(http.StatusOK)
		return
	}
	b.mu.Lock()
	b.inFlight++
	b.total++
	b.peak = max(b.peak, b.inFlight)
	if b.inFlight == b.n {
		b.clk.advance(time.Hour)
		close(b.full)
	}
	b.mu.Unlock()
	select {
	case <-b.full:
		w.WriteHeader(http.StatusAccepted)
	case <-time.After(10 * time.Second): // only a broken loop gets here
		w.WriteHeader(http.StatusInternalServerError)
	}
	b.mu.Lock()
	b.inFlight--
	b.mu.Unlock()
}

func TestClosedLoopRunsEveryVUAtOnce(t *testing.T) {
	for _, vus := range []int{1, 3, 20} {
		clk := newFakeClock()
		b := &barrier{n: vus, clk: clk, full: make(chan struct{})}
		srv := httptest.NewServer(b)
		cfg := testConfig(srv, "recovery")
		cfg.VUs, cfg.Duration, cfg.clock = vus, time.Minute, clk
		s, err := run(context.Background(), cfg, io.Discard)
		srv.Close()
		if err != nil {
			t.Fatal(err)
		}
		if b.peak != vus || b.total != vus || s.Iterations.Count != int64(vus) || s.VUsMaxUsed != int64(vus) {
			t.Errorf("%d VUs: peak in flight %d, requests %d, iterations %d, vus_max_used %d; want %d of each",
				vus, b.peak, b.total, s.Iterations.Count, s.VUsMaxUsed, vus)
		}
		if got := s.Endpoint("recovery").Status(202); got != vus {
			t.Errorf("%d VUs: %d answered 202", vus, got)
		}
	}
}

func TestClosedLoopWithProbe(t *testing.T) {
	// A session cap: the loop's logins of the login user end its older
	// sessions at once, so the probe's must belong to other users (and no
	// more of them to one user than the cap).
	f, srv := newFakeAuthd(t)
	f.sessionCap = sessionsPerPoolUser
	cfg := testConfig(srv, "login")
	cfg.VUs, cfg.Duration, cfg.MeProbe, cfg.MeSessions = 2, 250*time.Millisecond, 40, 20
	s, err := run(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	// The probe is paced like any open-model run: exactly 10 in 250 ms.
	probe := s.Endpoint(probeEndpoint)
	if probe.Count != 10 || probe.Status(200) != 10 || s.Probe.Started != 10 || s.Probe.Dropped != 0 || s.Probe.Rate != 40 {
		t.Errorf("probe %+v, stats %+v; want 10 answered 200", probe, s.Probe)
	}
	if login := s.Endpoint("login"); login.Count < 2 || login.Status(200) != login.Count || login.Success.Count != login.Count {
		t.Errorf("login %+v: every login should succeed", login)
	}
	// Probe iterations are not the loop's iterations.
	if s.Iterations.Count != int64(s.Endpoint("login").Count) {
		t.Errorf("iterations %d, logins %d", s.Iterations.Count, s.Endpoint("login").Count)
	}
	checksPass(t, s, "login 2xx", probeEndpoint+" 200")
}

func TestOpenModelRetry(t *testing.T) {
	// 4 iterations on the fake clock, each answered 503 three times: once
	// and two resends.
	clk := newFakeClock()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == pathRecovery {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	cfg := testConfig(srv, "recovery")
	cfg.Rate, cfg.Duration, cfg.On503, cfg.MaxRetries, cfg.clock = 40, 100*time.Millisecond, on503Retry, 2, clk
	s, err := run(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if s.Endpoint("recovery").Count != 12 || s.Retries.Count != 8 || s.Iterations.Count != 4 || s.Shed503.Count != 12 {
		t.Errorf("requests %d, retries %d, iterations %d, shed %d; want 12, 8, 4, 12",
			s.Endpoint("recovery").Count, s.Retries.Count, s.Iterations.Count, s.Shed503.Count)
	}
	if s.Executor != "arrival-rate" || s.Checks[0].Fails != 4 {
		t.Errorf("executor %q, checks %+v", s.Executor, s.Checks)
	}
}

func TestOldServiceCookieShape(t *testing.T) {
	for _, c := range []struct {
		shape, prefix string
	}{
		{meCookiesOldService, fakeCookie + `="[object Object]"; ` + fakeCookie + "="},
		{meCookiesJar, fakeCookie + "="},
	} {
		t.Run(c.shape, func(t *testing.T) {
			f, srv := newFakeAuthd(t)
			cfg := testConfig(srv, "mixed")
			cfg.Rate, cfg.Duration, cfg.MeCookies = 30, time.Second, c.shape
			s, err := run(context.Background(), cfg, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			f.mu.Lock()
			headers := append([]string(nil), f.meCookies...)
			f.mu.Unlock()
			if len(headers) == 0 {
				t.Fatal("no /me request")
			}
			for _, h := range headers {
				if !strings.HasPrefix(h, c.prefix) || strings.Count(h, fakeCookie+"=") != strings.Count(c.prefix, fakeCookie+"=") {
					t.Errorf("Cookie: %s; want %s<token>", h, c.prefix)
				}
			}
			checksPass(t, s, "me 200", "login 2xx")
		})
	}
}

func TestRecorderWindow(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	rec := NewRecorder()
	rec.SetWindow(at(2), at(12))
	for _, c := range []struct {
		end    float64
		status int
		shed   bool
	}{
		{1.9, 200, false}, // ended in the warm-up
		{2, 200, false},   // the window's first instant counts
		{5, 503, true},
		{6, 503, false}, // no Retry-After
		{7, 200, false},
		{12, 201, false}, // the last instant counts
		{12.1, 200, false},
	} {
		rec.Add(Sample{Endpoint: "login", Status: c.status, Shed: c.shed, NoRetryAfter: c.status == 503 && !c.shed,
			Duration: 10 * time.Millisecond, End: at(c.end)})
		rec.CheckAt("login 2xx", c.status < 300, c.shed, at(c.end))
		rec.IterationDoneAt(false, at(c.end))
	}
	rec.Retried(at(1))
	rec.Retried(at(3))
	rec.Waited(2*time.Second, false, at(4))
	rec.Waited(time.Second, true, at(13))
	s := rec.Build(RunInfo{Pacer: PacerStats{Elapsed: 20 * time.Second}, Warmup: 2 * time.Second})
	login := s.Endpoint("login")
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"duration (the window, not the run)", s.DurationSeconds, 10},
		{"requests", float64(login.Count), 5},
		{"2xx", float64(login.Success.Count), 3},
		{"2xx per second", login.SuccessRate, 0.3},
		{"503 per second", login.Rate503, 0.2},
		{"503 without Retry-After", float64(login.NoRetryAfter503), 1},
		{"successes", float64(s.Successes.Count), 3},
		{"503s", float64(s.Status503.Count), 2},
		{"iterations", float64(s.Iterations.Count), 5},
		{"check passes", float64(s.Checks[0].Passes), 3},
		{"retries", float64(s.Retries.Count), 1},
		{"waits", float64(s.RetryAfter.Waits), 1},
		{"warm-up", s.WarmupSeconds, 2},
	} {
		if c.got != c.want {
			t.Errorf("%s = %g, want %g", c.name, c.got, c.want)
		}
	}
}

func TestRetryAfterOf(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, c := range []struct {
		header string
		want   time.Duration
		given  bool
	}{
		{"", defaultRetryAfter, false},
		{"3", 3 * time.Second, true},
		{" 0 ", 0, true},
		{"3600", maxRetryAfter, true},
		{"-1", defaultRetryAfter, false},
		{"soon", defaultRetryAfter, false},
		{now.Add(5 * time.Second).Format(http.TimeFormat), 5 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
	} {
		h := http.Header{}
		if c.header != "" {
			h.Set("Retry-After", c.header)
		}
		if got, given := retryAfterOf(h, now); got != c.want || given != c.given {
			t.Errorf("Retry-After %q: %v, %v; want %v, %v", c.header, got, given, c.want, c.given)
		}
	}
}

func TestPlanClosedLoop(t *testing.T) {
	def, err := plan(config{Scenario: "login", StartRate: -1, MaxVUs: 300, VUs: 20, Duration: 15 * time.Second, Warmup: 3 * time.Second})
	if err != nil || def.vus != 20 || def.loadDuration() != 15*time.Second {
		t.Fatalf("closed loop: %+v %v", def, err)
	}
	if def, err = plan(config{Scenario: "login", StartRate: -1, MaxVUs: 300, VUs: 2}); err != nil || def.loadDuration() != defaultDuration {
		t.Fatalf("closed loop, default duration: %+v %v", def, err)
	}
	for _, bad := range []config{
		{Scenario: "login", StartRate: -1, MaxVUs: 1, VUs: 2, Rate: 5},
		{Scenario: "login", StartRate: -1, MaxVUs: 1, VUs: 2, Stages: "1s:1"},
		{Scenario: "login", StartRate: 0, MaxVUs: 1, VUs: 2},
		{Scenario: "login", StartRate: -1, MaxVUs: 1, VUs: 2, Duration: time.Second, Warmup: time.Second},
		{Scenario: "login", StartRate: -1, MaxVUs: 1, Rate: 5, Duration: time.Second, Warmup: 2 * time.Second},
		{Scenario: "login", StartRate: -1, MaxVUs: 1, On503: "later"},
		{Scenario: "login", StartRate: -1, MaxVUs: 1, MaxRetries: -1},
		{Scenario: "login", StartRate: -1, MaxVUs: 1, VUs: -1},
		{Scenario: "mixed", StartRate: -1, MaxVUs: 1, MeCookies: "browser"},
		{Scenario: "smoke", StartRate: -1, MaxVUs: 1, Iterations: 1, VUs: 2},
		{Scenario: "smoke", StartRate: -1, MaxVUs: 1, Iterations: 1, MeProbe: 5},
	} {
		if _, err := plan(bad); err == nil {
			t.Errorf("plan(%+v) accepted", bad)
		}
	}
}

func TestParseFlagsClosedLoop(t *testing.T) {
	c, err := parseFlags([]string{"-scenario", "login", "-vus", "20", "-duration", "18s", "-warmup", "3s",
		"-on-503", "honour", "-max-retries", "0", "-me-probe", "50", "-me-cookies", "old-service"}, io.Discard)
	if err != nil || c.VUs != 20 || c.Duration != 18*time.Second || c.Warmup != 3*time.Second || c.On503 != on503Honour ||
		c.MaxRetries != 0 || c.MeProbe != 50 || c.MeCookies != meCookiesOldService {
		t.Fatalf("%+v %v", c, err)
	}
	if c, _ := parseFlags(nil, io.Discard); c.On503 != on503Next || c.MaxRetries != 10 || c.MeCookies != meCookiesJar || c.VUs != 0 {
		t.Errorf("defaults: %+v", c)
	}
}

// The summary's new fields also show in the text output.
func TestWriteTextClosedLoop(t *testing.T) {
	s := &loadreport.Summary{Scenario: "login", Executor: "constant-vus", VUs: 20, On503: "honour", MaxRetries: 0,
		WarmupSeconds: 3, DurationSeconds: 15, Probe: loadreport.ProbeStats{Rate: 50},
		Retries: loadreport.Counter{Count: 4}, RetryAfter: loadreport.RetryAfterStats{Waits: 4, WaitedSeconds: 4},
		Endpoints: []loadreport.EndpointStats{{Name: "login", Count: 10, Statuses: map[string]int{"200": 6, "503": 4}, SuccessRate: 0.4, Rate503: 0.27}},
	}
	var b strings.Builder
	writeText(&b, s)
	for _, want := range []string{"executor: constant-vus, 20 VUs", "on 503: honour", "after a 3s warm-up", "probe: GET /auth/me at 50/s",
		"retries_after_503", "2xx 0.40/s", "503 0.27/s (0 without Retry-After)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}
}
