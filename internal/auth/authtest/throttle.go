package authtest

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/authd/authd/internal/auth"
)

var (
	errNoNow    = errors.New("authtest: zero time for now")
	errBadLimit = errors.New("authtest: limit must be at least 1")
	errBadWin   = errors.New("authtest: window must be at least 1ms")
)

// Lockouts is an in-memory auth.Lockouts with the semantics of the Valkey
// adapter's Lua scripts: an attempt is admitted only while none of its
// keys is locked, and an admitted one counts as a failure at once;
// failures 1..Free are free; failure Free+k locks until now +
// min(Base·2^(k-1), Max); a lock end only ever moves later; a release
// takes a failure back and the lock with it once the count is within the
// free ones; the failures are forgotten max(lock left, ResetAfter) after
// the last one.
// Unlike the adapter, whose keys expire on the server's clock, the fake
// measures that expiry on the callers' `now`. A policy the adapter refuses
// is refused here too.
type Lockouts struct {
	Probe
	mu   sync.Mutex
	keys map[auth.ThrottleKey]lockState
}

type lockState struct {
	n       int
	until   time.Time // zero: never locked
	expires time.Time // when the key is forgotten
}

var _ auth.Lockouts = (*Lockouts)(nil)

// NewLockouts returns lock-outs with no failures counted.
func NewLockouts() *Lockouts {
	return &Lockouts{Probe: newProbe("Reserve", "Release", "Reset"), keys: map[auth.ThrottleKey]lockState{}}
}

// Failures returns the failures counted for key at now, without counting a
// call.
func (l *Lockouts) Failures(key auth.ThrottleKey, now time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state(key, now).n
}

// state is key's state at now, forgotten once it expired.
func (l *Lockouts) state(key auth.ThrottleKey, now time.Time) lockState {
	st, ok := l.keys[key]
	if ok && !now.Before(st.expires) {
		delete(l.keys, key)
		return lockState{}
	}
	return st
}

func (l *Lockouts) Reserve(_ context.Context, now time.Time, attempts ...auth.Attempt) (auth.Admission, error) {
	if err := l.enter("Reserve"); err != nil {
		return auth.Admission{}, err
	}
	if len(attempts) == 0 {
		return auth.Admission{}, nil
	}
	if now.IsZero() {
		return auth.Admission{}, errNoNow
	}
	for _, a := range attempts {
		if err := validatePolicy(a.Policy); err != nil {
			return auth.Admission{}, err
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var wait time.Duration
	for _, a := range attempts {
		wait = max(wait, l.state(a.Key, now).until.Sub(now))
	}
	if wait > 0 {
		return auth.Admission{Wait: wait}, nil
	}
	adm := auth.Admission{Locks: make([]time.Duration, len(attempts))}
	for i, a := range attempts {
		adm.Locks[i] = l.count(a.Key, a.Policy, now)
	}
	return adm, nil
}

// count is one failure of key, as the adapter's script counts it.
func (l *Lockouts) count(key auth.ThrottleKey, p auth.LockoutPolicy, now time.Time) time.Duration {
	st := l.state(key, now)
	st.n++
	if k := st.n - p.Free; k >= 1 {
		w := p.Base
		for i := 1; i < k && w < p.Max; i++ {
			if w > p.Max/2 {
				w = p.Max
				break
			}
			w *= 2
		}
		w = min(w, p.Max)
		if end := now.Add(w); end.After(st.until) {
			st.until = end
		}
	}
	left := max(st.until.Sub(now), 0)
	st.expires = now.Add(max(left, p.ResetAfter))
	l.keys[key] = st
	return left
}

func (l *Lockouts) Release(_ context.Context, now time.Time, attempts ...auth.Attempt) error {
	if err := l.enter("Release"); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, a := range attempts {
		st, ok := l.keys[a.Key]
		if !ok {
			continue
		}
		st.n--
		switch {
		case st.n <= 0:
			delete(l.keys, a.Key)
			continue
		case st.n <= a.Policy.Free:
			st.until = time.Time{}
		}
		l.keys[a.Key] = st
	}
	return nil
}

func (l *Lockouts) Reset(_ context.Context, keys ...auth.ThrottleKey) error {
	if err := l.enter("Reset"); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		delete(l.keys, k)
	}
	return nil
}

func validatePolicy(p auth.LockoutPolicy) error {
	switch {
	case p.Free < 0:
		return errors.New("authtest: lockout policy: Free must not be negative")
	case p.Base < time.Millisecond:
		return errors.New("authtest: lockout policy: Base must be at least 1ms")
	case p.Max < p.Base:
		return errors.New("authtest: lockout policy: Max must not be below Base")
	case p.ResetAfter < time.Millisecond:
		return errors.New("authtest: lockout policy: ResetAfter must be at least 1ms")
	}
	return nil
}

// RateLimiter is an in-memory auth.RateLimiter with the Valkey adapter's
// fixed windows: a window starts at the first event after the previous one
// ended (on the caller's now), holds at most limit events, and a denied
// event is not counted; the wait is until the window ends, never more than
// the window.
type RateLimiter struct {
	Probe
	mu      sync.Mutex
	windows map[auth.ThrottleKey]windowState
}

type windowState struct {
	start time.Time
	n     int
}

var _ auth.RateLimiter = (*RateLimiter)(nil)

// NewRateLimiter returns a limiter with no events counted.
func NewRateLimiter() *RateLimiter {
	return &RateLimiter{Probe: newProbe("Allow"), windows: map[auth.ThrottleKey]windowState{}}
}

// Count returns the events counted in key's current window, without
// counting a call.
func (r *RateLimiter) Count(key auth.ThrottleKey) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.windows[key].n
}

func (r *RateLimiter) Allow(_ context.Context, key auth.ThrottleKey, limit int, window time.Duration, now time.Time) (bool, time.Duration, error) {
	if err := r.enter("Allow"); err != nil {
		return false, 0, err
	}
	switch {
	case now.IsZero():
		return false, 0, errNoNow
	case limit < 1:
		return false, 0, errBadLimit
	case window < time.Millisecond:
		return false, 0, errBadWin
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	st, ok := r.windows[key]
	if !ok || !now.Before(st.start.Add(window)) {
		r.windows[key] = windowState{start: now, n: 1}
		return true, 0, nil
	}
	if st.n < limit {
		st.n++
		r.windows[key] = st
		return true, 0, nil
	}
	return false, min(st.start.Add(window).Sub(now), window), nil
}
