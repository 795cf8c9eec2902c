package httpapi_test

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authd/authd/internal/auth"
	"github.com/google/uuid"
	vk "github.com/valkey-io/valkey-go"
)

// testLockout is the shipped lock-out policy (1m, 2m, 4m ... up to 15m)
// after three free failures per account.
var testLockout = map[string]string{"LOGIN_ACCOUNT_FREE_ATTEMPTS": "3", "LOGIN_LOCKOUT_BASE": "1m", "LOGIN_LOCKOUT_MAX": "15m"}

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
	ts := newServer(t, serverOptions{now: clk.Now, env: testLockout})
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
	a := newServer(t, serverOptions{now: clk.Now, prefix: shared, env: testLockout})
	b := newServer(t, serverOptions{now: clk.Now, prefix: shared, env: testLockout})
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

func TestIPLockoutIsIndependentOfAccounts(t *testing.T) {
	ts := newServer(t, serverOptions{
		env: map[string]string{"TRUSTED_PROXIES": "127.0.0.1/32", "LOGIN_ACCOUNT_FREE_ATTEMPTS": "3", "LOGIN_IP_FREE_ATTEMPTS": "5"},
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
		trusted string
		wantIP  string
	}{
		{"no trusted proxy: the socket address", "", "127.0.0.1"},
		{"trusted proxy: the forwarded address", "127.0.0.0/8", "203.0.113.50"},
		{"other proxy trusted: the socket address", "10.0.0.0/8", "127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newServer(t, serverOptions{env: map[string]string{"TRUSTED_PROXIES": tt.trusted}})
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
	ts := newServer(t, serverOptions{env: map[string]string{"REGISTER_LIMIT_PER_IP": "2"}})
	ts.client().register(t)
	ts.client().register(t)
	r := ts.client().do(http.MethodPost, "/api/v1/auth/register", credentials{Identifier: newEmail("third"), Password: "correct horse battery staple"})
	wantStatus(t, r, http.StatusTooManyRequests)
	if retryAfter(t, r) <= 0 {
		t.Error("no Retry-After")
	}
}

func TestRecoveryLimitPerIP(t *testing.T) {
	ts := newServer(t, serverOptions{env: map[string]string{"MAIL_REQUESTS_PER_IP": "2"}})
	for range 2 {
		wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/recovery", map[string]string{"email": newEmail("r")}), http.StatusAccepted)
	}
	wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/recovery", map[string]string{"email": newEmail("r")}), http.StatusTooManyRequests)
	wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/verify/link", map[string]string{"email": newEmail("r")}), http.StatusTooManyRequests)
}

// callLog records, in order, the calls a request makes to the ports that
// could tell an unknown account from a known one by their timing.
type callLog struct {
	mu    sync.Mutex
	calls []string
}

func (l *callLog) add(call string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, call)
}

func (l *callLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.calls
	l.calls = nil
	return out
}

type loggedHasher struct {
	auth.PasswordHasher
	log *callLog
}

func (h loggedHasher) Verify(ctx context.Context, p, encoded string) (bool, bool, error) {
	h.log.add("hasher.Verify")
	return h.PasswordHasher.Verify(ctx, p, encoded)
}

func (h loggedHasher) Hash(ctx context.Context, p string) (string, error) {
	h.log.add("hasher.Hash")
	return h.PasswordHasher.Hash(ctx, p)
}

type loggedStore struct {
	auth.IdentityStore
	log *callLog
}

func (s loggedStore) IdentityByEmail(ctx context.Context, e auth.Email) (auth.Identity, error) {
	s.log.add("store.IdentityByEmail")
	return s.IdentityStore.IdentityByEmail(ctx, e)
}

func (s loggedStore) IdentityByID(ctx context.Context, id uuid.UUID) (auth.Identity, error) {
	s.log.add("store.IdentityByID")
	return s.IdentityStore.IdentityByID(ctx, id)
}

func (s loggedStore) UpdatePasswordHash(ctx context.Context, id uuid.UUID, h string, at time.Time) error {
	s.log.add("store.UpdatePasswordHash")
	return s.IdentityStore.UpdatePasswordHash(ctx, id, h, at)
}

// loggedValkey records the name of every command (not its keys).
type loggedValkey struct {
	vk.Client
	log *callLog
}

func (c loggedValkey) Do(ctx context.Context, cmd vk.Completed) vk.ValkeyResult {
	c.log.add("valkey." + cmd.Commands()[0])
	return c.Client.Do(ctx, cmd)
}

func (c loggedValkey) DoMulti(ctx context.Context, cmds ...vk.Completed) []vk.ValkeyResult {
	names := make([]string, len(cmds))
	for i, cmd := range cmds {
		names[i] = cmd.Commands()[0]
	}
	c.log.add("valkey.multi(" + strings.Join(names, ",") + ")")
	return c.Client.DoMulti(ctx, cmds...)
}

// TestLoginWorkDoesNotRevealAccounts: timing is structure, not clocks. A
// login with an unknown e-mail and one with a known e-mail and a wrong
// password make the same calls in the same order: one hash verification,
// one identity lookup, the same throttle and audit work. (The wall-clock
// comparison is a figure of make bench, not a test.)
func TestLoginWorkDoesNotRevealAccounts(t *testing.T) {
	log := &callLog{}
	ts := newServer(t, serverOptions{
		env:            map[string]string{"LOGIN_ACCOUNT_FREE_ATTEMPTS": "5", "LOGIN_IP_FREE_ATTEMPTS": "50"},
		valkey:         loggedValkey{Client: testValkey, log: log},
		wrapHasher:     func(h auth.PasswordHasher) auth.PasswordHasher { return loggedHasher{h, log} },
		wrapIdentities: func(s auth.IdentityStore) auth.IdentityStore { return loggedStore{s, log} },
	})
	cr := ts.client().register(t)
	log.take()

	attempt := func(c credentials) []string {
		t.Helper()
		wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/login", c), http.StatusUnauthorized)
		return log.take()
	}
	unknown := attempt(credentials{Identifier: newEmail("nobody"), Password: "not the password"})
	wrong := attempt(credentials{Identifier: cr.Identifier, Password: "not the password"})
	if !slices.Equal(unknown, wrong) {
		t.Fatalf("an unknown e-mail and a wrong password make different calls:\nunknown: %v\nwrong:   %v", unknown, wrong)
	}
	var verifies int
	for _, c := range unknown {
		if c == "hasher.Verify" {
			verifies++
		}
		if c == "hasher.Hash" {
			t.Errorf("a failed login hashed a new password: %v", unknown)
		}
	}
	if verifies != 1 {
		t.Errorf("a failed login made %d hash verifications, want 1: %v", verifies, unknown)
	}
	// The calls of a fresh login, for the record (the closing note of the
	// session refactor cites them).
	ok := ts.client().do(http.MethodPost, "/api/v1/auth/login", cr)
	wantStatus(t, ok, http.StatusOK)
	t.Logf("failed login: %v", unknown)
	t.Logf("successful login: %v", log.take())
}

func TestCSRFOnEveryStateChangingRoute(t *testing.T) {
	ts := newServer(t, serverOptions{env: map[string]string{"CSRF_TRUSTED_ORIGINS": "http://localhost:5173"}})
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
	ts := newServer(t, serverOptions{env: map[string]string{"CORS_ALLOWED_ORIGINS": "https://app.example.com"}})
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
	ts := newServer(t, serverOptions{env: map[string]string{"REGISTRATION_MODE": "strict"}})
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
		if err := testDB.Pool().QueryRow(context.Background(), `SELECT count(*) FROM identities`).Scan(&n); err != nil {
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

// TestRecoveryUnlocksTheAccount: an attacker keeps an account locked with
// wrong guesses; the owner completes a password recovery and logs in with
// the new password at once, with no 429.
func TestRecoveryUnlocksTheAccount(t *testing.T) {
	ts := newServer(t, serverOptions{env: testLockout})
	cr := ts.client().register(t)
	for range 4 {
		wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/login", credentials{Identifier: cr.Identifier, Password: "not the password"}), http.StatusUnauthorized)
	}
	wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/login", cr), http.StatusTooManyRequests)
	token := recoveryToken(t, ts, cr.Identifier)
	fresh := "a completely new passphrase"
	wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/recovery/complete", map[string]string{"token": token, "password": fresh}), http.StatusNoContent)
	wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/login", credentials{Identifier: cr.Identifier, Password: fresh}), http.StatusOK)
}

// TestMailRequestWorkDoesNotRevealAccounts: a request for a recovery or a
// verification link makes the same calls and the same one write for an
// address with an account and one without: it is queued, and looked up
// only when it is answered, after the reply. (Wall-clock times are a
// figure of make bench, not a test.)
func TestMailRequestWorkDoesNotRevealAccounts(t *testing.T) {
	log := &callLog{}
	ts := newServer(t, serverOptions{
		// No workers here: the answers, which do differ, would run among
		// the calls being compared.
		env:            map[string]string{"MAIL_WORKERS": "0", "MAIL_REQUESTS_PER_IP": "100"},
		valkey:         loggedValkey{Client: testValkey, log: log},
		wrapIdentities: func(s auth.IdentityStore) auth.IdentityStore { return loggedStore{s, log} },
	})
	cr := ts.client().register(t)
	jobs := func() int {
		var n int
		if err := testDB.Pool().QueryRow(context.Background(), `SELECT count(*) FROM river_job`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, path := range []string{"/api/v1/auth/recovery", "/api/v1/auth/verify/link"} {
		t.Run(path, func(t *testing.T) {
			request := func(email string) (calls []string, writes int) {
				t.Helper()
				log.take()
				before := jobs()
				wantStatus(t, ts.client().do(http.MethodPost, path, map[string]string{"email": email}), http.StatusAccepted)
				return log.take(), jobs() - before
			}
			known, knownWrites := request(cr.Identifier)
			unknown, unknownWrites := request(newEmail("nobody"))
			if !slices.Equal(known, unknown) {
				t.Fatalf("a known and an unknown address make different calls:\nknown:   %v\nunknown: %v", known, unknown)
			}
			if slices.Contains(known, "store.IdentityByEmail") {
				t.Errorf("the address was looked up before the reply: %v", known)
			}
			if knownWrites != 1 || unknownWrites != 1 {
				t.Errorf("jobs written: %d for a known address, %d for an unknown one; want 1 each", knownWrites, unknownWrites)
			}
		})
	}
}
