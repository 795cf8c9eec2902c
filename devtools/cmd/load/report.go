package main

import (
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/authd/authd/devtools/loadreport"
)

// Sample is one HTTP request as the load tool saw it.
type Sample struct {
	Endpoint string
	Status   int // 0 when no response came back
	Duration time.Duration
	// Shed marks a 503 that carries Retry-After: authd refusing work on
	// purpose to keep latency bounded. Such replies are kept apart so
	// "served" latency shows what callers that got an answer experienced.
	Shed bool
	// NoRetryAfter marks a 503 without a Retry-After header.
	NoRetryAfter bool
	Err          string
	// End is when the answer (or the error) came, on the run's clock; it
	// decides whether the sample falls in the measured window.
	End time.Time
}

// failed mirrors the expected statuses of the k6 scripts
// (2xx, 401, 409, 503), except that a 503 without Retry-After counts as a
// failure here: it is not load shedding but a server in trouble.
func (s Sample) failed() bool {
	switch {
	case s.Status >= 200 && s.Status < 300, s.Status == 401, s.Status == 409:
		return false
	case s.Status == 503:
		return !s.Shed
	}
	return true
}

// Recorder collects samples and checks from concurrent iterations. Every
// sample is kept so percentiles are exact; a mixed run stores on the order
// of 10^5 samples, a few megabytes.
type Recorder struct {
	mu          sync.Mutex
	samples     []Sample
	checks      map[string]*loadreport.CheckStats
	checkOrder  []string
	errors      map[string]int
	iterations  int64
	interrupted int64

	// The measured window (-warmup): when from is set, only what ended
	// in [from, to] is counted. The zero window counts everything.
	from, to time.Time
	outside  int64 // samples left out of the window

	retries    int64
	retryAfter loadreport.RetryAfterStats
}

// NewRecorder returns an empty recorder.
func NewRecorder() *Recorder {
	return &Recorder{checks: map[string]*loadreport.CheckStats{}, errors: map[string]int{}}
}

// SetWindow limits the figures to what ends in [from, to]; call it
// before the load starts.
func (r *Recorder) SetWindow(from, to time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.from, r.to = from, to
}

// inWindow says whether something that ended at t counts. A zero t (a
// caller without a clock reading) always counts. The caller holds mu.
func (r *Recorder) inWindow(t time.Time) bool {
	if r.from.IsZero() || t.IsZero() {
		return true
	}
	return !t.Before(r.from) && !t.After(r.to)
}

// Add records a request.
func (r *Recorder) Add(s Sample) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.inWindow(s.End) {
		r.outside++
		return
	}
	r.samples = append(r.samples, s)
	if s.Err != "" {
		r.errors[s.Err]++
	}
}

// Retried counts a request resent after a 503 at t.
func (r *Recorder) Retried(at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.inWindow(at) {
		r.retries++
	}
}

// Waited counts a Retry-After wait that began at t; missing says the 503
// had no usable Retry-After, so a default was waited.
func (r *Recorder) Waited(d time.Duration, missing bool, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.inWindow(at) {
		return
	}
	r.retryAfter.Waits++
	r.retryAfter.WaitedSeconds += d.Seconds()
	if missing {
		r.retryAfter.Missing++
	}
}

// Check records a named check like k6's check() and returns ok. shed
// tells whether the response was deliberate load shedding, so that a
// failed check can be told apart from a wrong answer.
func (r *Recorder) Check(name string, ok, shed bool) bool {
	return r.CheckAt(name, ok, shed, time.Time{})
}

// CheckAt is Check for a response that ended at t: outside the measured
// window it is not counted (but ok is still returned).
func (r *Recorder) CheckAt(name string, ok, shed bool, at time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.inWindow(at) {
		return ok
	}
	c := r.checks[name]
	if c == nil {
		c = &loadreport.CheckStats{Name: name}
		r.checks[name] = c
		r.checkOrder = append(r.checkOrder, name)
	}
	switch {
	case ok:
		c.Passes++
	case shed:
		c.Fails++
		c.FailsShed++
	default:
		c.Fails++
	}
	return ok
}

// IterationDone counts an iteration; an interrupted one (stopped by the
// hard deadline) is counted apart, as k6 does.
func (r *Recorder) IterationDone(interrupted bool) { r.IterationDoneAt(interrupted, time.Time{}) }

// IterationDoneAt counts an iteration that ended at t, if t is in the
// measured window.
func (r *Recorder) IterationDoneAt(interrupted bool, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.inWindow(at) {
		return
	}
	if interrupted {
		r.interrupted++
	} else {
		r.iterations++
	}
}

// Requests is the number of recorded requests, for progress output.
func (r *Recorder) Requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.samples)
}

func latencyOf(ms []float64) loadreport.Latency {
	if len(ms) == 0 {
		return loadreport.Latency{}
	}
	slices.Sort(ms)
	var sum float64
	for _, v := range ms {
		sum += v
	}
	return loadreport.Latency{
		Count: len(ms),
		AvgMs: sum / float64(len(ms)),
		MinMs: ms[0],
		P50Ms: loadreport.Percentile(ms, 50),
		P90Ms: loadreport.Percentile(ms, 90),
		P95Ms: loadreport.Percentile(ms, 95),
		P99Ms: loadreport.Percentile(ms, 99),
		MaxMs: ms[len(ms)-1],
	}
}

// RunInfo is what the runner knows that the recorder does not.
type RunInfo struct {
	Command  string
	Scenario string
	BaseURL  string
	Started  time.Time
	Schedule Schedule
	Mix      Mix
	MaxVUs   int
	Pacer    PacerStats

	Executor   string
	VUs        int
	On503      string
	MaxRetries int
	Warmup     time.Duration
	Probe      loadreport.ProbeStats
}

func perSecond(n float64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return n / d.Seconds()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Build computes the summary. Rates are over the measured run time.
func (r *Recorder) Build(info RunInfo) *loadreport.Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	el := info.Pacer.Elapsed
	if !r.from.IsZero() {
		el = r.to.Sub(r.from)
	}
	s := &loadreport.Summary{
		Tool:                  "authd-load",
		Command:               info.Command,
		Scenario:              info.Scenario,
		BaseURL:               info.BaseURL,
		StartedAt:             info.Started.UTC().Truncate(time.Millisecond),
		DurationSeconds:       el.Seconds(),
		StartRate:             info.Schedule.StartRate,
		Stages:                []loadreport.Stage{},
		Mix:                   map[string]float64{},
		MaxVUs:                info.MaxVUs,
		VUsMaxUsed:            info.Pacer.MaxVUs,
		Iterations:            loadreport.Counter{Count: r.iterations, Rate: perSecond(float64(r.iterations), el)},
		DroppedIterations:     loadreport.Counter{Count: info.Pacer.Dropped, Rate: perSecond(float64(info.Pacer.Dropped), el)},
		InterruptedIterations: r.interrupted,
		HTTPReqs:              loadreport.Counter{Count: int64(len(r.samples)), Rate: perSecond(float64(len(r.samples)), el)},
		ErrorMessages:         map[string]int{},
		Endpoints:             []loadreport.EndpointStats{},
		Checks:                []loadreport.CheckStats{},
		Thresholds:            []loadreport.ThresholdResult{},
		ThresholdsOK:          true,
		Executor:              info.Executor,
		VUs:                   info.VUs,
		On503:                 info.On503,
		MaxRetries:            info.MaxRetries,
		WarmupSeconds:         info.Warmup.Seconds(),
		Retries:               loadreport.Counter{Count: r.retries, Rate: perSecond(float64(r.retries), el)},
		RetryAfter:            r.retryAfter,
		Probe:                 info.Probe,
	}
	for _, st := range info.Schedule.Stages {
		s.Stages = append(s.Stages, loadreport.Stage{Duration: st.Duration.String(), Seconds: st.Duration.Seconds(), Target: st.Target})
	}
	for _, m := range info.Mix {
		s.Mix[m.Flow] = m.Weight
	}
	for k, v := range r.errors {
		s.ErrorMessages[k] = v
	}

	var all, served []float64
	type acc struct {
		all, served, success []float64
		st                   loadreport.EndpointStats
	}
	byName := map[string]*acc{}
	var names []string
	for _, smp := range r.samples {
		a := byName[smp.Endpoint]
		if a == nil {
			a = &acc{st: loadreport.EndpointStats{Name: smp.Endpoint, Statuses: map[string]int{}}}
			byName[smp.Endpoint] = a
			names = append(names, smp.Endpoint)
		}
		a.st.Count++
		key := strconv.Itoa(smp.Status)
		if smp.Status == 0 {
			key = "error"
		}
		a.st.Statuses[key]++
		if smp.Status == 503 {
			s.Status503.Count++
			if smp.NoRetryAfter {
				a.st.NoRetryAfter503++
			}
		}
		if smp.failed() {
			s.HTTPReqFailed.Fails++
			a.st.Failed++
		}
		s.HTTPReqFailed.Total++
		if smp.Status == 0 {
			// No response: its duration is the time to fail, not a latency.
			s.TransportErrors++
			continue
		}
		d := ms(smp.Duration)
		all = append(all, d)
		a.all = append(a.all, d)
		if smp.Status >= 200 && smp.Status < 300 {
			s.Successes.Count++
			a.success = append(a.success, d)
		}
		switch {
		case smp.Shed:
			s.Shed503.Count++
			s.Shed503.MaxMs = max(s.Shed503.MaxMs, d)
			a.st.Shed503++
		default:
			if smp.Status >= 500 {
				s.Server5xxOther++
			}
			served = append(served, d)
			a.served = append(a.served, d)
		}
	}
	if s.HTTPReqFailed.Total > 0 {
		s.HTTPReqFailed.Rate = float64(s.HTTPReqFailed.Fails) / float64(s.HTTPReqFailed.Total)
	}
	s.Shed503.Rate = perSecond(float64(s.Shed503.Count), el)
	s.Successes.Rate = perSecond(float64(s.Successes.Count), el)
	s.Status503.Rate = perSecond(float64(s.Status503.Count), el)
	s.HTTPReqDuration = latencyOf(all)
	s.ServedDuration = latencyOf(served)
	sort.Strings(names)
	for _, n := range names {
		a := byName[n]
		a.st.Rate = perSecond(float64(a.st.Count), el)
		a.st.Latency = latencyOf(a.all)
		a.st.Served = latencyOf(a.served)
		a.st.Success = latencyOf(a.success)
		a.st.SuccessRate = perSecond(float64(len(a.success)), el)
		a.st.Rate503 = perSecond(float64(a.st.Statuses["503"]), el)
		s.Endpoints = append(s.Endpoints, a.st)
	}
	for _, name := range r.checkOrder {
		c := *r.checks[name]
		if t := c.Passes + c.Fails; t > 0 {
			c.Rate = float64(c.Passes) / float64(t)
		}
		s.Checks = append(s.Checks, c)
		s.ChecksTotal.Passes += c.Passes
		s.ChecksTotal.Fails += c.Fails
	}
	if t := s.ChecksTotal.Passes + s.ChecksTotal.Fails; t > 0 {
		s.ChecksTotal.Rate = float64(s.ChecksTotal.Passes) / float64(t)
	}
	return s
}

// Threshold is a k6-style threshold: Metric "http_req_duration" or
// "http_req_duration{endpoint:me}", Condition "p(95)<500".
type Threshold struct {
	Metric    string
	Condition string
}

var condRE = regexp.MustCompile(`^\s*(avg|min|med|max|rate|count|p\((?:50|90|95|99)\))\s*(<=|<|==|>=|>)\s*([0-9]+(?:\.[0-9]+)?)\s*$`)

// validate reports a threshold this tool cannot evaluate, at start rather
// than after a long run.
func (t Threshold) validate() error {
	if !condRE.MatchString(t.Condition) {
		return fmt.Errorf("threshold %s: cannot evaluate %q", t.Metric, t.Condition)
	}
	return nil
}

// evaluate checks the thresholds against the summary and stores the
// results in it.
func evaluate(s *loadreport.Summary, ts []Threshold) {
	s.ThresholdsOK = true
	for _, t := range ts {
		res := loadreport.ThresholdResult{Metric: t.Metric, Condition: t.Condition}
		m := condRE.FindStringSubmatch(t.Condition)
		if m == nil {
			res.NoData = true
			s.Thresholds = append(s.Thresholds, res)
			s.ThresholdsOK = false
			continue
		}
		limit, _ := strconv.ParseFloat(m[3], 64)
		v, ok := metricValue(s, t.Metric, m[1])
		res.Value = v
		if !ok {
			// Like k6, a metric that saw no data does not fail.
			res.NoData, res.OK = true, true
		} else {
			res.OK = compare(v, m[2], limit)
		}
		s.ThresholdsOK = s.ThresholdsOK && res.OK
		s.Thresholds = append(s.Thresholds, res)
	}
}

func compare(v float64, op string, limit float64) bool {
	switch op {
	case "<":
		return v < limit
	case "<=":
		return v <= limit
	case "==":
		return v == limit
	case ">=":
		return v >= limit
	}
	return v > limit
}

func metricValue(s *loadreport.Summary, metric, stat string) (float64, bool) {
	pick := func(l loadreport.Latency) (float64, bool) {
		if l.Count == 0 {
			return 0, false
		}
		switch stat {
		case "avg":
			return l.AvgMs, true
		case "min":
			return l.MinMs, true
		case "med", "p(50)":
			return l.P50Ms, true
		case "p(90)":
			return l.P90Ms, true
		case "p(95)":
			return l.P95Ms, true
		case "p(99)":
			return l.P99Ms, true
		case "max":
			return l.MaxMs, true
		case "count":
			return float64(l.Count), true
		}
		return 0, false
	}
	switch {
	case metric == "http_req_duration":
		return pick(s.HTTPReqDuration)
	case metric == "served_duration":
		return pick(s.ServedDuration)
	case strings.HasPrefix(metric, "http_req_duration{endpoint:"):
		name := strings.TrimSuffix(strings.TrimPrefix(metric, "http_req_duration{endpoint:"), "}")
		for _, e := range s.Endpoints {
			if e.Name == name {
				return pick(e.Latency)
			}
		}
		return 0, false
	case metric == "http_req_failed" && stat == "rate":
		return s.HTTPReqFailed.Rate, s.HTTPReqFailed.Total > 0
	case metric == "checks" && stat == "rate":
		t := s.ChecksTotal.Passes + s.ChecksTotal.Fails
		return s.ChecksTotal.Rate, t > 0
	case metric == "dropped_iterations" && stat == "count":
		return float64(s.DroppedIterations.Count), true
	}
	return 0, false
}

// fmtMs renders milliseconds the way k6 does: µs, ms or s, two decimals.
func fmtMs(v float64) string {
	switch {
	case v == 0:
		return "0s"
	case v < 1:
		return strconv.FormatFloat(v*1000, 'f', 2, 64) + "µs"
	case v < 1000:
		return strconv.FormatFloat(v, 'f', 2, 64) + "ms"
	}
	return strconv.FormatFloat(v/1000, 'f', 2, 64) + "s"
}

func fmtLatency(l loadreport.Latency) string {
	return fmt.Sprintf("avg=%s min=%s med=%s max=%s p(90)=%s p(95)=%s p(99)=%s",
		fmtMs(l.AvgMs), fmtMs(l.MinMs), fmtMs(l.P50Ms), fmtMs(l.MaxMs), fmtMs(l.P90Ms), fmtMs(l.P95Ms), fmtMs(l.P99Ms))
}

func pct(r float64) string { return strconv.FormatFloat(r*100, 'f', 2, 64) + "%" }

// writeText prints the summary in k6's end-of-test layout, plus the
// per-endpoint breakdown and the shed/served split k6 cannot show.
func writeText(w io.Writer, s *loadreport.Summary) {
	line := func(name, value string) {
		fmt.Fprintf(w, "     %s: %s\n", name+strings.Repeat(".", max(0, 31-len([]rune(name)))), value)
	}
	fmt.Fprintf(w, "\n  scenario: %s   base_url: %s   max_vus: %d\n", s.Scenario, s.BaseURL, s.MaxVUs)
	if s.Executor == "constant-vus" {
		fmt.Fprintf(w, "  executor: constant-vus, %d VUs (closed loop)\n", s.VUs)
	}
	if s.On503 != "" && s.On503 != "next" {
		fmt.Fprintf(w, "  on 503: %s (at most %d resends per request)\n", s.On503, s.MaxRetries)
	}
	if s.WarmupSeconds > 0 {
		fmt.Fprintf(w, "  measured: requests that ended in the %.1fs after a %gs warm-up\n", s.DurationSeconds, s.WarmupSeconds)
	}
	if s.Probe.Rate > 0 {
		fmt.Fprintf(w, "  probe: GET /auth/me at %g/s beside the load (endpoint me-probe), %d dropped\n", s.Probe.Rate, s.Probe.Dropped)
	}
	if len(s.Stages) > 0 {
		var parts []string
		for _, st := range s.Stages {
			parts = append(parts, fmt.Sprintf("%s→%g/s", st.Duration, st.Target))
		}
		fmt.Fprintf(w, "  stages: start %g/s, %s\n", s.StartRate, strings.Join(parts, ", "))
	}
	if len(s.Mix) > 0 {
		keys := make([]string, 0, len(s.Mix))
		for k := range s.Mix {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s=%g", k, s.Mix[k]))
		}
		fmt.Fprintf(w, "  mix: %s\n", strings.Join(parts, ","))
	}
	fmt.Fprintln(w)
	for _, c := range s.Checks {
		if c.Fails == 0 {
			fmt.Fprintf(w, "     ✓ %s\n", c.Name)
			continue
		}
		fmt.Fprintf(w, "     ✗ %s\n      ↳  %.0f%% — ✓ %d / ✗ %d (of which shed 503: %d)\n",
			c.Name, c.Rate*100, c.Passes, c.Fails, c.FailsShed)
	}
	fmt.Fprintln(w)
	if t := s.ChecksTotal.Passes + s.ChecksTotal.Fails; t > 0 {
		line("checks", fmt.Sprintf("%s %d out of %d", pct(s.ChecksTotal.Rate), s.ChecksTotal.Passes, t))
	}
	line("dropped_iterations", fmt.Sprintf("%d %.2f/s", s.DroppedIterations.Count, s.DroppedIterations.Rate))
	line("http_req_duration", fmtLatency(s.HTTPReqDuration))
	line("  { served, no shed 503 }", fmtLatency(s.ServedDuration))
	line("http_req_failed", fmt.Sprintf("%s %d out of %d", pct(s.HTTPReqFailed.Rate), s.HTTPReqFailed.Fails, s.HTTPReqFailed.Total))
	line("http_reqs", fmt.Sprintf("%d %.2f/s", s.HTTPReqs.Count, s.HTTPReqs.Rate))
	line("iterations", fmt.Sprintf("%d %.2f/s", s.Iterations.Count, s.Iterations.Rate))
	if s.InterruptedIterations > 0 {
		line("interrupted_iterations", strconv.FormatInt(s.InterruptedIterations, 10))
	}
	line("shed_503", fmt.Sprintf("%d %.2f/s max=%s", s.Shed503.Count, s.Shed503.Rate, fmtMs(s.Shed503.MaxMs)))
	line("status_503", fmt.Sprintf("%d %.2f/s", s.Status503.Count, s.Status503.Rate))
	line("successes (2xx)", fmt.Sprintf("%d %.2f/s", s.Successes.Count, s.Successes.Rate))
	if s.Retries.Count > 0 || s.RetryAfter.Waits > 0 {
		line("retries_after_503", fmt.Sprintf("%d %.2f/s; Retry-After waits %d (%.1fs, %d without the header)",
			s.Retries.Count, s.Retries.Rate, s.RetryAfter.Waits, s.RetryAfter.WaitedSeconds, s.RetryAfter.Missing))
	}
	line("server_5xx_other", strconv.Itoa(s.Server5xxOther))
	line("transport_errors", strconv.Itoa(s.TransportErrors))
	line("vus_max", fmt.Sprintf("%d used of %d", s.VUsMaxUsed, s.MaxVUs))
	line("duration", fmt.Sprintf("%.1fs", s.DurationSeconds))

	fmt.Fprintln(w, "\n  per endpoint:")
	for _, e := range s.Endpoints {
		codes := make([]string, 0, len(e.Statuses))
		for k := range e.Statuses {
			codes = append(codes, k)
		}
		sort.Strings(codes)
		var hist []string
		for _, k := range codes {
			hist = append(hist, fmt.Sprintf("%s=%d", k, e.Statuses[k]))
		}
		l := e.Latency
		fmt.Fprintf(w, "     %-9s count=%d %.2f/s p50=%s p90=%s p95=%s p99=%s max=%s  status: %s\n",
			e.Name, e.Count, e.Rate, fmtMs(l.P50Ms), fmtMs(l.P90Ms), fmtMs(l.P95Ms), fmtMs(l.P99Ms), fmtMs(l.MaxMs), strings.Join(hist, " "))
		if e.Shed503 > 0 {
			fmt.Fprintf(w, "     %-9s served p95=%s p99=%s, shed 503: %d\n", "", fmtMs(e.Served.P95Ms), fmtMs(e.Served.P99Ms), e.Shed503)
		}
		if e.Status(503) > 0 {
			fmt.Fprintf(w, "     %-9s 2xx %.2f/s p50=%s p95=%s p99=%s; 503 %.2f/s (%d without Retry-After)\n", "",
				e.SuccessRate, fmtMs(e.Success.P50Ms), fmtMs(e.Success.P95Ms), fmtMs(e.Success.P99Ms), e.Rate503, e.NoRetryAfter503)
		}
	}
	if len(s.ErrorMessages) > 0 {
		fmt.Fprintln(w, "\n  transport errors:")
		keys := make([]string, 0, len(s.ErrorMessages))
		for k := range s.ErrorMessages {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "     %d × %s\n", s.ErrorMessages[k], k)
		}
	}
	if len(s.Thresholds) > 0 {
		fmt.Fprintln(w, "\n  thresholds:")
		for _, t := range s.Thresholds {
			mark, val := "✓", strconv.FormatFloat(t.Value, 'f', 3, 64)
			if !t.OK {
				mark = "✗"
			}
			if t.NoData {
				val = "no data"
			}
			fmt.Fprintf(w, "     %s %s %s  (%s)\n", mark, t.Metric, t.Condition, val)
		}
	}
	fmt.Fprintln(w)
}
