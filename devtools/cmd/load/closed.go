package main

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// ClosedLoop is k6's constant-vus executor: VUs virtual users, each
// running iterations back to back until Duration has passed. Unlike the
// Pacer's open model, the offered load follows the server: a user sends
// its next iteration only when the last one is answered, so a fast answer
// (a 503, say) brings the next request sooner. That is how most real
// clients behave, and why shedding can turn into a busy loop.
type ClosedLoop struct {
	VUs      int
	Duration time.Duration

	// clock is the wall clock unless a test sets it.
	clock clock

	started      atomic.Int64
	active, peak atomic.Int64
	begin        atomic.Int64 // the clock's unix nanos at the start
}

func (l *ClosedLoop) now() time.Time {
	if l.clock != nil {
		return l.clock.Now()
	}
	return time.Now()
}

// Stats can be called while Run is running.
func (l *ClosedLoop) Stats() PacerStats {
	var el time.Duration
	if b := l.begin.Load(); b != 0 {
		el = l.now().Sub(time.Unix(0, b))
	}
	return PacerStats{Started: l.started.Load(), MaxVUs: l.peak.Load(), Elapsed: el}
}

// Active is the number of iterations running now.
func (l *ClosedLoop) Active() int64 { return l.active.Load() }

// Run starts the VUs at start and returns when every one has finished its
// last iteration. A VU starts an iteration only before start+Duration and
// while ctx is not done; an iteration running at the end may finish (k6's
// gracefulStop: ctx's deadline is the hard stop). Iterations are numbered
// across VUs in the order they start.
func (l *ClosedLoop) Run(ctx context.Context, start time.Time, iteration func(ctx context.Context, n int64)) PacerStats {
	l.begin.Store(start.UnixNano())
	end := start.Add(l.Duration)
	var wg sync.WaitGroup
	for range max(l.VUs, 1) {
		wg.Go(func() {
			for ctx.Err() == nil && l.now().Before(end) {
				n := l.started.Add(1) - 1
				a := l.active.Add(1)
				for m := l.peak.Load(); a > m && !l.peak.CompareAndSwap(m, a); m = l.peak.Load() {
				}
				iteration(ctx, n)
				l.active.Add(-1)
			}
		})
	}
	wg.Wait()
	st := l.Stats()
	st.Elapsed = l.now().Sub(start)
	return st
}
