package main

import (
	"context"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

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

// fakeClock is a pacer clock that never waits: SleepUntil moves its time
// to the moment asked for. When stopAt is set, a sleep past it ends there
// and cancels the run's context, as a deadline or Ctrl-C would.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	stopAt time.Time
	cancel context.CancelFunc
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) SleepUntil(ctx context.Context, t time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cancel != nil && t.After(c.stopAt) {
		c.now = c.stopAt
		c.cancel()
		return false
	}
	if t.After(c.now) {
		c.now = t
	}
	return ctx.Err() == nil
}

// offer is one call of emit's tryStart: which iteration, at what time
// (from the start), and whether it was started.
type offer struct {
	n       int64
	at      time.Duration
	started bool
}

// emitAll runs emit on a fake clock; tryStart decides from the fake time.
func emitAll(t *testing.T, s Schedule, tryStart func(at time.Duration) bool) (*Pacer, []offer) {
	t.Helper()
	p := &Pacer{Schedule: s}
	clk := newFakeClock()
	start := clk.Now()
	var got []offer
	p.emit(context.Background(), clk, start, func(n int64) bool {
		at := clk.Now().Sub(start)
		ok := tryStart(at)
		got = append(got, offer{n, at, ok})
		return ok
	})
	return p, got
}

func TestEmitOffersEachIterationWhenDue(t *testing.T) {
	for _, c := range []struct {
		name string
		s    Schedule
		want int
	}{
		{"constant 200/s for 500ms", Constant(200, 500*time.Millisecond), 100},
		{"ramp 0→100/s over 1s", Schedule{Stages: []Stage{{time.Second, 100}}}, 50},
		{"ramp, hold, ramp down", Schedule{StartRate: 10, Stages: []Stage{{2 * time.Second, 30}, {time.Second, 30}, {time.Second, 0}}}, 85},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, got := emitAll(t, c.s, func(time.Duration) bool { return true })
			if len(got) != c.want {
				t.Fatalf("%d iterations offered, want %d", len(got), c.want)
			}
			for i, o := range got {
				due, _ := c.s.TimeOf(float64(i))
				if o.n != int64(i) || o.at != due {
					t.Fatalf("offer %d = iteration %d at %v, want iteration %d at %v", i, o.n, o.at, i, due)
				}
			}
			if last := got[len(got)-1].at; last >= c.s.Duration() {
				t.Errorf("last iteration at %v, not before the end %v", last, c.s.Duration())
			}
			if st := p.Stats(); st.Started != int64(c.want) || st.Dropped != 0 {
				t.Errorf("started %d, dropped %d; want %d, 0", st.Started, st.Dropped, c.want)
			}
		})
	}
}

func TestEmitDropsWhenVUsBusy(t *testing.T) {
	// 30 iterations due at 0, 10, …, 290 ms; each keeps its VU busy for
	// 95 ms of the fake time. A refused iteration is dropped, never
	// offered again later.
	for _, c := range []struct {
		vus  int
		want []int64
	}{
		{1, []int64{0, 10, 20}},
		{2, []int64{0, 1, 10, 11, 20, 21}},
	} {
		busyUntil := make([]time.Duration, c.vus)
		p, got := emitAll(t, Constant(100, 300*time.Millisecond), func(at time.Duration) bool {
			for i, b := range busyUntil {
				if at >= b {
					busyUntil[i] = at + 95*time.Millisecond
					return true
				}
			}
			return false
		})
		var started []int64
		for i, o := range got {
			if o.n != int64(i) {
				t.Fatalf("%d VUs: offer %d is iteration %d: an iteration was offered twice or skipped", c.vus, i, o.n)
			}
			if o.started {
				started = append(started, o.n)
			}
		}
		if len(got) != 30 || !slices.Equal(started, c.want) {
			t.Errorf("%d VUs: %d offered, started %v; want 30 offered, started %v", c.vus, len(got), started, c.want)
		}
		if st := p.Stats(); st.Started != int64(len(c.want)) || st.Dropped != int64(30-len(c.want)) {
			t.Errorf("%d VUs: stats started %d dropped %d", c.vus, st.Started, st.Dropped)
		}
	}
}

func TestVUPoolRefusesWhenFull(t *testing.T) {
	var v vuPool
	v.setSize(2)
	release := make(chan struct{})
	var ran atomic.Int64
	block := func() { <-release; ran.Add(1) }
	for i := range 2 {
		if !v.tryGo(block) {
			t.Fatalf("free slot %d was refused", i+1)
		}
	}
	if v.tryGo(func() { t.Error("ran a third function on two slots") }) {
		t.Error("a third function was accepted on two slots")
	}
	if v.active.Load() != 2 || v.peak.Load() != 2 {
		t.Errorf("active %d, peak %d; want 2, 2", v.active.Load(), v.peak.Load())
	}
	close(release)
	v.wait()
	if ran.Load() != 2 || v.active.Load() != 0 {
		t.Errorf("after wait: ran %d, active %d; want 2, 0", ran.Load(), v.active.Load())
	}
	if !v.tryGo(func() {}) {
		t.Error("a slot was not given back")
	}
	v.wait()
	if v.peak.Load() != 2 {
		t.Errorf("peak %d, want 2", v.peak.Load())
	}
}

func TestRunStartsEveryDueIteration(t *testing.T) {
	// More VUs than iterations due: none can be dropped, whatever the
	// goroutines' timing.
	clk := newFakeClock()
	p := &Pacer{Schedule: Constant(200, 500*time.Millisecond), MaxVUs: 100, clock: clk}
	var mu sync.Mutex
	seen := map[int64]int{}
	st := p.Run(context.Background(), func(_ context.Context, n int64) {
		mu.Lock()
		seen[n]++
		mu.Unlock()
	})
	if st.Started != 100 || st.Dropped != 0 || len(seen) != 100 {
		t.Fatalf("started %d, dropped %d, ran %d distinct; want 100, 0, 100", st.Started, st.Dropped, len(seen))
	}
	for n := range int64(100) {
		if seen[n] != 1 {
			t.Errorf("iteration %d ran %d times", n, seen[n])
		}
	}
	if st.MaxVUs < 1 || st.MaxVUs > 100 || p.Active() != 0 {
		t.Errorf("max VUs %d, active after Run %d", st.MaxVUs, p.Active())
	}
	// Elapsed is on the pacer's clock: the last iteration was due at 495 ms.
	if st.Elapsed != 495*time.Millisecond {
		t.Errorf("elapsed %v on the fake clock, want 495ms", st.Elapsed)
	}
}

func TestRunStopsOnContextAndDrops(t *testing.T) {
	// An hour-long schedule at 100/s, stopped by its context after the
	// iterations due at 0, 10, …, 290 ms. Every iteration holds its VU
	// until the context is done, so with one VU the other 29 are dropped.
	for _, c := range []struct {
		vus              int
		started, dropped int64
	}{{1, 1, 29}, {64, 30, 0}} {
		ctx, cancel := context.WithCancel(context.Background())
		clk := newFakeClock()
		clk.stopAt, clk.cancel = clk.now.Add(295*time.Millisecond), cancel
		p := &Pacer{Schedule: Constant(100, time.Hour), MaxVUs: c.vus, clock: clk}
		st := p.Run(ctx, func(ctx context.Context, n int64) { <-ctx.Done() })
		cancel()
		if st.Started != c.started || st.Dropped != c.dropped || st.MaxVUs != c.started {
			t.Errorf("%d VUs: started %d, dropped %d, max VUs %d; want %d, %d, %d",
				c.vus, st.Started, st.Dropped, st.MaxVUs, c.started, c.dropped, c.started)
		}
		if st.Elapsed != 295*time.Millisecond {
			t.Errorf("%d VUs: elapsed %v on the fake clock, want 295ms", c.vus, st.Elapsed)
		}
	}
}

func TestWallClockSleepUntil(t *testing.T) {
	var c wallClock
	if !c.SleepUntil(context.Background(), c.Now().Add(-time.Second)) {
		t.Error("a time already past was not reached")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if c.SleepUntil(ctx, c.Now().Add(-time.Second)) {
		t.Error("a done context was ignored for a past time")
	}
	if c.SleepUntil(ctx, c.Now().Add(time.Hour)) {
		t.Error("a done context did not end the wait")
	}
}
