// Package hashpool is the admission control in front of password hashing.
//
// Argon2id is deliberately expensive in CPU and memory, so an auth server
// under a burst of logins cannot simply start every hash it is asked for:
// memory would grow with the number of concurrent requests and every request
// would slow down together. A Pool runs at most Size hashes at once (one per
// usable CPU by default), each in its caller's goroutine, so memory stays
// bounded by Size × the Argon2 memory cost. Callers that find every slot busy
// wait in a bounded queue, but only if the wait predicted from the recent
// hash duration fits a budget: otherwise they are refused at once with an
// overload error carrying a Retry-After, which the HTTP layer turns into a
// 503. Failing fast is kinder to clients than a request that queues until
// its deadline and then fails anyway, and it keeps the queue short enough
// that the requests that are admitted still answer in time.
package hashpool

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/authd/authd/internal/auth"
)

// Inner is the hasher doing the work; *argon2id.Hasher satisfies it.
type Inner interface {
	Hash(ctx context.Context, password string) (string, error)
	Verify(ctx context.Context, password, encoded string) (match, rehash bool, err error)
	DummyHash() string
}

// ErrOverloaded is wrapped (as the log-only cause) by the *auth.Error a
// Pool returns when it refuses or gives up on a caller.
var ErrOverloaded = errors.New("hashpool: overloaded")

const (
	defaultWaitBudget = time.Second
	// defaultQueuePerSlot bounds the queue when predictions are off, for
	// example before the first hash has been measured.
	defaultQueuePerSlot = 64
)

// Config sizes a Pool. Zero (or negative) fields take their defaults.
type Config struct {
	// Size is the number of hashes run at once. The default,
	// runtime.GOMAXPROCS(0), is the number of CPUs the process may use
	// (container CPU limits included): Argon2 is CPU-bound, so more
	// concurrent hashes would only add memory and latency, not throughput.
	Size int
	// WaitBudget is the longest predicted wait for which a caller is
	// queued rather than refused (default 1s).
	WaitBudget time.Duration
	// MaxQueue caps the number of waiting callers whatever the prediction
	// says (default Size*64).
	MaxQueue int
	// Nice is the scheduling niceness of the threads that hash (0..19;
	// Linux only, best effort). With spare Go processors (see cmd/authd),
	// a positive value lets the kernel run cheap requests, PostgreSQL and
	// Valkey ahead of Argon2 when the CPUs are busy, while an idle machine
	// still gives hashing every core.
	Nice int
	// Tracer records the wait for a slot and the hash as spans of the
	// caller's trace (none when nil): under load the wait, not the hash,
	// is where a login's time goes.
	Tracer trace.Tracer
}

func (c Config) withDefaults() Config {
	if c.Size <= 0 {
		c.Size = runtime.GOMAXPROCS(0)
	}
	if c.WaitBudget <= 0 {
		c.WaitBudget = defaultWaitBudget
	}
	if c.MaxQueue <= 0 {
		c.MaxQueue = c.Size * defaultQueuePerSlot
	}
	return c
}

// Stats is a snapshot of a Pool, for tests and benchmarks.
type Stats struct {
	Size     int           // slots
	InFlight int           // slots held
	Queued   int           // callers waiting for a slot
	Rejected uint64        // callers refused since New
	AvgHash  time.Duration // moving average of a hash; 0 before the first
}

var _ auth.PasswordHasher = (*Pool)(nil)

// Pool limits concurrent hashing and refuses work it could not start within
// the wait budget. It satisfies auth.PasswordHasher. Its zero value is not
// usable; call New.
type Pool struct {
	inner    Inner
	size     int
	budget   time.Duration
	maxQueue int

	// slots is the semaphore: sending takes a slot, receiving frees one.
	// Blocked senders are served in arrival order, and a freed slot goes
	// straight to the longest waiter, so newcomers cannot overtake the
	// queue through the non-blocking fast path.
	slots chan struct{}

	// mu guards queued and avg, which the admission decision reads and
	// updates together.
	mu     sync.Mutex
	queued int
	avg    time.Duration // EWMA of hash durations; 0 until measured

	rejected atomic.Uint64

	waitSeconds prometheus.Histogram
	hashSeconds prometheus.Histogram

	dummyOnce sync.Once
	dummy     string

	// work carries jobs to the Size hashing goroutines, each on a thread
	// of its own so that its niceness applies to hashing alone.
	work chan func()

	// now is the clock; tests replace it to make durations deterministic.
	now func() time.Time

	tracer trace.Tracer
}

// New returns a Pool running inner and registers its metrics with reg
// (which may be nil, to leave them unregistered). Like every MustRegister,
// it panics if the metrics are already registered with reg.
func New(inner Inner, cfg Config, reg prometheus.Registerer) *Pool {
	cfg = cfg.withDefaults()
	if cfg.Tracer == nil {
		cfg.Tracer = noop.NewTracerProvider().Tracer("")
	}
	p := &Pool{
		inner:    inner,
		size:     cfg.Size,
		budget:   cfg.WaitBudget,
		maxQueue: cfg.MaxQueue,
		slots:    make(chan struct{}, cfg.Size),
		work:     make(chan func()),
		now:      time.Now,
		tracer:   cfg.Tracer,
		waitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "authd_hash_wait_seconds",
			Help: "Time admitted password hashes waited for a slot in the hash pool.",
			// Around the default 1s budget, where the interesting waits are.
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
		hashSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "authd_hash_duration_seconds",
			Help: "Time a password hash or verification held its slot in the hash pool.",
			// Argon2id with the default parameters takes tens of ms.
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
	}
	for range cfg.Size {
		go hashWorker(p.work, cfg.Nice)
	}
	if reg != nil {
		// The gauges and the counter read the pool's own state at scrape
		// time, so the hot path keeps a single copy of it.
		reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "authd_hash_pool_size",
				Help: "Password hashes the hash pool runs at once.",
			}, func() float64 { return float64(p.size) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "authd_hash_in_flight",
				Help: "Password hashes running in the hash pool.",
			}, func() float64 { return float64(len(p.slots)) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "authd_hash_queue_depth",
				Help: "Password hashes waiting for a slot in the hash pool.",
			}, func() float64 { return float64(p.Stats().Queued) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "authd_hash_rejected_total",
				Help: "Password hashes refused because the predicted wait exceeded the budget or the queue was full.",
			}, func() float64 { return float64(p.rejected.Load()) }),
			p.waitSeconds,
			p.hashSeconds,
		)
	}
	return p
}

// Hash hashes password in a pool slot, or returns an *auth.Error of kind
// KindUnavailable if the pool is saturated or ctx ends while waiting.
func (p *Pool) Hash(ctx context.Context, password string) (encoded string, err error) {
	start, err := p.acquireTraced(ctx)
	if err != nil {
		return "", err
	}
	// Deferred so that a panicking hasher cannot leak its slot and shrink
	// the pool for good.
	defer p.release(start, &err)
	ctx, span := p.tracer.Start(ctx, "argon2id.hash")
	defer endSpan(span, &err)
	p.run(func() { encoded, err = p.inner.Hash(ctx, password) })
	return encoded, err
}

// acquireTraced is acquire (which may refuse) as the span "hashpool.wait".
func (p *Pool) acquireTraced(ctx context.Context) (time.Time, error) {
	_, span := p.tracer.Start(ctx, "hashpool.wait", trace.WithAttributes(attribute.Int("hashpool.size", p.size)))
	start, err := p.acquire(ctx, true)
	endSpan(span, &err)
	return start, err
}

// endSpan ends span, marked as failed when *err is set (the error's kind
// only: a hasher's error never carries the password, but stays out of
// traces all the same).
func endSpan(span trace.Span, err *error) {
	if *err != nil {
		var de *auth.Error
		msg := "failed"
		if errors.As(*err, &de) {
			msg = de.Code
		}
		span.SetStatus(codes.Error, msg)
	}
	span.End()
}

// Verify checks password against encoded in a pool slot, or returns an
// *auth.Error of kind KindUnavailable as Hash does. Malformed hashes go
// through the pool too: the inner hasher rejects them quickly, and the
// pool need not know the formats.
func (p *Pool) Verify(ctx context.Context, password, encoded string) (match, rehash bool, err error) {
	start, err := p.acquireTraced(ctx)
	if err != nil {
		return false, false, err
	}
	defer p.release(start, &err)
	ctx, span := p.tracer.Start(ctx, "argon2id.verify")
	defer endSpan(span, &err)
	p.run(func() { match, rehash, err = p.inner.Verify(ctx, password, encoded) })
	return match, rehash, err
}

// Admit answers, without taking a slot or a place in the queue, what a
// hash asked for now would get: nil when it would start or queue, the
// overload error when the pool would refuse it. A refusal counts as a
// rejection: the caller sheds its request and asks for no hash.
func (p *Pool) Admit() error {
	if len(p.slots) < p.size {
		return nil
	}
	p.mu.Lock()
	predicted, refuse := p.refuses()
	queued := p.queued
	p.mu.Unlock()
	if !refuse {
		return nil
	}
	p.rejected.Add(1)
	return overloaded(predicted, fmt.Errorf("%w: predicted wait %v (budget %v), %d queued (max %d)",
		ErrOverloaded, predicted, p.budget, queued, p.maxQueue))
}

// refuses is the admission rule for a caller finding every slot busy:
// every slot frees on average once per avg, so with Size slots the queue
// ahead (plus the caller) drains at Size per avg. Before the first
// measurement avg is 0 and only MaxQueue bounds the queue. p.mu is held.
func (p *Pool) refuses() (predicted time.Duration, refuse bool) {
	predicted = time.Duration(p.queued+1) * p.avg / time.Duration(p.size)
	return predicted, predicted > p.budget || p.queued >= p.maxQueue
}

// DummyHash returns the inner hasher's dummy hash, computing it in a pool
// slot the first time so that it, too, counts against the memory bound.
// Its signature has no way to report an error, so that first computation
// waits for a slot however long the queue; it happens once per Pool.
func (p *Pool) DummyHash() string {
	p.dummyOnce.Do(func() {
		start, _ := p.acquire(context.Background(), false)
		var err error
		defer p.release(start, &err)
		p.run(func() { p.dummy = p.inner.DummyHash() })
	})
	return p.dummy
}

// run does f on a hashing thread and waits for it. The caller holds a
// slot, so a worker is free or about to be. A panic in f is re-raised in
// the caller, where the deferred release frees the slot.
func (p *Pool) run(f func()) {
	done := make(chan any, 1)
	p.work <- func() {
		defer func() { done <- recover() }()
		f()
	}
	if r := <-done; r != nil {
		panic(r)
	}
}

// hashWorker runs jobs for the pool's whole life on one locked thread.
func hashWorker(work <-chan func(), nice int) {
	runtime.LockOSThread()
	if nice > 0 {
		setThreadNice(nice)
	}
	for f := range work {
		f()
	}
}

// Stats returns a snapshot of the pool's state.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	queued, avg := p.queued, p.avg
	p.mu.Unlock()
	return Stats{
		Size:     p.size,
		InFlight: len(p.slots),
		Queued:   queued,
		Rejected: p.rejected.Load(),
		AvgHash:  avg,
	}
}

// acquire takes a slot and returns when the work starts. If every slot is
// busy and mayReject is set, it refuses callers whose predicted wait
// exceeds the budget or who would overflow the queue, without waiting.
func (p *Pool) acquire(ctx context.Context, mayReject bool) (time.Time, error) {
	select {
	case p.slots <- struct{}{}:
		p.waitSeconds.Observe(0)
		return p.now(), nil
	default:
	}

	p.mu.Lock()
	predicted, refuse := p.refuses()
	if mayReject && refuse {
		queued := p.queued
		p.mu.Unlock()
		p.rejected.Add(1)
		return time.Time{}, overloaded(predicted, fmt.Errorf(
			"%w: predicted wait %v (budget %v), %d queued (max %d)",
			ErrOverloaded, predicted, p.budget, queued, p.maxQueue))
	}
	p.queued++
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.queued--
		p.mu.Unlock()
	}()

	waitStart := p.now()
	select {
	case p.slots <- struct{}{}:
		start := p.now()
		p.waitSeconds.Observe(start.Sub(waitStart).Seconds())
		return start, nil
	case <-ctx.Done():
		// Reported as overload rather than a plain dependency failure: a
		// deadline that expires in the queue means the pool was too slow,
		// and the client should back off. A client that went away sees
		// nothing either way.
		return time.Time{}, overloaded(predicted, fmt.Errorf(
			"%w: gave up waiting for a hash slot: %w", ErrOverloaded, ctx.Err()))
	}
}

// release frees the slot taken by acquire and records how long the work
// held it. Only successful work feeds the average: errors (a done context,
// a malformed stored hash) return before any hashing and would make the
// pool underestimate the cost of the next real hash.
func (p *Pool) release(start time.Time, err *error) {
	d := p.now().Sub(start)
	<-p.slots
	p.hashSeconds.Observe(d.Seconds())
	if *err != nil {
		return
	}
	p.mu.Lock()
	if p.avg == 0 {
		p.avg = d
	} else {
		// EWMA with alpha = 1/5: smooths out one slow hash (a GC pause, a
		// noisy neighbour) but follows a real change within a few hashes.
		p.avg += (d - p.avg) / 5
	}
	p.mu.Unlock()
}

// overloaded builds the error the HTTP layer turns into 503 + Retry-After.
func overloaded(predicted time.Duration, cause error) *auth.Error {
	return auth.Overloaded(retryAfter(predicted), cause)
}

// retryAfter is the predicted wait rounded up to whole seconds, and at
// least one: Retry-After has second resolution, and telling clients to
// retry at once would invite the very burst being shed.
func retryAfter(predicted time.Duration) time.Duration {
	if predicted <= time.Second {
		return time.Second
	}
	return (predicted + time.Second - 1).Truncate(time.Second)
}
