package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/authd/authd/devtools/loadreport"
	"github.com/authd/authd/internal/testenv"
)

// phaseScaleOut runs the mixed scenario at one steady rate against one
// instance, then against two behind a round-robin proxy in the bench,
// over the same PostgreSQL and Valkey; and it times the revocation reach:
// from a logout's reply on one instance to the refusal of its cookie on
// the other.
func (b *bench) phaseScaleOut(ctx context.Context) Phase {
	rate := math.Max(10, math.Round(b.ideal*1.2))
	dur := secs(b.d.scaleOut)
	ph := Phase{
		Title: "Scale-out: one instance, two instances, revocation reach",
		Intro: fmt.Sprintf("The mixed scenario (55 %% login + `/auth/me`, 20 %% registration, 25 %% recovery) at a steady %g "+
			"iterations/s (1.2 × the one-instance hash ideal) for %s, first against one authd, then against two authd processes "+
			"behind a round-robin reverse proxy in the bench (the proxy is on the path of the second run only). Both instances "+
			"share the same PostgreSQL, Valkey and the same 2 cores. Then %d trials of the revocation reach: log in through "+
			"instance A, log out through A, and time from A's 204 to instance B's first 401 for that cookie.", rate, dur, b.d.reachTrials),
	}
	args := []string{"-scenario", "mixed", "-rate", fmt.Sprint(rate), "-duration", dur, "-max-vus", "200"}
	one := &loadRun{Name: "scaleout-1", Args: args}
	ph.Runs = append(ph.Runs, Run{Label: "one instance", Command: b.load.CommandLine(one),
		K6: b.k6("mixed.js", "RATE="+fmt.Sprint(rate), "DURATION="+dur)})
	b.logf("phase 8: %s", b.load.CommandLine(one))
	pr, err := b.runMeasured(ctx, one)
	ph.Profiles = append(ph.Profiles, pr)
	if err != nil {
		ph.Err = err.Error()
		return ph
	}

	second, proxyURL, stop, err := b.startSecondInstance(ctx)
	if err != nil {
		ph.Err = err.Error()
		return ph
	}
	defer stop()
	two := &loadRun{Name: "scaleout-2", Args: args}
	twoLoad := &loader{bin: b.loadBin, baseURL: proxyURL, dir: b.tmp, stderr: b.stderr}
	ph.Runs = append(ph.Runs, Run{Label: "two instances behind the proxy", Command: twoLoad.CommandLine(two) + "   # -base-url: the proxy"})
	b.logf("phase 8: %s", twoLoad.CommandLine(two))
	if err := twoLoad.run(ctx, two, nil); err != nil {
		ph.Err = err.Error()
		return ph
	}
	reach, err := revocationReach(ctx, b.authd.baseURL, second, b.d.reachTrials)
	if err != nil {
		ph.Err = err.Error()
	}
	if one.Summary == nil || two.Summary == nil {
		return ph
	}
	s1, s2 := one.Summary, two.Summary
	good1, good2 := servedRate(s1), servedRate(s2)
	ph.Figures = []Figure{
		{Name: "One instance: served requests/s (not shed)", Value: good1, Text: fmtRate(good1),
			Note: fmt.Sprintf("served p95 %s; %d shed 503s", fmtMs(s1.ServedDuration.P95Ms), s1.Shed503.Count)},
		{Name: "Two instances: served requests/s (not shed)", Value: good2, Text: fmtRate(good2),
			Note: fmt.Sprintf("served p95 %s; %d shed 503s", fmtMs(s2.ServedDuration.P95Ms), s2.Shed503.Count)},
		{Name: "Two ÷ one instance", Value: good2 / math.Max(good1, 1e-9), Text: fmtPct(good2 / math.Max(good1, 1e-9)),
			Note: "both instances share this machine's 2 cores"},
	}
	if len(reach) > 0 {
		p50, p99 := percentile(reach, 0.50), percentile(reach, 0.99)
		ph.Figures = append(ph.Figures,
			Figure{Name: "Revocation reach p50 / p99", Value: p99, Text: fmtMs(p50) + " / " + fmtMs(p99),
				Note: fmt.Sprintf("%d trials; max %s; every first request to B after the logout was refused: %v", len(reach), fmtMs(reach[len(reach)-1]), reachImmediate.Load() == int64(len(reach)))})
	}
	ph.Why = append(ph.Why, fmt.Sprintf("On this machine the second instance adds no cores: the two hash pools share the same 2 "+
		"(with twice the slots and wait queues, so at this rate %d requests were shed with two instances against %d with one). "+
		"The ratio is therefore not the gain of a second machine, which the hash ideal of phase 1 gives per core; what it shows "+
		"is that two instances behind a proxy lose nothing: every session works on both.", s2.Shed503.Count, s1.Shed503.Count),
		"The revocation reach is one `/auth/me` on B: a logout deletes the session in Valkey before its 204, and every "+
			"instance reads the session from Valkey on each request (no local copy), so B refuses the cookie on the first try.")
	return ph
}

// reachImmediate counts the trials whose first request to B was refused.
var reachImmediate atomic.Int64

func servedRate(s *loadreport.Summary) float64 {
	served := float64(s.HTTPReqs.Count - int64(s.Shed503.Count))
	return served / math.Max(s.DurationSeconds, 1e-9)
}

// startSecondInstance starts a second authd on the bench's database and
// key prefix, and a round-robin proxy over both; stop ends both.
func (b *bench) startSecondInstance(ctx context.Context) (secondURL, proxyURL string, stop func(), err error) {
	port, err := testenv.FreePort()
	if err != nil {
		return "", "", nil, err
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	env := b.authdEnv(port)
	p, err := startAuthd(ctx, b.authdBin, filepath.Join(b.tmp, "authd-2.log"), env, base)
	if err != nil {
		return "", "", nil, err
	}
	var targets []*url.URL
	for _, u := range []string{b.authd.baseURL, base} {
		t, err := url.Parse(u)
		if err != nil {
			p.stop()
			return "", "", nil, err
		}
		targets = append(targets, t)
	}
	var next atomic.Uint64
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(targets[(next.Add(1)-1)%uint64(len(targets))])
		r.SetXForwarded()
	}, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		p.stop()
		return "", "", nil, err
	}
	srv := &http.Server{Handler: proxy, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return base, "http://" + ln.Addr().String(), func() { srv.Close(); p.stop() }, nil
}

// revocationReach logs the seeded user in through a, logs out through a,
// and times until b refuses the cookie, trials times; the durations come
// back sorted, in milliseconds.
func revocationReach(ctx context.Context, a, b string, trials int) ([]float64, error) {
	reachImmediate.Store(0)
	var out []float64
	for range trials {
		jar, _ := cookiejar.New(nil)
		hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
		if _, err := send(ctx, hc, http.MethodPost, a+"/api/v1/auth/login", fmt.Sprintf(`{"identifier":%q,"password":%q}`, seedEmail, seedPassword), http.StatusOK); err != nil {
			if errors.Is(err, errShed) {
				continue // the hash pool shed the login: not a trial
			}
			return out, err
		}
		au, _ := url.Parse(a)
		cookies := jar.Cookies(au)
		if _, err := send(ctx, hc, http.MethodPost, a+"/api/v1/auth/logout", "", http.StatusNoContent); err != nil {
			return out, err
		}
		loggedOut := time.Now()
		// The same cookie, sent to B.
		bjar, _ := cookiejar.New(nil)
		bu, _ := url.Parse(b)
		bjar.SetCookies(bu, cookies)
		bc := &http.Client{Jar: bjar, Timeout: 10 * time.Second}
		first := true
		for {
			status, err := send(ctx, bc, http.MethodGet, b+"/api/v1/auth/me", "", 0)
			if err != nil {
				return out, err
			}
			if status == http.StatusUnauthorized {
				if first {
					reachImmediate.Add(1)
				}
				break
			}
			first = false
			if time.Since(loggedOut) > 10*time.Second {
				return out, fmt.Errorf("revocation reach: B still accepted a logged-out cookie after 10 s")
			}
		}
		out = append(out, float64(time.Since(loggedOut).Microseconds())/1000)
	}
	sort.Float64s(out)
	return out, nil
}

var errShed = errors.New("shed with 503")

// send makes one request and returns its status; want, if not 0, is the
// status it must have.
func send(ctx context.Context, hc *http.Client, method, u, body string, want int) (int, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode == http.StatusServiceUnavailable && want != 0 {
		return resp.StatusCode, errShed
	}
	if want != 0 && resp.StatusCode != want {
		return resp.StatusCode, fmt.Errorf("%s %s: %d, want %d", method, u, resp.StatusCode, want)
	}
	return resp.StatusCode, nil
}

// percentile of sorted values (nearest rank).
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
