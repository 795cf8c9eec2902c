package authtest

import (
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
	checkAt := func(t *testing.T, l auth.Lockouts, now time.Time, keys ...auth.ThrottleKey) time.Duration {
		t.Helper()
		d, err := l.Check(t.Context(), now, keys...)
		check(t, "Check", err)
		return d
	}

	t.Run("failures grow the lock up to the cap", func(t *testing.T) {
		p := auth.LockoutPolicy{Free: 2, Base: time.Minute, Max: 10 * time.Minute, ResetAfter: 24 * time.Hour}
		want := []time.Duration{0, 0, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 10 * time.Minute, 10 * time.Minute}
		l, k := newLockouts(t), key("login:account")
		for i, w := range want {
			now := t0.Add(time.Duration(i) * time.Second)
			got, err := l.Fail(t.Context(), k, p, now)
			check(t, "Fail", err)
			if got != w {
				t.Errorf("failure %d: Fail = %v, want %v", i+1, got, w)
			}
			if c := checkAt(t, l, now, k); c != w {
				t.Errorf("failure %d: Check = %v, want %v", i+1, c, w)
			}
		}
	})

	t.Run("many failures stay at the cap", func(t *testing.T) {
		p := auth.LockoutPolicy{Free: 0, Base: time.Millisecond, Max: time.Second, ResetAfter: time.Hour}
		l, k := newLockouts(t), key("login:ip")
		var got time.Duration
		for i := range 70 {
			d, err := l.Fail(t.Context(), k, p, t0)
			check(t, "Fail", err)
			if d > p.Max || d < got {
				t.Fatalf("failure %d: Fail = %v after %v, want growing up to %v", i+1, d, got, p.Max)
			}
			got = d
		}
		if got != p.Max {
			t.Errorf("after 70 failures: lock %v, want the cap %v", got, p.Max)
		}
	})

	t.Run("a lock ends and the count goes on", func(t *testing.T) {
		p := auth.LockoutPolicy{Free: 0, Base: time.Minute, Max: time.Hour, ResetAfter: 24 * time.Hour}
		l, k := newLockouts(t), key("login:account")
		if d, err := l.Fail(t.Context(), k, p, t0); err != nil || d != time.Minute {
			t.Fatalf("Fail = %v, %v; want 1m", d, err)
		}
		tests := []struct {
			at   time.Duration
			want time.Duration
		}{
			{0, time.Minute},
			{20 * time.Second, 40 * time.Second},
			{time.Minute - time.Millisecond, time.Millisecond},
			{time.Minute, 0},
			{time.Hour, 0},
		}
		for _, tt := range tests {
			if got := checkAt(t, l, t0.Add(tt.at), k); got != tt.want {
				t.Errorf("Check at +%v = %v, want %v", tt.at, got, tt.want)
			}
		}
		if d, err := l.Fail(t.Context(), k, p, t0.Add(2*time.Minute)); err != nil || d != 2*time.Minute {
			t.Errorf("Fail after the lock ended = %v, %v; want 2m (the count is kept)", d, err)
		}
	})

	t.Run("a lock is never shortened", func(t *testing.T) {
		p := auth.LockoutPolicy{Free: 0, Base: 10 * time.Minute, Max: 10 * time.Minute, ResetAfter: time.Hour}
		l, k := newLockouts(t), key("login:account")
		if _, err := l.Fail(t.Context(), k, p, t0); err != nil {
			t.Fatal(err)
		}
		// A caller whose clock is behind cannot end the lock earlier.
		if d, err := l.Fail(t.Context(), k, p, t0.Add(-5*time.Minute)); err != nil || d != 15*time.Minute {
			t.Errorf("Fail from a clock 5m behind = %v, %v; want 15m (the lock still ends at +10m)", d, err)
		}
		if got := checkAt(t, l, t0, k); got != 10*time.Minute {
			t.Errorf("Check = %v, want 10m", got)
		}
	})

	t.Run("check returns the longest lock of the keys", func(t *testing.T) {
		p := auth.LockoutPolicy{Free: 0, Base: time.Minute, Max: time.Hour, ResetAfter: time.Hour}
		l := newLockouts(t)
		short, long, free := key("login:account"), key("login:ip"), key("login:account")
		for i, k := range []auth.ThrottleKey{short, long, long, long} {
			if _, err := l.Fail(t.Context(), k, p, t0); err != nil {
				t.Fatalf("Fail %d: %v", i, err)
			}
		}
		tests := []struct {
			name string
			keys []auth.ThrottleKey
			want time.Duration
		}{
			{"no keys", nil, 0},
			{"an unlocked key", []auth.ThrottleKey{free}, 0},
			{"one lock", []auth.ThrottleKey{short}, time.Minute},
			{"the longest of several", []auth.ThrottleKey{free, short, long}, 4 * time.Minute},
			{"in any order", []auth.ThrottleKey{long, short}, 4 * time.Minute},
		}
		for _, tt := range tests {
			if got := checkAt(t, l, t0, tt.keys...); got != tt.want {
				t.Errorf("%s: Check = %v, want %v", tt.name, got, tt.want)
			}
		}
	})

	t.Run("check records nothing", func(t *testing.T) {
		p := auth.LockoutPolicy{Free: 1, Base: time.Minute, Max: time.Hour, ResetAfter: time.Hour}
		l, k := newLockouts(t), key("login:account")
		for range 5 {
			checkAt(t, l, t0, k)
		}
		if d, err := l.Fail(t.Context(), k, p, t0); err != nil || d != 0 {
			t.Errorf("first Fail after Checks = %v, %v; want 0 (still free)", d, err)
		}
	})

	t.Run("reset forgets the failures", func(t *testing.T) {
		p := auth.LockoutPolicy{Free: 1, Base: time.Minute, Max: time.Hour, ResetAfter: time.Hour}
		l, k := newLockouts(t), key("login:account")
		for range 2 {
			if _, err := l.Fail(t.Context(), k, p, t0); err != nil {
				t.Fatal(err)
			}
		}
		if got := checkAt(t, l, t0, k); got != time.Minute {
			t.Fatalf("Check before Reset = %v, want 1m", got)
		}
		check(t, "Reset", l.Reset(t.Context(), k))
		if got := checkAt(t, l, t0, k); got != 0 {
			t.Errorf("Check after Reset = %v, want 0", got)
		}
		if d, err := l.Fail(t.Context(), k, p, t0); err != nil || d != 0 {
			t.Errorf("Fail after Reset = %v, %v; want 0 (free again)", d, err)
		}
		check(t, "Reset of an unknown key", l.Reset(t.Context(), key("login:account")))
	})

	t.Run("keys differ by scope and by subject", func(t *testing.T) {
		p := auth.LockoutPolicy{Free: 0, Base: time.Minute, Max: time.Hour, ResetAfter: time.Hour}
		l, k := newLockouts(t), key("login:account")
		if _, err := l.Fail(t.Context(), k, p, t0); err != nil {
			t.Fatal(err)
		}
		others := []auth.ThrottleKey{{Scope: "login:ip", Subject: k.Subject}, {Scope: k.Scope, Subject: k.Subject + "x"}}
		for _, o := range others {
			if got := checkAt(t, l, t0, o); got != 0 {
				t.Errorf("Check(%+v) = %v, want 0: another key's lock", o, got)
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
