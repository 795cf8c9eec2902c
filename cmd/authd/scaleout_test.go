package main

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/authd/authd/internal/testenv"
)

// roundRobin is a load balancer in front of several instances: each
// request goes to the next one, whoever sent it, and it records which
// instance served each request.
type roundRobin struct {
	targets []*url.URL
	next    atomic.Uint64
	mu      sync.Mutex
	served  map[string]int // instance address → requests
}

func newRoundRobin(t *testing.T, ins ...*instance) (*roundRobin, *instance) {
	t.Helper()
	rr := &roundRobin{served: map[string]int{}}
	for _, in := range ins {
		u, err := url.Parse("http://" + in.addr)
		if err != nil {
			t.Fatal(err)
		}
		rr.targets = append(rr.targets, u)
	}
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		target := rr.targets[(rr.next.Add(1)-1)%uint64(len(rr.targets))]
		r.SetURL(target)
		r.Out.Host = r.In.Host // the public host name, as a load balancer keeps it
		rr.mu.Lock()
		rr.served[target.Host]++
		rr.mu.Unlock()
	}}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	return rr, &instance{addr: strings.TrimPrefix(srv.URL, "http://")}
}

// TestThreeInstancesBehindALoadBalancer: three authd processes behind a
// round-robin proxy. A client's requests land on all three in turn; whatever one of them changes (a login, a
// logout, a password change, a revocation) holds on the others from the
// next request on.
func TestThreeInstancesBehindALoadBalancer(t *testing.T) {
	// Three processes of the binary, as deployed: nothing shared but
	// PostgreSQL and Valkey.
	bin := authdBinary(t)
	var settings []string
	for k, v := range envMap("PUBLIC_URL", "http://localhost:8080") {
		settings = append(settings, k+"="+v)
	}
	var ins []*instance
	for range 3 {
		addr := freeAddr(t)
		startBinaryAt(t, bin, settings, addr)
		ins = append(ins, &instance{addr: addr})
	}
	rr, lb := newRoundRobin(t, ins...)
	email := strings.ToLower(testenv.RandomName("lb")) + "@example.com"
	pw, newPW := "correct horse battery", "a completely new passphrase"
	creds := func(p string) string { return `{"identifier":"` + email + `","password":"` + p + `"}` }

	laptop := newBrowser(t)
	if r := laptop.send(t, lb, http.MethodPost, "/api/v1/auth/register", creds(pw)); r != http.StatusCreated {
		t.Fatalf("register: %d %s", r, laptop.last)
	}
	// Login on one instance, /me on the next, and on the third.
	phone := newBrowser(t)
	if r := phone.send(t, lb, http.MethodPost, "/api/v1/auth/login", creds(pw)); r != http.StatusOK {
		t.Fatalf("login: %d", r)
	}
	for i := range 3 {
		if r := phone.send(t, lb, http.MethodGet, "/api/v1/auth/me", ""); r != http.StatusOK {
			t.Fatalf("me #%d after the login: %d", i, r)
		}
	}
	// Logout through one; the cookie is refused by all three at once.
	token := phone.token
	if r := phone.send(t, lb, http.MethodPost, "/api/v1/auth/logout", ""); r != http.StatusNoContent {
		t.Fatalf("logout: %d", r)
	}
	replay := newBrowser(t)
	for _, in := range ins {
		replay.token = token
		if r := replay.send(t, in, http.MethodGet, "/api/v1/auth/me", ""); r != http.StatusUnauthorized {
			t.Errorf("the logged-out cookie on %s: %d, want 401", in.addr, r)
		}
	}

	// Revocation through one instance holds on all.
	tablet := newBrowser(t)
	if r := tablet.send(t, lb, http.MethodPost, "/api/v1/auth/login", creds(pw)); r != http.StatusOK {
		t.Fatalf("tablet login: %d", r)
	}
	if r := laptop.send(t, lb, http.MethodDelete, "/api/v1/auth/sessions", ""); r != http.StatusNoContent {
		t.Fatalf("revoke the others: %d", r)
	}
	for _, in := range ins {
		if r := tablet.send(t, in, http.MethodGet, "/api/v1/auth/me", ""); r != http.StatusUnauthorized {
			t.Errorf("the revoked tablet on %s: %d, want 401", in.addr, r)
		}
	}

	// A password change through one instance ends the other sessions on
	// all, and the new password works on each.
	desk := newBrowser(t)
	if r := desk.send(t, lb, http.MethodPost, "/api/v1/auth/login", creds(pw)); r != http.StatusOK {
		t.Fatalf("desk login: %d", r)
	}
	if r := laptop.send(t, lb, http.MethodPut, "/api/v1/auth/settings", `{"method":"password","password":"`+newPW+`","current_password":"`+pw+`"}`); r != http.StatusOK {
		t.Fatalf("password change: %d %s", r, laptop.last)
	}
	for _, in := range ins {
		if r := desk.send(t, in, http.MethodGet, "/api/v1/auth/me", ""); r != http.StatusUnauthorized {
			t.Errorf("the other session on %s after the password change: %d, want 401", in.addr, r)
		}
		if r := laptop.send(t, in, http.MethodGet, "/api/v1/auth/me", ""); r != http.StatusOK {
			t.Errorf("the changing session on %s: %d, want 200", in.addr, r)
		}
		if r := newBrowser(t).send(t, in, http.MethodPost, "/api/v1/auth/login", creds(pw)); r != http.StatusUnauthorized {
			t.Errorf("the old password on %s: %d, want 401", in.addr, r)
		}
		if r := newBrowser(t).send(t, in, http.MethodPost, "/api/v1/auth/login", creds(newPW)); r != http.StatusOK {
			t.Errorf("the new password on %s: %d, want 200", in.addr, r)
		}
	}
	rr.mu.Lock()
	defer rr.mu.Unlock()
	for _, in := range ins {
		if rr.served[in.addr] == 0 {
			t.Errorf("the load balancer sent nothing to %s: %v", in.addr, rr.served)
		}
	}
}
