package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/authd/authd/devtools/loadreport"
)

// Phase 7 runs the load shapes of issue 17 ("Goodput under every load
// shape"): closed loops of clients, clients that retry or honour a 503,
// open arrivals at multiples of the hash capacity and the old service's
// mixed scenario, each for the same measured window, with a light /me
// probe beside it. Admission control tuned with open-model load alone
// can collapse in a closed loop: a client answered 503 at once sends its
// next login at once, so the server spends its CPU refusing work.

// shape is one load shape of the phase.
type shape struct {
	Key   string // file names, profile lines
	Label string // the table's first column
	// VUs > 0: a closed loop of that many clients (k6 constant-vus);
	// else open arrivals at Mult × the hash capacity.
	VUs  int
	Mult float64
	// On503 and MaxRetries as authd-load's -on-503 / -max-retries.
	On503      string
	MaxRetries int
	// Mixed: the old service's mixed scenario instead of logins alone.
	Mixed bool
	// Goodput: the ≥ 90 % of capacity target applies (not to the mixed
	// ramp, whose demand is below capacity for a good part of it).
	Goodput bool
	// Strict: the 20-client targets (served p95/p99, no 503 at all).
	Strict bool
}

// The shapes, in the order they run and are listed.
var loadShapes = []shape{
	{Key: "closed-1", Label: "1 client, closed loop", VUs: 1, Goodput: true},
	{Key: "closed-2", Label: "2 clients, closed loop", VUs: 2, Goodput: true},
	{Key: "closed-20", Label: "20 clients, closed loop (the issue's k6 run)", VUs: 20, Goodput: true, Strict: true},
	{Key: "closed-200", Label: "200 clients, closed loop", VUs: 200, Goodput: true},
	{Key: "closed-20-honour", Label: "20 clients honouring Retry-After", VUs: 20, On503: "honour", Goodput: true},
	{Key: "open-1.5x-retry", Label: "open 1.5 × capacity, each 503 retried at once (≤ 10 times)", Mult: 1.5, On503: "retry", MaxRetries: 10, Goodput: true},
	{Key: "open-1.5x", Label: "open 1.5 × capacity", Mult: 1.5, Goodput: true},
	{Key: "open-3x", Label: "open 3 × capacity", Mult: 3, Goodput: true},
	{Key: "open-10x", Label: "open 10 × capacity", Mult: 10, Goodput: true},
	{Key: "mixed", Label: "the old service's mixed scenario (its ramp scaled to the window)", Mixed: true},
}

// shapeProbeRate is the /me probe beside every shape, over probeSessions
// sessions logged in before the load starts.
const (
	shapeProbeRate = 50
	probeSessions  = 50
)

// Targets of the phase.
const (
	goodputTarget   = 0.9     // of the capacity the shape's clients can use
	strictP95Ms     = 500     // 20 closed-loop clients, served p95
	strictP99Ms     = 1000    // and p99
	probeP99Ms      = 10      // /me beside the load
	peakRSSLimitMiB = 512     // authd's VmHWM
	oldRampTotal    = 230.0   // seconds of the old mixed ramp
	mixedStartRate  = 10      // its start rate, iterations/s
	shapeOpenMaxVUs = "300"   // open shapes' -max-vus
	shapeProgress   = "500ms" // progress lines, so memory tracking starts early
)

// scaledMixedStages is the old service's ramp (30 s → 50, 60 s → 150,
// 60 s → 300, 60 s → 500, 20 s at 500, from 10/s) scaled to window,
// after a warm-up stage at the start rate. The last stage takes the
// rounding, so the stages add up to warmup + window exactly.
func scaledMixedStages(warmup, window time.Duration) string {
	parts := []string{}
	if warmup > 0 {
		parts = append(parts, fmt.Sprintf("%s:%d", secs(warmup), mixedStartRate))
	}
	var used time.Duration
	for i, st := range mixedStages {
		d := (time.Duration(float64(window) * st.sec / oldRampTotal)).Round(10 * time.Millisecond)
		if i == len(mixedStages)-1 {
			d = window - used
		}
		used += d
		parts = append(parts, fmt.Sprintf("%s:%g", secs(d), st.target))
	}
	return strings.Join(parts, ",")
}

// mixedStages is the old ramp, as authd-load's scenario has it.
var mixedStages = []struct{ sec, target float64 }{{30, 50}, {60, 150}, {60, 300}, {60, 500}, {20, 500}}

// shapeCapacity is what the shapes are measured against: the hasher's
// parallel rate of phase 1, else (if that failed) the ideal.
func (b *bench) shapeCapacity() (float64, string) {
	if b.parallelRate > 0 {
		return b.parallelRate, "the hasher alone in parallel, phase 1"
	}
	return b.ideal, "the hasher's ideal (the parallel measurement of phase 1 failed)"
}

// shapeArgs is the authd-load command line of a shape (without what the
// loader adds: -base-url, -json, -no-thresholds).
func (b *bench) shapeArgs(sh shape, capacity float64) []string {
	total := b.d.shapeWarmup + b.d.shapeWindow
	var a []string
	switch {
	case sh.Mixed:
		a = []string{"-scenario", "mixed", "-stages", scaledMixedStages(b.d.shapeWarmup, b.d.shapeWindow), "-me-cookies", "old-service"}
	case sh.VUs > 0:
		a = []string{"-scenario", "login", "-vus", fmt.Sprint(sh.VUs), "-duration", secs(total)}
	default:
		a = []string{"-scenario", "login", "-rate", fmt.Sprint(shapeRate(sh, capacity)), "-duration", secs(total), "-max-vus", shapeOpenMaxVUs}
	}
	if sh.On503 != "" {
		a = append(a, "-on-503", sh.On503)
		if sh.On503 == "retry" {
			a = append(a, "-max-retries", fmt.Sprint(sh.MaxRetries))
		} else {
			// honour: sleep, then the next login, as k6/login-closed-honour.js.
			a = append(a, "-max-retries", "0")
		}
	}
	return append(a, "-warmup", secs(b.d.shapeWarmup), "-me-probe", fmt.Sprint(shapeProbeRate),
		"-me-sessions", fmt.Sprint(probeSessions), "-progress", shapeProgress)
}

// shapeRate is an open shape's arrival rate, in whole iterations/s.
func shapeRate(sh shape, capacity float64) float64 { return math.Max(1, math.Round(sh.Mult*capacity)) }

// shapeK6 is the k6 equivalent: the shape's script and, beside it, me.js
// as the probe (k6 cannot leave a warm-up out, so its figures include it).
func (b *bench) shapeK6(sh shape, capacity float64) string {
	total := secs(b.d.shapeWarmup + b.d.shapeWindow)
	probe := b.k6("me.js", fmt.Sprintf("RATE=%d", shapeProbeRate), "DURATION="+total, fmt.Sprintf("SESSIONS=%d", probeSessions)) + " &"
	var main string
	switch {
	case sh.Mixed:
		main = b.k6("mixed.js", "STAGES="+scaledMixedStages(b.d.shapeWarmup, b.d.shapeWindow), "ME_COOKIES=old-service")
	case sh.VUs > 0 && sh.On503 == "honour":
		main = b.k6("login-closed-honour.js", fmt.Sprintf("VUS=%d", sh.VUs), "DURATION="+total)
	case sh.VUs > 0:
		main = b.k6("login-closed.js", fmt.Sprintf("VUS=%d", sh.VUs), "DURATION="+total)
	case sh.On503 == "retry":
		main = b.k6("login.js", fmt.Sprintf("RATE=%g", shapeRate(sh, capacity)), "DURATION="+total, "MAX_VUS="+shapeOpenMaxVUs,
			fmt.Sprintf("RETRIES=%d", sh.MaxRetries))
	default:
		main = b.k6("login.js", fmt.Sprintf("RATE=%g", shapeRate(sh, capacity)), "DURATION="+total, "MAX_VUS="+shapeOpenMaxVUs)
	}
	return probe + "\n  " + main
}

// shapeRun is one shape's process and what the bench read around it.
type shapeRun struct {
	Shape shape
	Run   *loadRun

	mu                sync.Mutex
	memStarted        bool
	sampler           *rssSampler
	open, close       cpuSnap
	opened, closed    bool
	loadOpen          time.Duration
	loadClose         time.Duration
	loadCPUOK         bool
	gcOpen, gcClose   map[string]float64
	Mem               memStats
	MaxRSS            int64
	ResetErr, ReadErr error
	Err               error
}

// runShape runs one shape: authd's peak RSS is reset when the load
// starts, and its CPU time (and the machine's, and the load process's)
// is read at authd-load's window markers, so the CPU figures cover
// exactly the window the summary's counts do.
func (b *bench) runShape(ctx context.Context, sr *shapeRun) {
	pid := b.authd.pid()
	startMem := func() {
		if sr.memStarted {
			return
		}
		sr.memStarted = true
		sr.ResetErr = resetPeakRSS(pid)
		sr.sampler = sampleRSS(pid, 100*time.Millisecond)
	}
	sr.Run.OnLine = func(line string) {
		sr.mu.Lock()
		defer sr.mu.Unlock()
		switch {
		case strings.Contains(line, "measuring window open") && !sr.opened:
			startMem()
			sr.gcOpen = scrapeMetrics(ctx, b.authd.baseURL, gcMetric)
			sr.open, sr.ReadErr = readCPU(pid)
			t, err := sr.Run.cpuNow()
			sr.loadOpen, sr.loadCPUOK = t, err == nil
			sr.opened = sr.ReadErr == nil
		case strings.Contains(line, "measuring window closed") && sr.opened && !sr.closed:
			var err error
			if sr.close, err = readCPU(pid); err != nil {
				sr.ReadErr = err
				return
			}
			sr.closed = true
			t, err := sr.Run.cpuNow()
			sr.loadClose, sr.loadCPUOK = t, sr.loadCPUOK && err == nil
			sr.gcClose = scrapeMetrics(context.WithoutCancel(ctx), b.authd.baseURL, gcMetric)
			sr.Mem, _ = readMem(pid)
			sr.MaxRSS, _, _ = sr.sampler.Stop()
			sr.sampler = nil
		}
	}
	sr.Err = b.load.run(ctx, sr.Run, func() {
		sr.mu.Lock()
		defer sr.mu.Unlock()
		startMem()
	})
	sr.mu.Lock()
	defer sr.mu.Unlock()
	if sr.sampler != nil {
		// The window never closed (an error): keep what was sampled.
		sr.MaxRSS, sr.Mem, _ = sr.sampler.Stop()
	}
	if sr.Err == nil && !sr.closed {
		sr.Err = errors.Join(errors.New("authd-load printed no measuring window markers"), sr.ReadErr)
	}
}

// measurement is what computeShape needs beside the summary.
type measurement struct {
	AuthdCPUSec float64 // authd's utime + stime over the window
	WindowSec   float64 // the window as the CPU readings saw it
	PeakRSSKiB  int64
}

func (sr *shapeRun) measurement(ncpu int) (measurement, Profile) {
	m := measurement{PeakRSSKiB: sr.Mem.HWM}
	if sr.ResetErr != nil || m.PeakRSSKiB == 0 {
		// VmHWM would be authd's peak since it started: the samples are
		// this shape's.
		m.PeakRSSKiB = sr.MaxRSS
	}
	pr := Profile{Run: sr.Shape.Key}
	if sr.opened && sr.closed {
		m.AuthdCPUSec = float64(sr.close.authdTicks-sr.open.authdTicks) / userHZ
		m.WindowSec = sr.close.at.Sub(sr.open.at).Seconds()
		var loadCPU time.Duration
		if sr.loadCPUOK {
			loadCPU = sr.loadClose - sr.loadOpen
		}
		pr.Split = cpuSplit(sr.open, sr.close, ncpu, loadCPU)
		if g0, ok0 := sr.gcOpen[gcMetric]; ok0 {
			if g1, ok1 := sr.gcClose[gcMetric]; ok1 && m.WindowSec > 0 {
				pr.GCPerSec = (g1 - g0) / m.WindowSec
			}
		}
	}
	return m, pr
}

// shapeResult is one row of the table.
type shapeResult struct {
	Hashes     int     // successful logins and registrations in the window
	HashRate   float64 // per second
	Share      float64 // of the capacity
	Served     loadreport.Latency
	Rejections int // 503s of the shape's own requests (not the probe's)
	RejRate    float64
	// CPUPerRejection is the estimate in seconds; HasCPUPerRejection is
	// false when there were no 503s or no CPU readings.
	CPUPerRejection    float64
	HasCPUPerRejection bool
	AuthdCPUs          float64 // average CPUs authd used in the window
	NoRetryAfter       int     // 503s without Retry-After, probe included
	MeP99              float64
	MeCount            int
	MeFailures         int // not 200, no answer, or dropped
	PeakRSSKiB         int64
}

// hashEndpoints are the shapes' requests that cost an Argon2id hash.
var hashEndpoints = []string{"login", "register"}

// computeShape derives a row from the load summary (whose counts are the
// window's: authd-load ran with -warmup) and the bench's readings.
func computeShape(s *loadreport.Summary, m measurement, oneHashNs, capacity float64) shapeResult {
	var r shapeResult
	for _, name := range hashEndpoints {
		r.Hashes += s.Endpoint(name).Success.Count
	}
	r.HashRate = s.PerSecond(r.Hashes)
	if capacity > 0 {
		r.Share = r.HashRate / capacity
	}
	r.Served = s.Endpoint("login").Success
	if r.Served.Count == 0 {
		r.Served = s.Endpoint("register").Success
	}
	for _, e := range s.Endpoints {
		if e.Name != probeEndpoint {
			r.Rejections += e.Status(503)
		}
		r.NoRetryAfter += e.NoRetryAfter503
	}
	r.RejRate = s.PerSecond(r.Rejections)
	if m.WindowSec > 0 {
		r.AuthdCPUs = m.AuthdCPUSec / m.WindowSec
		r.CPUPerRejection, r.HasCPUPerRejection = cpuPerRejection(m.AuthdCPUSec, r.Hashes, oneHashNs, r.Rejections)
	}
	probe := s.Endpoint(probeEndpoint)
	r.MeCount, r.MeP99 = probe.Count, probe.Latency.P99Ms
	r.MeFailures = probe.Count - probe.Status(200) + int(s.Probe.Dropped)
	r.PeakRSSKiB = m.PeakRSSKiB
	return r
}

// probeEndpoint is authd-load's name for the -me-probe requests.
const probeEndpoint = "me-probe"

// cpuPerRejection estimates what one 503 cost authd: its CPU time over
// the window minus the successful hashes at the one-hash time, shared
// out over the 503s (never below zero). ok is false without 503s.
func cpuPerRejection(authdCPUSec float64, hashes int, oneHashNs float64, rejections int) (float64, bool) {
	if rejections <= 0 {
		return 0, false
	}
	rest := authdCPUSec - float64(hashes)*oneHashNs/1e9
	return max(0, rest) / float64(rejections), true
}

// shapeCheck is one target held against one shape.
type shapeCheck struct {
	Name string
	Met  bool
	Text string // the miss, as the table shows it
}

// usableShare is the part of the capacity a shape's clients can use: a
// closed loop of fewer clients than CPUs hashes on that many cores only.
func usableShare(sh shape, ncpu int) float64 {
	if sh.VUs > 0 && ncpu > 0 && sh.VUs < ncpu {
		return float64(sh.VUs) / float64(ncpu)
	}
	return 1
}

// shapeChecks holds a row against the phase's targets. They are
// benchmarks: a miss is reported, never an error.
func shapeChecks(sh shape, r shapeResult, ncpu int) []shapeCheck {
	var out []shapeCheck
	add := func(name string, met bool, text string) { out = append(out, shapeCheck{name, met, text}) }
	if sh.Goodput {
		need := goodputTarget * usableShare(sh, ncpu)
		add("goodput", r.Share >= need, fmt.Sprintf("goodput %s < %s of capacity", fmtPct(r.Share), fmtPct(need)))
	}
	if sh.Strict {
		add("served p95", r.Served.Count > 0 && r.Served.P95Ms < strictP95Ms, "served p95 "+fmtMsOrNone(r.Served))
		add("served p99", r.Served.Count > 0 && r.Served.P99Ms < strictP99Ms, "served p99 "+fmtMsOrNone99(r.Served))
		add("no 503", r.Rejections == 0, fmt.Sprintf("%d × 503", r.Rejections))
	}
	add("/me p99", r.MeCount > 0 && r.MeP99 < probeP99Ms, "/me p99 "+fmtMs(r.MeP99))
	add("/me failures", r.MeCount > 0 && r.MeFailures == 0, fmt.Sprintf("%d of %d /me probes failed", r.MeFailures, r.MeCount))
	add("Retry-After", r.NoRetryAfter == 0, fmt.Sprintf("%d × 503 without Retry-After", r.NoRetryAfter))
	add("peak RSS", r.PeakRSSKiB > 0 && float64(r.PeakRSSKiB)/1024 < peakRSSLimitMiB, "peak RSS "+fmtMiB(r.PeakRSSKiB))
	return out
}

func fmtMsOrNone(l loadreport.Latency) string {
	if l.Count == 0 {
		return "— (no login served)"
	}
	return fmtMs(l.P95Ms)
}

func fmtMsOrNone99(l loadreport.Latency) string {
	if l.Count == 0 {
		return "— (no login served)"
	}
	return fmtMs(l.P99Ms)
}

// checksCell is the table's Targets column.
func checksCell(cs []shapeCheck) string {
	var miss []string
	for _, c := range cs {
		if !c.Met {
			miss = append(miss, c.Text)
		}
	}
	if len(miss) == 0 {
		return "✅ all met"
	}
	return "❌ " + strings.Join(miss, "; ")
}

// shapeRow renders a row of the table.
func shapeRow(sh shape, r shapeResult, ncpu int) []string {
	cpu := "—"
	if r.HasCPUPerRejection {
		cpu = fmtNs(r.CPUPerRejection * 1e9)
	}
	served := "—"
	if r.Served.Count > 0 {
		served = fmtMs(r.Served.P50Ms) + " / " + fmtMs(r.Served.P95Ms) + " / " + fmtMs(r.Served.P99Ms)
	}
	me := "—"
	if r.MeCount > 0 {
		me = fmt.Sprintf("%s (%d)", fmtMs(r.MeP99), r.MeFailures)
	}
	rss := "—"
	if r.PeakRSSKiB > 0 {
		rss = fmtMiB(r.PeakRSSKiB)
	}
	return []string{sh.Label, fmtRate(r.HashRate), fmtPct(r.Share), served, fmtRate(r.RejRate), cpu,
		fmt.Sprintf("%.2f", r.AuthdCPUs), me, fmtCount(int64(r.NoRetryAfter)), rss, checksCell(shapeChecks(sh, r, ncpu))}
}

var shapeHeader = []string{"Shape", "Hashes/s (200 + 201)", "÷ capacity", "Served p50 / p95 / p99", "503/s",
	"CPU per 503 (est.)", "authd CPUs", "`/auth/me` p99 (failures)", "503 without Retry-After", "authd peak RSS", "Targets"}

// shapeOutcome is a shape's row data, or why it has none.
type shapeOutcome struct {
	Shape  shape
	Result shapeResult
	OK     bool
	Err    string
}

// shapeFigures are the phase's targets over all shapes, for the report's
// summary: the worst case of each, and which shape it was.
func shapeFigures(outs []shapeOutcome, ncpu int) []Figure {
	var (
		below      []string
		goodputN   int
		worstMe    = -1.0
		worstMeAt  string
		meFail     int
		noRA       int
		peak       int64
		peakAt     string
		strict     *shapeOutcome
		missingRSS bool
	)
	for i, o := range outs {
		if !o.OK {
			continue
		}
		r := o.Result
		if o.Shape.Goodput {
			goodputN++
			if r.Share < goodputTarget*usableShare(o.Shape, ncpu) {
				below = append(below, fmt.Sprintf("%s (%s)", o.Shape.Label, fmtPct(r.Share)))
			}
		}
		if r.MeP99 > worstMe {
			worstMe, worstMeAt = r.MeP99, o.Shape.Label
		}
		meFail += r.MeFailures
		if r.MeCount == 0 {
			meFail++ // a probe that measured nothing counts against the target
		}
		noRA += r.NoRetryAfter
		if r.PeakRSSKiB == 0 {
			missingRSS = true
		}
		if r.PeakRSSKiB > peak {
			peak, peakAt = r.PeakRSSKiB, o.Shape.Label
		}
		if o.Shape.Strict {
			strict = &outs[i]
		}
	}
	belowText := fmt.Sprintf("%d of %d", len(below), goodputN)
	if len(below) > 0 {
		belowText += ": " + strings.Join(below, ", ")
	}
	figs := []Figure{
		{Name: "Shapes below 90 % of the capacity their clients can use", Value: float64(len(below)), Text: belowText,
			Target: &Target{Op: Equal, Limit: 0, Text: "0"}, NoData: goodputN == 0,
			Note: "fewer closed-loop clients than CPUs can use only their share of the cores"},
	}
	if strict != nil {
		r := strict.Result
		figs = append(figs,
			Figure{Name: "20 clients, closed loop: served p95", Value: r.Served.P95Ms, Text: fmtMs(r.Served.P95Ms), NoData: r.Served.Count == 0,
				Target: &Target{Op: LessThan, Limit: strictP95Ms, Text: "< 500 ms"}},
			Figure{Name: "20 clients, closed loop: served p99", Value: r.Served.P99Ms, Text: fmtMs(r.Served.P99Ms), NoData: r.Served.Count == 0,
				Target: &Target{Op: LessThan, Limit: strictP99Ms, Text: "< 1 s"}},
			Figure{Name: "20 clients, closed loop: 503s", Value: float64(r.Rejections), Text: fmt.Sprintf("%d (%s)", r.Rejections, fmtRate(r.RejRate)),
				Target: &Target{Op: Equal, Limit: 0, Text: "0"}},
		)
	}
	figs = append(figs,
		Figure{Name: "Worst `/auth/me` p99 beside a shape", Value: worstMe, Text: fmtMs(max(worstMe, 0)), NoData: worstMe < 0,
			Target: &Target{Op: LessThan, Limit: probeP99Ms, Text: "< 10 ms"}, Note: worstMeAt},
		Figure{Name: "`/auth/me` failures beside the shapes (not 200, no answer, dropped)", Value: float64(meFail), Text: fmtCount(int64(meFail)),
			Target: &Target{Op: Equal, Limit: 0, Text: "0"}},
		Figure{Name: "503s without Retry-After, all shapes", Value: float64(noRA), Text: fmtCount(int64(noRA)),
			Target: &Target{Op: Equal, Limit: 0, Text: "0"}},
		Figure{Name: "Largest authd peak RSS of a shape", Value: float64(peak) / 1024, Text: fmtMiB(peak), NoData: peak == 0 || missingRSS,
			Target: &Target{Op: LessThan, Limit: peakRSSLimitMiB, Text: "< 512 MiB"}, Note: peakAt},
	)
	return figs
}

func (b *bench) phaseShapes(ctx context.Context) Phase {
	capacity, capFrom := b.shapeCapacity()
	window, warmup := b.d.shapeWindow, b.d.shapeWarmup
	ph := Phase{
		Title: "Goodput under every load shape",
		Intro: fmt.Sprintf("Issue 17: admission control tuned with open-model load may collapse under other shapes. Each shape below "+
			"runs for a %s warm-up and a %s measured window (authd-load's `-warmup`: only requests that end in the window count, "+
			"rates are over it), against the hash capacity of this run, **%s** (%s). Closed loops are k6's `constant-vus`: each "+
			"client sends its next login as soon as the last is answered, a 503 included. In a closed loop, retrying a 503 at once "+
			"sends the same requests as going on to the next login, so retrying clients are shown on open arrivals, where each "+
			"retry adds to the offered load; clients honouring `Retry-After` sleep it before their next login. Open arrivals "+
			"start logins at a fixed rate whatever the answers (at most %s in flight). The mixed scenario is the old service's "+
			"(55 %% login then `GET /auth/me` with the old cookie shape, 20 %% register, 25 %% recovery), its 230 s ramp scaled "+
			"to the window after a warm-up at %d/s. Beside every shape authd-load sends `GET /auth/me` at %d/s over %d sessions "+
			"logged in before the load (endpoint `me-probe`, never retried). authd's peak RSS is VmHWM of /proc/<pid>/status, "+
			"reset (clear_refs) when the load starts and read when the window closes.",
			secs(warmup), secs(window), fmtRate(capacity), capFrom, shapeOpenMaxVUs, mixedStartRate, shapeProbeRate, probeSessions),
	}
	if capacity <= 0 || b.oneHashNs <= 0 {
		ph.Err = "no hash capacity: phase 1 measured no one-hash time"
		return ph
	}
	var (
		outs []shapeOutcome
		errs []string
		rows [][]string
	)
	for _, sh := range loadShapes {
		sr := &shapeRun{Shape: sh, Run: &loadRun{Name: "shape-" + sh.Key, Args: b.shapeArgs(sh, capacity)}}
		ph.Runs = append(ph.Runs, Run{Label: sh.Label, Command: b.load.CommandLine(sr.Run), K6: b.shapeK6(sh, capacity)})
		b.logf("phase 7, %s: %s", sh.Label, b.load.CommandLine(sr.Run))
		b.runShape(ctx, sr)
		if ctx.Err() != nil {
			return ph
		}
		o := shapeOutcome{Shape: sh}
		if sr.Err != nil {
			o.Err = sr.Err.Error()
			errs = append(errs, sh.Key+": "+o.Err)
		}
		if sr.Run.Summary != nil && sr.Err == nil {
			m, pr := sr.measurement(b.ncpu)
			o.Result, o.OK = computeShape(sr.Run.Summary, m, b.oneHashNs, capacity), true
			ph.Profiles = append(ph.Profiles, pr)
			rows = append(rows, shapeRow(sh, o.Result, b.ncpu))
		} else {
			row := []string{sh.Label, "—", "—", "—", "—", "—", "—", "—", "—", "—", "⚠️ did not complete: " + o.Err}
			rows = append(rows, row)
		}
		outs = append(outs, o)
	}
	if len(errs) > 0 {
		ph.Err = strings.Join(errs, "; ")
	}
	ph.Figures = append([]Figure{
		{Name: "Hash capacity the shapes are measured against", Value: capacity, Text: fmtRate(capacity), Note: capFrom},
		{Name: "Measured window per shape (after the warm-up)", Value: window.Seconds(), Text: secs(window),
			Note: fmt.Sprintf("warm-up %s; flags -shape-window, -shape-warmup", secs(warmup))},
	}, shapeFigures(outs, b.ncpu)...)
	ph.Tables = append(ph.Tables, Table{
		Title:  "Every shape (targets: hashes ≥ 90 % of the capacity its clients can use; at 20 closed-loop clients served p95 < 500 ms, p99 < 1 s and no 503; `/auth/me` p99 < 10 ms with no failure; every 503 with Retry-After; peak RSS < 512 MiB):",
		Header: shapeHeader,
		Rows:   rows,
	})
	ph.Why = append(ph.Why, whyShapes(b, outs, capacity)...)
	return ph
}

// whyShapes explains the figures: how the CPU estimate is made, and where
// the cores went in the shapes that missed their goodput.
func whyShapes(b *bench, outs []shapeOutcome, capacity float64) []string {
	out := []string{fmt.Sprintf("**CPU per 503 is an estimate.** authd's CPU time over the window (utime + stime of "+
		"/proc/<pid>/stat, in clock ticks of 1/%d s, read when authd-load prints its window markers) minus the successful "+
		"hashes × the one-hash time of phase 1 (%s), divided by the 503s of the window. The remainder holds everything else "+
		"authd did: the refused requests' own work (HTTP, JSON, the lock-out check in Valkey and the account lookup in "+
		"PostgreSQL that run before the pool is asked), but also the served logins' work beside the hash (phase 1: %s per "+
		"login), the `/auth/me` probe, Go's garbage collector and scheduler%s. "+
		"It is an upper bound, and meaningful only where 503s far outnumber the served logins.",
		userHZ, fmtNs(b.oneHashNs), loginBeyondHash(b), parallelSlowdown(capacity, b.ideal))}
	var missed []string
	for _, o := range outs {
		if !o.OK || !o.Shape.Goodput {
			continue
		}
		r := o.Result
		need := goodputTarget * usableShare(o.Shape, b.ncpu)
		if r.Share >= need {
			continue
		}
		s := fmt.Sprintf("%s: %s hashes (%s of capacity), %s 503s", o.Shape.Label, fmtRate(r.HashRate), fmtPct(r.Share), fmtRate(r.RejRate))
		if r.Rejections == 0 && o.Shape.VUs > b.ncpu {
			s = fmt.Sprintf("%s: %s hashes (%s of capacity) and no 503, authd using %.2f CPUs: with more clients than "+
				"slots the pool never ran dry, so the cores it lacked went to the login's work beside the hash (session, "+
				"audit, JSON: %s per login in phase 1), to PostgreSQL, Valkey and the load generator on the same machine "+
				"(see where the CPU went, below), and to hashes slowing each other down", o.Shape.Label, fmtRate(r.HashRate),
				fmtPct(r.Share), r.AuthdCPUs, loginBeyondHash(b))
		} else if r.Rejections == 0 {
			s = fmt.Sprintf("%s: %s hashes (%s of capacity) and no 503, authd using %.2f CPUs: the clients kept the pool "+
				"busy only part of the time (each waits for its answer, and a login is more than its hash)",
				o.Shape.Label, fmtRate(r.HashRate), fmtPct(r.Share), r.AuthdCPUs)
		} else if r.HasCPUPerRejection && r.AuthdCPUs > 0 {
			s += fmt.Sprintf(" at about %s each, i.e. up to %.2f of authd's %.2f CPUs spent refusing work", fmtNs(r.CPUPerRejection*1e9),
				r.CPUPerRejection*r.RejRate, r.AuthdCPUs)
		}
		missed = append(missed, s)
	}
	if len(missed) > 0 {
		out = append(out, "**Where goodput is missed:** "+strings.Join(missed, "; ")+
			". In a closed loop, and with clients that retry, a 503 answered at once comes back at once; what the refusals cost "+
			"is CPU the hashes do not get.")
	}
	return out
}

// parallelSlowdown is the clause on hashes in parallel, when phase 1
// found them slower than the ideal.
func parallelSlowdown(capacity, ideal float64) string {
	if ideal <= 0 || capacity >= ideal {
		return ""
	}
	return fmt.Sprintf(", and the slowdown of hashes running side by side (two at once ran at %s of the ideal in phase 1, "+
		"so a hash in parallel costs more than the one-hash time)", fmtPct(capacity/ideal))
}

// loginBeyondHash is phase 1's BenchmarkLogin − BenchmarkVerify.
func loginBeyondHash(b *bench) string {
	v, ok1 := b.goBench.Find("internal/argon2id", "Verify")
	l, ok2 := b.goBench.Find("internal/httpapi", "Login")
	if !ok1 || !ok2 {
		return "not measured"
	}
	return fmtNs(l.NsPerOp - v.NsPerOp)
}
