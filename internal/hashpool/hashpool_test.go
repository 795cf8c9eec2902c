package hashpool

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/authd/authd/internal/argon2id"
	"github.com/authd/authd/internal/auth"
)

var (
	_ Inner               = (*argon2id.Hasher)(nil) // what the pool runs in production
	_ auth.PasswordHasher = (*Pool)(nil)            // what the auth service depends on
)

// fakeClock makes the measured hash durations, and so the predictions,
// independent of how fast the machine or the race detector is.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fakeInner stands in for Argon2. Every call announces itself on started
// (if set), costs cost on clock (if set), sleeps sleep, and then blocks
// until it can receive from gate (if set).
type fakeInner struct {
	clock   *fakeClock
	cost    time.Duration
	sleep   time.Duration
	started chan struct{}
	gate    chan struct{}

	inFlight    atomic.Int32
	maxInFlight atomic.Int32
	calls       atomic.Int32
}

func (f *fakeInner) work() {
	f.calls.Add(1)
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		m := f.maxInFlight.Load()
		if n <= m || f.maxInFlight.CompareAndSwap(m, n) {
			break
		}
	}
	if f.started != nil {
		f.started <- struct{}{}
	}
	if f.clock != nil {
		f.clock.Advance(f.cost)
	}
	if f.sleep > 0 {
		time.Sleep(f.sleep)
	}
	if f.gate != nil {
		<-f.gate
	}
}

func (f *fakeInner) Hash(ctx context.Context, password string) (string, error) {
	f.work()
	return "hash:" + password, nil
}

func (f *fakeInner) Verify(ctx context.Context, password, encoded string) (bool, bool, error) {
	f.work()
	return encoded == "hash:"+password, false, nil
}

func (f *fakeInner) DummyHash() string {
	f.work()
	return "hash:dummy"
}

// newTestPool returns a pool on a fake clock, registered with a fresh
// registry.
func newTestPool(t testing.TB, inner *fakeInner, cfg Config) (*Pool, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	p := New(inner, cfg, reg)
	if inner.clock != nil {
		p.now = inner.clock.Now
	}
	return p, reg
}

// waitFor polls cond until it holds. The deadline only turns a deadlock
// into a failure; no test depends on how fast anything runs.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// receive returns the next value of ch, failing the test on a deadlock.
func receive[T any](t *testing.T, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// goHash runs p.Hash in a goroutine and delivers its error.
func goHash(ctx context.Context, p *Pool) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := p.Hash(ctx, "pw")
		done <- err
	}()
	return done
}

// wantOverloaded checks err is the 503 the HTTP layer expects.
func wantOverloaded(t *testing.T, err error) *auth.Error {
	t.Helper()
	var ae *auth.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error = %v, want an *auth.Error", err)
	}
	if ae.Kind != auth.KindUnavailable || ae.Code != auth.CodeOverloaded {
		t.Fatalf("error kind, code = %v, %q, want KindUnavailable, %q", ae.Kind, ae.Code, auth.CodeOverloaded)
	}
	if ae.RetryAfter < time.Second {
		t.Errorf("RetryAfter = %v, want at least 1s", ae.RetryAfter)
	}
	if !errors.Is(err, ErrOverloaded) {
		t.Errorf("error = %v, want it to wrap ErrOverloaded", err)
	}
	return ae
}

func TestConfigDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   Config
		want Config
	}{
		{"explicit", Config{Size: 3, WaitBudget: 2 * time.Second, MaxQueue: 7}, Config{Size: 3, WaitBudget: 2 * time.Second, MaxQueue: 7}},
		{"zero budget and queue", Config{Size: 2}, Config{Size: 2, WaitBudget: time.Second, MaxQueue: 128}},
		{"negative", Config{Size: 4, WaitBudget: -1, MaxQueue: -1}, Config{Size: 4, WaitBudget: time.Second, MaxQueue: 256}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.in.withDefaults(); got != tt.want {
				t.Errorf("withDefaults() = %+v, want %+v", got, tt.want)
			}
		})
	}
	if got := (Config{}).withDefaults(); got.Size < 1 || got.MaxQueue != got.Size*64 {
		t.Errorf("Config{}.withDefaults() = %+v, want Size >= 1 and MaxQueue = Size*64", got)
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		predicted, want time.Duration
	}{
		{0, time.Second},
		{100 * time.Millisecond, time.Second},
		{time.Second, time.Second},
		{time.Second + time.Nanosecond, 2 * time.Second},
		{2500 * time.Millisecond, 3 * time.Second},
		{3 * time.Second, 3 * time.Second},
	}
	for _, tt := range tests {
		if got := retryAfter(tt.predicted); got != tt.want {
			t.Errorf("retryAfter(%v) = %v, want %v", tt.predicted, got, tt.want)
		}
	}
}

func TestThirdCallWaitsForAFreeSlot(t *testing.T) {
	inner := &fakeInner{started: make(chan struct{}), gate: make(chan struct{})}
	p, _ := newTestPool(t, inner, Config{Size: 2, WaitBudget: time.Hour})
	ctx := context.Background()

	first, second := goHash(ctx, p), goHash(ctx, p)
	receive(t, "the first call to start", inner.started)
	receive(t, "the second call to start", inner.started)
	third := goHash(ctx, p)
	waitFor(t, "the third call to queue", func() bool { return p.Stats().Queued == 1 })
	if got := p.Stats().InFlight; got != 2 {
		t.Errorf("InFlight = %d while two calls run, want 2", got)
	}

	inner.gate <- struct{}{} // one of the first two finishes
	receive(t, "the third call to start", inner.started)
	inner.gate <- struct{}{}
	inner.gate <- struct{}{}
	for i, done := range []<-chan error{first, second, third} {
		if err := receive(t, "a call to finish", done); err != nil {
			t.Errorf("call %d: Hash() error = %v", i+1, err)
		}
	}
	if got := inner.maxInFlight.Load(); got != 2 {
		t.Errorf("max concurrent hashes = %d, want 2", got)
	}
	if s := p.Stats(); s.InFlight != 0 || s.Queued != 0 || s.Rejected != 0 {
		t.Errorf("Stats() = %+v after draining, want nothing in flight, queued or rejected", s)
	}
}

func TestSaturatedPoolRejectsAtOnceAndRecovers(t *testing.T) {
	inner := &fakeInner{clock: &fakeClock{}, cost: 50 * time.Millisecond}
	p, _ := newTestPool(t, inner, Config{Size: 1, WaitBudget: 60 * time.Millisecond, MaxQueue: 1000})
	ctx := context.Background()

	// Establish the cost of a hash before the pool is busy.
	if _, err := p.Hash(ctx, "pw"); err != nil {
		t.Fatalf("Hash() error = %v", err)
	}
	if got := p.Stats().AvgHash; got != 50*time.Millisecond {
		t.Fatalf("AvgHash = %v after one 50ms hash, want 50ms", got)
	}

	inner.started, inner.gate = make(chan struct{}), make(chan struct{})
	holder := goHash(ctx, p)
	receive(t, "the first call to start", inner.started)
	// Predicted wait 1 × 50ms fits the 60ms budget.
	waiter := goHash(ctx, p)
	waitFor(t, "the second call to queue", func() bool { return p.Stats().Queued == 1 })

	// Predicted wait 2 × 50ms does not: refused without queueing. Run it
	// aside so that a wrongly queued call fails the test instead of
	// hanging it.
	ae := wantOverloaded(t, receive(t, "the rejection", goHash(ctx, p)))
	if ae.RetryAfter != time.Second {
		t.Errorf("RetryAfter = %v for a predicted 100ms, want 1s", ae.RetryAfter)
	}
	if ae.Message == "" {
		t.Error("rejection has no client message")
	}
	if s := p.Stats(); s.Rejected != 1 || s.Queued != 1 {
		t.Errorf("Stats() = %+v, want 1 rejected and still 1 queued", s)
	}

	// Drain: the holder finishes, the waiter takes its slot and finishes.
	inner.gate <- struct{}{}
	receive(t, "the waiter to start", inner.started)
	inner.gate <- struct{}{}
	for _, done := range []<-chan error{holder, waiter} {
		if err := receive(t, "an admitted call to finish", done); err != nil {
			t.Errorf("admitted call: Hash() error = %v", err)
		}
	}

	// A freed pool serves again.
	inner.started, inner.gate = nil, nil
	if _, err := p.Hash(ctx, "pw"); err != nil {
		t.Errorf("Hash() on a drained pool error = %v", err)
	}
	if _, _, err := p.Verify(ctx, "pw", "hash:pw"); err != nil {
		t.Errorf("Verify() on a drained pool error = %v", err)
	}
	if s := p.Stats(); s.Rejected != 1 || s.InFlight != 0 || s.Queued != 0 {
		t.Errorf("Stats() = %+v after draining, want 1 rejected, none in flight or queued", s)
	}
}

func TestMaxQueueRejectsRegardlessOfPrediction(t *testing.T) {
	inner := &fakeInner{started: make(chan struct{}), gate: make(chan struct{})}
	// No hash measured yet, so the predicted wait is 0: only MaxQueue
	// can refuse.
	p, _ := newTestPool(t, inner, Config{Size: 1, WaitBudget: time.Hour, MaxQueue: 1})
	ctx := context.Background()

	holder := goHash(ctx, p)
	receive(t, "the first call to start", inner.started)
	waiter := goHash(ctx, p)
	waitFor(t, "the second call to queue", func() bool { return p.Stats().Queued == 1 })

	ae := wantOverloaded(t, receive(t, "the rejection", goHash(ctx, p)))
	if ae.RetryAfter != time.Second {
		t.Errorf("RetryAfter = %v, want 1s", ae.RetryAfter)
	}
	// Verify is admitted the same way.
	_, _, err := p.Verify(ctx, "pw", "hash:pw")
	wantOverloaded(t, err)
	if got := p.Stats().Rejected; got != 2 {
		t.Errorf("Rejected = %d, want 2", got)
	}

	inner.gate <- struct{}{}
	receive(t, "the waiter to start", inner.started)
	inner.gate <- struct{}{}
	for _, done := range []<-chan error{holder, waiter} {
		if err := receive(t, "an admitted call to finish", done); err != nil {
			t.Errorf("admitted call: Hash() error = %v", err)
		}
	}
}

func TestContextEndsWhileWaiting(t *testing.T) {
	tests := []struct {
		name    string
		ctx     func() (context.Context, context.CancelFunc)
		cancel  bool // cancel once queued
		wantErr error
	}{
		{"cancelled", func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }, true, context.Canceled},
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithDeadline(context.Background(), time.Unix(0, 0))
		}, false, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inner := &fakeInner{started: make(chan struct{}), gate: make(chan struct{})}
			p, reg := newTestPool(t, inner, Config{Size: 1, WaitBudget: time.Hour})

			holder := goHash(context.Background(), p)
			receive(t, "the first call to start", inner.started)

			ctx, cancel := tt.ctx()
			defer cancel()
			waiter := goHash(ctx, p)
			if tt.cancel {
				waitFor(t, "the second call to queue", func() bool { return p.Stats().Queued == 1 })
				cancel()
			}
			err := receive(t, "the waiter to give up", waiter)
			wantOverloaded(t, err)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("error = %v, want it to wrap %v", err, tt.wantErr)
			}
			if s := p.Stats(); s.Queued != 0 || s.Rejected != 0 {
				t.Errorf("Stats() = %+v after the waiter gave up, want none queued and none rejected", s)
			}
			if got := gaugeValue(t, reg, "authd_hash_queue_depth"); got != 0 {
				t.Errorf("authd_hash_queue_depth = %v, want 0", got)
			}

			// The slot was not leaked: once the holder finishes, the
			// pool serves again.
			inner.gate <- struct{}{}
			if err := receive(t, "the holder to finish", holder); err != nil {
				t.Fatalf("holder: Hash() error = %v", err)
			}
			inner.started, inner.gate = nil, nil
			if _, err := p.Hash(context.Background(), "pw"); err != nil {
				t.Errorf("Hash() after the waiter gave up error = %v", err)
			}
			if got := inner.calls.Load(); got != 2 {
				t.Errorf("inner ran %d times, want 2 (the waiter never hashed)", got)
			}
		})
	}
}

func TestDummyHashRunsInThePoolOnce(t *testing.T) {
	inner := &fakeInner{clock: &fakeClock{}, cost: 40 * time.Millisecond}
	p, _ := newTestPool(t, inner, Config{Size: 1})
	for range 3 {
		if got := p.DummyHash(); got != "hash:dummy" {
			t.Fatalf("DummyHash() = %q, want %q", got, "hash:dummy")
		}
	}
	if got := inner.calls.Load(); got != 1 {
		t.Errorf("inner.DummyHash ran %d times, want 1", got)
	}
	if s := p.Stats(); s.InFlight != 0 || s.AvgHash != 40*time.Millisecond {
		t.Errorf("Stats() = %+v, want the slot freed and the dummy hash measured", s)
	}
}

// metric returns the single sample of the named family in reg.
func metric(t *testing.T, reg *prometheus.Registry, name string) (*dto.Metric, dto.MetricType) {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather() error = %v", err)
	}
	for _, f := range families {
		if f.GetName() == name {
			if len(f.GetMetric()) != 1 {
				t.Fatalf("%s has %d samples, want 1", name, len(f.GetMetric()))
			}
			return f.GetMetric()[0], f.GetType()
		}
	}
	t.Fatalf("metric %s is not registered", name)
	return nil, 0
}

func gaugeValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	m, _ := metric(t, reg, name)
	return m.GetGauge().GetValue()
}

func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	m, _ := metric(t, reg, name)
	return m.GetCounter().GetValue()
}

func histogramCount(t *testing.T, reg *prometheus.Registry, name string) uint64 {
	t.Helper()
	m, _ := metric(t, reg, name)
	return m.GetHistogram().GetSampleCount()
}

func TestMetrics(t *testing.T) {
	inner := &fakeInner{clock: &fakeClock{}, cost: 50 * time.Millisecond}
	p, reg := newTestPool(t, inner, Config{Size: 1, WaitBudget: 60 * time.Millisecond})
	ctx := context.Background()

	types := map[string]dto.MetricType{
		"authd_hash_pool_size":        dto.MetricType_GAUGE,
		"authd_hash_in_flight":        dto.MetricType_GAUGE,
		"authd_hash_queue_depth":      dto.MetricType_GAUGE,
		"authd_hash_wait_seconds":     dto.MetricType_HISTOGRAM,
		"authd_hash_duration_seconds": dto.MetricType_HISTOGRAM,
		"authd_hash_rejected_total":   dto.MetricType_COUNTER,
	}
	for name, want := range types {
		if _, got := metric(t, reg, name); got != want {
			t.Errorf("%s type = %v, want %v", name, got, want)
		}
	}
	if got := gaugeValue(t, reg, "authd_hash_pool_size"); got != 1 {
		t.Errorf("authd_hash_pool_size = %v, want 1", got)
	}

	if _, err := p.Hash(ctx, "pw"); err != nil {
		t.Fatalf("Hash() error = %v", err)
	}
	if got := histogramCount(t, reg, "authd_hash_duration_seconds"); got != 1 {
		t.Errorf("authd_hash_duration_seconds count = %d, want 1", got)
	}
	if m, _ := metric(t, reg, "authd_hash_duration_seconds"); m.GetHistogram().GetSampleSum() != 0.05 {
		t.Errorf("authd_hash_duration_seconds sum = %v, want 0.05", m.GetHistogram().GetSampleSum())
	}

	inner.started, inner.gate = make(chan struct{}), make(chan struct{})
	holder := goHash(ctx, p)
	receive(t, "the first call to start", inner.started)
	waiter := goHash(ctx, p)
	waitFor(t, "the second call to queue", func() bool { return p.Stats().Queued == 1 })
	for name, want := range map[string]float64{"authd_hash_in_flight": 1, "authd_hash_queue_depth": 1} {
		if got := gaugeValue(t, reg, name); got != want {
			t.Errorf("%s = %v while saturated, want %v", name, got, want)
		}
	}
	wantOverloaded(t, receive(t, "the rejection", goHash(ctx, p)))
	if got := counterValue(t, reg, "authd_hash_rejected_total"); got != 1 {
		t.Errorf("authd_hash_rejected_total = %v, want 1", got)
	}

	inner.gate <- struct{}{}
	receive(t, "the waiter to start", inner.started)
	inner.gate <- struct{}{}
	receive(t, "the holder to finish", holder)
	receive(t, "the waiter to finish", waiter)
	for name, want := range map[string]float64{"authd_hash_in_flight": 0, "authd_hash_queue_depth": 0} {
		if got := gaugeValue(t, reg, name); got != want {
			t.Errorf("%s = %v after draining, want %v", name, got, want)
		}
	}
	// Three admitted calls waited (two at once, one in the queue); the
	// rejected one is not a wait.
	if got := histogramCount(t, reg, "authd_hash_wait_seconds"); got != 3 {
		t.Errorf("authd_hash_wait_seconds count = %d, want 3", got)
	}
	if got := histogramCount(t, reg, "authd_hash_duration_seconds"); got != 3 {
		t.Errorf("authd_hash_duration_seconds count = %d, want 3", got)
	}
}

func TestNilRegisterer(t *testing.T) {
	p := New(&fakeInner{}, Config{Size: 1}, nil)
	if _, err := p.Hash(context.Background(), "pw"); err != nil {
		t.Errorf("Hash() error = %v", err)
	}
}

func TestConcurrentStress(t *testing.T) {
	const (
		size       = 2
		goroutines = 50
		calls      = 20
	)
	inner := &fakeInner{sleep: 50 * time.Microsecond}
	p, _ := newTestPool(t, inner, Config{Size: size, WaitBudget: time.Hour})
	ctx := context.Background()

	var wg sync.WaitGroup
	errs := make(chan error, goroutines*calls)
	for g := range goroutines {
		wg.Go(func() {
			for i := range calls {
				pw := fmt.Sprintf("pw-%d-%d", g, i)
				if i%2 == 0 {
					if _, err := p.Hash(ctx, pw); err != nil {
						errs <- err
					}
					continue
				}
				match, _, err := p.Verify(ctx, pw, "hash:"+pw)
				if err != nil {
					errs <- err
				} else if !match {
					errs <- fmt.Errorf("Verify(%q) = no match", pw)
				}
				_ = p.Stats() // readers race with writers too
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := inner.maxInFlight.Load(); got > size {
		t.Errorf("max concurrent hashes = %d, want at most %d", got, size)
	}
	if got := inner.calls.Load(); got != goroutines*calls {
		t.Errorf("inner ran %d times, want %d", got, goroutines*calls)
	}
	if s := p.Stats(); s.InFlight != 0 || s.Queued != 0 || s.Rejected != 0 {
		t.Errorf("Stats() = %+v, want nothing in flight, queued or rejected", s)
	}
}

// nopInner does no work, so the benchmark measures the pool alone.
type nopInner struct{}

func (nopInner) Hash(context.Context, string) (string, error) { return "h", nil }
func (nopInner) Verify(context.Context, string, string) (bool, bool, error) {
	return true, false, nil
}
func (nopInner) DummyHash() string { return "h" }

func BenchmarkPoolOverhead(b *testing.B) {
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		p := New(nopInner{}, Config{}, prometheus.NewRegistry())
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := p.Verify(ctx, "pw", "h"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		// As many goroutines as slots: measures contention on the
		// semaphore and the mutex, never a rejection.
		p := New(nopInner{}, Config{}, prometheus.NewRegistry())
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, _, err := p.Verify(ctx, "pw", "h"); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// TestAdmitAnswersWhatAHashWouldGet: Admit follows the admission rule of a
// real call (a free slot, a queue place within the budget, a refusal)
// without taking a slot or a queue place; a refusal counts as a rejection.
func TestAdmitAnswersWhatAHashWouldGet(t *testing.T) {
	inner := &fakeInner{clock: &fakeClock{}, cost: 50 * time.Millisecond}
	p, _ := newTestPool(t, inner, Config{Size: 1, WaitBudget: 60 * time.Millisecond, MaxQueue: 1000})
	ctx := context.Background()
	if err := p.Admit(); err != nil {
		t.Fatalf("Admit() on an idle pool = %v", err)
	}
	if _, err := p.Hash(ctx, "pw"); err != nil { // measures the cost: 50ms
		t.Fatal(err)
	}

	inner.started, inner.gate = make(chan struct{}), make(chan struct{})
	holder := goHash(ctx, p)
	receive(t, "the first call to start", inner.started)
	if err := p.Admit(); err != nil {
		t.Errorf("Admit() with a queue place within the budget = %v", err)
	}
	waiter := goHash(ctx, p)
	waitFor(t, "the second call to queue", func() bool { return p.Stats().Queued == 1 })

	before := p.Stats()
	ae := wantOverloaded(t, p.Admit())
	if ae.RetryAfter != time.Second {
		t.Errorf("RetryAfter = %v, want 1s", ae.RetryAfter)
	}
	before.Rejected++
	if after := p.Stats(); after != before {
		t.Errorf("Admit() changed the pool beyond one rejection: %+v, then %+v", before, after)
	}
	// What Admit said is what the hash gets.
	wantOverloaded(t, receive(t, "the rejection", goHash(ctx, p)))

	inner.gate <- struct{}{}
	receive(t, "the waiter to start", inner.started)
	inner.gate <- struct{}{}
	for _, done := range []<-chan error{holder, waiter} {
		if err := receive(t, "an admitted call to finish", done); err != nil {
			t.Errorf("admitted call: %v", err)
		}
	}
	if err := p.Admit(); err != nil {
		t.Errorf("Admit() on a drained pool = %v", err)
	}
}
