package main

import (
	"bytes"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/devtools/loadreport"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestPercentile(t *testing.T) {
	tests := []struct {
		name   string
		sorted []float64
		p      float64
		want   float64
	}{
		{"empty", nil, 50, 0},
		{"one value", []float64{7}, 90, 7},
		{"odd median is the middle", []float64{1, 2, 9}, 50, 2},
		{"even median is the mean of the middle two", []float64{1, 2, 4, 100}, 50, 3},
		// rank 0.9 × 9 = 8.1: 9 + 0.1 × (10 − 9).
		{"p90 interpolates", []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 90, 9.1},
		{"p100 is the max", []float64{1, 2, 3}, 100, 3},
		{"p0 is the min", []float64{1, 2, 3}, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := loadreport.Percentile(tt.sorted, tt.p); !near(got, tt.want) {
				t.Errorf("percentile(%v, %g) = %g, want %g", tt.sorted, tt.p, got, tt.want)
			}
		})
	}
}

func TestSideOfLeavesInputAlone(t *testing.T) {
	in := []float64{30, 10, 20}
	s := sideOf(in)
	if s.N != 3 || s.MedianMs != 20 || s.MinMs != 10 || s.MaxMs != 30 || !near(s.P90Ms, 28) {
		t.Errorf("sideOf = %+v", s)
	}
	if !slices.Equal(in, []float64{30, 10, 20}) {
		t.Errorf("sideOf sorted its input: %v", in)
	}
	if z := sideOf(nil); z != (timingSide{}) {
		t.Errorf("sideOf(nil) = %+v", z)
	}
}

func pair(unknownMs, wrongMs float64) timingPair {
	d := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	return timingPair{Unknown: d(unknownMs), Wrong: d(wrongMs), UnknownStatus: http.StatusUnauthorized, WrongStatus: http.StatusUnauthorized}
}

func TestSummarizeTiming(t *testing.T) {
	pairs := []timingPair{pair(50, 40), pair(52, 41), pair(48, 44), pair(60, 45)}
	r := summarizeTiming(pairs)
	// Unknown 48 50 52 60: median 51, p90 rank 2.7 → 52 + 0.7 × 8 = 57.6.
	// Wrong 40 41 44 45: median 42.5, p90 rank 2.7 → 44 + 0.7 = 44.7.
	if r.Pairs != 4 || r.Unknown.N != 4 || r.Wrong.N != 4 {
		t.Fatalf("counts: %+v", r)
	}
	if !near(r.Unknown.MedianMs, 51) || !near(r.Unknown.P90Ms, 57.6) {
		t.Errorf("unknown = %+v, want median 51, p90 57.6", r.Unknown)
	}
	if !near(r.Wrong.MedianMs, 42.5) || !near(r.Wrong.P90Ms, 44.7) {
		t.Errorf("wrong = %+v, want median 42.5, p90 44.7", r.Wrong)
	}
	if !near(r.Ratio, 51/42.5) {
		t.Errorf("ratio = %g, want %g", r.Ratio, 51/42.5)
	}
	// Differences 10 11 4 15 → sorted 4 10 11 15, median 10.5.
	if !near(r.DiffMedianMs, 10.5) || r.DiffN != 4 {
		t.Errorf("per-pair difference = %g over %d, want 10.5 over 4", r.DiffMedianMs, r.DiffN)
	}
	if r.OtherCount() != 0 {
		t.Errorf("other = %v", r.Other)
	}
}

func TestSummarizeTimingLeavesOutOther(t *testing.T) {
	locked := pair(1, 1)
	locked.WrongStatus = http.StatusTooManyRequests // a lock-out answers fast: it must not pull the median down
	shed := pair(2, 40)
	shed.UnknownStatus = http.StatusServiceUnavailable
	r := summarizeTiming([]timingPair{pair(40, 40), locked, shed, pair(42, 42)})
	if r.Unknown.N != 3 || r.Wrong.N != 3 {
		t.Fatalf("N = %d / %d, want 3 / 3", r.Unknown.N, r.Wrong.N)
	}
	if !near(r.Unknown.MedianMs, 40) || !near(r.Wrong.MedianMs, 40) {
		t.Errorf("medians %g / %g, want 40 / 40", r.Unknown.MedianMs, r.Wrong.MedianMs)
	}
	if r.DiffN != 2 || r.DiffMedianMs != 0 {
		t.Errorf("per-pair difference over %d pairs = %g, want 0 over the 2 pairs with both 401", r.DiffN, r.DiffMedianMs)
	}
	if r.OtherCount() != 2 || r.Other["wrong 429"] != 1 || r.Other["unknown 503"] != 1 {
		t.Errorf("other = %v", r.Other)
	}
}

func TestSummarizeTimingNoRatioWithoutBothSides(t *testing.T) {
	p := pair(40, 40)
	p.WrongStatus = http.StatusTooManyRequests
	r := summarizeTiming([]timingPair{p})
	if r.Ratio != 0 || r.DiffN != 0 {
		t.Errorf("ratio %g, diff over %d pairs; want none", r.Ratio, r.DiffN)
	}
	for _, f := range timingFigures(r) {
		if strings.HasPrefix(f.Name, "Ratio") && (f.Text != "—" || !f.NoData || f.Target != nil) {
			t.Errorf("ratio figure without data: %+v", f)
		}
	}
}

func TestWrongPerAccount(t *testing.T) {
	tests := []struct{ free, total, want int }{
		{5, 51, 5},  // the default: five free failures per account
		{0, 51, 51}, // no lock-out: one account takes them all
		{0, 0, 1},
		{-1, 51, 1}, // not known: one each, which no setting can lock
	}
	for _, tt := range tests {
		if got := wrongPerAccount(tt.free, tt.total); got != tt.want {
			t.Errorf("wrongPerAccount(%d, %d) = %d, want %d", tt.free, tt.total, got, tt.want)
		}
	}
}

func TestParseOnly(t *testing.T) {
	sel, err := parseOnly("")
	if err != nil || sel != nil {
		t.Errorf(`parseOnly("") = %v, %v; want every phase`, sel, err)
	}
	sel, err = parseOnly("login-timing")
	if err != nil || !slices.Equal(selectedNames(sel), []string{"login-timing"}) {
		t.Errorf("parseOnly(login-timing) = %v, %v", selectedNames(sel), err)
	}
	// Phases that need the one-hash time bring phase 1 along; the order is
	// the run's, not the flag's.
	sel, err = parseOnly("login-timing, saturation")
	if err != nil || !slices.Equal(selectedNames(sel), []string{"go-bench", "saturation", "login-timing"}) {
		t.Errorf("parseOnly(login-timing,saturation) = %v, %v", selectedNames(sel), err)
	}
	if _, err := parseOnly("login-timeing"); err == nil || !strings.Contains(err.Error(), "login-timing") {
		t.Errorf("an unknown phase: err = %v, want one that lists the names", err)
	}
}

func TestRealMainRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-only=nope"}, {"-timing-pairs=-1"}} {
		var stderr bytes.Buffer
		if code := realMain(args, &bytes.Buffer{}, &stderr); code != 2 {
			t.Errorf("realMain(%v) = %d, want 2 (stderr %q)", args, code, stderr.String())
		}
	}
}

func TestTimingFigures(t *testing.T) {
	r := summarizeTiming([]timingPair{pair(50, 40), pair(52, 41), pair(48, 44), pair(60, 45)})
	figs := timingFigures(r)
	byName := map[string]Figure{}
	for _, f := range figs {
		byName[f.Name] = f
	}
	for name, want := range map[string]string{
		"Pairs timed":                                          "4",
		"Unknown e-mail: median / p90":                         "51.0 ms / 57.6 ms",
		"Wrong password: median / p90":                         "42.5 ms / 44.7 ms",
		"Ratio of medians (unknown e-mail ÷ wrong password)":   "1.200",
		"Median of the per-pair differences (unknown − wrong)": "+10.5 ms",
		"Timed logins not answered 401":                        "0",
	} {
		f, ok := byName[name]
		if !ok {
			t.Errorf("no figure %q", name)
			continue
		}
		if f.Text != want {
			t.Errorf("%s = %q, want %q", name, f.Text, want)
		}
	}
	// The timings are figures: however far the ratio is from 1, nothing
	// about them is a target, so no ratio can count as missed.
	for _, f := range figs {
		if f.Target != nil && f.Name != "Timed logins not answered 401" {
			t.Errorf("figure %q has a target", f.Name)
		}
	}
	if o, _ := byName["Timed logins not answered 401"].Evaluate(); o != Met {
		t.Errorf("all 401: outcome %v, want met", o)
	}
	if got := fmtSignedMs(-0.42); got != "−0.42 ms" {
		t.Errorf("fmtSignedMs(-0.42) = %q", got)
	}
}

func TestRenderTimingPhase(t *testing.T) {
	r := summarizeTiming([]timingPair{pair(50, 40), pair(52, 41), pair(48, 44), pair(60, 45)})
	rep := &Report{
		Date:    time.Date(2026, 11, 28, 21, 5, 0, 0, time.UTC),
		Command: "go run ./devtools/cmd/bench -only=login-timing -out /tmp/b.md",
		Only:    []string{"login-timing"},
		Phases: []Phase{{
			Num:     6,
			Title:   "Login timing: unknown e-mail vs wrong password",
			Figures: timingFigures(r),
			Why:     whyTiming(r, 48.5e6),
			Runs:    []Run{{Label: "by hand", Command: timingCurl("http://127.0.0.1:8080", 5)}},
		}},
	}
	var buf bytes.Buffer
	if err := rep.Render(&buf); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	for _, want := range []string{
		"> **Partial run** (`-only=login-timing`)",
		// The phase keeps its number of a full run, in the heading and the summary.
		"## 6. Login timing: unknown e-mail vs wrong password\n",
		"| 6 | Timed logins not answered 401 | 0 | 0 (else the comparison is void) | ✅ met |",
		"| Ratio of medians (unknown e-mail ÷ wrong password) | 1.200 | — | — | a figure, not a target: 1.000 is the same time |",
		"| Unknown e-mail: median / p90 | 51.0 ms / 57.6 ms | — | — | 4 logins answered 401; min 48.0 ms, max 60.0 ms |",
		"A ratio well below 1.0 would mean logins for unknown addresses skip work",
		"never held to a limit: the bench does not fail on it.",
		"a ratio of 1.200; the per-pair differences had a median of +10.5 ms.",
		"One hash alone took 48.50 ms in phase 1",
		"  BASE=http://127.0.0.1:8080; ID=$(date +%s)\n  curl -s -o /dev/null -w 'register %{http_code} %{time_total}s\\n'",
		`-d "{\"identifier\":\"timing-$ID-nobody-$i@example.com\",\"password\":\"wrong-password-for-timing\"}" "$BASE/api/v1/auth/login"`,
		"  for i in $(seq 5); do\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q\n--- report ---\n%s", want, md)
		}
	}
	met, missed, failed := rep.Outcomes()
	if met != 1 || missed != 0 || failed != 0 {
		t.Errorf("Outcomes() = %d, %d, %d; want 1, 0, 0", met, missed, failed)
	}
}
