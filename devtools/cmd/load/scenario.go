package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// API paths, as in the old service so its clients and k6 scripts work.
const (
	pathHealth   = "/health"
	pathRegister = "/api/v1/auth/register"
	pathLogin    = "/api/v1/auth/login"
	pathLogout   = "/api/v1/auth/logout"
	pathMe       = "/api/v1/auth/me"
	pathRecovery = "/api/v1/auth/recovery"
)

// The old service's k6 run: 10 → 50 → 150 → 300 → 500 iterations/s in
// 230 s. Kept identical so the figures compare.
var mixedStages = []Stage{
	{30 * time.Second, 50},
	{60 * time.Second, 150},
	{60 * time.Second, 300},
	{60 * time.Second, 500},
	{20 * time.Second, 500},
}

// Thresholds of the old run, plus authd's own aims from the product spec
// (served p95 < 250 ms, /me p99 < 10 ms, nothing dropped). Same as k6/.
var (
	oldThresholds = []Threshold{
		{"http_req_duration", "p(95)<500"},
		{"http_req_duration", "p(99)<1000"},
		{"http_req_failed", "rate<0.01"},
	}
	mixedThresholds = append(slicesClone(oldThresholds),
		Threshold{"served_duration", "p(95)<250"},
		Threshold{"http_req_duration{endpoint:me}", "p(99)<10"},
		Threshold{"dropped_iterations", "count==0"},
	)
	smokeThresholds = []Threshold{{"checks", "rate==1"}, {"http_req_failed", "rate<0.01"}}
)

func slicesClone(t []Threshold) []Threshold { return append([]Threshold(nil), t...) }

// scenarioDef is a named scenario's defaults; flags override them.
type scenarioDef struct {
	schedule   Schedule
	mix        Mix
	sequential bool // smoke: one VU, iterations one after the other
	thresholds []Threshold
	// vus > 0: a closed loop (k6's constant-vus) of vus users for
	// loopFor, instead of the schedule.
	vus     int
	loopFor time.Duration
}

// loadDuration is how long the load runs: the closed loop's duration or
// the schedule's.
func (d scenarioDef) loadDuration() time.Duration {
	if d.vus > 0 {
		return d.loopFor
	}
	return d.schedule.Duration()
}

var defaultDuration = 30 * time.Second

func scenarioByName(name string) (scenarioDef, error) {
	constant := func(rate float64, flow string, th []Threshold) scenarioDef {
		return scenarioDef{schedule: Constant(rate, defaultDuration), mix: Mix{{flow, 100}}, thresholds: th}
	}
	switch name {
	case "mixed":
		return scenarioDef{
			schedule:   Schedule{StartRate: 10, Stages: mixedStages},
			mix:        Mix{{"login", 55}, {"register", 20}, {"recovery", 25}},
			thresholds: mixedThresholds,
		}, nil
	case "smoke":
		return scenarioDef{mix: Mix{{"smoke", 100}}, sequential: true, thresholds: smokeThresholds}, nil
	case "register":
		// Each registration costs an Argon2 hash: ~20/s is well inside
		// what 2 cores do, so latency rather than shedding is measured.
		return constant(20, "register", oldThresholds), nil
	case "login":
		return constant(20, "login-only", oldThresholds), nil
	case "me":
		return constant(200, "me", append(slicesClone(oldThresholds), Threshold{"http_req_duration", "p(99)<10"})), nil
	case "recovery":
		return constant(20, "recovery", oldThresholds), nil
	case "health":
		return constant(200, "health", []Threshold{{"http_req_failed", "rate<0.01"}}), nil
	}
	return scenarioDef{}, fmt.Errorf("unknown scenario %q (smoke, register, login, me, recovery, mixed, health)", name)
}

// Mix is a weighted choice of flows per iteration.
type Mix []MixEntry

// MixEntry is one flow and its weight.
type MixEntry struct {
	Flow   string
	Weight float64
}

// flows: "login" is the old run's login then GET /auth/me; "login-only"
// measures login (one Argon2 verification) alone.
var flowNames = []string{"login", "login-only", "register", "recovery", "me", "health", "smoke"}

// ParseMix reads "login=55,register=20,recovery=25".
func ParseMix(spec string) (Mix, error) {
	var m Mix
	seen := map[string]bool{}
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, ws, ok := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		if !ok {
			return nil, fmt.Errorf("mix %q: want flow=weight", part)
		}
		w, err := strconv.ParseFloat(strings.TrimSpace(ws), 64)
		if err != nil || w < 0 || math.IsInf(w, 0) || math.IsNaN(w) {
			return nil, fmt.Errorf("mix %q: bad weight", part)
		}
		if !isFlow(name) {
			return nil, fmt.Errorf("mix %q: unknown flow (one of %s)", part, strings.Join(flowNames, ", "))
		}
		if seen[name] {
			return nil, fmt.Errorf("mix: %s given twice", name)
		}
		seen[name] = true
		if w > 0 {
			m = append(m, MixEntry{name, w})
		}
	}
	if len(m) == 0 {
		return nil, errors.New("mix: no flow with a positive weight")
	}
	return m, nil
}

func isFlow(name string) bool {
	for _, f := range flowNames {
		if f == name {
			return true
		}
	}
	return false
}

// Has reports whether flow has a positive weight.
func (m Mix) Has(flow string) bool {
	for _, e := range m {
		if e.Flow == flow {
			return true
		}
	}
	return false
}

// Pick chooses the flow of iteration n. A golden-ratio sequence instead
// of random numbers gives the exact shares even in a short run and the
// same choices in every run, so two runs differ only by the server.
func (m Mix) Pick(n int64) string {
	var total float64
	for _, e := range m {
		total += e.Weight
	}
	_, u := math.Modf(float64(n) * 0.6180339887498949)
	u *= total
	for _, e := range m {
		if u < e.Weight {
			return e.Flow
		}
		u -= e.Weight
	}
	return m[len(m)-1].Flow
}

// String renders the mix as the -mix flag takes it.
func (m Mix) String() string {
	parts := make([]string, len(m))
	for i, e := range m {
		parts[i] = e.Flow + "=" + strconv.FormatFloat(e.Weight, 'g', -1, 64)
	}
	return strings.Join(parts, ",")
}

// runner holds what every iteration shares. Each iteration gets its own
// cookie jar (k6 resets a VU's jar every iteration), so login then me
// uses exactly the session that login created.
type runner struct {
	baseURL       string
	transport     http.RoundTripper
	timeout       time.Duration
	rec           *Recorder
	seedEmail     string
	seedPassword  string
	recoveryEmail string
	runID         string

	mePool []*http.Client

	// clk is the wall clock unless a test sets it: the timestamps that
	// place a sample in the measured window, the Retry-After waits.
	clk clock
	// on503 and maxRetries are what a client does after a 503 (see do).
	on503      string
	maxRetries int
	// loadEnd is when the load's schedule ends: after it nothing is
	// resent and no Retry-After is waited, so the run drains at once.
	loadEnd time.Time
	// meCookies "old-service" sends the /me of the login flow the way the
	// old service's k6 script did (see oldServiceCookies).
	meCookies string
	// warn receives setup warnings (stderr); nil: none.
	warn io.Writer
}

// What a client does after a 503 (-on-503).
const (
	on503Next   = "next"   // the iteration goes on (k6's behaviour)
	on503Retry  = "retry"  // resend at once, at most maxRetries times
	on503Honour = "honour" // sleep the Retry-After, then resend (at most maxRetries times)
)

// defaultRetryAfter is what an honouring client waits after a 503 whose
// Retry-After is missing or unreadable; maxRetryAfter bounds any wait.
const (
	defaultRetryAfter = time.Second
	maxRetryAfter     = 30 * time.Second
)

func (r *runner) now() time.Time {
	if r.clk != nil {
		return r.clk.Now()
	}
	return time.Now()
}

// sleep waits d and reports whether ctx stayed alive.
func (r *runner) sleep(ctx context.Context, d time.Duration) bool {
	if r.clk != nil {
		return r.clk.SleepUntil(ctx, r.clk.Now().Add(d))
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// loadOver says whether the schedule has ended (a zero loadEnd: never).
func (r *runner) loadOver() bool { return !r.loadEnd.IsZero() && !r.now().Before(r.loadEnd) }

// retryAfterOf reads Retry-After (delta-seconds or an HTTP date); ok is
// false when it is missing or unreadable, and the default is returned.
func retryAfterOf(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return defaultRetryAfter, false
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return min(time.Duration(n)*time.Second, maxRetryAfter), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), maxRetryAfter), true
	}
	return defaultRetryAfter, false
}

// do sends a request of a flow and applies the -on-503 policy: with
// "next" it is call; with "retry" a 503 is resent at once, and with
// "honour" the client first sleeps the Retry-After, up to maxRetries
// resends either way. Every attempt is a sample; the last answer is
// returned for the flow's check. Once the schedule is over nothing is
// resent or waited.
func (r *runner) do(ctx context.Context, c *http.Client, endpoint, method, path string, body any) (response, bool) {
	for attempt := 0; ; attempt++ {
		res, ok := r.call(ctx, c, endpoint, method, path, body, true)
		if !ok || res.Status != http.StatusServiceUnavailable || r.on503 == "" || r.on503 == on503Next || r.loadOver() {
			return res, ok
		}
		if r.on503 == on503Honour {
			wait, given := retryAfterOf(res.Header, r.now())
			r.rec.Waited(wait, !given, r.now())
			if !r.sleep(ctx, wait) {
				return res, false
			}
		}
		if attempt >= r.maxRetries || r.loadOver() {
			return res, true
		}
		r.rec.Retried(r.now())
	}
}

// check records a check on a response, in the window of its end.
func (r *runner) check(name string, res response, ok bool) bool {
	return r.rec.CheckAt(name, ok, res.Shed, res.End)
}

// oldServiceCookies is the Cookie header of the old service's k6 script
// for GET /me after login: its getCurrentUser passed the login response's
// cookies on, http.get(url, { cookies: res.cookies }). res.cookies maps a
// name to an array of cookie objects, which k6 turns into the string
// "[object Object]" and sends before the cookie of the VU's jar:
//
//	Cookie: authd_session="[object Object]"; authd_session=<token>
//
// This returns a request option that sets the junk duplicate of each of
// the jar's cookies; the client then appends the jar's real ones.
func oldServiceCookies(jar http.CookieJar) func(*http.Request) {
	return func(req *http.Request) {
		if jar == nil {
			return
		}
		var parts []string
		for _, ck := range jar.Cookies(req.URL) {
			parts = append(parts, ck.Name+`="[object Object]"`)
		}
		if len(parts) > 0 {
			req.Header.Set("Cookie", strings.Join(parts, "; "))
		}
	}
}

func newJar() http.CookieJar {
	// Without a public suffix list the jar still keeps host-only cookies,
	// which is all authd sets.
	j, _ := cookiejar.New(nil)
	return j
}

func (r *runner) client(jar http.CookieJar) *http.Client {
	return &http.Client{
		Transport: r.transport,
		Jar:       jar,
		Timeout:   r.timeout,
		// Never follow a redirect: the tool only talks to the base URL.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

type response struct {
	Status   int
	Header   http.Header
	Body     []byte
	Duration time.Duration
	Shed     bool
	Err      error
	End      time.Time // on the runner's clock
}

// call sends one request. record=false keeps setup traffic out of the
// figures. ok is false when ctx ended (hard stop or interrupt): the
// request is then neither a result nor a failure of the server.
func (r *runner) call(ctx context.Context, c *http.Client, endpoint, method, path string, body any, record bool, opts ...func(*http.Request)) (response, bool) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return response{Err: err}, true
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.baseURL+path, rd)
	if err != nil {
		return response{Err: err}, true
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	// No Origin header: authd refuses cross-origin browser writes, and a
	// non-browser client sends none.
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "authd-load/1")
	for _, o := range opts {
		o(req)
	}

	start := time.Now()
	resp, err := c.Do(req)
	var res response
	if err == nil {
		res.Body, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		res.Status, res.Header = resp.StatusCode, resp.Header
		res.Shed = resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != ""
	}
	res.Duration = time.Since(start)
	res.End = r.now()
	if err != nil {
		if ctx.Err() != nil {
			return res, false
		}
		res.Status, res.Err = 0, err
	}
	if record && r.rec != nil {
		s := Sample{Endpoint: endpoint, Status: res.Status, Duration: res.Duration, Shed: res.Shed, End: res.End,
			NoRetryAfter: res.Status == http.StatusServiceUnavailable && !res.Shed}
		if res.Err != nil {
			s.Err = classify(res.Err)
		}
		r.rec.Add(s)
	}
	return res, true
}

var digits = regexp.MustCompile(`[0-9]+`)

// classify folds errors into a few kinds so the report does not list one
// line per local port.
func classify(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no free local port"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed (EOF)"
	}
	return digits.ReplaceAllString(err.Error(), "N")
}

// callRetry is for setup only: it honours Retry-After on 429 and 503 a
// few times, so a busy or throttling server does not fail the setup.
func (r *runner) callRetry(ctx context.Context, c *http.Client, endpoint, method, path string, body any) response {
	for attempt := 0; ; attempt++ {
		res, ok := r.call(ctx, c, endpoint, method, path, body, false)
		if !ok {
			return response{Err: ctx.Err()}
		}
		if attempt >= 5 || (res.Status != http.StatusTooManyRequests && res.Status != http.StatusServiceUnavailable) {
			return res
		}
		wait := time.Second
		if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && s > 0 {
			wait = time.Duration(min(s, 5)) * time.Second
		}
		select {
		case <-ctx.Done():
			return response{Err: ctx.Err()}
		case <-time.After(wait):
		}
	}
}

type credentials struct {
	Identifier string `json:"identifier"`
	Password   string `json:"password"`
}

type recoveryRequest struct {
	Email string `json:"email"`
}

func is2xx(s int) bool { return s >= 200 && s < 300 }

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// preflight fails fast, with a message an operator can act on, when
// nothing answers at the base URL.
func (r *runner) preflight(ctx context.Context) error {
	res, ok := r.call(ctx, r.client(nil), "health", http.MethodGet, pathHealth, nil, false)
	if !ok || res.Err != nil {
		return fmt.Errorf("cannot reach authd at %s: %v (is it running?)", r.baseURL, res.Err)
	}
	if res.Status != http.StatusOK {
		return fmt.Errorf("GET %s%s answered %d, want 200: %s", r.baseURL, pathHealth, res.Status, snippet(res.Body))
	}
	return nil
}

// setupSeed makes sure the login user exists and can log in, like the
// k6 scripts' setup(). authd's password policy may refuse the old
// service's password at registration, so login is what decides.
func (r *runner) setupSeed(ctx context.Context) error {
	reg := r.callRetry(ctx, r.client(newJar()), "register", http.MethodPost, pathRegister, credentials{r.seedEmail, r.seedPassword})
	regNote := fmt.Sprintf("register answered %d", reg.Status)
	if reg.Err != nil {
		regNote = "register failed: " + reg.Err.Error()
	} else if reg.Status != http.StatusCreated && reg.Status != http.StatusConflict {
		regNote += ": " + snippet(reg.Body)
	}
	login := r.callRetry(ctx, r.client(newJar()), "login", http.MethodPost, pathLogin, credentials{r.seedEmail, r.seedPassword})
	if login.Err != nil || login.Status != http.StatusOK {
		got := fmt.Sprintf("HTTP %d %s", login.Status, snippet(login.Body))
		if login.Err != nil {
			got = login.Err.Error()
		}
		return fmt.Errorf("setup: cannot log in as %s (%s; %s).\n"+
			"Seed that user first (see k6/README.md), or pass -seed-email/-seed-password "+
			"(or LOGIN_EMAIL/LOGIN_PASSWORD) of an account that exists", r.seedEmail, got, regNote)
	}
	return nil
}

// setupMePool logs in n separate sessions so GET /me is spread over many
// sessions, as many VUs would, without paying Argon2 per request. The
// sessions belong to throwaway users, sessionsPerPoolUser each: authd caps
// one identity's live sessions (SESSIONS_PER_IDENTITY) and a login beyond
// the cap ends the oldest, so sessions of the login user would be ended
// by the very load that logs it in. Where no user can be registered
// (registration limit, strict registration) the login user is used.
func (r *runner) setupMePool(ctx context.Context, n int) error {
	users := make([]credentials, (n+sessionsPerPoolUser-1)/sessionsPerPoolUser)
	for k := range users {
		users[k] = r.poolUser(ctx, k)
	}
	r.mePool = make([]*http.Client, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c := r.client(newJar())
			res := r.callRetry(ctx, c, "login", http.MethodPost, pathLogin, users[i/sessionsPerPoolUser])
			if res.Err != nil || res.Status != http.StatusOK {
				errs[i] = fmt.Errorf("session %d: login answered %d %v %s", i, res.Status, res.Err, snippet(res.Body))
			}
			r.mePool[i] = c
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("setup of the /me session pool: %w", err)
	}
	return nil
}

// sessionsPerPoolUser stays well below authd's default session cap (32).
const sessionsPerPoolUser = 16

// poolUser registers the k-th user of the /me session pool, or falls
// back to the login user (with a warning) when registration fails.
func (r *runner) poolUser(ctx context.Context, k int) credentials {
	u := credentials{Identifier: fmt.Sprintf("load-%s-pool-%d@example.com", r.runID, k), Password: "Ld-" + rand.Text()[:16]}
	res, ok := r.call(ctx, r.client(newJar()), "register", http.MethodPost, pathRegister, u, false)
	if ok && res.Err == nil && res.Status == http.StatusCreated {
		return u
	}
	if r.warn != nil {
		fmt.Fprintf(r.warn, "authd-load: could not register a user for the /me sessions (HTTP %d %v); they use %s, "+
			"whose sessions other logins of it can end (SESSIONS_PER_IDENTITY)\n", res.Status, res.Err, r.seedEmail)
	}
	return credentials{r.seedEmail, r.seedPassword}
}

func (r *runner) newUser(n int64) credentials {
	// A random password: a fixed one could land on the common-password
	// list or contain part of the address.
	return credentials{
		Identifier: fmt.Sprintf("load-%s-%d@example.com", r.runID, n),
		Password:   "Ld-" + rand.Text()[:16],
	}
}

// iteration runs flow and reports whether it ran to the end; false
// means it was interrupted by the hard stop.
func (r *runner) iteration(ctx context.Context, flow string, n int64) bool {
	switch flow {
	case "login":
		return r.flowLogin(ctx, true)
	case "login-only":
		return r.flowLogin(ctx, false)
	case "register":
		return r.flowRegister(ctx, n)
	case "recovery":
		return r.flowRecovery(ctx, r.recoveryEmail)
	case "me":
		return r.flowMe(ctx, n)
	case "health":
		return r.flowHealth(ctx)
	case "smoke":
		return r.flowSmoke(ctx, n)
	case "me-probe":
		return r.flowProbe(ctx, n)
	}
	panic("unknown flow " + flow)
}

func (r *runner) flowLogin(ctx context.Context, thenMe bool) bool {
	jar := newJar()
	c := r.client(jar)
	res, ok := r.do(ctx, c, "login", http.MethodPost, pathLogin, credentials{r.seedEmail, r.seedPassword})
	if !ok {
		return false
	}
	// /me without a session only measures a 401; the failed login is
	// already counted.
	if !r.check("login 2xx", res, is2xx(res.Status)) || !thenMe {
		return true
	}
	if r.meCookies == meCookiesOldService {
		res, ok := r.call(ctx, c, "me", http.MethodGet, pathMe, nil, true, oldServiceCookies(jar))
		if ok {
			r.check("me 200", res, res.Status == http.StatusOK)
		}
		return ok
	}
	return r.expect(ctx, c, "me", http.MethodGet, pathMe, nil, "me 200", statusIs(http.StatusOK))
}

// The -me-cookies shapes of the login flow's GET /me.
const (
	meCookiesJar        = "jar"
	meCookiesOldService = "old-service"
)

// probeEndpoint names the -me-probe requests, apart from the flows' "me".
const probeEndpoint = "me-probe"

// flowProbe is one GET /me of the probe: one attempt, never resent, so
// it measures what a client of the cheap path sees.
func (r *runner) flowProbe(ctx context.Context, n int64) bool {
	c := r.mePool[int(n%int64(len(r.mePool)))]
	res, ok := r.call(ctx, c, probeEndpoint, http.MethodGet, pathMe, nil, true)
	if ok {
		r.check(probeEndpoint+" 200", res, res.Status == http.StatusOK)
	}
	return ok
}

func (r *runner) register(ctx context.Context, c *http.Client, u credentials) (response, bool) {
	res, ok := r.do(ctx, c, "register", http.MethodPost, pathRegister, u)
	if !ok {
		return res, false
	}
	r.check("register 2xx", res, is2xx(res.Status))
	r.check("register <500ms", res, res.Err == nil && res.Duration < 500*time.Millisecond)
	return res, true
}

func (r *runner) flowRegister(ctx context.Context, n int64) bool {
	_, ok := r.register(ctx, r.client(newJar()), r.newUser(n))
	return ok
}

func (r *runner) flowRecovery(ctx context.Context, email string) bool {
	return r.expect(ctx, r.client(newJar()), "recovery", http.MethodPost, pathRecovery, recoveryRequest{email}, "recovery 2xx", is2xx)
}

func (r *runner) flowMe(ctx context.Context, n int64) bool {
	c := r.mePool[int(n%int64(len(r.mePool)))]
	return r.expect(ctx, c, "me", http.MethodGet, pathMe, nil, "me 200", statusIs(http.StatusOK))
}

func (r *runner) flowHealth(ctx context.Context) bool {
	return r.expect(ctx, r.client(nil), "health", http.MethodGet, pathHealth, nil, "health 200", statusIs(http.StatusOK))
}

// flowSmoke walks the whole session life cycle once with a fresh user:
// every endpoint answers and the cookie does what it should.
func (r *runner) flowSmoke(ctx context.Context, n int64) bool {
	c := r.client(newJar())
	u := r.newUser(n)
	if !r.expect(ctx, c, "health", http.MethodGet, pathHealth, nil, "health 200", statusIs(http.StatusOK)) {
		return false
	}
	if _, ok := r.register(ctx, c, u); !ok {
		return false
	}
	steps := []struct {
		endpoint, method, path string
		body                   any
		check                  string
		want                   func(int) bool
	}{
		{"me", http.MethodGet, pathMe, nil, "me 200", statusIs(http.StatusOK)},
		{"logout", http.MethodPost, pathLogout, nil, "logout 204", statusIs(http.StatusNoContent)},
		// Proves logout ended the session on the server, not only the cookie.
		{"me", http.MethodGet, pathMe, nil, "me after logout 401", statusIs(http.StatusUnauthorized)},
		{"login", http.MethodPost, pathLogin, u, "login 2xx", is2xx},
		{"me", http.MethodGet, pathMe, nil, "me 200", statusIs(http.StatusOK)},
		{"recovery", http.MethodPost, pathRecovery, recoveryRequest{u.Identifier}, "recovery 2xx", is2xx},
	}
	for _, st := range steps {
		if !r.expect(ctx, c, st.endpoint, st.method, st.path, st.body, st.check, st.want) {
			return false
		}
	}
	return true
}

func statusIs(want int) func(int) bool { return func(s int) bool { return s == want } }

// expect sends one request and records one check on its status.
func (r *runner) expect(ctx context.Context, c *http.Client, endpoint, method, path string, body any, check string, want func(int) bool) bool {
	res, ok := r.do(ctx, c, endpoint, method, path, body)
	if !ok {
		return false
	}
	r.check(check, res, want(res.Status))
	return true
}
