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

	started, dropped, active, maxActive atomic.Int64
	begin                               atomic.Int64 // unix nanos, for progress
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
		el = time.Since(time.Unix(0, b))
	}
	return PacerStats{Started: p.started.Load(), Dropped: p.dropped.Load(), MaxVUs: p.maxActive.Load(), Elapsed: el}
}

// Active is the number of iterations running now.
func (p *Pacer) Active() int64 { return p.active.Load() }

// Run emits iterations until the schedule ends or ctx is done, then waits
// for the running ones. Iterations must return soon after ctx is done.
func (p *Pacer) Run(ctx context.Context, iteration func(ctx context.Context, n int64)) PacerStats {
	maxVUs := max(p.MaxVUs, 1)
	slots := make(chan struct{}, maxVUs)
	var wg sync.WaitGroup
	start := time.Now()
	p.begin.Store(start.UnixNano())
	total := p.Schedule.Duration()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()

emit:
	for n := int64(0); ; n++ {
		due, ok := p.Schedule.TimeOf(float64(n))
		if !ok || due >= total {
			break
		}
		if wait := time.Until(start.Add(due)); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				break emit
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			break
		}
		select {
		case slots <- struct{}{}:
			p.started.Add(1)
			a := p.active.Add(1)
			for m := p.maxActive.Load(); a > m && !p.maxActive.CompareAndSwap(m, a); m = p.maxActive.Load() {
			}
			wg.Go(func() {
				defer func() {
					p.active.Add(-1)
					<-slots
				}()
				iteration(ctx, n)
			})
		default:
			p.dropped.Add(1)
		}
	}
	wg.Wait()
	st := p.Stats()
	st.Elapsed = time.Since(start)
	return st
}
