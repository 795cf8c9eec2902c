package httpapi_test

import (
	"context"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/internal/argon2id"
	"github.com/authd/authd/internal/auth"
)

var testLockout = auth.LockoutPolicy{Free: 3, Base: time.Minute, Max: 15 * time.Minute, ResetAfter: 24 * time.Hour}

func retryAfter(t *testing.T, r response) int {
	t.Helper()
	n, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil {
		t.Fatalf("Retry-After = %q", r.Header.Get("Retry-After"))
	}
	return n
}

func TestAccountLockout(t *testing.T) {
	clk := &clock{now: time.Now()}
	ts := newServer(t, serverOptions{now: clk.Now, limits: auth.Limits{LoginAccount: testLockout}})
	cr := ts.client().register(t)
	wrong := credentials{Identifier: cr.Identifier, Password: "not the password"}
	login := func(c credentials) response { return ts.client().do(http.MethodPost, "/api/v1/auth/login", c) }

	for range 4 { // 3 free failures, the 4th locks for 1 minute
		wantStatus(t, login(wrong), http.StatusUnauthorized)
	}
	r := login(cr) // the right password does not open the lock
	wantStatus(t, r, http.StatusTooManyRequests)
	if got := retryAfter(t, r); got != 60 {
		t.Errorf("Retry-After = %d, want 60", got)
	}
	if p := r.problem(t); p.Code != "rate_limited" {
		t.Errorf("code = %s", p.Code)
	}
	clk.Advance(30 * time.Second)
	if got := retryAfter(t, login(cr)); got != 30 {
		t.Errorf("Retry-After after 30s = %d, want 30", got)
	}
	clk.Advance(31 * time.Second)
	wantStatus(t, login(cr), http.StatusOK) // the lock ended; success resets the count
	for range 3 {
		wantStatus(t, login(wrong), http.StatusUnauthorized)
	}
	wantStatus(t, login(cr), http.StatusOK)

	t.Run("an unknown account is throttled the same way", func(t *testing.T) {
		ghost := credentials{Identifier: newEmail("ghost"), Password: "not the password"}
		for range 4 {
			wantStatus(t, login(ghost), http.StatusUnauthorized)
		}
		known := credentials{Identifier: newEmail("lockme"), Password: "correct horse battery staple"}
		wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/register", known), http.StatusCreated)
		for range 4 {
			wantStatus(t, login(credentials{Identifier: known.Identifier, Password: "not the password"}), http.StatusUnauthorized)
		}
		sameReply(t, login(ghost), login(credentials{Identifier: known.Identifier, Password: "not the password"}))
	})
}

func TestLockoutHoldsAcrossInstances(t *testing.T) {
	clk := &clock{now: time.Now()}
	shared := testPrefix + "shared-lock:"
	a := newServer(t, serverOptions{now: clk.Now, prefix: shared, limits: auth.Limits{LoginAccount: testLockout}})
	b := newServer(t, serverOptions{now: clk.Now, prefix: shared, limits: auth.Limits{LoginAccount: testLockout}})
	cr := a.client().register(t)
	for i := range 4 {
		srv := a
		if i%2 == 1 {
			srv = b
		}
		wantStatus(t, srv.client().do(http.MethodPost, "/api/v1/auth/login", credentials{Identifier: cr.Identifier, Password: "nope nope nope"}), http.StatusUnauthorized)
	}
	wantStatus(t, b.client().do(http.MethodPost, "/api/v1/auth/login", cr), http.StatusTooManyRequests)
	wantStatus(t, a.client().do(http.MethodPost, "/api/v1/auth/login", cr), http.StatusTooManyRequests)
}

func mustCIDR(s string) *net.IPNet {
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		panic(err)
	}
	return n
}

func TestIPLockoutIsIndependentOfAccounts(t *testing.T) {
	ts := newServer(t, serverOptions{
		trustedProxies: []*net.IPNet{mustCIDR("127.0.0.1/32")},
		limits:         auth.Limits{LoginAccount: testLockout, LoginIP: auth.LockoutPolicy{Free: 5, Base: time.Minute, Max: time.Hour, ResetAfter: time.Hour}},
	})
	victim := ts.client().register(t)
	from := func(ip string, c credentials) response {
		return ts.client().do(http.MethodPost, "/api/v1/auth/login", c, "X-Forwarded-For", ip)
	}
	// Credential stuffing: one IP, many accounts, each below its own limit.
	for i := range 6 {
		wantStatus(t, from("203.0.113.9", credentials{Identifier: newEmail("stuffed" + strconv.Itoa(i)), Password: "guess guess 1"}), http.StatusUnauthorized)
	}
	wantStatus(t, from("203.0.113.9", victim), http.StatusTooManyRequests)
	// The account itself is fine from another IP.
	wantStatus(t, from("198.51.100.4", victim), http.StatusOK)
}

func TestClientIPFromTrustedProxiesOnly(t *testing.T) {
	tests := []struct {
		name    string
		trusted []*net.IPNet
		wantIP  string
	}{
		{"no trusted proxy: the socket address", nil, "127.0.0.1"},
		{"trusted proxy: the forwarded address", []*net.IPNet{mustCIDR("127.0.0.0/8")}, "203.0.113.50"},
		{"other proxy trusted: the socket address", []*net.IPNet{mustCIDR("10.0.0.0/8")}, "127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newServer(t, serverOptions{trustedProxies: tt.trusted})
			c := ts.client()
			cr := credentials{Identifier: newEmail("xff"), Password: "correct horse battery staple"}
			wantStatus(t, c.do(http.MethodPost, "/api/v1/auth/register", cr, "X-Forwarded-For", "203.0.113.50"), http.StatusCreated)
			var list sessionList
			decode(t, c.do(http.MethodGet, "/api/v1/auth/sessions", nil), &list)
			if len(list.Sessions) != 1 || list.Sessions[0].IP != tt.wantIP {
				t.Errorf("session IP = %+v, want %s", list.Sessions, tt.wantIP)
			}
		})
	}
}

func TestRegistrationLimitPerIP(t *testing.T) {
	ts := newServer(t, serverOptions{limits: auth.Limits{RegisterPerIP: 2}})
	ts.client().register(t)
	ts.client().register(t)
	r := ts.client().do(http.MethodPost, "/api/v1/auth/register", credentials{Identifier: newEmail("third"), Password: "correct horse battery staple"})
	wantStatus(t, r, http.StatusTooManyRequests)
	if retryAfter(t, r) <= 0 {
		t.Error("no Retry-After")
	}
}

func TestRecoveryLimitPerIP(t *testing.T) {
	ts := newServer(t, serverOptions{limits: auth.Limits{MailRequestsIP: 2}})
	for range 2 {
		wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/recovery", map[string]string{"email": newEmail("r")}), http.StatusAccepted)
	}
	wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/recovery", map[string]string{"email": newEmail("r")}), http.StatusTooManyRequests)
	wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/verify/link", map[string]string{"email": newEmail("r")}), http.StatusTooManyRequests)
}

// TestLoginTimingDoesNotRevealAccounts compares the median time of 50
// logins with unknown e-mails and 50 with wrong passwords, with the real
// Argon2id parameters. A generous statistical margin, not a time limit.
func TestLoginTimingDoesNotRevealAccounts(t *testing.T) {
	hasher, err := argon2id.New(argon2id.DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	ts := newServer(t, serverOptions{hasher: hasher})
	cr := ts.client().register(t)
	measure := func(c credentials) time.Duration {
		start := time.Now()
		wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/login", c), http.StatusUnauthorized)
		return time.Since(start)
	}
	var unknown, wrong []time.Duration
	for i := range 50 { // interleaved, so drift in machine load hits both
		unknown = append(unknown, measure(credentials{Identifier: newEmail("timing" + strconv.Itoa(i)), Password: "not the password"}))
		wrong = append(wrong, measure(credentials{Identifier: cr.Identifier, Password: "not the password"}))
	}
	mu, mw := median(unknown), median(wrong)
	ratio := float64(mu) / float64(mw)
	t.Logf("median unknown e-mail %s, wrong password %s, ratio %.2f", mu, mw, ratio)
	if ratio < 0.8 || ratio > 1.2 {
		t.Errorf("median login time differs by more than 20%%: unknown %s vs wrong password %s", mu, mw)
	}
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func TestCSRFOnEveryStateChangingRoute(t *testing.T) {
	ts := newServer(t, serverOptions{trustedOrigins: []string{"http://localhost:5173"}})
	var routes []string
	for _, r := range routesOf(ts) {
		if !strings.HasPrefix(r, "GET ") {
			routes = append(routes, r)
		}
	}
	if len(routes) < 12 {
		t.Fatalf("only %d state-changing routes found: %v", len(routes), routes)
	}
	refused := []struct {
		name   string
		header []string
	}{
		{"cross-site fetch", []string{"Sec-Fetch-Site", "cross-site"}},
		{"same-site other port", []string{"Sec-Fetch-Site", "same-site", "Origin", "http://127.0.0.1:9999"}},
		{"foreign Origin", []string{"Origin", "https://evil.example"}},
	}
	allowed := []struct {
		name   string
		header []string
	}{
		{"same-origin fetch", []string{"Sec-Fetch-Site", "same-origin"}},
		{"no browser headers (curl, k6)", nil},
		{"trusted dev-server origin", []string{"Sec-Fetch-Site", "same-site", "Origin", "http://localhost:5173"}},
	}
	for _, route := range routes {
		method, path, _ := strings.Cut(route, " ")
		path = strings.ReplaceAll(path, "{id}", "some-id")
		for _, tt := range refused {
			r := ts.client().do(method, path, "{}", tt.header...)
			if r.StatusCode != http.StatusForbidden || r.problem(t).Code != "cross_origin_refused" {
				t.Errorf("%s with %s: %d %s, want 403 cross_origin_refused", route, tt.name, r.StatusCode, r.body)
			}
		}
		for _, tt := range allowed {
			if r := ts.client().do(method, path, "{}", tt.header...); r.StatusCode == http.StatusForbidden {
				t.Errorf("%s with %s: refused: %s", route, tt.name, r.body)
			}
		}
	}
}

func TestCORSPreflight(t *testing.T) {
	ts := newServer(t, serverOptions{corsOrigins: []string{"https://app.example.com"}})
	preflight := func(origin string) response {
		c := ts.client()
		c.noContract = true
		return c.do(http.MethodOptions, "/api/v1/auth/login", nil,
			"Origin", origin, "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type")
	}
	ok := preflight("https://app.example.com")
	if ok.StatusCode != http.StatusNoContent || ok.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" || ok.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("allowed preflight: %d %v", ok.StatusCode, ok.Header)
	}
	bad := preflight("https://evil.example")
	if h := bad.Header.Get("Access-Control-Allow-Origin"); h != "" {
		t.Errorf("refused origin got Access-Control-Allow-Origin %q", h)
	}
	// The allowed origin may then log in with credentials from the browser.
	r := ts.client().do(http.MethodPost, "/api/v1/auth/register", credentials{Identifier: newEmail("cors"), Password: "correct horse battery staple"},
		"Origin", "https://app.example.com", "Sec-Fetch-Site", "cross-site")
	wantStatus(t, r, http.StatusCreated)
	if r.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Errorf("ACAO = %q", r.Header.Get("Access-Control-Allow-Origin"))
	}
}

func TestStrictRegistrationRevealsNothing(t *testing.T) {
	ts := newServer(t, serverOptions{strict: true})
	taken := ts.client()
	cr := credentials{Identifier: newEmail("strict"), Password: "correct horse battery staple"}
	first := taken.do(http.MethodPost, "/api/v1/auth/register", cr)
	second := ts.client().do(http.MethodPost, "/api/v1/auth/register", cr)
	wantStatus(t, first, http.StatusAccepted)
	sameReply(t, first, second)
	if first.Header.Get("Set-Cookie") != "" {
		t.Error("strict registration logged the user in")
	}
	if _, err := testSink.WaitFor(cr.Identifier, "sign up", mailWait); err != nil {
		t.Errorf("the owner of the taken address was not told: %v", err)
	}
	// The new account logs in only after verifying its address.
	wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/login", cr), http.StatusForbidden)
	token, _ := verificationMail(t, cr.Identifier)
	wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/verify", map[string]string{"token": token}), http.StatusOK)
	wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/login", cr), http.StatusOK)
}

func TestDefaultRegistrationTradeOff(t *testing.T) {
	// The documented exception: in the default mode a taken address is 409.
	ts := newServer(t, serverOptions{})
	cr := ts.client().register(t)
	wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/register", cr), http.StatusConflict)
}

func TestHostileInputWritesNothing(t *testing.T) {
	ts := newServer(t, serverOptions{})
	count := func() int {
		var n int
		if err := testDB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM identities`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()
	for _, body := range []string{
		`{"identifier":"a@example.com","password":"correct horse battery","id":"00000000-0000-0000-0000-000000000000"}`,
		`{"identifier":"a@example.com","password":"correct horse battery","state":"inactive"}`,
		`{"identifier":"a@example.com","password":"correct horse battery","email_verified":true}`,
		`{"identifier":"<img src=x onerror=alert(1)>@example.com","password":"correct horse battery"}`,
		`{"identifier":"a@example.com","password":"` + strings.Repeat("x", 200) + `"}`,
		`{"identifier":"a@example.com","password":"correct\u0000horse battery"}`,
	} {
		if r := ts.client().do(http.MethodPost, "/api/v1/auth/register", body); r.StatusCode < 400 || r.StatusCode >= 500 {
			t.Errorf("%s: status %d, want a 4xx", body, r.StatusCode)
		}
	}
	if after := count(); after != before {
		t.Errorf("hostile requests created %d identities", after-before)
	}
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	ts := newServer(t, serverOptions{})
	c := ts.client()
	c.noContract = true
	for _, r := range []response{
		c.do(http.MethodGet, "/health", nil),
		c.do(http.MethodGet, "/api/v1/auth/me", nil),
		c.do(http.MethodGet, "/no/such/path", nil),
		c.do(http.MethodPost, "/api/v1/auth/login", "{"),
	} {
		for h, want := range map[string]string{
			"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
			"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
		} {
			if got := r.Header.Get(h); got != want {
				t.Errorf("%s %s: %s = %q, want %q", r.Request.Method, r.Request.URL.Path, h, got, want)
			}
		}
	}
	if got := c.do(http.MethodGet, "/api/v1/auth/me", nil).Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("auth response Cache-Control = %q", got)
	}
}
