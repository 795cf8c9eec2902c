package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/devtools/loadreport"
)

// sampleRecorder has 100 served logins of 1..100 ms, 10 shed registers,
// one 500 and one transport error.
func sampleRecorder() *Recorder {
	rec := NewRecorder()
	for i := 1; i <= 100; i++ {
		rec.Add(Sample{Endpoint: "login", Status: 200, Duration: time.Duration(i) * time.Millisecond})
		rec.Check("login 2xx", true, false)
		rec.IterationDone(false)
	}
	for range 10 {
		rec.Add(Sample{Endpoint: "register", Status: 503, Shed: true, Duration: 2 * time.Millisecond})
		rec.Check("register 2xx", false, true)
		rec.IterationDone(false)
	}
	rec.Add(Sample{Endpoint: "register", Status: 500, Duration: 3 * time.Millisecond})
	rec.Check("register 2xx", false, false)
	rec.Add(Sample{Endpoint: "me", Status: 0, Err: "timeout", Duration: 10 * time.Second})
	rec.IterationDone(true)
	return rec
}

func sampleSummary() *loadreport.Summary {
	s := sampleRecorder().Build(RunInfo{
		Command: "authd-load -scenario mixed", Scenario: "mixed", BaseURL: "http://127.0.0.1:8080",
		Started:  time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		Schedule: Schedule{StartRate: 10, Stages: mixedStages},
		Mix:      Mix{{"login", 55}, {"register", 20}, {"recovery", 25}},
		MaxVUs:   300,
		Pacer:    PacerStats{Started: 112, Dropped: 4, MaxVUs: 7, Elapsed: 10 * time.Second},
	})
	evaluate(s, mixedThresholds)
	return s
}

func TestBuild(t *testing.T) {
	s := sampleSummary()
	if s.HTTPReqs.Count != 112 || s.HTTPReqs.Rate != 11.2 {
		t.Errorf("http_reqs = %+v", s.HTTPReqs)
	}
	if s.Iterations.Count != 110 || s.InterruptedIterations != 1 || s.DroppedIterations.Count != 4 {
		t.Errorf("iterations %+v interrupted %d dropped %+v", s.Iterations, s.InterruptedIterations, s.DroppedIterations)
	}
	// Shed 503s are not failures; the 500 and the transport error are.
	if s.HTTPReqFailed.Fails != 2 || s.HTTPReqFailed.Total != 112 {
		t.Errorf("http_req_failed = %+v", s.HTTPReqFailed)
	}
	if s.Shed503.Count != 10 || s.Shed503.MaxMs != 2 || s.Server5xxOther != 1 || s.TransportErrors != 1 {
		t.Errorf("shed %+v 5xx %d errors %d", s.Shed503, s.Server5xxOther, s.TransportErrors)
	}
	// Served = 100 logins + the 500; the transport error has no latency.
	if s.ServedDuration.Count != 101 || s.HTTPReqDuration.Count != 111 {
		t.Errorf("served %d, all %d", s.ServedDuration.Count, s.HTTPReqDuration.Count)
	}
	var login loadreport.EndpointStats
	for _, e := range s.Endpoints {
		if e.Name == "login" {
			login = e
		}
	}
	if login.Count != 100 || login.Latency.P50Ms != 50.5 || login.Latency.P99Ms != 99.01 || login.Latency.MaxMs != 100 || login.Statuses["200"] != 100 {
		t.Errorf("login = %+v", login)
	}
	var reg loadreport.CheckStats
	for _, c := range s.Checks {
		if c.Name == "register 2xx" {
			reg = c
		}
	}
	if reg.Fails != 11 || reg.FailsShed != 10 || reg.Passes != 0 {
		t.Errorf("register 2xx = %+v", reg)
	}
	if s.ThresholdsOK {
		t.Error("thresholds: failure rate 1.8% and 4 dropped iterations should fail")
	}
	byCond := map[string]loadreport.ThresholdResult{}
	for _, r := range s.Thresholds {
		byCond[r.Metric+" "+r.Condition] = r
	}
	if r := byCond["http_req_failed rate<0.01"]; r.OK {
		t.Errorf("failed-rate threshold = %+v", r)
	}
	if r := byCond["http_req_duration{endpoint:me} p(99)<10"]; !r.NoData || !r.OK {
		t.Errorf("me threshold without me latencies = %+v", r)
	}
	if r := byCond["served_duration p(95)<250"]; !r.OK {
		t.Errorf("served threshold = %+v", r)
	}
}

func TestWriteText(t *testing.T) {
	var b bytes.Buffer
	writeText(&b, sampleSummary())
	out := b.String()
	for _, want := range []string{
		"✓ login 2xx", "✗ register 2xx", "shed 503: 10", "dropped_iterations.............: 4 0.40/s",
		"http_reqs......................: 112 11.20/s", "p99=99.01ms", "✗ http_req_failed rate<0.01", "1 × timeout",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
}

func TestFmtMs(t *testing.T) {
	for v, want := range map[float64]string{0: "0s", 0.21827: "218.27µs", 45.68: "45.68ms", 1950: "1.95s"} {
		if got := fmtMs(v); got != want {
			t.Errorf("fmtMs(%v) = %q, want %q", v, got, want)
		}
	}
}
