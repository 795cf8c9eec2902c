package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestFigureEvaluate(t *testing.T) {
	tests := []struct {
		name string
		f    Figure
		want Outcome
		desc string
	}{
		{"no target", Figure{Value: 3}, Info, ""},
		{"at least, met", Figure{Value: 0.92, Target: &Target{Op: AtLeast, Limit: 0.9}}, Met, "met"},
		{"at least, exactly", Figure{Value: 0.9, Target: &Target{Op: AtLeast, Limit: 0.9}}, Met, "met"},
		{"at least, missed", Figure{Value: 0.72, Target: &Target{Op: AtLeast, Limit: 0.9}}, Missed, "missed by 20.0 % (below the target)"},
		{"less than, met", Figure{Value: 4.2, Target: &Target{Op: LessThan, Limit: 10}}, Met, "met"},
		{"less than, at the limit", Figure{Value: 10, Target: &Target{Op: LessThan, Limit: 10}}, Missed, "missed by 0.0 % (over the limit)"},
		{"less than, missed", Figure{Value: 104.3, Target: &Target{Op: LessThan, Limit: 10}}, Missed, "missed by 943.0 % (over the limit)"},
		{"equal, met", Figure{Value: 0, Target: &Target{Op: Equal, Limit: 0}}, Met, "met"},
		{"equal, missed", Figure{Value: 3, Target: &Target{Op: Equal, Limit: 0}}, Missed, "missed: 3 instead of 0"},
		{"no data", Figure{NoData: true, Target: &Target{Op: LessThan, Limit: 512}}, NoData, "no data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, desc := tt.f.Evaluate()
			if o != tt.want || desc != tt.desc {
				t.Errorf("Evaluate() = %v, %q; want %v, %q", o, desc, tt.want, tt.desc)
			}
		})
	}
}

func sampleReport() *Report {
	return &Report{
		Date:     time.Date(2026, 11, 28, 21, 5, 0, 0, time.UTC),
		Command:  "make bench",
		Machine:  []KV{{"CPU", "Intel(R) Xeon(R) Processor"}, {"Cores (runtime.NumCPU)", "2"}},
		Settings: []KV{{"`DEV_MODE`", "`true`"}},
		Phases: []Phase{
			{
				Title: "Login throughput vs the hasher's ideal",
				Intro: "Logins at 1.5 × ideal.",
				Figures: []Figure{
					{Name: "Login throughput (200 per second)", Value: 70.1, Text: "70.1 /s", Note: "1052 logins"},
					{Name: "Login throughput ÷ ideal", Value: 0.85, Text: "85.0 %", Target: &Target{Op: AtLeast, Limit: 0.9, Text: "≥ 90 %"}},
				},
				Tables: []Table{{Title: "Per endpoint:", Header: []string{"Endpoint", "Statuses"}, Rows: [][]string{{"`login`", "200×5 | 503×1"}}}},
				Runs: []Run{{Label: "login only", Command: "go run ./cmd/authd-load -scenario login -rate 117",
					K6: "k6 run --no-usage-report -e BASE_URL=http://127.0.0.1:1 -e RATE=117 k6/login.js"}},
				Profiles: []Profile{{Run: "login", Split: CPUSplit{Seconds: 14, Busy: 1.9, Authd: 1.7, Loadgen: 0.05, Other: 0.15},
					PerfComms: []Share{{93.8, "authd"}}, PerfAuthd: []Share{{44.7, "golang.org/x/crypto/argon2.blamkaSSE4.abi0"}}}},
				Why: []string{"**Why the target is missed:** the cores are shared."},
			},
			{Title: "The old service's mixed scenario", Err: "authd-load mixed: exit status 1"},
		},
		Notes:   []string{"Mail is queued but not sent."},
		Cleanup: "database authd_bench_x dropped",
	}
}

func TestRender(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleReport().Render(&buf); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	for _, want := range []string{
		"# authd benchmarks\n",
		"on 2026-11-28 21:05 UTC",
		"```sh\nmake bench\n```",
		// The summary lists figures with a target, and failed phases.
		"| 1 | Login throughput ÷ ideal | 85.0 % | ≥ 90 % | ❌ missed by 5.6 % (below the target) |",
		"| 2 | The old service's mixed scenario | — | — | ⚠️ phase failed |",
		"| CPU | Intel(R) Xeon(R) Processor |",
		"## 1. Login throughput vs the hasher's ideal\n\nLogins at 1.5 × ideal.",
		"| Login throughput (200 per second) | 70.1 /s | — | — | 1052 logins |",
		// A pipe inside a cell must not split it.
		`| ` + "`login`" + ` | 200×5 \| 503×1 |`,
		"**Why the target is missed:** the cores are shared.",
		"- login (14 s): machine 1.90 CPUs busy — authd 1.70, authd-load 0.05, PostgreSQL/Valkey/other 0.15; " +
			"perf samples by process: 93.8 % `authd`; authd's top functions: 44.7 % `golang.org/x/crypto/argon2.blamkaSSE4.abi0`",
		"  ```sh\n  go run ./cmd/authd-load -scenario login -rate 117\n  ```",
		"  k6 equivalent:\n\n  ```sh\n  k6 run --no-usage-report -e BASE_URL=http://127.0.0.1:1 -e RATE=117 k6/login.js\n  ```",
		"## 2. The old service's mixed scenario",
		"> **This phase did not complete:** authd-load mixed: exit status 1",
		"## How to reproduce",
		"## Notes\n\n- Mail is queued but not sent.",
		"Cleanup: database authd_bench_x dropped",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q\n--- report ---\n%s", want, md)
		}
	}
	if strings.Contains(md, "Quick run") {
		t.Error("a full run is labelled quick")
	}
	met, missed, failed := sampleReport().Outcomes()
	if met != 0 || missed != 1 || failed != 1 {
		t.Errorf("Outcomes() = %d, %d, %d; want 0, 1, 1", met, missed, failed)
	}
}

func TestRenderQuick(t *testing.T) {
	r := sampleReport()
	r.Quick = true
	var buf bytes.Buffer
	if err := r.Render(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "**Quick run**") {
		t.Error("a quick run is not labelled as such")
	}
}

func TestCommandOf(t *testing.T) {
	if got := commandOf([]string{"-out", "BENCHMARKS.md"}); got != "make bench" {
		t.Errorf("commandOf(make's args) = %q", got)
	}
	if got := commandOf([]string{"-quick", "-out", "/tmp/my bench.md"}); got != "go run ./cmd/authd-bench -quick -out '/tmp/my bench.md'" {
		t.Errorf("commandOf(-quick) = %q", got)
	}
}

func TestCPUSplit(t *testing.T) {
	a := cpuSnap{at: time.Unix(100, 0), busy: 1000, all: 2000, authdTicks: 50}
	b := cpuSnap{at: time.Unix(110, 0), busy: 2800, all: 4000, authdTicks: 1550}
	s := cpuSplit(a, b, 2, 2*time.Second)
	// 1800 busy of 2000 ticks on 2 CPUs = 1.8 CPUs; authd 15 s of CPU in 10 s.
	if s.Busy != 1.8 || s.Authd != 1.5 || s.Loadgen != 0.2 || s.Other < 0.0999 || s.Other > 0.1001 {
		t.Errorf("cpuSplit = %+v", s)
	}
}
