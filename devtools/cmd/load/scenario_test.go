package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authd/authd/devtools/loadreport"
)

// fakeAuthd is a tiny cookie-session stand-in for the six endpoints the
// load tool uses, strict where authd is strict: JSON content type on
// POSTs and no cross-origin writes.
type fakeAuthd struct {
	mu       sync.Mutex
	users    map[string]string // e-mail → password
	sessions map[string]string // token → e-mail
	hits     map[string]int    // path → requests
	// meCookies are the Cookie headers of the /me requests, in order.
	meCookies []string
	// sessionCap > 0 ends an identity's oldest session when a new one
	// would pass it, as authd's SESSIONS_PER_IDENTITY does.
	sessionCap int
	order      map[string][]string // e-mail → its live tokens, oldest first
}

func newFakeAuthd(t *testing.T) (*fakeAuthd, *httptest.Server) {
	f := &fakeAuthd{users: map[string]string{}, sessions: map[string]string{}, hits: map[string]int{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeAuthd) hit(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[path]
}

const fakeCookie = "authd_session"

func (f *fakeAuthd) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hits[r.URL.Path]++
	reply := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		if v != nil {
			_ = json.NewEncoder(w).Encode(v)
		}
	}
	if r.Method == http.MethodPost {
		if r.Header.Get("Origin") != "" {
			reply(http.StatusForbidden, map[string]string{"code": "cross_origin"})
			return
		}
		if r.Header.Get("Content-Type") != "application/json" && r.URL.Path != pathLogout {
			reply(http.StatusUnsupportedMediaType, nil)
			return
		}
	}
	var body struct{ Identifier, Password, Email string }
	if r.Body != nil {
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &body)
	}
	// Like authd, the session is looked up from any cookie of its name:
	// a client may send a stale or junk duplicate first.
	current := func() (string, string) {
		for _, c := range r.CookiesNamed(fakeCookie) {
			if email := f.sessions[c.Value]; email != "" {
				return c.Value, email
			}
		}
		return "", ""
	}
	if r.URL.Path == pathMe {
		f.meCookies = append(f.meCookies, r.Header.Get("Cookie"))
	}
	start := func(email string) {
		tok := rand.Text()
		f.sessions[tok] = email
		if f.sessionCap > 0 {
			if f.order == nil {
				f.order = map[string][]string{}
			}
			f.order[email] = append(f.order[email], tok)
			for len(f.order[email]) > f.sessionCap {
				delete(f.sessions, f.order[email][0])
				f.order[email] = f.order[email][1:]
			}
		}
		http.SetCookie(w, &http.Cookie{Name: fakeCookie, Value: tok, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	}
	switch r.Method + " " + r.URL.Path {
	case "GET " + pathHealth:
		reply(http.StatusOK, map[string]string{"status": "ok"})
	case "POST " + pathRegister:
		switch {
		case !strings.Contains(body.Identifier, "@") || len(body.Password) < 8:
			reply(http.StatusUnprocessableEntity, map[string]string{"code": "invalid_input"})
		case f.users[body.Identifier] != "":
			reply(http.StatusConflict, map[string]string{"code": "identifier_taken"})
		default:
			f.users[body.Identifier] = body.Password
			start(body.Identifier)
			reply(http.StatusCreated, map[string]string{"email": body.Identifier})
		}
	case "POST " + pathLogin:
		if pw, ok := f.users[body.Identifier]; !ok || pw != body.Password {
			reply(http.StatusUnauthorized, map[string]string{"code": "invalid_credentials"})
			return
		}
		if tok, _ := current(); tok != "" {
			delete(f.sessions, tok) // id rotated at login
		}
		start(body.Identifier)
		reply(http.StatusOK, map[string]string{"email": body.Identifier})
	case "GET " + pathMe:
		if _, email := current(); email != "" {
			reply(http.StatusOK, map[string]string{"email": email})
			return
		}
		reply(http.StatusUnauthorized, map[string]string{"code": "unauthenticated"})
	case "POST " + pathLogout:
		tok, email := current()
		if email == "" {
			reply(http.StatusUnauthorized, nil)
			return
		}
		delete(f.sessions, tok)
		http.SetCookie(w, &http.Cookie{Name: fakeCookie, Value: "", Path: "/", MaxAge: -1})
		w.WriteHeader(http.StatusNoContent)
	case "POST " + pathRecovery:
		if !strings.Contains(body.Email, "@") {
			reply(http.StatusUnprocessableEntity, nil)
			return
		}
		reply(http.StatusAccepted, nil)
	default:
		reply(http.StatusNotFound, nil)
	}
}

// testConfig has more VUs than any test's schedule has iterations, so
// none is dropped however slowly the machine runs and counts are exact.
func testConfig(srv *httptest.Server, scenario string) config {
	return config{
		Scenario:      scenario,
		BaseURL:       srv.URL,
		StartRate:     -1,
		MaxVUs:        64,
		Timeout:       5 * time.Second,
		SeedEmail:     "test@example.com",
		SeedPassword:  "correct-horse-load-test",
		RecoveryEmail: "test@example.com",
		MeSessions:    3,
		Iterations:    2,
		GracefulStop:  5 * time.Second,
		SetupTimeout:  10 * time.Second,
	}
}

func checksPass(t *testing.T, s *loadreport.Summary, names ...string) {
	t.Helper()
	got := map[string]loadreport.CheckStats{}
	for _, c := range s.Checks {
		got[c.Name] = c
		if c.Fails != 0 {
			t.Errorf("check %q: %d fails", c.Name, c.Fails)
		}
	}
	for _, n := range names {
		if got[n].Passes == 0 {
			t.Errorf("check %q never passed", n)
		}
	}
	if s.HTTPReqFailed.Fails != 0 || s.TransportErrors != 0 {
		t.Errorf("failed requests: %+v, transport errors %d", s.HTTPReqFailed, s.TransportErrors)
	}
	if !s.ThresholdsOK {
		t.Errorf("thresholds failed: %+v", s.Thresholds)
	}
}

func TestSmoke(t *testing.T) {
	f, srv := newFakeAuthd(t)
	s, err := run(context.Background(), testConfig(srv, "smoke"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{pathHealth, pathRegister, pathLogin, pathMe, pathLogout, pathRecovery} {
		if f.hit(p) == 0 {
			t.Errorf("no request to %s", p)
		}
	}
	if s.Iterations.Count != 2 {
		t.Errorf("iterations = %d, want 2", s.Iterations.Count)
	}
	checksPass(t, s, "health 200", "register 2xx", "register <500ms", "me 200", "logout 204", "me after logout 401", "login 2xx", "recovery 2xx")
}

func TestMixedLowRate(t *testing.T) {
	f, srv := newFakeAuthd(t)
	cfg := testConfig(srv, "mixed")
	cfg.Rate, cfg.Duration = 30, time.Second
	s, err := run(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if s.Iterations.Count != 30 || s.DroppedIterations.Count != 0 {
		t.Errorf("iterations %d dropped %d, want 30 and 0", s.Iterations.Count, s.DroppedIterations.Count)
	}
	for _, p := range []string{pathHealth, pathRegister, pathLogin, pathMe, pathRecovery} {
		if f.hit(p) == 0 {
			t.Errorf("no request to %s", p)
		}
	}
	// 55/20/25 of 30 iterations, exactly thanks to the low-discrepancy pick.
	count := map[string]int{}
	for _, e := range s.Endpoints {
		count[e.Name] = e.Count
	}
	if count["login"] != count["me"] || count["login"] < 14 || count["login"] > 19 || count["register"] < 4 || count["recovery"] < 5 {
		t.Errorf("mix off: %v", count)
	}
	checksPass(t, s, "login 2xx", "me 200", "register 2xx", "register <500ms", "recovery 2xx")
}

func TestConstantScenarios(t *testing.T) {
	for _, sc := range []struct {
		name, endpoint string
		checks         []string
	}{
		{"register", "register", []string{"register 2xx"}},
		{"login", "login", []string{"login 2xx"}},
		{"me", "me", []string{"me 200"}},
		{"recovery", "recovery", []string{"recovery 2xx"}},
		{"health", "health", []string{"health 200"}},
	} {
		t.Run(sc.name, func(t *testing.T) {
			_, srv := newFakeAuthd(t)
			cfg := testConfig(srv, sc.name)
			cfg.Rate, cfg.Duration = 40, 250*time.Millisecond
			s, err := run(context.Background(), cfg, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Endpoints) != 1 || s.Endpoints[0].Name != sc.endpoint || s.Endpoints[0].Count != 10 {
				t.Errorf("endpoints = %+v, want 10 requests to %s only", s.Endpoints, sc.endpoint)
			}
			checksPass(t, s, sc.checks...)
		})
	}
}

func TestSetupFailsLoudly(t *testing.T) {
	f, srv := newFakeAuthd(t)
	f.users["test@example.com"] = "something-else"
	_, err := run(context.Background(), testConfig(srv, "login"), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "cannot log in as test@example.com") || !strings.Contains(err.Error(), "-seed-password") {
		t.Fatalf("err = %v", err)
	}
}

func TestPreflightFailsWithoutServer(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	_, err := run(context.Background(), testConfig(srv, "health"), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "cannot reach authd") {
		t.Fatalf("err = %v", err)
	}
}

func TestShedIsNotFailure(t *testing.T) {
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
	cfg.Rate, cfg.Duration = 40, 100*time.Millisecond
	s, err := run(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if s.Shed503.Count != 4 || s.HTTPReqFailed.Fails != 0 || s.Checks[0].FailsShed != 4 || s.ServedDuration.Count != 0 {
		t.Errorf("shed %+v failed %+v checks %+v served %d", s.Shed503, s.HTTPReqFailed, s.Checks, s.ServedDuration.Count)
	}
}

func TestParseMixAndPick(t *testing.T) {
	m, err := ParseMix("login=55, register=20,recovery=25")
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for n := range int64(1000) {
		count[m.Pick(n)]++
	}
	if count["login"] < 540 || count["login"] > 560 || count["register"] < 190 || count["register"] > 210 {
		t.Errorf("1000 picks: %v", count)
	}
	if m.String() != "login=55,register=20,recovery=25" {
		t.Errorf("String = %q", m.String())
	}
	for _, bad := range []string{"", "login", "nope=1", "login=-1", "login=1,login=2", "login=0"} {
		if _, err := ParseMix(bad); err == nil {
			t.Errorf("ParseMix(%q) accepted", bad)
		}
	}
}
