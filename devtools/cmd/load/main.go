// Command load (authd-load) runs the k6 scenarios of k6/ against authd without
// k6: open-model arrival-rate pacing, one cookie jar per iteration, a
// bounded pool of VUs with dropped iterations counted, and a k6-style
// summary (text, and with -json the document of devtools/loadreport).
// With -vus it runs a closed loop instead (k6's constant-vus: each VU
// sends its next iteration as soon as the last one is answered), and
// -on-503 says what a client does after a 503. Load stays on loopback
// unless -allow-remote.
//
//	go run ./devtools/cmd/load -scenario mixed -base-url http://127.0.0.1:8080 -json out.json
//	go run ./devtools/cmd/load -scenario login -vus 20 -duration 30s -on-503 honour
package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/authd/authd/devtools/loadreport"
)

// config is the parsed command line.
type config struct {
	Scenario      string
	BaseURL       string
	AllowRemote   bool
	Stages        string
	StartRate     float64 // <0: the scenario's
	Rate          float64
	Duration      time.Duration
	MaxVUs        int
	Timeout       time.Duration
	SeedEmail     string
	SeedPassword  string
	RecoveryEmail string
	Mix           string
	MeSessions    int
	Iterations    int
	JSONPath      string
	Progress      time.Duration
	NoThresholds  bool
	Command       string

	// GracefulStop is how long running iterations may finish after the
	// schedule ends before they are cut off (k6's gracefulStop).
	GracefulStop time.Duration
	// SetupTimeout bounds preflight, seeding and the /me session pool.
	SetupTimeout time.Duration

	VUs        int           // > 0: closed loop of this many VUs for Duration
	On503      string        // next (or ""), retry, honour
	MaxRetries int           // resends per request with retry and honour
	Warmup     time.Duration // left out of the figures
	MeProbe    float64       // /me probe rate beside the load; 0: none
	MeCookies  string        // jar (or ""), old-service

	// clock is the wall clock unless a test sets it.
	clock clock
}

// probeMaxVUs bounds the /me probe's requests in flight.
const probeMaxVUs = 50

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("authd-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Scenario, "scenario", "mixed", "smoke, register, login, me, recovery, mixed or health")
	fs.StringVar(&c.BaseURL, "base-url", envOr("BASE_URL", "http://127.0.0.1:8080"), "authd base URL (env BASE_URL)")
	fs.BoolVar(&c.AllowRemote, "allow-remote", false, "allow a base URL that is not loopback")
	fs.StringVar(&c.Stages, "stages", "", `ramping stages "duration:target,...", e.g. "30s:50,60s:150" (iterations/s)`)
	startRate := fs.Float64("start-rate", 0, "rate at the start of the first stage, with -stages (default 10 for mixed, else 0 as in k6)")
	fs.Float64Var(&c.Rate, "rate", 0, "constant rate in iterations/s (with -duration); replaces the stages")
	fs.DurationVar(&c.Duration, "duration", 0, "length of a constant-rate run (default 30s); alone, it stretches a constant-rate scenario")
	fs.IntVar(&c.MaxVUs, "max-vus", 300, "most iterations running at once; more are dropped, as in k6")
	fs.DurationVar(&c.Timeout, "timeout", 10*time.Second, "per-request timeout")
	fs.StringVar(&c.SeedEmail, "seed-email", envOr("LOGIN_EMAIL", "test@example.com"), "login user (env LOGIN_EMAIL)")
	fs.StringVar(&c.SeedPassword, "seed-password", envOr("LOGIN_PASSWORD", "correct-horse-load-test"), "login user's password (env LOGIN_PASSWORD)")
	fs.StringVar(&c.RecoveryEmail, "recovery-email", envOr("RECOVERY_EMAIL", ""), "address for recovery requests (default: the login user)")
	fs.StringVar(&c.Mix, "mix", "", `flow weights, e.g. "login=55,register=20,recovery=25"; flows: login (login then me), login-only, register, recovery, me, health`)
	fs.IntVar(&c.MeSessions, "me-sessions", 50, "sessions logged in up front for the me flow")
	fs.IntVar(&c.Iterations, "iterations", 3, "smoke: iterations, one after the other")
	fs.StringVar(&c.JSONPath, "json", "", "also write the summary as JSON to this file")
	fs.DurationVar(&c.Progress, "progress", 10*time.Second, "progress line on stderr every interval (0: off)")
	fs.BoolVar(&c.NoThresholds, "no-thresholds", false, "do not fail (exit 99) on thresholds")
	fs.IntVar(&c.VUs, "vus", 0, "closed loop: this many VUs, each running the next iteration as soon as the last ends, for -duration (k6 constant-vus); replaces the rate")
	fs.StringVar(&c.On503, "on-503", on503Next, "after a 503: next (go on, as k6 does), retry (resend at once, at most -max-retries times) or honour (sleep the Retry-After, then resend)")
	fs.IntVar(&c.MaxRetries, "max-retries", 10, "with -on-503 retry or honour: most resends of one request")
	fs.DurationVar(&c.Warmup, "warmup", 0, "leave the first part of the run out: count only requests that end between it and the end of the load, rates over that window")
	fs.Float64Var(&c.MeProbe, "me-probe", 0, "also send GET /auth/me at this rate (iterations/s) over the -me-sessions sessions, as endpoint me-probe, never resent")
	fs.StringVar(&c.MeCookies, "me-cookies", meCookiesJar, `the login flow's GET /me: jar (the session cookie) or old-service (a junk duplicate first, as the old k6 script's { cookies: res.cookies } sent)`)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	// -1 tells plan the flag was not given, as 0 is a valid start rate.
	c.StartRate = -1
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "start-rate" {
			c.StartRate = *startRate
		}
	})
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if c.RecoveryEmail == "" {
		c.RecoveryEmail = c.SeedEmail
	}
	c.GracefulStop = 30 * time.Second
	c.SetupTimeout = 2 * time.Minute
	c.Command = commandLine(append([]string{"authd-load"}, args...))
	return c, nil
}

func commandLine(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\"'$\\") {
			a = strconv.Quote(a)
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

// checkBaseURL refuses anything but loopback unless allowRemote: this
// tool is meant to load the machine it runs on, never someone else's.
func checkBaseURL(raw string, allowRemote bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("base URL %q: %v", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("base URL %q: scheme must be http or https", raw)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("base URL %q: want scheme://host[:port][/prefix]", raw)
	}
	if !allowRemote && !isLoopbackHost(u.Hostname()) {
		return nil, fmt.Errorf("base URL %q: host %q is not loopback (127.0.0.0/8, ::1, localhost); pass -allow-remote to load another machine", raw, u.Hostname())
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return u, nil
}

func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.Unmap().IsLoopback()
}

// newTransport is shared by all iterations so connections are reused as
// k6 reuses them. Unless allowRemote, the dialer also checks the address
// it actually connects to, in case a name resolves somewhere else.
func newTransport(maxVUs int, allowRemote bool) *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	if !allowRemote {
		d.ControlContext = func(_ context.Context, _, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			if ip, err := netip.ParseAddr(host); err != nil || !ip.Unmap().IsLoopback() {
				return fmt.Errorf("refusing to connect to %s: not loopback (use -allow-remote)", address)
			}
			return nil
		}
	}
	return &http.Transport{
		Proxy:                 nil, // never through a proxy from the environment
		DialContext:           d.DialContext,
		MaxIdleConns:          maxVUs + 16,
		MaxIdleConnsPerHost:   maxVUs,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// plan resolves the scenario and the flag overrides into what to run.
func plan(cfg config) (scenarioDef, error) {
	def, err := scenarioByName(cfg.Scenario)
	if err != nil {
		return def, err
	}
	if cfg.Mix != "" {
		if def.mix, err = ParseMix(cfg.Mix); err != nil {
			return def, err
		}
		if def.mix.Has("smoke") != def.sequential || (def.sequential && len(def.mix) > 1) {
			return def, errors.New("the smoke flow runs alone, in the smoke scenario only")
		}
	}
	switch cfg.On503 {
	case "", on503Next, on503Retry, on503Honour:
	default:
		return def, fmt.Errorf("-on-503 %q: want next, retry or honour", cfg.On503)
	}
	switch cfg.MeCookies {
	case "", meCookiesJar, meCookiesOldService:
	default:
		return def, fmt.Errorf("-me-cookies %q: want jar or old-service", cfg.MeCookies)
	}
	if cfg.MaxRetries < 0 || cfg.Warmup < 0 || cfg.MeProbe < 0 || cfg.VUs < 0 {
		return def, errors.New("-max-retries, -warmup, -me-probe and -vus must not be negative")
	}
	if def.sequential {
		if cfg.Iterations < 1 {
			return def, errors.New("-iterations must be at least 1")
		}
		if cfg.VUs > 0 || cfg.Warmup > 0 || cfg.MeProbe > 0 {
			return def, errors.New("smoke runs one VU once through: no -vus, -warmup or -me-probe")
		}
		return def, nil
	}
	if cfg.VUs > 0 {
		if cfg.Rate != 0 || cfg.Stages != "" || cfg.StartRate >= 0 {
			return def, errors.New("-vus runs a closed loop for -duration: drop -rate, -stages and -start-rate")
		}
		def.vus, def.loopFor = cfg.VUs, cfg.Duration
		if def.loopFor == 0 {
			def.loopFor = defaultDuration
		}
		if def.loopFor < 0 {
			return def, errors.New("-duration must be positive")
		}
		if cfg.Warmup >= def.loopFor {
			return def, errors.New("-warmup must be shorter than the run")
		}
		return def, nil
	}
	if cfg.Rate < 0 || cfg.Duration < 0 {
		return def, errors.New("-rate and -duration must be positive")
	}
	if cfg.Duration > 0 && cfg.Stages != "" {
		return def, errors.New("-stages carry their own durations; drop -duration")
	}
	switch {
	case cfg.Rate > 0:
		if cfg.Stages != "" {
			return def, errors.New("give -rate/-duration or -stages, not both")
		}
		d := cfg.Duration
		if d == 0 {
			d = defaultDuration
		}
		def.schedule = Constant(cfg.Rate, d)
	case cfg.Stages != "":
		stages, err := ParseStages(cfg.Stages)
		if err != nil {
			return def, err
		}
		def.schedule.Stages = stages
		if cfg.Scenario != "mixed" {
			def.schedule.StartRate = 0 // k6's default startRate
		}
	case cfg.Duration > 0:
		// A duration alone stretches a constant-rate scenario.
		if len(def.schedule.Stages) != 1 || def.schedule.StartRate != def.schedule.Stages[0].Target {
			return def, errors.New("-duration needs -rate for a ramping scenario; use -stages")
		}
		def.schedule = Constant(def.schedule.StartRate, cfg.Duration)
	}
	if cfg.StartRate >= 0 && cfg.Rate == 0 {
		def.schedule.StartRate = cfg.StartRate
	}
	if def.schedule.Duration() <= 0 {
		return def, errors.New("the schedule has no duration")
	}
	if cfg.MaxVUs < 1 {
		return def, errors.New("-max-vus must be at least 1")
	}
	if cfg.Warmup >= def.schedule.Duration() {
		return def, errors.New("-warmup must be shorter than the run")
	}
	return def, nil
}

// run executes one load test and returns its summary. Thresholds are
// evaluated but it is main that turns them into an exit code.
func run(ctx context.Context, cfg config, stderr io.Writer) (*loadreport.Summary, error) {
	base, err := checkBaseURL(cfg.BaseURL, cfg.AllowRemote)
	if err != nil {
		return nil, err
	}
	def, err := plan(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Timeout <= 0 {
		return nil, errors.New("-timeout must be positive")
	}
	for _, t := range def.thresholds {
		if err := t.validate(); err != nil {
			return nil, err
		}
	}
	conns := max(cfg.MaxVUs, def.vus)
	if cfg.MeProbe > 0 {
		conns += probeMaxVUs
	}
	tr := newTransport(conns, cfg.AllowRemote)
	defer tr.CloseIdleConnections()
	rec := NewRecorder()
	r := &runner{
		baseURL:       base.String(),
		transport:     tr,
		timeout:       cfg.Timeout,
		rec:           rec,
		seedEmail:     cfg.SeedEmail,
		seedPassword:  cfg.SeedPassword,
		recoveryEmail: cfg.RecoveryEmail,
		// Unique per run so registrations never collide with an earlier run.
		runID:      strings.ToLower(rand.Text()[:10]),
		clk:        cfg.clock,
		on503:      cmp.Or(cfg.On503, on503Next),
		maxRetries: cfg.MaxRetries,
		meCookies:  cfg.MeCookies,
		warn:       stderr,
	}

	setupCtx, cancelSetup := context.WithTimeout(ctx, cfg.SetupTimeout)
	defer cancelSetup()
	if err := r.preflight(setupCtx); err != nil {
		return nil, err
	}
	if def.mix.Has("login") || def.mix.Has("login-only") || def.mix.Has("me") || cfg.MeProbe > 0 {
		if err := r.setupSeed(setupCtx); err != nil {
			return nil, err
		}
	}
	if def.mix.Has("me") || cfg.MeProbe > 0 {
		if cfg.MeSessions < 1 {
			return nil, errors.New("-me-sessions must be at least 1")
		}
		if err := r.setupMePool(setupCtx, cfg.MeSessions); err != nil {
			return nil, err
		}
	}
	cancelSetup()

	info := RunInfo{Command: cfg.Command, Scenario: cfg.Scenario, BaseURL: r.baseURL, Mix: def.mix, MaxVUs: cfg.MaxVUs,
		Executor: "arrival-rate", On503: r.on503, MaxRetries: cfg.MaxRetries, Warmup: cfg.Warmup}
	if def.sequential {
		info.MaxVUs, info.Executor = 1, "sequential"
		// smoke: one VU, no schedule; the hard stop is per iteration.
		info.Started = time.Now()
		for i := range cfg.Iterations {
			ictx, cancel := context.WithTimeout(ctx, 8*cfg.Timeout+cfg.GracefulStop)
			done := r.iteration(ictx, "smoke", int64(i))
			cancel()
			rec.IterationDone(!done)
			if ctx.Err() != nil {
				break
			}
		}
		info.Pacer = PacerStats{Started: int64(cfg.Iterations), MaxVUs: 1, Elapsed: time.Since(info.Started)}
	} else {
		loadDur := def.loadDuration()
		// The hard stop: nothing runs past the load plus the grace.
		runCtx, cancel := context.WithTimeout(ctx, loadDur+cfg.GracefulStop)
		defer cancel()
		info.Started = time.Now()
		start := r.now()
		r.loadEnd = start.Add(loadDur)
		stopMarkers := func() {}
		if cfg.Warmup > 0 {
			rec.SetWindow(start.Add(cfg.Warmup), r.loadEnd)
			if cfg.clock == nil {
				stopMarkers = windowMarkers(runCtx, stderr, cfg.Warmup, loadDur)
			}
		}
		var probe *Pacer
		probeDone := make(chan PacerStats, 1)
		if cfg.MeProbe > 0 {
			probe = &Pacer{Schedule: Constant(cfg.MeProbe, loadDur), MaxVUs: probeMaxVUs, CountFrom: cfg.Warmup, clock: cfg.clock}
			go func() {
				probeDone <- probe.Run(runCtx, func(ctx context.Context, n int64) { r.flowProbe(ctx, n) })
			}()
		}
		iterate := func(ctx context.Context, n int64) {
			done := r.iteration(ctx, def.mix.Pick(n), n)
			rec.IterationDoneAt(!done, r.now())
		}
		if def.vus > 0 {
			info.Executor, info.VUs, info.MaxVUs = "constant-vus", def.vus, def.vus
			loop := &ClosedLoop{VUs: def.vus, Duration: loadDur, clock: cfg.clock}
			stopProgress := progress(cfg.Progress, stderr, func() string {
				st := loop.Stats()
				return fmt.Sprintf("authd-load: %5.0fs vus=%d iterations=%d running=%d reqs=%d",
					st.Elapsed.Seconds(), def.vus, st.Started, loop.Active(), rec.Requests())
			})
			info.Pacer = loop.Run(runCtx, start, iterate)
			stopProgress()
		} else {
			info.Schedule = def.schedule
			p := &Pacer{Schedule: def.schedule, MaxVUs: cfg.MaxVUs, CountFrom: cfg.Warmup, clock: cfg.clock}
			stopProgress := progress(cfg.Progress, stderr, func() string {
				st := p.Stats()
				return fmt.Sprintf("authd-load: %5.0fs target=%.0f/s started=%d dropped=%d running=%d reqs=%d",
					st.Elapsed.Seconds(), p.Schedule.RateAt(st.Elapsed), st.Started, st.Dropped, p.Active(), rec.Requests())
			})
			info.Pacer = p.Run(runCtx, iterate)
			stopProgress()
		}
		if probe != nil {
			st := <-probeDone
			info.Probe = loadreport.ProbeStats{Rate: cfg.MeProbe, Started: st.Started, Dropped: st.Dropped}
		}
		stopMarkers()
	}
	s := rec.Build(info)
	if !cfg.NoThresholds {
		evaluate(s, def.thresholds)
	}
	return s, nil
}

// windowMarkers prints a line when the warm-up ends and one when the
// load does, so a caller (the bench) can take its own readings, such as
// the server's CPU time, over exactly the measured window.
func windowMarkers(ctx context.Context, w io.Writer, warmup, total time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		var clk wallClock
		if !clk.SleepUntil(ctx, start.Add(warmup)) {
			return
		}
		fmt.Fprintf(w, "authd-load: %s (%s warm-up over)\n", MarkerWindowOpen, warmup)
		if !clk.SleepUntil(ctx, start.Add(total)) {
			return
		}
		fmt.Fprintf(w, "authd-load: %s (%s measured)\n", MarkerWindowClosed, total-warmup)
	}()
	return func() { cancel(); <-done }
}

// The marker lines of windowMarkers (the bench looks for them).
const (
	MarkerWindowOpen   = "measuring window open"
	MarkerWindowClosed = "measuring window closed"
)

// progress prints line() every interval so a long run shows it is alive.
func progress(every time.Duration, w io.Writer, line func() string) (stop func()) {
	if every <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fmt.Fprintln(w, line())
			}
		}
	}()
	return func() { close(done); <-finished }
}

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

// realMain returns k6's exit codes where they apply: 99 when a threshold
// fails, so scripts can gate on either tool alike.
func realMain(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "authd-load:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := run(ctx, cfg, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "authd-load:", err)
		return 1
	}
	writeText(stdout, s)
	if cfg.JSONPath != "" {
		if err := s.WriteFile(cfg.JSONPath); err != nil {
			fmt.Fprintln(stderr, "authd-load:", err)
			return 1
		}
	}
	if !s.ThresholdsOK {
		fmt.Fprintln(stderr, "authd-load: some thresholds have failed")
		return 99
	}
	return 0
}
