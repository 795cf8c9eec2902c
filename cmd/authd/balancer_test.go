package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// balancer is a load balancer as operators run one in front of authd:
// round-robin over the instances whose /ready answered 200 at their last
// health check, and 503 when none did. It does not retry a request that
// failed on an instance, so a request sent to an instance that is going
// away shows up as a failure at the client.
type balancer struct {
	URL      string
	backends []*backend
	next     atomic.Uint64
}

type backend struct {
	addr    string
	proxy   *httputil.ReverseProxy
	healthy atomic.Bool
	served  atomic.Int64
}

// healthEvery is the balancer's health-check interval: well under the
// drain time the tests give authd, as an operator configures it.
const healthEvery = 50 * time.Millisecond

func newBalancer(t *testing.T, addrs ...string) *balancer {
	t.Helper()
	lb := &balancer{}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, addr := range addrs {
		target, err := url.Parse("http://" + addr)
		if err != nil {
			t.Fatal(err)
		}
		be := &backend{addr: addr}
		be.proxy = &httputil.ReverseProxy{
			Rewrite: func(r *httputil.ProxyRequest) {
				r.SetURL(target)
				r.Out.Host = r.In.Host // the public host name, as a load balancer keeps it
			},
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				t.Logf("balancer: %s %s on %s: %v", r.Method, r.URL.Path, addr, err)
				w.WriteHeader(http.StatusBadGateway)
			},
		}
		lb.backends = append(lb.backends, be)
		wg.Go(func() { be.check(ctx) })
	}
	srv := httptest.NewServer(lb)
	lb.URL = srv.URL
	t.Cleanup(func() {
		srv.Close()
		cancel()
		wg.Wait()
	})
	return lb
}

// check polls the instance's /ready until ctx is done; one failed check
// takes it out of the rotation, one passed check puts it back.
func (be *backend) check(ctx context.Context) {
	hc := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(healthEvery)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+be.addr+"/ready", nil)
		resp, err := hc.Do(req)
		ok := err == nil && resp.StatusCode == http.StatusOK
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		be.healthy.Store(ok)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (lb *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := uint64(len(lb.backends))
	start := lb.next.Add(1)
	for i := range n {
		be := lb.backends[(start+i)%n]
		if be.healthy.Load() {
			be.served.Add(1)
			be.proxy.ServeHTTP(w, r)
			return
		}
	}
	w.Header().Set("Retry-After", "1")
	http.Error(w, "no instance is ready", http.StatusServiceUnavailable)
}

// backend finds the instance listening on addr.
func (lb *balancer) backend(addr string) *backend {
	for _, be := range lb.backends {
		if be.addr == addr {
			return be
		}
	}
	panic("no backend " + addr)
}

// waitInRotation polls until the balancer's health checks have put addr
// in the rotation and, with traffic, it has served a request since.
func (lb *balancer) waitInRotation(t *testing.T, addr string, traffic bool) {
	t.Helper()
	be := lb.backend(addr)
	before := be.served.Load()
	deadline := time.Now().Add(30 * time.Second)
	for !be.healthy.Load() || (traffic && be.served.Load() == before) {
		if time.Now().After(deadline) {
			t.Fatalf("%s is not back in the rotation (healthy %v, served %d)", addr, be.healthy.Load(), be.served.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// apiClient is one user's browser talking to base: it keeps the session
// cookie, and, as a client behind a load balancer should, retries a 503
// once after a short pause. Safe for one goroutine.
type apiClient struct {
	base    string
	hc      *http.Client
	session *http.Cookie
}

func newAPIClient(base string) *apiClient {
	return &apiClient{base: base, hc: &http.Client{Timeout: 15 * time.Second}}
}

// do sends a request and returns the status of the last attempt, or an
// error for a transport failure.
func (c *apiClient) do(method, path, body string) (int, error) {
	for attempt := 0; ; attempt++ {
		status, err := c.once(method, path, body)
		if err != nil || status != http.StatusServiceUnavailable || attempt == 1 {
			return status, err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (c *apiClient) once(method, path, body string) (int, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return 0, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.session != nil {
		req.AddCookie(c.session)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	for _, ck := range resp.Cookies() {
		if ck.Name == "authd_session" {
			if ck.MaxAge < 0 || ck.Value == "" {
				c.session = nil
			} else {
				c.session = ck
			}
		}
	}
	return resp.StatusCode, nil
}

// expect is do with the status the request must end with.
func (c *apiClient) expect(want int, method, path, body string) error {
	status, err := c.do(method, path, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if status != want {
		return fmt.Errorf("%s %s: %d, want %d", method, path, status, want)
	}
	return nil
}

// tally counts a load's requests and keeps its failures.
type tally struct {
	mu       sync.Mutex
	sent     int
	failures []string
}

func (ta *tally) record(err error) {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	ta.sent++
	if err != nil {
		ta.failures = append(ta.failures, err.Error())
	}
}

func (ta *tally) count() int {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	return ta.sent
}

// credentials is the JSON body of a login or registration.
func credentials(email, password string) string {
	return `{"identifier":"` + email + `","password":"` + password + `"}`
}
