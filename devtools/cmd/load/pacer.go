package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Stage ramps the arrival rate linearly to Target iterations per second
// over Duration, like a stage of k6's ramping-arrival-rate executor.
type Stage struct {
	Duration time.Duration `json:"duration"`
	Target   float64       `json:"target"`
}

// Schedule is an open-model arrival schedule: iterations are due at the
// rate the schedule says, whatever the server's latency. A closed model
// (N workers looping) would slow down with the server and hide overload,
// which is what the old service's numbers are about.
type Schedule struct {
	StartRate float64 `json:"start_rate"`
	Stages    []Stage `json:"stages"`
}

// Constant is a schedule at one rate for d.
func Constant(rate float64, d time.Duration) Schedule {
	return Schedule{StartRate: rate, Stages: []Stage{{Duration: d, Target: rate}}}
}

// Duration is the length of the whole schedule.
func (s Schedule) Duration() time.Duration {
	var d time.Duration
	for _, st := range s.Stages {
		d += st.Duration
	}
	return d
}

// RateAt is the target rate at t, for progress output.
func (s Schedule) RateAt(t time.Duration) float64 {
	from := s.StartRate
	for _, st := range s.Stages {
		if t < st.Duration {
			return from + (st.Target-from)*float64(t)/float64(st.Duration)
		}
		t -= st.Duration
		from = st.Target
	}
	return from
}

// CountAt is how many iterations are due in [0, t): the integral of the
// piecewise-linear rate.
func (s Schedule) CountAt(t time.Duration) float64 {
	from, total := s.StartRate, 0.0
	for _, st := range s.Stages {
		d := st.Duration.Seconds()
		if t < st.Duration {
			tau := t.Seconds()
			return total + from*tau + (st.Target-from)/(2*d)*tau*tau
		}
		total += (from + st.Target) / 2 * d
		t -= st.Duration
		from = st.Target
	}
	return total
}

// TimeOf is when iteration n (from 0) is due: the t at which CountAt(t)
// reaches n. ok is false when the schedule ends first. Solving the
// quadratic per iteration, rather than ticking a timer at the current
// rate, keeps the count exact across ramps and after scheduler stalls.
func (s Schedule) TimeOf(n float64) (time.Duration, bool) {
	from, done := s.StartRate, 0.0
	var offset time.Duration
	for _, st := range s.Stages {
		d := st.Duration.Seconds()
		end := done + (from+st.Target)/2*d
		if n < end && d > 0 {
			k := n - done
			if k <= 0 {
				return offset, true
			}
			a := (st.Target - from) / (2 * d)
			// This form of the root avoids cancellation when a is near
			// zero and still holds for a constant rate (a == 0).
			tau := 2 * k / (from + math.Sqrt(math.Max(0, from*from+4*a*k)))
			return offset + time.Duration(tau*float64(time.Second)), true
		}
		done = end
		offset += st.Duration
		from = st.Target
	}
	return 0, false
}

// ParseStages reads "30s:50,60s:150" (duration:target pairs).
func ParseStages(spec string) ([]Stage, error) {
	var out []Stage
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		ds, ts, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("stage %q: want duration:target, e.g. 30s:50", part)
		}
		d, err := time.ParseDuration(strings.TrimSpace(ds))
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("stage %q: bad duration %q", part, ds)
		}
		t, err := strconv.ParseFloat(strings.TrimSpace(ts), 64)
		if err != nil || t < 0 || math.IsInf(t, 0) || math.IsNaN(t) {
			return nil, fmt.Errorf("stage %q: bad target %q", part, ts)
		}
		out = append(out, Stage{Duration: d, Target: t})
	}
	if len(out) == 0 {
		return nil, errors.New("no stages")
	}
	return out, nil
}

// Pacer starts iterations on a Schedule with at most MaxVUs running at
// once. An iteration that is due while every VU is busy is dropped, not
// queued, exactly as k6 counts dropped_iterations: queueing would turn
// the open model back into a closed one and the lateness would vanish
// from the figures.
type Pacer struct {
	Schedule Schedule
	MaxVUs   int
	// CountFrom leaves iterations due before it (a warm-up) out of the
	// dropped count.
	CountFrom time.Duration

	// clock is the wall clock unless a test sets it.
	clock clock

	started, dropped atomic.Int64
	begin            atomic.Int64 // the clock's unix nanos at the start, for progress
	vus              vuPool
}

// clock is where the pacer reads the time and waits for an iteration to
// be due. Tests give it a fake one, so they check which iterations start
// when without waiting for the schedule.
type clock interface {
	Now() time.Time
	// SleepUntil waits until t (not at all if t has passed) and reports
	// whether it got there before ctx was done.
	SleepUntil(ctx context.Context, t time.Time) bool
}

// wallClock is the real time. Its timer is reused across waits; only the
// pacer's emitting goroutine sleeps on it.
type wallClock struct{ timer *time.Timer }

func (*wallClock) Now() time.Time { return time.Now() }

func (c *wallClock) SleepUntil(ctx context.Context, t time.Time) bool {
	wait := time.Until(t)
	if wait <= 0 {
		return ctx.Err() == nil
	}
	if c.timer == nil {
		c.timer = time.NewTimer(wait)
	} else {
		c.timer.Reset(wait)
	}
	select {
	case <-ctx.Done():
		c.timer.Stop()
		return false
	case <-c.timer.C:
		return true
	}
}

func (p *Pacer) now() time.Time {
	if p.clock != nil {
		return p.clock.Now()
	}
	return time.Now()
}

// PacerStats is what the pacer counted.
type PacerStats struct {
	Started int64
	Dropped int64
	MaxVUs  int64 // most iterations running at once
	Elapsed time.Duration
}

// Stats can be called while Run is running.
func (p *Pacer) Stats() PacerStats {
	var el time.Duration
	if b := p.begin.Load(); b != 0 {
		el = p.now().Sub(time.Unix(0, b))
	}
	return PacerStats{Started: p.started.Load(), Dropped: p.dropped.Load(), MaxVUs: p.vus.peak.Load(), Elapsed: el}
}

// Active is the number of iterations running now.
func (p *Pacer) Active() int64 { return p.vus.active.Load() }

// Run emits iterations until the schedule ends or ctx is done, then waits
// for the running ones. Iterations must return soon after ctx is done.
func (p *Pacer) Run(ctx context.Context, iteration func(ctx context.Context, n int64)) PacerStats {
	clk := p.clock
	if clk == nil {
		clk = &wallClock{}
	}
	p.vus.setSize(max(p.MaxVUs, 1))
	start := clk.Now()
	p.begin.Store(start.UnixNano())
	p.emit(ctx, clk, start, func(n int64) bool {
		return p.vus.tryGo(func() { iteration(ctx, n) })
	})
	p.vus.wait()
	st := p.Stats()
	st.Elapsed = clk.Now().Sub(start)
	return st
}

// emit walks the schedule from start: it waits until iteration n is due,
// then offers it to tryStart, which starts it (true) or finds every VU
// busy (false: dropped). It returns when the schedule ends or ctx is done.
func (p *Pacer) emit(ctx context.Context, clk clock, start time.Time, tryStart func(n int64) bool) {
	total := p.Schedule.Duration()
	for n := int64(0); ; n++ {
		due, ok := p.Schedule.TimeOf(float64(n))
		if !ok || due >= total {
			return
		}
		if !clk.SleepUntil(ctx, start.Add(due)) {
			return
		}
		if tryStart(n) {
			p.started.Add(1)
		} else if due >= p.CountFrom {
			p.dropped.Add(1)
		}
	}
}

// vuPool runs functions on at most its size of goroutines at once, and
// refuses one more rather than queue it.
type vuPool struct {
	slots        chan struct{}
	wg           sync.WaitGroup
	active, peak atomic.Int64 // running now, most at once
}

func (v *vuPool) setSize(n int) { v.slots = make(chan struct{}, n) }

// tryGo runs fn on a goroutine of its own if a slot is free and reports
// whether it did.
func (v *vuPool) tryGo(fn func()) bool {
	select {
	case v.slots <- struct{}{}:
	default:
		return false
	}
	a := v.active.Add(1)
	for m := v.peak.Load(); a > m && !v.peak.CompareAndSwap(m, a); m = v.peak.Load() {
	}
	v.wg.Go(func() {
		defer func() {
			v.active.Add(-1)
			<-v.slots
		}()
		fn()
	})
	return true
}

// wait returns when every function started so far has returned.
func (v *vuPool) wait() { v.wg.Wait() }
