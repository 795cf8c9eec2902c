// Package loadreport is the summary of one load run: the JSON document
// that devtools/cmd/load writes with -json and devtools/cmd/bench reads.
// Both use these types, so the writer and the reader cannot drift apart.
// The field names follow k6's end-of-test metrics (http_reqs,
// http_req_duration, ...) and are an interface for scripts: keep them
// stable.
package loadreport

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"
	"time"
)

// Summary is everything a run reports.
type Summary struct {
	Tool                  string             `json:"tool"`
	Command               string             `json:"command"`
	Scenario              string             `json:"scenario"`
	BaseURL               string             `json:"base_url"`
	StartedAt             time.Time          `json:"started_at"`
	DurationSeconds       float64            `json:"duration_seconds"`
	StartRate             float64            `json:"start_rate"`
	Stages                []Stage            `json:"stages"`
	Mix                   map[string]float64 `json:"mix"`
	MaxVUs                int                `json:"max_vus"`
	VUsMaxUsed            int64              `json:"vus_max_used"`
	Iterations            Counter            `json:"iterations"`
	DroppedIterations     Counter            `json:"dropped_iterations"`
	InterruptedIterations int64              `json:"interrupted_iterations"`
	HTTPReqs              Counter            `json:"http_reqs"`
	HTTPReqFailed         FailRate           `json:"http_req_failed"`
	HTTPReqDuration       Latency            `json:"http_req_duration"`
	ServedDuration        Latency            `json:"served_duration"`
	Shed503               ShedStats          `json:"shed_503"`
	Server5xxOther        int                `json:"server_5xx_other"`
	TransportErrors       int                `json:"transport_errors"`
	ErrorMessages         map[string]int     `json:"error_messages"`
	Endpoints             []EndpointStats    `json:"endpoints"`
	Checks                []CheckStats       `json:"checks"`
	ChecksTotal           ChecksTotal        `json:"checks_total"`
	Thresholds            []ThresholdResult  `json:"thresholds"`
	ThresholdsOK          bool               `json:"thresholds_ok"`

	// How the load was made: Executor is "arrival-rate" (open model,
	// k6's constant/ramping-arrival-rate), "constant-vus" (closed loop:
	// VUs users each sending the next iteration when the last one is
	// answered) or "sequential" (smoke). On503 is what a client does after
	// a 503: "next" (go on, as k6 does), "retry" (resend at once, at most
	// MaxRetries times) or "honour" (sleep the Retry-After, then resend).
	Executor   string `json:"executor"`
	VUs        int    `json:"vus"`
	On503      string `json:"on_503"`
	MaxRetries int    `json:"max_retries"`
	// WarmupSeconds > 0: only requests that ended between the end of the
	// warm-up and the end of the schedule are counted, and every rate is
	// over that window (DurationSeconds).
	WarmupSeconds float64 `json:"warmup_seconds"`
	// Successes are 2xx answers; Status503 every 503, shed or not.
	Successes Counter `json:"successes"`
	Status503 Counter `json:"status_503"`
	// Retries counts requests resent after a 503 (retry and honour).
	Retries    Counter         `json:"retries"`
	RetryAfter RetryAfterStats `json:"retry_after"`
	// Probe is the -me-probe /auth/me stream (its requests are the
	// "me-probe" endpoint); zero when there was none.
	Probe ProbeStats `json:"probe"`
}

// RetryAfterStats is what honouring clients waited.
type RetryAfterStats struct {
	Waits         int64   `json:"waits"`
	WaitedSeconds float64 `json:"waited_seconds"`
	// Missing counts 503s without a usable Retry-After header, after
	// which an honouring client waited one second.
	Missing int64 `json:"missing"`
}

// ProbeStats describes the light constant-rate /auth/me load run beside
// the main one, to measure the cheap path while the main load runs.
type ProbeStats struct {
	Rate    float64 `json:"rate"`
	Started int64   `json:"started"`
	Dropped int64   `json:"dropped"`
}

// Latency holds exact statistics in milliseconds.
type Latency struct {
	Count int     `json:"count"`
	AvgMs float64 `json:"avg_ms"`
	MinMs float64 `json:"min_ms"`
	P50Ms float64 `json:"p50_ms"`
	P90Ms float64 `json:"p90_ms"`
	P95Ms float64 `json:"p95_ms"`
	P99Ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
}

// Counter is a count and its rate per second over the run.
type Counter struct {
	Count int64   `json:"count"`
	Rate  float64 `json:"rate"`
}

// FailRate is k6's http_req_failed.
type FailRate struct {
	Fails int     `json:"fails"`
	Total int     `json:"total"`
	Rate  float64 `json:"rate"`
}

// ShedStats describes deliberate 503 + Retry-After replies.
type ShedStats struct {
	Count int     `json:"count"`
	Rate  float64 `json:"rate"`
	MaxMs float64 `json:"max_ms"`
}

// EndpointStats is the breakdown of one endpoint. Statuses is keyed by
// the status code in decimal, or "error" when no response came back.
type EndpointStats struct {
	Name     string         `json:"name"`
	Count    int            `json:"count"`
	Rate     float64        `json:"rate"`
	Latency  Latency        `json:"latency"`
	Served   Latency        `json:"served"`
	Shed503  int            `json:"shed_503"`
	Failed   int            `json:"failed"`
	Statuses map[string]int `json:"statuses"`
	// Success is the latency of the 2xx answers alone, SuccessRate their
	// number per second; Rate503 is every 503 per second, and
	// NoRetryAfter503 the 503s that came without Retry-After.
	Success         Latency `json:"success"`
	SuccessRate     float64 `json:"success_rate"`
	Rate503         float64 `json:"rate_503"`
	NoRetryAfter503 int     `json:"no_retry_after_503"`
}

// CheckStats counts one named check, like k6's check().
type CheckStats struct {
	Name      string  `json:"name"`
	Passes    int64   `json:"passes"`
	Fails     int64   `json:"fails"`
	FailsShed int64   `json:"fails_shed"` // failures that were deliberate 503s
	Rate      float64 `json:"rate"`
}

// ChecksTotal is k6's "checks" line: every check together.
type ChecksTotal struct {
	Passes int64   `json:"passes"`
	Fails  int64   `json:"fails"`
	Rate   float64 `json:"rate"`
}

// Stage is one stage of the arrival schedule in readable units.
type Stage struct {
	Duration string  `json:"duration"`
	Seconds  float64 `json:"seconds"`
	Target   float64 `json:"target"`
}

// ThresholdResult is one evaluated k6-style threshold.
type ThresholdResult struct {
	Metric    string  `json:"metric"`
	Condition string  `json:"condition"`
	Value     float64 `json:"value"`
	NoData    bool    `json:"no_data,omitempty"`
	OK        bool    `json:"ok"`
}

// Endpoint returns the named endpoint's stats; zero (with an empty
// Statuses map) when the run sent it no request.
func (s *Summary) Endpoint(name string) EndpointStats {
	for _, e := range s.Endpoints {
		if e.Name == name {
			return e
		}
	}
	return EndpointStats{Name: name, Statuses: map[string]int{}}
}

// Status is how many requests to the endpoint got the status code.
func (e EndpointStats) Status(code int) int { return e.Statuses[strconv.Itoa(code)] }

// PerSecond is n over the run's measured duration.
func (s *Summary) PerSecond(n int) float64 {
	if s.DurationSeconds <= 0 {
		return 0
	}
	return float64(n) / s.DurationSeconds
}

// WriteFile writes the summary to path as indented JSON.
func (s *Summary) WriteFile(path string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// ReadFile parses a summary that WriteFile wrote.
func ReadFile(path string) (*Summary, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s Summary
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &s, nil
}

// Percentile interpolates linearly between closest ranks (as k6 and
// NumPy do) on an ascending slice; p is in [0, 100]. Both tools compute
// their latency figures with it.
func Percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := p / 100 * float64(len(sorted)-1)
	lo := int(math.Floor(rank))
	hi := min(lo+1, len(sorted)-1)
	return sorted[lo] + (sorted[hi]-sorted[lo])*(rank-float64(lo))
}
