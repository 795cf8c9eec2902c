package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os/exec"
	"sort"
	"strings"
	"time"

	"github.com/authd/authd/devtools/loadreport"
	"github.com/authd/authd/internal/argon2id"
)

// runGoTest runs one `go test -bench` command and keeps its output.
func (b *bench) runGoTest(ctx context.Context, args []string) (GoBenchRun, string, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = b.moduleDir
	// The handler benchmarks make their databases through internal/testenv,
	// on the bench's servers: realMain has set TEST_DATABASE_URL and
	// TEST_VALKEY_URL to them, and the children inherit the environment.
	var out bytes.Buffer
	cmd.Stdout = io.MultiWriter(&out, b.stderr)
	cmd.Stderr = cmd.Stdout
	b.logf("running go %s", strings.Join(args, " "))
	runErr := cmd.Run()
	parsed, perr := ParseGoBench(bytes.NewReader(out.Bytes()))
	if runErr == nil {
		runErr = perr
	}
	return parsed, out.String(), runErr
}

func (b *bench) phaseGoBench(ctx context.Context) Phase {
	ph := Phase{
		Title: "Go benchmarks: hasher, hash pool, handlers",
		Intro: "`go test -bench` of the Argon2id hasher (default parameters, so ns/op is the cost of one login), " +
			"the hash pool's admission overhead, and the HTTP handlers through real HTTP on loopback with real " +
			"PostgreSQL and Valkey (`internal/httpapi`, whatever `-bench=.` finds there). " +
			"BenchmarkHash's ns/op is the **one-hash time** the later phases derive the hasher's ideal from.",
	}
	hashArgs := []string{"test", "-count=1", "-run=NONE", "-bench=.", "-benchtime=" + b.d.hashBenchtime, "./internal/argon2id", "./internal/hashpool"}
	httpArgs := []string{"test", "-count=1", "-run=NONE", "-bench=.", "-benchtime=" + b.d.httpBenchtime, "./internal/httpapi"}
	var errs []string
	for _, args := range [][]string{hashArgs, httpArgs} {
		ph.Runs = append(ph.Runs, Run{Label: "`go test`", Command: "go " + shellJoin(args)})
		res, out, err := b.runGoTest(ctx, args)
		if ctx.Err() != nil {
			return ph
		}
		b.goBench.Results = append(b.goBench.Results, res.Results...)
		b.goBench.Failed = append(b.goBench.Failed, res.Failed...)
		b.goBench.NoBenchmarks = append(b.goBench.NoBenchmarks, res.NoBenchmarks...)
		if err != nil {
			errs = append(errs, fmt.Sprintf("`go %s` failed (%v): %s", strings.Join(args[:4], " "), err, lastLines(out, 6)))
		}
	}
	if len(errs) > 0 {
		ph.Err = strings.Join(errs, "; ")
	}

	rows := [][]string{}
	for _, r := range b.goBench.Results {
		extra := []string{}
		for unit, v := range r.Extra {
			extra = append(extra, fmt.Sprintf("%g %s", v, unit))
		}
		sort.Strings(extra) // map order would reshuffle the column between runs
		rows = append(rows, []string{
			"`" + strings.TrimPrefix(r.Package, "github.com/authd/authd/") + "`",
			"`Benchmark" + r.Name + "`",
			fmtCount(r.N), fmtNs(r.NsPerOp), orDash(r.BytesPerOp, "%.0f"), orDash(r.AllocsPerOp, "%.0f"),
			strings.Join(extra, ", "),
		})
	}
	ph.Tables = append(ph.Tables, Table{
		Header: []string{"Package", "Benchmark", "Iterations", "Time/op", "B/op", "allocs/op", "Other metrics"},
		Rows:   rows,
	})
	var notes []string
	if !hasPackageResults(b.goBench, "internal/httpapi") {
		notes = append(notes, "`internal/httpapi` reported no benchmark results in this run.")
	}
	if len(b.goBench.Failed) > 0 {
		notes = append(notes, "Failed: "+strings.Join(b.goBench.Failed, ", ")+".")
	}

	// The one-hash time: BenchmarkHash with DefaultParams, as the issue
	// defines it. Without it the later phases have no ideal to compare to.
	if h, ok := b.goBench.Find("internal/argon2id", "Hash"); ok {
		b.oneHashNs, b.oneHashFrom = h.NsPerOp, "BenchmarkHash ns/op"
	}
	if b.oneHashNs > 0 {
		dp := argon2id.DefaultParams() // what BenchmarkHash uses
		b.ideal = float64(b.ncpu) / (b.oneHashNs / 1e9)
		ph.Figures = append(ph.Figures,
			Figure{Name: fmt.Sprintf("One hash (Argon2id m=%d t=%d p=%d, one goroutine)", dp.Memory, dp.Iterations, dp.Parallelism),
				Value: b.oneHashNs, Text: fmtNs(b.oneHashNs), Note: b.oneHashFrom},
			Figure{Name: "Hasher's ideal = CPUs ÷ one-hash time", Value: b.ideal, Text: fmtRate(b.ideal),
				Note: fmt.Sprintf("%d CPUs ÷ %s", b.ncpu, fmtNs(b.oneHashNs))},
		)
		b.logf("one hash %s, ideal %.1f hashes/s; measuring %d hashes in parallel for %v", fmtNs(b.oneHashNs), b.ideal, b.ncpu, b.d.parallelHash)
		if rate, err := parallelHashRate(ctx, b.d.parallelHash); err == nil {
			b.parallelRate = rate
			ph.Figures = append(ph.Figures, Figure{
				Name:  fmt.Sprintf("Hasher alone, %d goroutines in parallel (in the bench process)", b.ncpu),
				Value: rate, Text: fmt.Sprintf("%s (%s of ideal)", fmtRate(rate), fmtPct(rate/b.ideal)),
				Note: "the most the pool could do with nothing else running: the cores' real parallel Argon2 rate",
			})
		} else if ctx.Err() == nil {
			notes = append(notes, "Parallel hash measurement failed: "+err.Error())
		}
	}
	if v, ok := b.goBench.Find("internal/argon2id", "Verify"); ok {
		if l, ok := b.goBench.Find("internal/httpapi", "Login"); ok {
			ph.Figures = append(ph.Figures, Figure{
				Name: "Login beyond the hash (BenchmarkLogin − BenchmarkVerify)", Value: l.NsPerOp - v.NsPerOp,
				Text: fmtNs(l.NsPerOp - v.NsPerOp),
				Note: fmt.Sprintf("HTTP, PostgreSQL lookup and audit row, Valkey session: %s of a login", fmtPct((l.NsPerOp-v.NsPerOp)/l.NsPerOp)),
			})
		}
	}
	if me, ok := b.goBench.Find("internal/httpapi", "Me"); ok {
		if h, ok := b.goBench.Find("internal/httpapi", "Health"); ok {
			ph.Figures = append(ph.Figures, Figure{
				Name: "BenchmarkHealth ÷ BenchmarkMe time (one client, serial)", Value: h.NsPerOp / me.NsPerOp,
				Text: fmtPct(h.NsPerOp / me.NsPerOp),
				Note: "serial latency ratio; phase 2 measures the same under load",
			})
		}
	}
	if len(notes) > 0 {
		ph.Why = append(ph.Why, strings.Join(notes, " "))
	}
	return ph
}

func hasPackageResults(r GoBenchRun, suffix string) bool {
	for _, x := range r.Results {
		if strings.HasSuffix(x.Package, suffix) {
			return true
		}
	}
	return false
}

func orDash(v float64, format string) string {
	if v < 0 {
		return "—"
	}
	return fmt.Sprintf(format, v)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " / ")
}

// k6 renders the k6 command of a phase.
func (b *bench) k6(script string, env ...string) string {
	parts := []string{"k6 run --no-usage-report", "-e BASE_URL=" + b.authd.baseURL}
	for _, e := range env {
		parts = append(parts, "-e "+e)
	}
	return strings.Join(append(parts, "k6/"+script), " ")
}

func secs(d time.Duration) string { return fmt.Sprintf("%gs", d.Seconds()) }

func (b *bench) phaseThroughput(ctx context.Context) Phase {
	ph := Phase{
		Title: "`/health` vs `/auth/me` throughput",
		Intro: fmt.Sprintf("Each endpoint alone at an arrival rate far above what the server can answer (20 000/s, at most 64 requests "+
			"in flight), for %s: the completed requests per second are the throughput, and iterations the 64 VUs could not "+
			"start are dropped (counted, not queued). `/auth/me` reads the session and the cached profile from Valkey; `/health` "+
			"is the HTTP stack alone, so the ratio is what a session check costs.", secs(b.d.throughput)),
	}
	dur := secs(b.d.throughput)
	health := &loadRun{Name: "health", Args: []string{"-scenario", "health", "-rate", "20000", "-duration", dur, "-max-vus", "64"}}
	me := &loadRun{Name: "me", Args: []string{"-scenario", "me", "-rate", "20000", "-duration", dur, "-max-vus", "64"}}
	ph.Runs = []Run{
		{Label: "`/health`", Command: b.load.CommandLine(health), K6: b.k6("health.js", "RATE=20000", "DURATION="+dur, "MAX_VUS=64")},
		{Label: "`/auth/me` (logs in 50 sessions first)", Command: b.load.CommandLine(me), K6: b.k6("me.js", "RATE=20000", "DURATION="+dur, "MAX_VUS=64", "SESSIONS=50")},
	}
	var errs []string
	for _, r := range []*loadRun{health, me} {
		b.logf("phase 2: %s", b.load.CommandLine(r))
		pr, err := b.runMeasured(ctx, r)
		ph.Profiles = append(ph.Profiles, pr)
		if err != nil {
			errs = append(errs, err.Error())
		}
		if ctx.Err() != nil {
			return ph
		}
	}
	if len(errs) > 0 {
		ph.Err = strings.Join(errs, "; ")
	}
	if health.Summary == nil || me.Summary == nil {
		return ph
	}
	hs, ms := health.Summary, me.Summary
	hOK, mOK := hs.Endpoint("health").Status(200), ms.Endpoint("me").Status(200)
	hRate, mRate := hs.HTTPReqs.Rate, ms.HTTPReqs.Rate
	ratio := mRate / hRate
	ph.Figures = []Figure{
		{Name: "`/health` throughput", Value: hRate, Text: fmtRate(hRate),
			Note: fmt.Sprintf("%d requests, %d not 200; p50 %s; %d iterations dropped", hs.HTTPReqs.Count, int(hs.HTTPReqs.Count)-hOK, fmtMs(hs.HTTPReqDuration.P50Ms), hs.DroppedIterations.Count)},
		{Name: "`/auth/me` throughput", Value: mRate, Text: fmtRate(mRate),
			Note: fmt.Sprintf("%d requests, %d not 200; p50 %s; %d iterations dropped", ms.HTTPReqs.Count, int(ms.HTTPReqs.Count)-mOK, fmtMs(ms.HTTPReqDuration.P50Ms), ms.DroppedIterations.Count)},
		{Name: "`/auth/me` ÷ `/health` throughput", Value: ratio, Text: fmtPct(ratio),
			Target: &Target{Op: AtLeast, Limit: 0.5, Text: "≥ 50 %"}},
	}
	ph.Why = append(ph.Why, whyThroughput(ph, hs, ms)...)
	return ph
}

// loginRate is the arrival rate for the login phase: 1.5 × ideal keeps
// the pool busy all the time (so throughput, not the schedule, is
// measured) while most of the excess is shed at once.
func (b *bench) loginRate() float64 { return math.Round(1.5 * b.ideal) }

func (b *bench) phaseLogin(ctx context.Context) Phase {
	rate := b.loginRate()
	dur := secs(b.d.login)
	ph := Phase{
		Title: "Login throughput vs the hasher's ideal",
		Intro: fmt.Sprintf("Logins of the seeded user (one Argon2id verification each) at %g/s = 1.5 × the ideal of %s "+
			"(%d CPUs ÷ one-hash time %s, from phase 1), for %s with at most 32 in flight. Throughput is the successful (200) logins "+
			"per second; logins shed with 503 are excluded.", rate, fmtRate(b.ideal), b.ncpu, fmtNs(b.oneHashNs), dur),
	}
	r := &loadRun{Name: "login", Args: []string{"-scenario", "login", "-rate", fmt.Sprint(rate), "-duration", dur, "-max-vus", "32"}}
	ph.Runs = []Run{{Label: "login only", Command: b.load.CommandLine(r),
		K6: b.k6("login.js", fmt.Sprintf("RATE=%g", rate), "DURATION="+dur, "MAX_VUS=32")}}
	b.logf("phase 3: %s", b.load.CommandLine(r))
	pr, err := b.runMeasured(ctx, r)
	ph.Profiles = append(ph.Profiles, pr)
	if err != nil {
		ph.Err = err.Error()
	}
	if r.Summary == nil {
		return ph
	}
	s := r.Summary
	login := s.Endpoint("login")
	ok := login.Status(200)
	tput := s.PerSecond(ok)
	ratio := tput / b.ideal
	other := login.Count - ok - login.Shed503
	ph.Figures = []Figure{
		{Name: "Offered login rate", Value: rate, Text: fmtRate(rate), Note: "1.5 × ideal"},
		{Name: "Login throughput (200 per second)", Value: tput, Text: fmtRate(tput),
			Note: fmt.Sprintf("%d logins in %.1f s; served p50 %s, p99 %s", ok, s.DurationSeconds, fmtMs(login.Served.P50Ms), fmtMs(login.Served.P99Ms))},
		{Name: "Shed (503 + Retry-After)", Value: float64(login.Shed503), Text: fmtCount(int64(login.Shed503)),
			Note: fmt.Sprintf("max %s", fmtMs(s.Shed503.MaxMs))},
		{Name: "Other answers (not 200, not shed)", Value: float64(other), Text: fmtCount(int64(other)), Note: statusList(login.Statuses)},
		{Name: "Login throughput ÷ ideal", Value: ratio, Text: fmtPct(ratio),
			Target: &Target{Op: AtLeast, Limit: 0.9, Text: "≥ 90 %"}},
	}
	if b.parallelRate > 0 {
		ph.Figures = append(ph.Figures, Figure{Name: "Login throughput ÷ hasher alone in parallel (phase 1)", Value: tput / b.parallelRate,
			Text: fmtPct(tput / b.parallelRate), Note: "what the cores really deliver in parallel, without authd"})
	}
	// When the target is missed, the same run with one setting changed
	// shows what the shortfall depends on.
	var variants []loginVariant
	if ratio < 0.9 && ctx.Err() == nil {
		for i, w := range b.loginWhatIfs() {
			v := loginVariant{whatIf: w}
			vr := &loadRun{Name: fmt.Sprintf("login-whatif%d", i+1), Args: r.Args}
			if err := b.restartAuthd(ctx, w.Env); err != nil {
				v.Err = err
			} else {
				v.Effective = scrapeMetrics(ctx, b.authd.baseURL, effectiveMetrics...)
				b.logf("phase 3, %s: %s", w.Env, b.load.CommandLine(vr))
				v.Profile, v.Err = b.runMeasured(ctx, vr)
				if vr.Summary != nil {
					v.Tput = vr.Summary.PerSecond(vr.Summary.Endpoint("login").Status(200))
				}
			}
			variants = append(variants, v)
			if ctx.Err() != nil {
				return ph
			}
		}
		if err := b.restartAuthd(ctx); err != nil {
			ph.Err = strings.TrimPrefix(ph.Err+"; ", "; ") + "restarting authd after the what-if runs: " + err.Error()
		}
		rows := [][]string{{"as measured above", "the bench's settings",
			fmt.Sprintf("%g / %g", b.effective["go_sched_gomaxprocs_threads"], b.effective["authd_hash_pool_size"]),
			fmtRate(tput), fmtPct(ratio), fmt.Sprintf("%.2f / %.2f", pr.Split.Authd, pr.Split.Busy)}}
		for _, v := range variants {
			row := []string{"`" + v.Env + "`", v.Idea,
				fmt.Sprintf("%g / %g", v.Effective["go_sched_gomaxprocs_threads"], v.Effective["authd_hash_pool_size"])}
			if v.Tput > 0 {
				row = append(row, fmtRate(v.Tput), fmtPct(v.Tput/b.ideal), fmt.Sprintf("%.2f / %.2f", v.Profile.Split.Authd, v.Profile.Split.Busy))
			} else {
				row = append(row, "—", "—", fmt.Sprint(v.Err))
			}
			rows = append(rows, row)
		}
		ph.Tables = append(ph.Tables, Table{
			Title:  "The target was missed, so the same run was repeated with one setting changed (a fresh authd each):",
			Header: []string{"authd setting", "Idea", "GOMAXPROCS / pool", "Logins/s", "÷ ideal", "CPUs authd / machine"},
			Rows:   rows,
		})
	}
	ph.Why = append(ph.Why, whyLogin(b, tput, login.Shed503, pr, variants)...)
	return ph
}

// loginVariant is a what-if run of phase 3.
type loginVariant struct {
	whatIf
	Tput      float64
	Profile   Profile
	Effective map[string]float64
	Err       error
}

// loginWhatIfs are the settings that decide how much of the cores the
// hash threads get: the Go processors beside them and their priority.
func (b *bench) loginWhatIfs() []whatIf {
	w := []whatIf{{fmt.Sprintf("GOMAXPROCS=%d", b.ncpu), "no Go processors beyond one per CPU"}}
	if nice, ok := b.niceWhatIf(); ok {
		w = append(w, nice)
	}
	return w
}

func statusList(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s×%d", k, m[k]))
	}
	return "statuses " + strings.Join(parts, " ")
}

// satRun is one saturation run: A (register + login at 3 × capacity) and
// B (/auth/me at 200/s) at once, with authd's memory sampled.
type satRun struct {
	Label    string
	A, B     *loadRun
	Profile  Profile
	MaxRSS   int64
	Mem      memStats
	ResetErr error
	Err      error

	Idea      string             // what-if runs: what the setting changes
	Effective map[string]float64 // GOMAXPROCS and pool size from /metrics
}

func (b *bench) satHashRate() float64 { return math.Round(3 * b.ideal) }

// newSatRun builds the two runs. B waits idle (a zero-rate stage) so that
// every /auth/me it measures falls inside A's run; A starts when B's setup
// (logging in its 50 sessions, unhindered) is over, and runs longer than B.
func (b *bench) newSatRun(label, prefix string, measure time.Duration) *satRun {
	hashDur := b.d.satIdle + measure + b.d.satHashExtra
	meStages := fmt.Sprintf("%s:0,1ms:200,%s:200", secs(b.d.satIdle), secs(measure))
	return &satRun{
		Label: label,
		A: &loadRun{Name: prefix + "hash", Args: []string{"-scenario", "register", "-mix", "register=50,login-only=50",
			"-rate", fmt.Sprint(b.satHashRate()), "-duration", secs(hashDur), "-max-vus", "300"}},
		B: &loadRun{Name: prefix + "me", Args: []string{"-scenario", "me", "-stages", meStages, "-max-vus", "300", "-progress", "500ms"}},
	}
}

// run starts B, waits for its load to begin, then runs A; the measured
// window (CPU, perf) opens when A's load begins and also resets authd's
// peak RSS.
func (b *bench) runSat(ctx context.Context, s *satRun) {
	var sampler *rssSampler
	s.Profile, s.Err = b.measure(ctx, s.Label, func(begin func()) (time.Duration, error) {
		ready := make(chan struct{})
		b.logf("%s: B: %s", s.Label, b.load.CommandLine(s.B))
		waitB, err := b.load.start(ctx, s.B, func() { close(ready) })
		if err != nil {
			return 0, err
		}
		bDone := make(chan error, 1)
		go func() { bDone <- waitB() }()
		select {
		case <-ready:
		case err := <-bDone:
			return s.B.CPU(), fmt.Errorf("run B ended before its load started: %v", err)
		case <-ctx.Done():
			<-bDone
			return s.B.CPU(), ctx.Err()
		}
		s.ResetErr = resetPeakRSS(b.authd.pid())
		sampler = sampleRSS(b.authd.pid(), 100*time.Millisecond)
		b.logf("%s: A: %s", s.Label, b.load.CommandLine(s.A))
		errA := b.load.run(ctx, s.A, func() {
			s.B.markBegin()
			begin()
		})
		errB := <-bDone
		return s.A.CPU() + s.B.CPU(), errors.Join(errA, errB)
	})
	if sampler != nil {
		s.MaxRSS, s.Mem, _ = sampler.Stop()
	}
}

// whatIf is a variant of authd's settings for a second saturation run:
// changing one mechanism at a time shows what the figures depend on, and
// so why a target is met or missed.
type whatIf struct {
	Env  string
	Idea string
}

// niceWhatIf is the other priority of the hashing threads than authd's
// default: niced when they run at normal priority, and the reverse.
func (b *bench) niceWhatIf() (whatIf, bool) {
	d, ok := b.defaults["HASH_NICE"]
	if !ok {
		return whatIf{}, false
	}
	if d == "0" {
		return whatIf{"HASH_NICE=10", "hashing threads niced (cheap requests ahead of Argon2)"}, true
	}
	return whatIf{"HASH_NICE=0", "hashing threads at normal priority"}, true
}

// satWhatIfs picks the variants this authd supports (from its --help).
func (b *bench) satWhatIfs() []whatIf {
	w := []whatIf{{fmt.Sprintf("GOMAXPROCS=%d", b.ncpu),
		"one Go processor per CPU (Go's own default), so busy hash slots can hold every processor"}}
	if nice, ok := b.niceWhatIf(); ok {
		w = append(w, nice)
	}
	if d, ok := b.defaults["HASH_WAIT_BUDGET"]; ok {
		alt := "1s"
		if d == "1s" {
			alt = "200ms"
		}
		w = append(w, whatIf{"HASH_WAIT_BUDGET=" + alt, "a different wait budget (default " + d + ")"})
	}
	// Every hash allocates its Argon2 memory afresh, so GC runs at the
	// hash rate; a larger GOGC shows what that costs the requests.
	w = append(w, whatIf{"GOGC=400", "a quarter as many garbage collections"})
	return w
}

func (b *bench) phaseSaturation(ctx context.Context) Phase {
	hashRate := b.satHashRate()
	hashDur := b.d.satIdle + b.d.satMeasure + b.d.satHashExtra
	ph := Phase{
		Title: "`/auth/me` while the hash pool is saturated",
		Intro: fmt.Sprintf("Two load processes at once. **A** sends registrations and logins (half each, every one an Argon2id hash) at %g/s "+
			"= 3 × the hash capacity of %s, for %s. **B** sends `GET /auth/me` at 200/s over 50 sessions for %s; B logs its "+
			"sessions in before A starts and then waits %s (a zero-rate stage), so every `/auth/me` it measures runs while A "+
			"saturates the pool. authd's memory is read from /proc/<pid>/status every 100 ms; the peak (VmHWM) is reset "+
			"(clear_refs) when A starts.", hashRate, fmtRate(b.ideal), secs(hashDur), secs(b.d.satMeasure), secs(b.d.satIdle)),
	}
	s := b.newSatRun("saturation (A + B)", "saturation-", b.d.satMeasure)
	half := fmt.Sprint(math.Ceil(hashRate / 2))
	ph.Runs = []Run{
		{Label: "B, `/auth/me` (start first; start A when its setup is done)", Command: b.load.CommandLine(s.B),
			K6: b.k6("me.js", "RATE=200", "DURATION="+secs(b.d.satMeasure), "SESSIONS=50") + "   # k6 has no zero-rate stage: start it just after A's two"},
		{Label: "A, register + login at 3 × capacity", Command: b.load.CommandLine(s.A),
			K6: b.k6("register.js", "RATE="+half, "DURATION="+secs(hashDur)) + " &\n  " + b.k6("login.js", "RATE="+half, "DURATION="+secs(hashDur))},
	}
	b.runSat(ctx, s)
	ph.Profiles = append(ph.Profiles, s.Profile)
	if s.Err != nil {
		ph.Err = s.Err.Error()
	}
	if s.A.Summary == nil || s.B.Summary == nil {
		return ph
	}
	as, bs := s.A.Summary, s.B.Summary
	me := bs.Endpoint("me")
	meFail := me.Count - me.Status(200)
	reg, login := as.Endpoint("register"), as.Endpoint("login")
	served := reg.Status(201) + login.Status(200)
	neither := as.HTTPReqFailed.Total - served - as.Shed503.Count
	hwmNote := "VmHWM since A started"
	if s.ResetErr != nil {
		hwmNote = "VmHWM since authd started (peak reset failed: " + s.ResetErr.Error() + ")"
	}
	// A shed reply waits SHED_DELAY by design; the target is its own time.
	var shedDelayMs float64
	if d, err := time.ParseDuration(b.defaults["SHED_DELAY"]); err == nil {
		shedDelayMs = float64(d) / float64(time.Millisecond)
	}
	ph.Figures = []Figure{
		{Name: "A: hash demand offered", Value: hashRate, Text: fmtRate(hashRate), Note: fmt.Sprintf("3 × %s", fmtRate(b.ideal))},
		{Name: "A: served (201 register + 200 login)", Value: as.PerSecond(served), Text: fmtRate(as.PerSecond(served)),
			Note: fmt.Sprintf("%d registered, %d logged in; served p50 %s, p99 %s", reg.Status(201), login.Status(200), fmtMs(as.ServedDuration.P50Ms), fmtMs(as.ServedDuration.P99Ms))},
		{Name: "A: shed with 503 + Retry-After", Value: float64(as.Shed503.Count), Text: fmtCount(int64(as.Shed503.Count)),
			Note: fmt.Sprintf("%s of A's requests", fmtPct(float64(as.Shed503.Count)/math.Max(1, float64(as.HTTPReqFailed.Total))))},
		{Name: "A: slowest shed 503", Value: as.Shed503.MaxMs, Text: fmtMs(as.Shed503.MaxMs),
			Target: &Target{Op: LessThan, Limit: 50 + shedDelayMs, Text: fmt.Sprintf("< %s (SHED_DELAY + 50 ms)", fmtMs(50+shedDelayMs))},
			Note:   "a shed 503 waits SHED_DELAY on purpose (it slows clients that retry at once); the rest is the refusal's own time"},
		{Name: "A: answers neither served nor shed 503", Value: float64(neither), Text: fmtCount(int64(neither)),
			Target: &Target{Op: Equal, Limit: 0, Text: "0 (every refusal is a 503)"}, Note: statusList(mergeStatuses(reg.Statuses, login.Statuses))},
		{Name: "B: `/auth/me` p50 / p95", Value: me.Latency.P95Ms, Text: fmtMs(me.Latency.P50Ms) + " / " + fmtMs(me.Latency.P95Ms),
			Note: fmt.Sprintf("%d requests, max %s", me.Count, fmtMs(me.Latency.MaxMs))},
		{Name: "B: `/auth/me` p99", Value: me.Latency.P99Ms, Text: fmtMs(me.Latency.P99Ms),
			Target: &Target{Op: LessThan, Limit: 10, Text: "< 10 ms"}},
		{Name: "B: `/auth/me` failures (not 200)", Value: float64(meFail), Text: fmtCount(int64(meFail)),
			Target: &Target{Op: Equal, Limit: 0, Text: "0"}, Note: statusList(me.Statuses)},
		{Name: "authd peak RSS", Value: float64(s.Mem.HWM) / 1024, Text: fmtMiB(s.Mem.HWM), NoData: s.Mem.HWM == 0,
			Target: &Target{Op: LessThan, Limit: 512, Text: "< 512 MiB"}, Note: fmt.Sprintf("%s; largest VmRSS sample %s", hwmNote, fmtMiB(s.MaxRSS))},
		{Name: "Dropped iterations (A / B)", Value: float64(as.DroppedIterations.Count + bs.DroppedIterations.Count),
			Text: fmt.Sprintf("%d / %d", as.DroppedIterations.Count, bs.DroppedIterations.Count), Note: fmt.Sprintf("most VUs in use: %d / %d", as.VUsMaxUsed, bs.VUsMaxUsed)},
	}

	// The same run with one mechanism changed at a time: what the figures
	// above depend on. A fresh authd each (same database and keys).
	var variants []*satRun
	measure := min(b.d.satMeasure, 10*time.Second)
	if ctx.Err() == nil && s.Err == nil {
		for i, w := range b.satWhatIfs() {
			v := b.newSatRun(w.Env, fmt.Sprintf("whatif%d-", i+1), measure)
			v.Idea = w.Idea
			if err := b.restartAuthd(ctx, w.Env); err != nil {
				v.Err = err
			} else {
				v.Effective = scrapeMetrics(ctx, b.authd.baseURL, effectiveMetrics...)
				b.runSat(ctx, v)
			}
			variants = append(variants, v)
			if ctx.Err() != nil {
				return ph
			}
		}
		// Back to the bench's own settings for the next phase.
		if err := b.restartAuthd(ctx); err != nil {
			ph.Err = strings.TrimPrefix(ph.Err+"; ", "; ") + "restarting authd after the what-if runs: " + err.Error()
		}
		s.Effective = b.effective
		ph.Tables = append(ph.Tables, whatIfTable(s, variants, measure))
	}
	b.satMain, b.satVariants = s, variants
	ph.Why = append(ph.Why, whySaturation(b, s, variants)...)
	return ph
}

// whatIfTable compares the main run with the variants.
func whatIfTable(main *satRun, variants []*satRun, measure time.Duration) Table {
	row := func(label, idea string, s *satRun) []string {
		procs := fmt.Sprintf("%g / %g", s.Effective["go_sched_gomaxprocs_threads"], s.Effective["authd_hash_pool_size"])
		if s.A.Summary == nil || s.B.Summary == nil {
			msg := "did not complete"
			if s.Err != nil {
				msg = s.Err.Error()
			}
			return []string{label, idea, procs, "—", "—", "—", "—", "—", msg}
		}
		me := s.B.Summary.Endpoint("me")
		a := s.A.Summary
		return []string{label, idea, procs, fmtMs(me.Latency.P50Ms), fmtMs(me.Latency.P99Ms), fmtMs(a.Shed503.MaxMs),
			fmtRate(s.servedRate()), fmtMs(a.ServedDuration.P50Ms) + " / " + fmtMs(a.ServedDuration.P99Ms),
			fmt.Sprintf("%.2f / %.2f", s.Profile.Split.Authd, s.Profile.Split.Busy)}
	}
	rows := [][]string{row("as measured above", "the bench's settings", main)}
	for _, v := range variants {
		rows = append(rows, row("`"+v.Label+"`", v.Idea, v))
	}
	return Table{
		Title: fmt.Sprintf("What the figures depend on: the same run repeated with one setting changed (B measuring for %s; "+
			"a fresh authd each, same database):", secs(measure)),
		Header: []string{"authd setting", "Idea", "GOMAXPROCS / pool", "`/auth/me` p50", "`/auth/me` p99", "Slowest shed 503",
			"A served", "A served p50 / p99", "CPUs authd / machine"},
		Rows: rows,
	}
}

// servedRate is A's registrations and logins that were served, per second.
func (s *satRun) servedRate() float64 {
	if s.A.Summary == nil {
		return 0
	}
	a := s.A.Summary
	return a.PerSecond(a.Endpoint("register").Status(201) + a.Endpoint("login").Status(200))
}

func mergeStatuses(ms ...map[string]int) map[string]int {
	out := map[string]int{}
	for _, m := range ms {
		for k, v := range m {
			out[k] += v
		}
	}
	return out
}

// The old service's own k6 run (shared/seed/auth-service-README.txt).
const (
	oldReqRate     = 223.716346
	oldP95Ms       = 1950
	oldRegister500 = 0.38
	oldDropped     = 16278
)

func (b *bench) phaseMixed(ctx context.Context) Phase {
	ph := Phase{Title: "The old service's mixed scenario"}
	if b.opts.skipMixed {
		ph.Intro = "Skipped (`-skip-mixed`)."
		return ph
	}
	args := []string{"-scenario", "mixed", "-me-cookies", "old-service"}
	shape := "ramping arrival rate 10 → 50 → 150 → 300 → 500 iterations/s over 230 s (30 s, 60 s, 60 s, 60 s, then 20 s at 500/s)"
	k6env := []string{"ME_COOKIES=old-service"}
	if b.d.mixedStages != "" {
		args = append(args, "-stages", b.d.mixedStages)
		shape = "the old ramp's shape scaled to 20 s (" + b.d.mixedStages + ", from 10/s)"
		k6env = append(k6env, "STAGES="+b.d.mixedStages)
	}
	ph.Intro = "The old service's k6 run, unchanged: " + shape + ", at most 300 VUs; each iteration is 55 % login then " +
		"`GET /auth/me`, 20 % registration of a new user, 25 % password recovery for the login user. Demand peaks far above " +
		"the hash capacity, so authd sheds logins and registrations with 503 + Retry-After; *served* latency excludes those. " +
		"The `GET /auth/me` after a login has the old script's cookie shape: its getCurrentUser passed `{ cookies: res.cookies }`, " +
		"which k6 sends as `Cookie: authd_session=\"[object Object]\"; authd_session=<token>`, a junk duplicate before the real " +
		"cookie (authd-load `-me-cookies old-service`, k6 `-e ME_COOKIES=old-service`); `me 200` shows whether authd still finds the session."
	r := &loadRun{Name: "mixed", Args: args}
	k6cmd := b.k6("mixed.js", k6env...)
	ph.Runs = []Run{{Label: "mixed", Command: b.load.CommandLine(r), K6: k6cmd}}
	b.logf("phase 5: %s", b.load.CommandLine(r))
	pr, err := b.runMeasured(ctx, r)
	ph.Profiles = append(ph.Profiles, pr)
	if err != nil {
		ph.Err = err.Error()
	}
	if r.Summary == nil {
		return ph
	}
	s := r.Summary
	var reg500 loadreport.CheckStats
	for _, c := range s.Checks {
		if c.Name == "register <500ms" {
			reg500 = c
		}
	}
	ph.Figures = []Figure{
		{Name: "Requests per second (http_reqs)", Value: s.HTTPReqs.Rate, Text: fmtRate(s.HTTPReqs.Rate),
			Note: fmt.Sprintf("%d requests; old service %s", s.HTTPReqs.Count, fmtRate(oldReqRate))},
		{Name: "Served p95 (all but shed 503s)", Value: s.ServedDuration.P95Ms, Text: fmtMs(s.ServedDuration.P95Ms),
			Target: &Target{Op: LessThan, Limit: 250, Text: "< 250 ms"}, Note: fmt.Sprintf("served p99 %s", fmtMs(s.ServedDuration.P99Ms))},
		{Name: "5xx other than shed 503s", Value: float64(s.Server5xxOther), Text: fmtCount(int64(s.Server5xxOther)),
			Target: &Target{Op: Equal, Limit: 0, Text: "0"}},
		{Name: "Shed 503 + Retry-After", Value: float64(s.Shed503.Count), Text: fmtCount(int64(s.Shed503.Count)),
			Note: fmt.Sprintf("%s of requests; slowest %s", fmtPct(float64(s.Shed503.Count)/math.Max(1, float64(s.HTTPReqs.Count))), fmtMs(s.Shed503.MaxMs))},
		{Name: "All requests p95 / p99 (k6's http_req_duration)", Value: s.HTTPReqDuration.P95Ms,
			Text: fmtMs(s.HTTPReqDuration.P95Ms) + " / " + fmtMs(s.HTTPReqDuration.P99Ms), Note: "old service p95 1.95 s"},
		{Name: "Checks passed", Value: s.ChecksTotal.Rate, Text: fmtPct(s.ChecksTotal.Rate),
			Note: fmt.Sprintf("%d of %d; failures that were shed 503s: %d", s.ChecksTotal.Passes, s.ChecksTotal.Passes+s.ChecksTotal.Fails, shedFails(s.Checks))},
		{Name: "Dropped iterations", Value: float64(s.DroppedIterations.Count), Text: fmtCount(s.DroppedIterations.Count),
			Note: fmt.Sprintf("spec aim 0; old service %d; most VUs in use %d of %d", oldDropped, s.VUsMaxUsed, s.MaxVUs)},
		{Name: "Transport errors (no response)", Value: float64(s.TransportErrors), Text: fmtCount(int64(s.TransportErrors))},
	}
	for _, c := range s.Checks {
		if c.Name == "me 200" {
			ph.Figures = append(ph.Figures, Figure{Name: "`me 200` failures with the old cookie shape (junk duplicate first)",
				Value: float64(c.Fails), Text: fmtCount(c.Fails), Target: &Target{Op: Equal, Limit: 0, Text: "0"},
				Note: fmt.Sprintf("%s of %d `GET /auth/me` after a login answered 200", fmtPct(c.Rate), c.Passes+c.Fails)})
		}
	}
	// Per endpoint.
	rows := [][]string{}
	for _, e := range s.Endpoints {
		rows = append(rows, []string{"`" + e.Name + "`", fmtCount(int64(e.Count)), fmtRate(e.Rate),
			fmtMs(e.Latency.P50Ms), fmtMs(e.Latency.P95Ms), fmtMs(e.Latency.P99Ms), fmtMs(e.Served.P95Ms),
			fmtCount(int64(e.Shed503)), strings.TrimPrefix(statusList(e.Statuses), "statuses ")})
	}
	ph.Tables = append(ph.Tables, Table{Title: "Per endpoint:",
		Header: []string{"Endpoint", "Requests", "Rate", "p50", "p95", "p99", "Served p95", "Shed 503", "Statuses"}, Rows: rows})
	// Checks.
	crow := [][]string{}
	for _, c := range s.Checks {
		crow = append(crow, []string{"`" + c.Name + "`", fmtPct(c.Rate), fmtCount(c.Passes), fmtCount(c.Fails), fmtCount(c.FailsShed)})
	}
	ph.Tables = append(ph.Tables, Table{Title: "Checks (the old run's names):",
		Header: []string{"Check", "Passed", "✓", "✗", "of which shed 503"}, Rows: crow})
	// Against the old service.
	ph.Tables = append(ph.Tables, Table{Title: "Against the old service's run (k6, same scenario, also 2 cores):",
		Header: []string{"Figure", "Old service", "authd (this run)"},
		Rows: [][]string{
			{"http_reqs rate", fmtRate(oldReqRate), fmtRate(s.HTTPReqs.Rate)},
			{"http_req_duration p95 (everything answered)", fmtMs(oldP95Ms), fmtMs(s.HTTPReqDuration.P95Ms)},
			{"http_req_duration p99", "not reported", fmtMs(s.HTTPReqDuration.P99Ms)},
			{"served p95 (without shed 503s)", "—", fmtMs(s.ServedDuration.P95Ms)},
			{"`register <500ms`", fmtPct(oldRegister500), fmtPct(reg500.Rate) + fmt.Sprintf(" (%d of the fails were shed 503s)", reg500.FailsShed)},
			{"dropped_iterations", fmtCount(oldDropped), fmtCount(s.DroppedIterations.Count)},
			{"http_req_failed", "0.00 %", fmtPct(s.HTTPReqFailed.Rate)},
		}})
	ph.Why = append(ph.Why, whyMixed(b, s, pr)...)
	return ph
}

func shedFails(cs []loadreport.CheckStats) int64 {
	var n int64
	for _, c := range cs {
		n += c.FailsShed
	}
	return n
}
