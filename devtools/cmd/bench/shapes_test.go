package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/devtools/loadreport"
)

func TestScaledMixedStages(t *testing.T) {
	for _, c := range []struct {
		warmup, window time.Duration
		want           string
	}{
		// 30/230, 60/230 … of 15 s, to 10 ms; the last stage takes the rest.
		{3 * time.Second, 15 * time.Second, "3s:10,1.96s:50,3.91s:150,3.91s:300,3.91s:500,1.31s:500"},
		{time.Second, 3 * time.Second, "1s:10,0.39s:50,0.78s:150,0.78s:300,0.78s:500,0.27s:500"},
		// The old run itself: 230 s, no warm-up.
		{0, 230 * time.Second, "30s:50,60s:150,60s:300,60s:500,20s:500"},
	} {
		got := scaledMixedStages(c.warmup, c.window)
		if got != c.want {
			t.Errorf("scaledMixedStages(%v, %v) = %q, want %q", c.warmup, c.window, got, c.want)
		}
		var total time.Duration
		for _, part := range strings.Split(got, ",") {
			d, err := time.ParseDuration(strings.Split(part, ":")[0])
			if err != nil {
				t.Fatal(err)
			}
			total += d
		}
		if total != c.warmup+c.window {
			t.Errorf("stages %q add up to %v, want %v", got, total, c.warmup+c.window)
		}
	}
}

func TestCPUPerRejection(t *testing.T) {
	for _, c := range []struct {
		name       string
		cpu        float64
		hashes     int
		oneHashNs  float64
		rejections int
		want       float64
		ok         bool
	}{
		// 30 CPU-seconds, 900 hashes of 25 ms = 22.5 s; 7.5 s over 30 000 503s.
		{"collapse", 30, 900, 25e6, 30000, 250e-6, true},
		{"no 503", 20, 800, 25e6, 0, 0, false},
		// Hashes in parallel cost more than the serial one-hash time can
		// leave nothing, never a negative cost.
		{"nothing left", 10, 500, 25e6, 100, 0, true},
		{"no hash", 1, 0, 25e6, 4000, 250e-6, true},
	} {
		got, ok := cpuPerRejection(c.cpu, c.hashes, c.oneHashNs, c.rejections)
		if ok != c.ok || (got-c.want) > 1e-12 || (c.want-got) > 1e-12 {
			t.Errorf("%s: %v, %v; want %v, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

// shapeSummary is a 15-s window of a closed loop: 900 logins, 36 000 503s
// (12 without Retry-After), and a probe of 750 /me with 2 failures and 1
// dropped.
func shapeSummary() *loadreport.Summary {
	lat := loadreport.Latency{Count: 900, P50Ms: 180, P95Ms: 420, P99Ms: 700}
	return &loadreport.Summary{
		DurationSeconds: 15,
		Probe:           loadreport.ProbeStats{Rate: 50, Started: 750, Dropped: 1},
		Endpoints: []loadreport.EndpointStats{
			{Name: "login", Count: 36900, Statuses: map[string]int{"200": 900, "503": 36000}, Success: lat, NoRetryAfter503: 12},
			{Name: "me-probe", Count: 749, Statuses: map[string]int{"200": 747, "503": 2}, NoRetryAfter503: 2,
				Latency: loadreport.Latency{Count: 749, P99Ms: 6.5}},
		},
	}
}

func TestComputeShape(t *testing.T) {
	m := measurement{AuthdCPUSec: 28.5, WindowSec: 15, PeakRSSKiB: 300 << 10}
	r := computeShape(shapeSummary(), m, 23e6, 75)
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"hashes", float64(r.Hashes), 900},
		{"hashes/s", r.HashRate, 60},
		{"share of capacity", r.Share, 0.8},
		{"served p95", r.Served.P95Ms, 420},
		// The probe's 503s are its failures, not the shape's rejections.
		{"rejections", float64(r.Rejections), 36000},
		{"503/s", r.RejRate, 2400},
		{"503 without Retry-After, probe included", float64(r.NoRetryAfter), 14},
		{"authd CPUs", r.AuthdCPUs, 1.9},
		// (28.5 − 900 × 23 ms) / 36 000 = 7.8 s / 36 000.
		{"CPU per 503", r.CPUPerRejection * 1e6, 7.8 / 36000 * 1e6},
		{"me p99", r.MeP99, 6.5},
		{"me failures: 2 not 200, 1 dropped", float64(r.MeFailures), 3},
		{"peak RSS", float64(r.PeakRSSKiB), 300 << 10},
	} {
		if d := c.got - c.want; d > 1e-9 || d < -1e-9 {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if !r.HasCPUPerRejection {
		t.Error("no CPU per 503 despite 503s and readings")
	}
	// Without CPU readings there is no estimate.
	if r := computeShape(shapeSummary(), measurement{}, 23e6, 75); r.HasCPUPerRejection || r.AuthdCPUs != 0 {
		t.Errorf("without readings: %+v", r)
	}
}

func TestShapeChecks(t *testing.T) {
	good := shapeResult{Share: 0.95, Served: loadreport.Latency{Count: 10, P95Ms: 300, P99Ms: 600}, MeCount: 100, MeP99: 4, PeakRSSKiB: 200 << 10}
	for _, c := range []struct {
		name   string
		sh     shape
		r      func(shapeResult) shapeResult
		missed []string
	}{
		{"all met", shape{VUs: 20, Goodput: true, Strict: true}, func(r shapeResult) shapeResult { return r }, nil},
		{"collapse", shape{VUs: 20, Goodput: true, Strict: true}, func(r shapeResult) shapeResult {
			r.Share, r.Rejections, r.Served.P99Ms = 0.3, 36000, 1200
			return r
		}, []string{"goodput", "served p99", "no 503"}},
		// One client of two CPUs needs 45 % of the capacity, not 90 %.
		{"one client", shape{VUs: 1, Goodput: true}, func(r shapeResult) shapeResult { r.Share = 0.46; return r }, nil},
		{"one client, slow", shape{VUs: 1, Goodput: true}, func(r shapeResult) shapeResult { r.Share = 0.44; return r }, []string{"goodput"}},
		// The mixed ramp has no goodput target; 503s are allowed outside the 20-client loop.
		{"mixed", shape{Mixed: true}, func(r shapeResult) shapeResult { r.Share, r.Rejections = 0.1, 500; return r }, nil},
		{"probe and memory", shape{Mult: 3, Goodput: true}, func(r shapeResult) shapeResult {
			r.MeP99, r.MeFailures, r.NoRetryAfter, r.PeakRSSKiB = 12, 1, 3, 600<<10
			return r
		}, []string{"/me p99", "/me failures", "Retry-After", "peak RSS"}},
		{"no probe, no memory reading", shape{Mult: 3}, func(r shapeResult) shapeResult {
			r.MeCount, r.MeP99, r.PeakRSSKiB = 0, 0, 0
			return r
		}, []string{"/me p99", "/me failures", "peak RSS"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var missed []string
			for _, ch := range shapeChecks(c.sh, c.r(good), 2) {
				if !ch.Met {
					missed = append(missed, ch.Name)
				}
			}
			if strings.Join(missed, ",") != strings.Join(c.missed, ",") {
				t.Errorf("missed %v, want %v", missed, c.missed)
			}
		})
	}
}

func TestShapeRowAndFigures(t *testing.T) {
	closed20 := shape{Key: "closed-20", Label: "20 clients", VUs: 20, Goodput: true, Strict: true}
	r := computeShape(shapeSummary(), measurement{AuthdCPUSec: 28.5, WindowSec: 15, PeakRSSKiB: 300 << 10}, 23e6, 75)
	row := shapeRow(closed20, r, 2)
	want := []string{"20 clients", "60.0 /s", "80.0 %", "180.0 ms / 420.0 ms / 700.0 ms", "2400.0 /s", "216.67 µs", "1.90",
		"6.50 ms (3)", "14", "300.0 MiB",
		"❌ goodput 80.0 % < 90.0 % of capacity; 36000 × 503; 3 of 749 /me probes failed; 14 × 503 without Retry-After"}
	if strings.Join(row, " | ") != strings.Join(want, " | ") {
		t.Errorf("row\n got %q\nwant %q", row, want)
	}
	if len(row) != len(shapeHeader) {
		t.Errorf("%d cells for %d columns", len(row), len(shapeHeader))
	}

	ok := shapeResult{Share: 0.95, Served: loadreport.Latency{Count: 5}, MeCount: 10, MeP99: 9, PeakRSSKiB: 400 << 10}
	outs := []shapeOutcome{
		{Shape: closed20, Result: r, OK: true},
		{Shape: shape{Label: "open 3 ×", Mult: 3, Goodput: true}, Result: ok, OK: true},
		{Shape: shape{Label: "broken", VUs: 2, Goodput: true}, Err: "exit status 1"},
	}
	got := map[string]Figure{}
	for _, f := range shapeFigures(outs, 2) {
		got[f.Name] = f
	}
	for _, c := range []struct {
		name string
		text string
		want Outcome
	}{
		{"Shapes below 90 % of the capacity their clients can use", "1 of 2: 20 clients (80.0 %)", Missed},
		{"20 clients, closed loop: served p95", "420.0 ms", Met},
		{"20 clients, closed loop: served p99", "700.0 ms", Met},
		{"20 clients, closed loop: 503s", "36000 (2400.0 /s)", Missed},
		{"Worst `/auth/me` p99 beside a shape", "9.00 ms", Met},
		{"`/auth/me` failures beside the shapes (not 200, no answer, dropped)", "3", Missed},
		{"503s without Retry-After, all shapes", "14", Missed},
		{"Largest authd peak RSS of a shape", "400.0 MiB", Met},
	} {
		f, found := got[c.name]
		if !found {
			t.Errorf("no figure %q", c.name)
			continue
		}
		if o, _ := f.Evaluate(); f.Text != c.text || o != c.want {
			t.Errorf("%s: %q, %v; want %q, %v", c.name, f.Text, o, c.text, c.want)
		}
	}
	if got["Worst `/auth/me` p99 beside a shape"].Note != "open 3 ×" {
		t.Errorf("worst /me p99 is not attributed: %+v", got["Worst `/auth/me` p99 beside a shape"])
	}
}

func TestShapeArgs(t *testing.T) {
	b := &bench{d: fullDurations}
	for _, c := range []struct {
		sh   shape
		want string
	}{
		{loadShapes[2], "-scenario login -vus 20 -duration 18s -warmup 3s -me-probe 50 -me-sessions 50 -progress 500ms"},
		{shape{VUs: 20, On503: "honour"}, "-scenario login -vus 20 -duration 18s -on-503 honour -max-retries 0 -warmup 3s"},
		{shape{Mult: 1.5, On503: "retry", MaxRetries: 10}, "-scenario login -rate 113 -duration 18s -max-vus 300 -on-503 retry -max-retries 10 -warmup 3s"},
		{shape{Mult: 10}, "-scenario login -rate 750 -duration 18s -max-vus 300 -warmup 3s"},
		{shape{Mixed: true}, "-scenario mixed -stages 3s:10,1.96s:50,3.91s:150,3.91s:300,3.91s:500,1.31s:500 -me-cookies old-service -warmup 3s"},
	} {
		if got := strings.Join(b.shapeArgs(c.sh, 75), " "); !strings.HasPrefix(got, c.want) {
			t.Errorf("shapeArgs(%+v) = %q, want it to start with %q", c.sh, got, c.want)
		}
	}
}

func TestParseOnlyLoadShapes(t *testing.T) {
	sel, err := parseOnly("load-shapes")
	if err != nil || !sel["load-shapes"] || !sel["go-bench"] || len(sel) != 2 {
		t.Errorf("parseOnly(load-shapes) = %v, %v; want it with go-bench", sel, err)
	}
	if got := selectedNames(sel); strings.Join(got, ",") != "go-bench,load-shapes" {
		t.Errorf("selectedNames = %v", got)
	}
}

func TestIsProgressLine(t *testing.T) {
	for line, want := range map[string]bool{
		"authd-load:     1s target=113/s started=112 dropped=0 running=2 reqs=140": true,
		"authd-load:     1s vus=20 iterations=812 running=20 reqs=830":             true,
		"authd-load: measuring window open (3s warm-up over)":                      false,
		"setup: cannot log in as test@example.com":                                 false,
	} {
		if got := isProgressLine(line); got != want {
			t.Errorf("isProgressLine(%q) = %v", line, got)
		}
	}
}

func TestRenderShapesPhase(t *testing.T) {
	r := sampleReport()
	r.Phases = append(r.Phases, Phase{Num: 7, Title: "Goodput under every load shape",
		Figures: shapeFigures([]shapeOutcome{{Shape: loadShapes[2], Result: shapeResult{Share: 0.3, Rejections: 5, MeCount: 1}, OK: true}}, 2),
		Tables:  []Table{{Header: shapeHeader, Rows: [][]string{shapeRow(loadShapes[2], shapeResult{Share: 0.3}, 2)}}}})
	var buf bytes.Buffer
	if err := r.Render(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"## 7. Goodput under every load shape",
		"| 7 | 20 clients, closed loop: 503s | 5 (0.0 /s) | 0 | ❌ missed: 5 instead of 0 |",
		"| Shape | Hashes/s (200 + 201) | ÷ capacity |",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

func TestWhyShapes(t *testing.T) {
	b := &bench{oneHashNs: 22.3e6, ideal: 89.7, ncpu: 2}
	outs := []shapeOutcome{
		{Shape: shape{Label: "1 client", VUs: 1, Goodput: true}, Result: shapeResult{HashRate: 35, Share: 0.4, AuthdCPUs: 0.9}, OK: true},
		{Shape: shape{Label: "200 clients", VUs: 200, Goodput: true}, OK: true, Result: shapeResult{HashRate: 30, Share: 0.4, Rejections: 36000,
			RejRate: 2400, CPUPerRejection: 250e-6, HasCPUPerRejection: true, AuthdCPUs: 1.9}},
		{Shape: shape{Label: "open 3 ×", Mult: 3, Goodput: true}, Result: shapeResult{Share: 0.95}, OK: true},
	}
	got := strings.Join(whyShapes(b, outs, 72.6), "\n")
	for _, want := range []string{
		"minus the successful hashes × the one-hash time of phase 1 (22.30 ms)",
		"two at once ran at 80.9 % of the ideal",
		"1 client: 35.0 /s hashes (40.0 % of capacity) and no 503, authd using 0.90 CPUs",
		"200 clients: 30.0 /s hashes (40.0 % of capacity), 2400.0 /s 503s at about 250.00 µs each, i.e. up to 0.60 of authd's 1.90 CPUs spent refusing work",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("explanation lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "open 3 ×") {
		t.Error("a shape that met its goodput is explained as a miss")
	}
	// Hashes in parallel as fast as the ideal: no slowdown to speak of.
	if strings.Contains(strings.Join(whyShapes(b, nil, 90), ""), "side by side") {
		t.Error("a slowdown is claimed with the parallel rate at the ideal")
	}
}
