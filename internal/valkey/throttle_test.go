package valkey

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	vk "github.com/valkey-io/valkey-go"
)

// t0 is the fake clock's start. It is deliberately far from the server's
// clock: the throttles must only use the time they are given.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// loginPolicy is the brief's example: three free failures, then 1m, 2m, 4m,
// ... up to 15m, forgotten a day after the last failure.
var loginPolicy = LockoutPolicy{Free: 3, Base: time.Minute, Max: 15 * time.Minute, ResetAfter: 24 * time.Hour}

const acct = "login:account:5f2b9c" // stands in for an (HMAC) email hash

func TestThrottleKey(t *testing.T) {
	if got, want := testHandle(nil, "p:", 0).throttleKey("login:ip:192.0.2.1"), "p:throttle:login:ip:192.0.2.1"; got != want {
		t.Fatalf("throttleKey = %q, want %q", got, want)
	}
}

func TestLockoutGrowth(t *testing.T) {
	tests := []struct {
		name   string
		policy LockoutPolicy
		want   []time.Duration // lock after failure 1, 2, ...
	}{
		{"free 3, 1m doubling to 15m", loginPolicy, []time.Duration{
			0, 0, 0, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute,
			15 * time.Minute, 15 * time.Minute, 15 * time.Minute,
		}},
		{"no free attempts", LockoutPolicy{Free: 0, Base: 10 * time.Second, Max: time.Hour, ResetAfter: time.Hour}, []time.Duration{
			10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second,
		}},
		{"base equals max", LockoutPolicy{Free: 1, Base: 5 * time.Minute, Max: 5 * time.Minute, ResetAfter: time.Hour}, []time.Duration{
			0, 5 * time.Minute, 5 * time.Minute, 5 * time.Minute,
		}},
		{"max between powers of two", LockoutPolicy{Free: 0, Base: 3 * time.Second, Max: 10 * time.Second, ResetAfter: time.Hour}, []time.Duration{
			3 * time.Second, 6 * time.Second, 10 * time.Second, 10 * time.Second,
		}},
		{"millisecond precision", LockoutPolicy{Free: 0, Base: 1500 * time.Millisecond, Max: time.Hour, ResetAfter: time.Hour}, []time.Duration{
			1500 * time.Millisecond, 3 * time.Second, 6 * time.Second,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := testLockout(testClient, prefixFor(t), time.Second)
			ctx := ctxT(t)
			now := t0
			for i, want := range tt.want {
				// The caller checks first and only verifies (and fails)
				// when the key is not locked.
				if left, err := l.Check(ctx, acct, now); err != nil || left != 0 {
					t.Fatalf("before failure %d: Check = %v, %v; want 0", i+1, left, err)
				}
				got, err := l.Fail(ctx, acct, tt.policy, now)
				if err != nil || got != want {
					t.Fatalf("failure %d: Fail = %v, %v; want %v", i+1, got, err, want)
				}
				if left, err := l.Check(ctx, acct, now); err != nil || left != want {
					t.Fatalf("failure %d: Check right after = %v, %v; want %v", i+1, left, err, want)
				}
				if want > 0 {
					if left, err := l.Check(ctx, acct, now.Add(want-time.Millisecond)); err != nil || left != time.Millisecond {
						t.Fatalf("failure %d: Check 1ms before the end = %v, %v; want 1ms", i+1, left, err)
					}
				}
				now = now.Add(want + time.Second)
			}
		})
	}
}

// 2^(k-1) must not overflow into nonsense however long an attack goes on.
func TestLockoutStaysCapped(t *testing.T) {
	l := testLockout(testClient, prefixFor(t), time.Second)
	p := LockoutPolicy{Free: 0, Base: time.Second, Max: 15 * time.Minute, ResetAfter: 24 * time.Hour}
	now := t0
	var got time.Duration
	for i := range 150 {
		var err error
		if got, err = l.Fail(ctxT(t), acct, p, now); err != nil {
			t.Fatalf("failure %d: %v", i+1, err)
		}
		if got <= 0 || got > p.Max {
			t.Fatalf("failure %d: lock %v, want in (0, %v]", i+1, got, p.Max)
		}
		now = now.Add(got)
	}
	if got != p.Max {
		t.Fatalf("lock after 150 failures = %v, want %v", got, p.Max)
	}
}

// Check reports exactly what is left, so Retry-After is right, and the lock
// ends on time (L-5).
func TestLockoutCheckRemaining(t *testing.T) {
	l := testLockout(testClient, prefixFor(t), time.Second)
	ctx := ctxT(t)
	for i := range 4 {
		if _, err := l.Fail(ctx, acct, loginPolicy, t0); err != nil {
			t.Fatalf("Fail %d: %v", i+1, err)
		}
	}
	tests := []struct {
		name  string
		after time.Duration
		want  time.Duration
	}{
		{"at once", 0, time.Minute},
		{"30s later", 30 * time.Second, 30 * time.Second},
		{"1ms before the end", time.Minute - time.Millisecond, time.Millisecond},
		{"at the end", time.Minute, 0},
		{"long after", time.Hour, 0},
		{"instance with a clock 10s behind", -10 * time.Second, 70 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := l.Check(ctxT(t), acct, t0.Add(tt.after))
			if err != nil || got != tt.want {
				t.Fatalf("Check = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	if got, err := l.Check(ctx, "login:account:other", t0); err != nil || got != 0 {
		t.Fatalf("Check of an unknown key = %v, %v; want 0", got, err)
	}
}

func TestLockoutReset(t *testing.T) {
	p := prefixFor(t)
	l := testLockout(testClient, p, time.Second)
	ctx := ctxT(t)
	for i := range 5 {
		if _, err := l.Fail(ctx, acct, loginPolicy, t0); err != nil {
			t.Fatalf("Fail %d: %v", i+1, err)
		}
	}
	if got, err := l.Check(ctx, acct, t0); err != nil || got != 2*time.Minute {
		t.Fatalf("Check before Reset = %v, %v; want 2m", got, err)
	}
	if err := l.Reset(ctx, acct); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	if exists(t, testHandle(nil, p, 0).throttleKey(acct)) {
		t.Fatal("key still there after Reset")
	}
	if got, err := l.Check(ctx, acct, t0); err != nil || got != 0 {
		t.Fatalf("Check after Reset = %v, %v; want 0", got, err)
	}
	// The count starts over: the next failure is free again.
	if got, err := l.Fail(ctx, acct, loginPolicy, t0); err != nil || got != 0 {
		t.Fatalf("first Fail after Reset = %v, %v; want 0", got, err)
	}
	if err := l.Reset(ctx, "login:account:never-seen"); err != nil {
		t.Fatalf("Reset of a missing key: %v", err)
	}
}

// Keys expire on their own: the counter ResetAfter after the last failure,
// but never before the lock it carries.
func TestLockoutExpiry(t *testing.T) {
	tests := []struct {
		name     string
		policy   LockoutPolicy
		failures int
		wantTTL  time.Duration // max(lock, ResetAfter)
	}{
		{"within the free attempts", loginPolicy, 1, 24 * time.Hour},
		{"lock shorter than reset", loginPolicy, 6, 24 * time.Hour},
		{"lock longer than reset", LockoutPolicy{Free: 0, Base: 2 * time.Hour, Max: 2 * time.Hour, ResetAfter: time.Hour}, 1, 2 * time.Hour},
		{"short reset", LockoutPolicy{Free: 5, Base: time.Minute, Max: time.Hour, ResetAfter: 10 * time.Minute}, 2, 10 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := prefixFor(t)
			l := testLockout(testClient, p, time.Second)
			for i := range tt.failures {
				if _, err := l.Fail(ctxT(t), acct, tt.policy, t0); err != nil {
					t.Fatalf("Fail %d: %v", i+1, err)
				}
			}
			got := time.Duration(pttl(t, testHandle(nil, p, 0).throttleKey(acct))) * time.Millisecond
			if got <= 0 || got > tt.wantTTL || got < tt.wantTTL-5*time.Second {
				t.Fatalf("PTTL = %v, want about %v (and > 0)", got, tt.wantTTL)
			}
		})
	}
}

// Two instances with their own clients see and build on the same counter.
func TestLockoutSharedAcrossInstances(t *testing.T) {
	p := prefixFor(t)
	c2, err := Open(ctxT(t), testURL, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(c2.Close)
	a, b := testLockout(testClient, p, time.Second), testLockout(c2, p, time.Second)
	ctx := ctxT(t)

	steps := []struct {
		by   *lockout
		want time.Duration
	}{{a, 0}, {b, 0}, {a, 0}, {b, time.Minute}, {a, 2 * time.Minute}}
	for i, s := range steps {
		if got, err := s.by.Fail(ctx, acct, loginPolicy, t0); err != nil || got != s.want {
			t.Fatalf("failure %d: Fail = %v, %v; want %v", i+1, got, err, s.want)
		}
	}
	for name, l := range map[string]*lockout{"a": a, "b": b} {
		if got, err := l.Check(ctx, acct, t0.Add(30*time.Second)); err != nil || got != 90*time.Second {
			t.Fatalf("%s.Check = %v, %v; want 1m30s", name, got, err)
		}
	}
	if err := b.Reset(ctx, acct); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	if got, err := a.Check(ctx, acct, t0); err != nil || got != 0 {
		t.Fatalf("Check after the other instance's Reset = %v, %v; want 0", got, err)
	}
}

// A failure recorded late, or by an instance whose clock is behind, must
// not shorten a lock that is already in force.
func TestLockoutNeverShortens(t *testing.T) {
	l := testLockout(testClient, prefixFor(t), time.Second)
	ctx := ctxT(t)
	p := LockoutPolicy{Free: 0, Base: time.Minute, Max: time.Minute, ResetAfter: time.Hour}
	if got, err := l.Fail(ctx, acct, p, t0); err != nil || got != time.Minute {
		t.Fatalf("Fail = %v, %v; want 1m", got, err)
	}
	if got, err := l.Fail(ctx, acct, p, t0.Add(-30*time.Second)); err != nil || got != 90*time.Second {
		t.Fatalf("Fail from a clock 30s behind = %v, %v; want 1m30s (lock end unchanged)", got, err)
	}
	if got, err := l.Check(ctx, acct, t0); err != nil || got != time.Minute {
		t.Fatalf("Check = %v, %v; want 1m", got, err)
	}
}

// Concurrent failures are each counted once: the script is atomic.
func TestLockoutConcurrentFailures(t *testing.T) {
	l := testLockout(testClient, prefixFor(t), 2*time.Second)
	p := LockoutPolicy{Free: 3, Base: time.Minute, Max: time.Hour, ResetAfter: time.Hour}
	const n = 10
	got := make([]time.Duration, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { got[i], errs[i] = l.Fail(context.Background(), acct, p, t0) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	want := []time.Duration{0, 0, 0, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute,
		16 * time.Minute, 32 * time.Minute, time.Hour}
	if !slices.Equal(got, want) {
		t.Fatalf("locks = %v, want %v", got, want)
	}
}

// Different keys and different prefixes do not share counters, so the
// per-IP and per-account throttles are independent.
func TestLockoutIndependentKeys(t *testing.T) {
	p := prefixFor(t)
	l := testLockout(testClient, p, time.Second)
	other := testLockout(testClient, p+"other:", time.Second)
	ctx := ctxT(t)
	for range 4 {
		if _, err := l.Fail(ctx, acct, loginPolicy, t0); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		l    *lockout
		key  string
		want time.Duration
	}{
		{"locked key", l, acct, time.Minute},
		{"other account", l, "login:account:9a1e77", 0},
		{"ip key", l, "login:ip:192.0.2.1", 0},
		{"same key, other prefix", other, acct, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := tt.l.Check(ctxT(t), tt.key, t0); err != nil || got != tt.want {
				t.Fatalf("Check = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestLockoutRejectsBadInput(t *testing.T) {
	p := prefixFor(t)
	l := testLockout(testClient, p, time.Second)
	tests := []struct {
		name   string
		key    string
		policy LockoutPolicy
		now    time.Time
	}{
		{"empty key", "", loginPolicy, t0},
		{"zero now", acct, loginPolicy, time.Time{}},
		{"negative free", acct, LockoutPolicy{Free: -1, Base: time.Minute, Max: time.Hour, ResetAfter: time.Hour}, t0},
		{"zero base", acct, LockoutPolicy{Free: 3, Max: time.Hour, ResetAfter: time.Hour}, t0},
		{"sub-ms base", acct, LockoutPolicy{Free: 3, Base: time.Microsecond, Max: time.Hour, ResetAfter: time.Hour}, t0},
		{"max below base", acct, LockoutPolicy{Free: 3, Base: time.Hour, Max: time.Minute, ResetAfter: time.Hour}, t0},
		{"zero reset", acct, LockoutPolicy{Free: 3, Base: time.Minute, Max: time.Hour}, t0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := l.Fail(ctxT(t), tt.key, tt.policy, tt.now); err == nil {
				t.Fatalf("Fail = %v, nil; want an error", got)
			} else if !strings.HasPrefix(err.Error(), "valkey: lockout fail: ") {
				t.Errorf("error %q lacks the operation name", err)
			}
		})
	}
	if _, err := l.Check(ctxT(t), "", t0); err == nil {
		t.Error("Check with an empty key: nil error")
	}
	if _, err := l.Check(ctxT(t), acct, time.Time{}); err == nil {
		t.Error("Check with a zero now: nil error")
	}
	if err := l.Reset(ctxT(t), ""); err == nil {
		t.Error("Reset with an empty key: nil error")
	}
	keys, err := scanUnder(ctxT(t), testClient, p)
	if err != nil || len(keys) != 0 {
		t.Fatalf("keys written by rejected calls: %v, %v", keys, err)
	}
}

func TestWindowAllow(t *testing.T) {
	type step struct {
		at        time.Duration // since t0
		allowed   bool
		retryLeft time.Duration
	}
	tests := []struct {
		name   string
		limit  int
		window time.Duration
		steps  []step
	}{
		{"3 per hour", 3, time.Hour, []step{
			{0, true, 0},
			{time.Minute, true, 0},
			{10 * time.Minute, true, 0},
			{20 * time.Minute, false, 40 * time.Minute},
			{59*time.Minute + 59*time.Second + 999*time.Millisecond, false, time.Millisecond},
			// The window ends an hour after its first event; the next
			// event opens a new one that starts there.
			{time.Hour, true, 0},
			{time.Hour + time.Minute, true, 0},
			{time.Hour + 2*time.Minute, true, 0},
			{time.Hour + 3*time.Minute, false, 57 * time.Minute},
			{3 * time.Hour, true, 0},
		}},
		{"resend spacing, 1 per 60s", 1, time.Minute, []step{
			{0, true, 0},
			{30 * time.Second, false, 30 * time.Second},
			{time.Minute, true, 0},
			{time.Minute + time.Second, false, 59 * time.Second},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := prefixFor(t)
			w := testWindow(testClient, p, time.Second)
			const key = "register:ip:192.0.2.7"
			for i, s := range tt.steps {
				ok, retry, err := w.Allow(ctxT(t), key, tt.limit, tt.window, t0.Add(s.at))
				if err != nil || ok != s.allowed || retry != s.retryLeft {
					t.Fatalf("step %d (+%v): Allow = %v, %v, %v; want %v, %v", i+1, s.at, ok, retry, err, s.allowed, s.retryLeft)
				}
				if i == 0 {
					ttl := time.Duration(pttl(t, testHandle(nil, p, 0).throttleKey(key))) * time.Millisecond
					if ttl <= 0 || ttl > tt.window || ttl < tt.window-5*time.Second {
						t.Fatalf("PTTL after the first event = %v, want about %v", ttl, tt.window)
					}
				}
			}
		})
	}
}

func TestWindowIndependentKeys(t *testing.T) {
	p := prefixFor(t)
	c2, err := Open(ctxT(t), testURL, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(c2.Close)
	w := testWindow(testClient, p, time.Second)
	const key = "mail:verify:c0ffee"
	for i := range 2 {
		if ok, _, err := w.Allow(ctxT(t), key, 2, time.Hour, t0); err != nil || !ok {
			t.Fatalf("event %d: Allow = %v, %v", i+1, ok, err)
		}
	}
	tests := []struct {
		name    string
		w       *window
		key     string
		allowed bool
	}{
		{"same key, other instance", testWindow(c2, p, time.Second), key, false},
		{"other address", w, "mail:verify:beef", true},
		{"other purpose", w, "mail:recovery:c0ffee", true},
		{"same key, other prefix", testWindow(testClient, p+"other:", time.Second), key, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, retry, err := tt.w.Allow(ctxT(t), tt.key, 2, time.Hour, t0.Add(time.Minute))
			if err != nil || ok != tt.allowed {
				t.Fatalf("Allow = %v, %v, %v; want allowed=%v", ok, retry, err, tt.allowed)
			}
			if !ok && retry != 59*time.Minute {
				t.Fatalf("retryAfter = %v, want 59m", retry)
			}
		})
	}
}

// Concurrent events never overshoot the limit.
func TestWindowConcurrent(t *testing.T) {
	w := testWindow(testClient, prefixFor(t), 2*time.Second)
	const n, limit = 20, 5
	var (
		mu      sync.Mutex
		allowed int
		errs    []error
		wg      sync.WaitGroup
	)
	for range n {
		wg.Go(func() {
			ok, _, err := w.Allow(context.Background(), "register:ip:192.0.2.9", limit, time.Hour, t0)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			} else if ok {
				allowed++
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if allowed != limit {
		t.Fatalf("allowed %d of %d, want %d", allowed, n, limit)
	}
}

func TestWindowRejectsBadInput(t *testing.T) {
	p := prefixFor(t)
	w := testWindow(testClient, p, time.Second)
	tests := []struct {
		name   string
		key    string
		limit  int
		window time.Duration
		now    time.Time
	}{
		{"empty key", "", 3, time.Hour, t0},
		{"zero now", "k", 3, time.Hour, time.Time{}},
		{"zero limit", "k", 0, time.Hour, t0},
		{"negative limit", "k", -1, time.Hour, t0},
		{"zero window", "k", 3, 0, t0},
		{"sub-ms window", "k", 3, 500 * time.Microsecond, t0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, _, err := w.Allow(ctxT(t), tt.key, tt.limit, tt.window, tt.now)
			if err == nil || ok {
				t.Fatalf("Allow = %v, %v; want false and an error", ok, err)
			}
			if !strings.HasPrefix(err.Error(), "valkey: window allow: ") {
				t.Errorf("error %q lacks the operation name", err)
			}
		})
	}
	keys, err := scanUnder(ctxT(t), testClient, p)
	if err != nil || len(keys) != 0 {
		t.Fatalf("keys written by rejected calls: %v, %v", keys, err)
	}
}

// Failures must come back as errors, never as "not locked" or "allowed":
// the caller decides whether to fail open or closed.
func TestThrottleErrors(t *testing.T) {
	const key = "login:account:secret-42"
	clients := []struct {
		name   string
		client func(t *testing.T, prefix string) vk.Client
		check  func(t *testing.T, err error)
	}{
		{
			name:   "closed client",
			client: func(t *testing.T, _ string) vk.Client { return closedClient(t) },
			check: func(t *testing.T, err error) {
				if !errors.Is(err, vk.ErrClosing) {
					t.Errorf("error = %v, want ErrClosing", err)
				}
			},
		},
		{
			name: "server gone",
			client: func(t *testing.T, _ string) vk.Client {
				px := newProxy(t)
				c := openVia(t, px)
				px.Close()
				return c
			},
		},
		{
			name: "server hangs",
			client: func(t *testing.T, _ string) vk.Client {
				px := newProxy(t)
				c := openVia(t, px)
				px.Freeze()
				return c
			},
			check: func(t *testing.T, err error) {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("error = %v, want the per-call deadline", err)
				}
			},
		},
		{
			// A key of the wrong type makes the server answer with an
			// error; that must not read as "no lock" either.
			name: "wrong type",
			client: func(t *testing.T, prefix string) vk.Client {
				if err := testClient.Do(ctxT(t), testClient.B().Set().Key(testHandle(nil, prefix, 0).throttleKey(key)).Value("x").Build()).Error(); err != nil {
					t.Fatal(err)
				}
				return testClient
			},
		},
	}
	for _, cc := range clients {
		t.Run(cc.name, func(t *testing.T) {
			p := prefixFor(t)
			c := cc.client(t, p)
			l := testLockout(c, p, 300*time.Millisecond)
			w := testWindow(c, p, 300*time.Millisecond)
			ops := []struct {
				op  string
				run func() error
			}{
				{"lockout check", func() error {
					left, err := l.Check(context.Background(), key, t0)
					if err != nil && left != 0 {
						t.Errorf("Check returned %v with its error", left)
					}
					return err
				}},
				{"lockout fail", func() error {
					_, err := l.Fail(context.Background(), key, loginPolicy, t0)
					return err
				}},
				{"window allow", func() error {
					ok, _, err := w.Allow(context.Background(), key, 3, time.Hour, t0)
					if ok {
						t.Error("Allow reported allowed")
					}
					return err
				}},
			}
			if cc.name != "wrong type" { // DEL works whatever the type
				ops = append(ops, struct {
					op  string
					run func() error
				}{"lockout reset", func() error { return l.Reset(context.Background(), key) }})
			}
			for _, o := range ops {
				start := time.Now()
				err := o.run()
				if err == nil {
					t.Fatalf("%s: got nil error", o.op)
				}
				if d := time.Since(start); d > 2*time.Second {
					t.Errorf("%s took %v despite a 300ms timeout", o.op, d)
				}
				msg := err.Error()
				if !strings.HasPrefix(msg, "valkey: "+o.op+": ") {
					t.Errorf("error %q lacks the operation name", msg)
				}
				if strings.Contains(msg, "secret-42") {
					t.Errorf("error %q leaks the key", msg)
				}
				if cc.check != nil {
					cc.check(t, err)
				}
			}
		})
	}
}
