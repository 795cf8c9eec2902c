package main

import (
	"context"
	"math"
	"sync/atomic"
	"testing"
	"time"
)

func near(got, want, tolerance float64) bool { return math.Abs(got-want) <= tolerance*want }

func TestScheduleMath(t *testing.T) {
	s := Schedule{StartRate: 10, Stages: []Stage{{2 * time.Second, 30}, {time.Second, 30}, {time.Second, 0}}}
	if d := s.Duration(); d != 4*time.Second {
		t.Fatalf("Duration = %v", d)
	}
	// Areas: ramp 10→30 over 2s = 40, flat 30 for 1s = 30, ramp 30→0 over 1s = 15.
	for _, c := range []struct {
		at   time.Duration
		want float64
	}{{0, 0}, {time.Second, 15}, {2 * time.Second, 40}, {3 * time.Second, 70}, {4 * time.Second, 85}, {time.Hour, 85}} {
		if got := s.CountAt(c.at); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("CountAt(%v) = %v, want %v", c.at, got, c.want)
		}
	}
	if r := s.RateAt(time.Second); r != 20 {
		t.Errorf("RateAt(1s) = %v, want 20", r)
	}
	// TimeOf inverts CountAt everywhere, through every stage.
	for n := 0.0; n < 85; n++ {
		at, ok := s.TimeOf(n)
		if !ok {
			t.Fatalf("TimeOf(%v) not ok", n)
		}
		if got := s.CountAt(at); math.Abs(got-n) > 1e-6 {
			t.Fatalf("CountAt(TimeOf(%v)) = %v", n, got)
		}
	}
	if _, ok := s.TimeOf(85); ok {
		t.Error("TimeOf past the schedule should not be ok")
	}
	if _, ok := (Schedule{Stages: []Stage{{time.Second, 0}}}).TimeOf(0); ok {
		t.Error("a zero-rate schedule should emit nothing")
	}
}

func TestParseStages(t *testing.T) {
	st, err := ParseStages("30s:50, 1m:150,20s:0")
	if err != nil {
		t.Fatal(err)
	}
	want := []Stage{{30 * time.Second, 50}, {time.Minute, 150}, {20 * time.Second, 0}}
	if len(st) != len(want) {
		t.Fatalf("got %v", st)
	}
	for i := range want {
		if st[i] != want[i] {
			t.Errorf("stage %d = %v, want %v", i, st[i], want[i])
		}
	}
	for _, bad := range []string{"", "30s", "x:1", "30s:-1", "0s:5", "30s:abc"} {
		if _, err := ParseStages(bad); err == nil {
			t.Errorf("ParseStages(%q) accepted", bad)
		}
	}
}

func runPacer(t *testing.T, s Schedule, maxVUs int, work time.Duration) (PacerStats, int64) {
	t.Helper()
	p := &Pacer{Schedule: s, MaxVUs: maxVUs}
	var ran atomic.Int64
	st := p.Run(context.Background(), func(ctx context.Context, n int64) {
		ran.Add(1)
		if work > 0 {
			select {
			case <-time.After(work):
			case <-ctx.Done():
			}
		}
	})
	return st, ran.Load()
}

func TestPacerConstantRate(t *testing.T) {
	st, ran := runPacer(t, Constant(200, 500*time.Millisecond), 50, 0)
	if !near(float64(ran), 100, 0.15) || st.Dropped != 0 || st.Started != ran {
		t.Fatalf("200/s for 500ms: ran %d, started %d, dropped %d; want ~100, none dropped", ran, st.Started, st.Dropped)
	}
	// Open model: the run lasts as long as the schedule, not as long as the work.
	if st.Elapsed < 450*time.Millisecond || st.Elapsed > 2*time.Second {
		t.Errorf("elapsed %v, want about 500ms", st.Elapsed)
	}
}

func TestPacerRamp(t *testing.T) {
	st, ran := runPacer(t, Schedule{StartRate: 0, Stages: []Stage{{time.Second, 100}}}, 50, 0)
	if !near(float64(ran), 50, 0.20) || st.Dropped != 0 {
		t.Fatalf("ramp 0→100/s over 1s: ran %d, dropped %d; want ~50", ran, st.Dropped)
	}
}

func TestPacerDropsWhenVUsBusy(t *testing.T) {
	// 30 iterations due, each VU busy 100ms, one VU: most are dropped,
	// and none is queued to run late.
	st, ran := runPacer(t, Constant(100, 300*time.Millisecond), 1, 100*time.Millisecond)
	if st.Started+st.Dropped != 30 {
		t.Errorf("started %d + dropped %d, want 30 due", st.Started, st.Dropped)
	}
	if st.Dropped < 15 || ran != st.Started || ran < 1 {
		t.Errorf("ran %d, dropped %d; want most of 30 dropped", ran, st.Dropped)
	}
	if st.MaxVUs != 1 {
		t.Errorf("max VUs used %d, want 1", st.MaxVUs)
	}
}

func TestPacerStopsOnContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	p := &Pacer{Schedule: Constant(50, time.Hour), MaxVUs: 10}
	start := time.Now()
	st := p.Run(ctx, func(ctx context.Context, n int64) { <-ctx.Done() })
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("Run took %v after the context ended", el)
	}
	if st.Started == 0 {
		t.Error("nothing started")
	}
}
