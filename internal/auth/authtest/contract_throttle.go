package authtest

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authd/authd/internal/auth"
)

// TestLockouts is the contract of auth.Lockouts, on explicit times. That
// failures are forgotten ResetAfter after the last one is left out: the
// Valkey adapter expires keys on the server's clock.
func TestLockouts(t *testing.T, newLockouts func(t *testing.T) auth.Lockouts) {
	t0 := contractTime
	key := func(scope string) auth.ThrottleKey {
		return auth.ThrottleKey{Scope: scope, Subject: "subject-" + unique() + "@example.com"}
	}
	reserve := func(t *testing.T, l auth.Lockouts, now time.Time, attempts ...auth.Attempt) auth.Admission {
		t.Helper()
		adm, err := l.Reserve(t.Context(), now, attempts...)
		check(t, "Reserve", err)
		return adm
	}
	// lockAfter reserves one attempt on k alone and returns the lock it
	// would leave, failing the test if it is refused.
	lockAfter := func(t *testing.T, l auth.Lockouts, now time.Time, a auth.Attempt) time.Duration {
		t.Helper()
		adm := reserve(t, l, now, a)
		if !adm.Admitted() || len(adm.Locks) != 1 {
			t.Fatalf("Reserve at %v = %+v, want admitted with one lock", now.Sub(t0), adm)
		}
		return adm.Locks[0]
	}

	t.Run("attempts grow the lock up to the cap", func(t *testing.T) {
		p := auth.LockoutPolicy{Free: 2, Base: time.Minute, Max: 10 * time.Minute, ResetAfter: 24 * time.Hour}
		want := []time.Duration{0, 0, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 10 * time.Minute, 10 * time.Minute}
		l, a := newLockouts(t), auth.Attempt{Key: key("login:account"), Policy: p}
		now := t0
		for i, w := range want {
			if got := lockAfter(t, l, now, a); got != w {
				t.Errorf("attempt %d: lock %v, want %v", i+1, got, w)
			}
			now = now.Add(w + time.Second) // the next one comes after the lock
		}
	})

	t.Run("many attempts stay at the cap", func(t *testing.T) {
		p := auth.LockoutPolicy{Free: 0, Base: time.Millisecond, Max: time.Second, ResetAfter: time.Hour}
		l, a := newLockouts(t), auth.Attempt{Key: key("login:ip"), Policy: p}
		now, got := t0, time.Duration(0)
		for i := range 70 {
			d := lockAfter(t, l, now, a)
			if d > p.Max || d < got {
				t.Fatalf("attempt %d: lock %v after %v, want growing up to %v", i+1, d, got, p.Max)
			}
			got, now = d, now.Add(d)
		}
		if got != p.Max {
			t.Errorf("after 70 attempts: lock %v, want the cap %v", got, p.Max)
		}
	})

	t.Run("a locked key refuses, says how long, and counts nothing", func(t *testing.T) {
		p := auth.LockoutPolicy{Free: 0, Base: time.Minute, Max: time.Hour, ResetAfter: 24 * time.Hour}
		l, a := newLockouts(t), auth.Attempt{Key: key("login:account"), Policy: p}
		if d := lockAfter(t, l, t0, a); d != time.Minute {
			t.Fatalf("first attempt: lock %v, want 1m", d)
		}
		for _, at := range []time.Duration{0, 20 * time.Second, time.Minute - time.Millisecond} {
			adm := reserve(t, l, t0.Add(at), a)
			if adm.Admitted() || adm.Wait != time.Minute-at {
				t.Errorf("Reserve at +%v = %+v, want refused with %v to wait", at, adm, time.Minute-at)
			}
		}
		if d := lockAfter(t, l, t0.Add(time.Minute), a); d != 2*time.Minute {
			t.Errorf("attempt after the lock ended: lock %v, want 2m (refused ones not counted, the count kept)", d)
		}
	})

	t.Run("attempts released together: only the free ones and one more are admitted", func(t *testing.T) {
		p := auth.LockoutPolicy{Free: 5, Base: time.Minute, Max: time.Hour, ResetAfter: time.Hour}
		l, a := newLockouts(t), auth.Attempt{Key: key("login:account"), Policy: p}
		const n = 50
		var wg sync.WaitGroup
		var admitted atomic.Int32
		start := make(chan struct{})
		for range n {
			wg.Go(func() {
				<-start
				adm, err := l.Reserve(t.Context(), t0, a)
				if err != nil {
					t.Error(err)
					return
				}
				if adm.Admitted() {
					admitted.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		if got := admitted.Load(); got != int32(p.Free+1) {
			t.Errorf("%d of %d attempts admitted at once, want %d", got, n, p.Free+1)
		}
	})

	t.Run("one locked key refuses the attempt on every key", func(t *testing.T) {
		p := auth.LockoutPolicy{Free: 1, Base: time.Minute, Max: time.Hour, ResetAfter: time.Hour}
		l := newLockouts(t)
		locked, free := auth.Attempt{Key: key("login:account"), Policy: p}, auth.Attempt{Key: key("login:ip"), Policy: p}
		lockAfter(t, l, t0, locked)
		if d := lockAfter(t, l, t0, locked); d != time.Minute {
			t.Fatalf("second attempt: lock %v, want 1m", d)
		}
		for range 3 {
			if adm := reserve(t, l, t0, free, locked); adm.Admitted() || adm.Wait != time.Minute {
				t.Fatalf("Reserve on a free and a locked key = %+v, want refused for 1m", adm)
			}
		}
		if d := lockAfter(t, l, t0, free); d != 0 {
			t.Errorf("the free key after three refusals: lock %v, want 0 (its first attempt, still free)", d)
		}
	})

	t.Run("the wait is the longest lock of the keys", func(t *testing.T) {
		p := auth.LockoutPolicy{Free: 0, Base: time.Minute, Max: time.Hour, ResetAfter: time.Hour}
		l := newLockouts(t)
		short, long, free := auth.Attempt{Key: key("login:account"), Policy: p}, auth.Attempt{Key: key("login:ip"), Policy: p}, auth.Attempt{Key: key("login:account"), Policy: p}
		lockAfter(t, l, t0, short)
		for i := range 3 {
			lockAfter(t, l, t0.Add(time.Duration(1<<i)*time.Minute), long) // each after the last lock
		}
		// long: attempts at +1m, +2m and +4m lock it until +8m; short until +1m.
		now := t0.Add(30 * time.Second)
		tests := []struct {
			name     string
			attempts []auth.Attempt
			want     time.Duration
		}{
			{"one lock", []auth.Attempt{short}, 30 * time.Second},
			{"the longest of several", []auth.Attempt{free, short, long}, 7*time.Minute + 30*time.Second},
			{"in any order", []auth.Attempt{long, short}, 7*time.Minute + 30*time.Second},
		}
		for _, tt := range tests {
			if adm := reserve(t, l, now, tt.attempts...); adm.Admitted() || adm.Wait != tt.want {
				t.Errorf("%s: Reserve = %+v, want refused for %v", tt.name, adm, tt.want)
			}
		}
		if adm := reserve(t, l, now); !adm.Admitted() {
			t.Errorf("Reserve of no attempts = %+v, want admitted", adm)
		}
	})

	t.Run("release takes an attempt back, and the lock it set", func(t *testing.T) {
		p := auth.LockoutPolicy{Free: 2, Base: time.Minute, Max: time.Hour, ResetAfter: time.Hour}
		l, a := newLockouts(t), auth.Attempt{Key: key("login:ip"), Policy: p}
		lockAfter(t, l, t0, a)
		lockAfter(t, l, t0, a)
		if d := lockAfter(t, l, t0, a); d != time.Minute {
			t.Fatalf("third attempt: lock %v, want 1m", d)
		}
		check(t, "Release", l.Release(t.Context(), t0, a))
		if d := lockAfter(t, l, t0, a); d != time.Minute {
			t.Errorf("after the third was released: lock %v, want 1m again (two failures counted, not three)", d)
		}
		check(t, "Release of an unknown key", l.Release(t.Context(), t0, auth.Attempt{Key: key("login:ip"), Policy: p}))
		check(t, "Release of nothing", l.Release(t.Context(), t0))
	})

	t.Run("reset forgets the failures", func(t *testing.T) {
		p := auth.LockoutPolicy{Free: 1, Base: time.Minute, Max: time.Hour, ResetAfter: time.Hour}
		l := newLockouts(t)
		a, b := auth.Attempt{Key: key("login:account"), Policy: p}, auth.Attempt{Key: key("login:account-client"), Policy: p}
		for range 2 {
			reserve(t, l, t0, a, b)
		}
		if adm := reserve(t, l, t0, a); adm.Admitted() {
			t.Fatalf("Reserve before Reset = %+v, want refused", adm)
		}
		check(t, "Reset", l.Reset(t.Context(), a.Key, b.Key))
		if adm := reserve(t, l, t0, a, b); !adm.Admitted() || adm.Locks[0] != 0 || adm.Locks[1] != 0 {
			t.Errorf("Reserve after Reset = %+v, want admitted and free", adm)
		}
		check(t, "Reset of an unknown key", l.Reset(t.Context(), key("login:account")))
	})

	t.Run("keys differ by scope and by subject", func(t *testing.T) {
		p := auth.LockoutPolicy{Free: 0, Base: time.Minute, Max: time.Hour, ResetAfter: time.Hour}
		l, k := newLockouts(t), key("login:account")
		lockAfter(t, l, t0, auth.Attempt{Key: k, Policy: p})
		others := []auth.ThrottleKey{{Scope: "login:ip", Subject: k.Subject}, {Scope: k.Scope, Subject: k.Subject + "x"}}
		for _, o := range others {
			if adm := reserve(t, l, t0, auth.Attempt{Key: o, Policy: p}); !adm.Admitted() {
				t.Errorf("Reserve(%+v) = %+v, want admitted: another key's lock", o, adm)
			}
		}
	})
}

// TestRateLimiter is the contract of auth.RateLimiter, on explicit times.
func TestRateLimiter(t *testing.T, newLimiter func(t *testing.T) auth.RateLimiter) {
	t0 := contractTime
	key := func(scope string) auth.ThrottleKey {
		return auth.ThrottleKey{Scope: scope, Subject: "198.51.100." + unique()}
	}
	type event struct {
		at      time.Duration
		allowed bool
		retry   time.Duration
	}
	tests := []struct {
		name   string
		limit  int
		window time.Duration
		events []event
	}{
		{"up to the limit in a window", 3, time.Hour, []event{
			{0, true, 0}, {time.Minute, true, 0}, {2 * time.Minute, true, 0},
			{10 * time.Minute, false, 50 * time.Minute},
		}},
		{"denied events are not counted and the window resets", 2, time.Hour, []event{
			{0, true, 0}, {time.Second, true, 0},
			{30 * time.Minute, false, 30 * time.Minute}, {59 * time.Minute, false, time.Minute},
			{time.Hour, true, 0}, {time.Hour + time.Second, true, 0}, {time.Hour + 2*time.Second, false, time.Hour - 2*time.Second},
		}},
		{"a window starts at its first event", 1, time.Minute, []event{
			{0, true, 0}, {time.Minute - time.Millisecond, false, time.Millisecond},
			{90 * time.Second, true, 0}, {2 * time.Minute, false, 30 * time.Second},
			{150 * time.Second, true, 0},
		}},
		{"the wait is never longer than the window", 1, time.Hour, []event{
			{0, true, 0}, {-10 * time.Minute, false, time.Hour},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, k := newLimiter(t), key("register:ip")
			for i, e := range tt.events {
				ok, retry, err := r.Allow(t.Context(), k, tt.limit, tt.window, t0.Add(e.at))
				check(t, "Allow", err)
				if ok != e.allowed || retry != e.retry {
					t.Errorf("event %d at +%v: Allow = %v, %v; want %v, %v", i, e.at, ok, retry, e.allowed, e.retry)
				}
			}
		})
	}

	t.Run("keys are counted apart", func(t *testing.T) {
		r := newLimiter(t)
		a := key("register:ip")
		b := auth.ThrottleKey{Scope: "mail:ip", Subject: a.Subject}
		c := auth.ThrottleKey{Scope: a.Scope, Subject: a.Subject + "0"}
		if ok, _, err := r.Allow(t.Context(), a, 1, time.Hour, t0); !ok || err != nil {
			t.Fatalf("Allow(a) = %v, %v", ok, err)
		}
		for _, k := range []auth.ThrottleKey{b, c} {
			if ok, _, err := r.Allow(t.Context(), k, 1, time.Hour, t0); !ok || err != nil {
				t.Errorf("Allow(%+v) = %v, %v; want allowed: another key's window", k, ok, err)
			}
		}
		if ok, _, err := r.Allow(t.Context(), a, 1, time.Hour, t0); ok || err != nil {
			t.Errorf("Allow(a) again = %v, %v; want denied", ok, err)
		}
	})
}
