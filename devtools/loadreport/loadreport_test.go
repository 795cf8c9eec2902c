package loadreport

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func sample() *Summary {
	lat := Latency{Count: 3, AvgMs: 2, MinMs: 1, P50Ms: 2, P90Ms: 2.8, P95Ms: 2.9, P99Ms: 2.98, MaxMs: 3}
	return &Summary{
		Tool: "authd-load", Command: "authd-load -scenario login", Scenario: "login", BaseURL: "http://127.0.0.1:8080",
		StartedAt:       time.Date(2025, 1, 2, 3, 4, 5, 6_000_000, time.UTC),
		DurationSeconds: 4, StartRate: 10,
		Stages: []Stage{{Duration: "4s", Seconds: 4, Target: 10}},
		Mix:    map[string]float64{"login": 1},
		MaxVUs: 32, VUsMaxUsed: 3,
		Iterations: Counter{Count: 40, Rate: 10}, DroppedIterations: Counter{Count: 1, Rate: 0.25}, InterruptedIterations: 1,
		HTTPReqs:        Counter{Count: 41, Rate: 10.25},
		HTTPReqFailed:   FailRate{Fails: 1, Total: 41, Rate: 1.0 / 41},
		HTTPReqDuration: lat, ServedDuration: lat,
		Shed503:        ShedStats{Count: 2, Rate: 0.5, MaxMs: 1.5},
		Server5xxOther: 1, TransportErrors: 1,
		ErrorMessages: map[string]int{"timeout": 1},
		Endpoints: []EndpointStats{{Name: "login", Count: 41, Rate: 10.25, Latency: lat, Served: lat, Shed503: 2, Failed: 1,
			Statuses: map[string]int{"200": 37, "503": 3, "error": 1},
			Success:  lat, SuccessRate: 9.25, Rate503: 0.75, NoRetryAfter503: 1}},
		Checks:       []CheckStats{{Name: "login 2xx", Passes: 37, Fails: 4, FailsShed: 2, Rate: 37.0 / 41}},
		ChecksTotal:  ChecksTotal{Passes: 37, Fails: 4, Rate: 37.0 / 41},
		Thresholds:   []ThresholdResult{{Metric: "http_req_failed", Condition: "rate<0.01", Value: 1.0 / 41}},
		ThresholdsOK: false,
		Executor:     "constant-vus", VUs: 20, On503: "honour", MaxRetries: 10, WarmupSeconds: 1,
		Successes: Counter{Count: 37, Rate: 9.25}, Status503: Counter{Count: 3, Rate: 0.75},
		Retries: Counter{Count: 2, Rate: 0.5}, RetryAfter: RetryAfterStats{Waits: 3, WaitedSeconds: 3, Missing: 1},
		Probe: ProbeStats{Rate: 50, Started: 200, Dropped: 1},
	}
}

func TestFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.json")
	want := sample()
	if err := want.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip changed the summary:\n got %+v\nwant %+v", got, want)
	}
}

// The field names are what scripts (and older bench outputs) rely on.
func TestFieldNames(t *testing.T) {
	b, err := json.Marshal(sample())
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"tool", "command", "scenario", "base_url", "started_at", "duration_seconds", "start_rate",
		"stages", "mix", "max_vus", "vus_max_used", "iterations", "dropped_iterations", "interrupted_iterations",
		"http_reqs", "http_req_failed", "http_req_duration", "served_duration", "shed_503", "server_5xx_other",
		"transport_errors", "error_messages", "endpoints", "checks", "checks_total", "thresholds", "thresholds_ok",
		"executor", "vus", "on_503", "max_retries", "warmup_seconds", "successes", "status_503", "retries", "retry_after", "probe"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	if len(doc) != 37 {
		t.Errorf("JSON has %d top-level fields, want 37: a new one needs adding to this list", len(doc))
	}
	ep := doc["endpoints"].([]any)[0].(map[string]any)
	for _, k := range []string{"name", "count", "rate", "latency", "served", "shed_503", "failed", "statuses",
		"success", "success_rate", "rate_503", "no_retry_after_503"} {
		if _, ok := ep[k]; !ok {
			t.Errorf("endpoint JSON lacks %q", k)
		}
	}
	lat := doc["http_req_duration"].(map[string]any)
	for _, k := range []string{"count", "avg_ms", "min_ms", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms"} {
		if _, ok := lat[k]; !ok {
			t.Errorf("latency JSON lacks %q", k)
		}
	}
}

func TestReadFileErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadFile(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("a missing file was read")
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(bad); err == nil {
		t.Error("truncated JSON was accepted")
	}
}

func TestAccessors(t *testing.T) {
	s := sample()
	login := s.Endpoint("login")
	if login.Count != 41 || login.Status(200) != 37 || login.Status(503) != 3 || login.Status(404) != 0 {
		t.Errorf("login = %+v", login)
	}
	none := s.Endpoint("me")
	if none.Name != "me" || none.Count != 0 || none.Statuses == nil || none.Status(200) != 0 {
		t.Errorf("endpoint without requests = %+v", none)
	}
	if got := s.PerSecond(login.Status(200)); got != 9.25 {
		t.Errorf("PerSecond(37) over 4 s = %v", got)
	}
	if got := (&Summary{}).PerSecond(5); got != 0 {
		t.Errorf("PerSecond without a duration = %v", got)
	}
}

func TestPercentile(t *testing.T) {
	v := make([]float64, 100)
	for i := range v {
		v[i] = float64(i + 1) // 1..100
	}
	for _, c := range []struct{ p, want float64 }{
		{0, 1}, {50, 50.5}, {90, 90.1}, {95, 95.05}, {99, 99.01}, {100, 100},
	} {
		if got := Percentile(v, c.p); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if got := Percentile([]float64{7}, 99); got != 7 {
		t.Errorf("single value p99 = %v", got)
	}
	if got := Percentile(nil, 50); got != 0 {
		t.Errorf("empty p50 = %v", got)
	}
}
