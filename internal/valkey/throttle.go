package valkey

// Brute-force throttling (L-3..L-6, P-10, V-1): a Lockout for failed logins
// per account and per IP, with lock-out windows that grow on each further
// failure, and a fixed-window counter (Window) for registrations per IP and
// mails per address.
//
// Why not valkeylimiter (v1.0.76, the version that resolves here): it is a
// fixed-window limiter only, so it cannot express "lock for 1m, then 2m,
// then 4m ... up to 15m", and it reads time.Now() inside, so tests cannot
// show that a lock ends, or that Retry-After is right, without sleeping
// through real minutes. The two primitives below are small Lua scripts
// (vk.NewLuaScript) that take `now` (unix ms) from the caller, so production
// passes time.Now() and tests pass a fake clock they advance by hand.
//
// Clocks: lock ends and window starts are absolute times on the callers'
// clocks (keep instances NTP-synced; skew between instances shifts a lock by
// that skew, nothing worse). Expiry is set with PEXPIRE, i.e. a duration
// relative to the server's clock, so a skewed or fake caller clock never
// makes a key immortal or expire at once.
//
// Layout: everything about one throttle key lives in ONE Valkey key,
// prefix+"throttle:"+key, a HASH ("n", "until" for a Lockout; "n", "start"
// for a Window), and every script touches only that key, so it works on a
// cluster. Lockout and Window share the namespace: give each use its own key
// name, e.g. "login:account:<hash>", "login:ip:<ip>", "register:ip:<ip>",
// "mail:verify:<hash>".
//
// Keys are visible to anyone who can list or MONITOR the server, so they
// must never contain secrets or raw personal data: callers pass public
// identifiers (an IP, a purpose) or already-hashed ones (preferably a keyed
// hash such as HMAC of the normalised email, since a plain hash of an email
// address is easy to reverse by guessing). Errors never include the key.
//
// Errors are errors: a network failure, timeout or unexpected reply comes
// back as a non-nil error and never reads as "not locked" or "allowed".
// Whether to fail open or closed is the caller's decision.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	vk "github.com/valkey-io/valkey-go"

	"github.com/authd/authd/internal/auth"
)

var (
	errNoKey    = errors.New("empty throttle key")
	errNoNow    = errors.New("zero time for now")
	errBadLimit = errors.New("limit must be at least 1")
	errBadWin   = errors.New("window must be at least 1ms")
)

// throttleKey is the one definition of the throttle key layout.
func (h Handle) throttleKey(key string) string { return h.key("throttle:" + key) }

func checkKeyNow(key string, now time.Time) error {
	if key == "" {
		return errNoKey
	}
	if now.IsZero() {
		return errNoNow
	}
	return nil
}

func ms(n int64) string { return strconv.FormatInt(n, 10) }

// remainingUntil turns an absolute unix-ms deadline into the time left at
// now, 0 once it has passed.
func remainingUntil(untilMs int64, now time.Time) time.Duration {
	d := untilMs - now.UnixMilli()
	if d <= 0 {
		return 0
	}
	return time.Duration(d) * time.Millisecond
}

// LockoutPolicy is the domain's policy (auth.LockoutPolicy): failures
// 1..Free are free; failure Free+k locks the key until now +
// min(Base * 2^(k-1), Max); the counter expires ResetAfter after the last
// failure, and the key lives at least as long as its lock.
type LockoutPolicy = auth.LockoutPolicy

func validatePolicy(p LockoutPolicy) error {
	switch {
	case p.Free < 0:
		return errors.New("lockout policy: Free must not be negative")
	case p.Base < time.Millisecond:
		return errors.New("lockout policy: Base must be at least 1ms")
	case p.Max < p.Base:
		return errors.New("lockout policy: Max must not be below Base")
	case p.ResetAfter < time.Millisecond:
		return errors.New("lockout policy: ResetAfter must be at least 1ms")
	}
	return nil
}

// lockout counts failures per key (e.g. "login:account:<email-hash>",
// "login:ip:<ip>") and locks the key with growing windows once the free
// attempts are used; see LockoutPolicy.
//
// Intended use (L-3..L-5): before verifying a password, Check every key
// involved; if any is locked, answer 429 with Retry-After (the same answer
// for known and unknown identifiers, L-6) without verifying and without
// calling Fail. On a wrong password call Fail on each key; on success Reset
// the account key. Locks are temporary, so once they pass the right
// password works again.
type lockout struct{ Handle }

// newLockout keeps its state at prefix+"throttle:"+key.
func newLockout(h Handle) *lockout { return &lockout{h} }

// Check returns how long the key is still locked (0 if not locked) without
// recording anything.
func (l *lockout) Check(ctx context.Context, key string, now time.Time) (time.Duration, error) {
	return l.checkAll(ctx, now, key)
}

// checkAll returns how long the longest-locked of keys stays locked, in
// one round trip.
func (l *lockout) checkAll(ctx context.Context, now time.Time, keys ...string) (time.Duration, error) {
	cmds := make(vk.Commands, len(keys))
	for i, key := range keys {
		if err := checkKeyNow(key, now); err != nil {
			return 0, fmt.Errorf("valkey: lockout check: %w", err)
		}
		// Plain Do, not DoCache: another instance's Fail must count at once.
		cmds[i] = l.c.B().Hget().Key(l.throttleKey(key)).Field("until").Build()
	}
	if len(cmds) == 0 {
		return 0, nil
	}
	ctx, cancel := l.call(ctx)
	defer cancel()
	var longest time.Duration
	for _, r := range l.c.DoMulti(ctx, cmds...) {
		until, err := r.AsInt64()
		if vk.IsValkeyNil(err) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("valkey: lockout check: %w", err)
		}
		longest = max(longest, remainingUntil(until, now))
	}
	return longest, nil
}

// lockoutFailScript records one failure.
// KEYS[1] the throttle key; ARGV now, free, base, max, resetAfter (all ms).
// Returns the lock in force after this failure, in ms (0 when none).
//
// The lock end only ever moves later: two instances failing at once, or one
// with a clock behind, cannot shorten a lock already set. Numbers are Lua
// doubles, exact for unix ms; '%.0f' keeps them out of exponent notation.
const lockoutCountLua = `
local now = tonumber(ARGV[1])
local free = tonumber(ARGV[2])
local base = tonumber(ARGV[3])
local cap = tonumber(ARGV[4])
local reset = tonumber(ARGV[5])
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
local lockedUntil = tonumber(redis.call('HGET', KEYS[1], 'until')) or 0
local k = n - free
if k >= 1 then
  local w = cap
  if k <= 62 then w = math.min(base * 2 ^ (k - 1), cap) end
  if now + w > lockedUntil then
    lockedUntil = now + w
    redis.call('HSET', KEYS[1], 'until', string.format('%.0f', lockedUntil))
  end
end
local left = math.max(lockedUntil - now, 0)
redis.call('PEXPIRE', KEYS[1], string.format('%.0f', math.max(left, reset)))
`

var lockoutFailScript = vk.NewLuaScript(lockoutCountLua + `
return left
`)

// lockoutReserveScript admits one attempt unless the key is locked, and
// counts an admitted attempt as a failure (as lockoutFailScript). Checking
// and counting in one script is what keeps attempts released together
// from all passing the check before any is counted.
// KEYS[1] the throttle key; ARGV as lockoutFailScript.
// Returns {1, the lock should the attempt fail (ms)} when admitted, and
// {0, the lock left (ms)} when refused.
var lockoutReserveScript = vk.NewLuaScript(`
local until0 = tonumber(redis.call('HGET', KEYS[1], 'until')) or 0
if until0 > tonumber(ARGV[1]) then return {0, until0 - tonumber(ARGV[1])} end
` + lockoutCountLua + `
return {1, left}
`)

// lockoutReleaseScript takes back one admitted attempt: the count goes down,
// and a lock goes when the count is back within the free attempts (it was
// set by an attempt that did not fail). KEYS[1] the key; ARGV[1] free.
// A key that is gone (reset, expired) stays gone.
var lockoutReleaseScript = vk.NewLuaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local n = redis.call('HINCRBY', KEYS[1], 'n', -1)
if n <= 0 then
  redis.call('DEL', KEYS[1])
elseif n <= tonumber(ARGV[1]) then
  redis.call('HDEL', KEYS[1], 'until')
end
return 1
`)

// policyArgs are the scripts' ARGV: now, free, base, max, resetAfter (ms).
func policyArgs(p LockoutPolicy, now time.Time) []string {
	return []string{ms(now.UnixMilli()), strconv.Itoa(p.Free),
		ms(p.Base.Milliseconds()), ms(p.Max.Milliseconds()), ms(p.ResetAfter.Milliseconds())}
}

// Fail records a failure and returns the lock now in force (0 if still
// within the free attempts). It is atomic: one Lua script increments the
// counter, moves the lock end and sets the expiry to the later of the lock
// end and now+ResetAfter.
func (l *lockout) Fail(ctx context.Context, key string, p LockoutPolicy, now time.Time) (time.Duration, error) {
	if err := checkKeyNow(key, now); err != nil {
		return 0, fmt.Errorf("valkey: lockout fail: %w", err)
	}
	if err := validatePolicy(p); err != nil {
		return 0, fmt.Errorf("valkey: lockout fail: %w", err)
	}
	ctx, cancel := l.call(ctx)
	defer cancel()
	left, err := lockoutFailScript.Exec(ctx, l.c, []string{l.throttleKey(key)}, policyArgs(p, now)).AsInt64()
	if err != nil {
		return 0, fmt.Errorf("valkey: lockout fail: %w", err)
	}
	return time.Duration(left) * time.Millisecond, nil
}

// Reset forgets the key (after a successful login for the account key).
// Resetting a key that does not exist is not an error.
func (l *lockout) Reset(ctx context.Context, key string) error {
	if key == "" {
		return fmt.Errorf("valkey: lockout reset: %w", errNoKey)
	}
	ctx, cancel := l.call(ctx)
	defer cancel()
	if err := l.c.Do(ctx, l.c.B().Del().Key(l.throttleKey(key)).Build()).Error(); err != nil {
		return fmt.Errorf("valkey: lockout reset: %w", err)
	}
	return nil
}

// window is a fixed-window counter: at most Limit events per Window per key
// (registrations per IP, mails per address per hour). A window starts at the
// first event after the previous one ended, so bursts at a window's end and
// the next one's start can reach twice the limit in a short span; combine
// two Windows (e.g. 1 per 60s and 5 per hour for P-10) where that matters.
type window struct{ Handle }

// newWindow keeps its state at prefix+"throttle:"+key.
func newWindow(h Handle) *window { return &window{h} }

// windowAllowScript records one event if the window has room.
// KEYS[1] the throttle key; ARGV now, limit, window (ms).
// Returns {1, 0} when allowed, {0, ms until the window ends} when not.
//
// A window is over when the caller's now reaches start+window, even if the
// server has not expired the key yet (clock skew, or a test's fake clock);
// the expiry is relative to the server's clock, so the key never outlives
// its window by more than the skew.
var windowAllowScript = vk.NewLuaScript(`
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local cur = redis.call('HMGET', KEYS[1], 'start', 'n')
local start = tonumber(cur[1])
local n = tonumber(cur[2]) or 0
if not start or now >= start + window then
  redis.call('HSET', KEYS[1], 'start', string.format('%.0f', now), 'n', 1)
  redis.call('PEXPIRE', KEYS[1], string.format('%.0f', window))
  return {1, 0}
end
if n < limit then
  redis.call('HINCRBY', KEYS[1], 'n', 1)
  return {1, 0}
end
return {0, math.min(start + window - now, window)}
`)

// Allow records one event if under the limit and reports whether it was
// allowed, and if not, how long until the window resets. Window boundaries
// are aligned to now (window start = first event's time; the key expires at
// start+window), computed in Lua from the caller's now, not the server's
// TIME. Denied events are not counted. On error, allowed is false.
func (w *window) Allow(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (allowed bool, retryAfter time.Duration, err error) {
	if err := checkKeyNow(key, now); err != nil {
		return false, 0, fmt.Errorf("valkey: window allow: %w", err)
	}
	if limit < 1 {
		return false, 0, fmt.Errorf("valkey: window allow: %w", errBadLimit)
	}
	if window < time.Millisecond {
		return false, 0, fmt.Errorf("valkey: window allow: %w", errBadWin)
	}
	ctx, cancel := w.call(ctx)
	defer cancel()
	res, err := windowAllowScript.Exec(ctx, w.c, []string{w.throttleKey(key)}, []string{
		ms(now.UnixMilli()), strconv.Itoa(limit), ms(window.Milliseconds()),
	}).AsIntSlice()
	if err != nil {
		return false, 0, fmt.Errorf("valkey: window allow: %w", err)
	}
	if len(res) != 2 {
		return false, 0, fmt.Errorf("valkey: window allow: unexpected reply of %d values", len(res))
	}
	if res[0] == 1 {
		return true, 0, nil
	}
	return false, time.Duration(res[1]) * time.Millisecond, nil
}

// Lockouts is the domain's lock-out port: a lockout under keys whose
// subject (an address, an IP) is a keyed hash.
type Lockouts struct{ l *lockout }

var _ auth.Lockouts = (*Lockouts)(nil)

// NewLockouts keeps lock-outs under h.
func NewLockouts(h Handle) *Lockouts { return &Lockouts{newLockout(h)} }

// throttleName is the key of a domain throttle key: its scope in clear
// (for operators), its subject as a keyed hash.
func (h Handle) throttleName(k auth.ThrottleKey) string {
	return k.Scope + ":" + h.hashSubject(k.Subject)
}

// Reserve admits one attempt on every key or on none, in one round trip
// when it is admitted: one script per key, each atomic on its own key (so
// the keys may live on different cluster slots). When a key refuses, the
// keys that admitted are released again.
func (x *Lockouts) Reserve(ctx context.Context, now time.Time, attempts ...auth.Attempt) (auth.Admission, error) {
	if len(attempts) == 0 {
		return auth.Admission{}, nil
	}
	if now.IsZero() {
		return auth.Admission{}, fmt.Errorf("valkey: lockout reserve: %w", errNoNow)
	}
	execs := make([]vk.LuaExec, len(attempts))
	for i, a := range attempts {
		if err := validatePolicy(a.Policy); err != nil {
			return auth.Admission{}, fmt.Errorf("valkey: lockout reserve: %w", err)
		}
		execs[i] = vk.LuaExec{Keys: []string{x.l.throttleKey(x.l.throttleName(a.Key))}, Args: policyArgs(a.Policy, now)}
	}
	ctx, cancel := x.l.call(ctx)
	defer cancel()
	var (
		adm      = auth.Admission{Locks: make([]time.Duration, len(attempts))}
		admitted []auth.Attempt
		firstErr error
	)
	for i, r := range lockoutReserveScript.ExecMulti(ctx, x.l.c, execs...) {
		res, err := r.AsIntSlice()
		if err == nil && len(res) != 2 {
			err = fmt.Errorf("unexpected reply of %d values", len(res))
		}
		if err != nil {
			firstErr = cmp.Or(firstErr, err)
			continue
		}
		d := time.Duration(res[1]) * time.Millisecond
		if res[0] == 1 {
			admitted = append(admitted, attempts[i])
			adm.Locks[i] = d
		} else {
			adm.Wait = max(adm.Wait, d)
		}
	}
	if firstErr == nil && adm.Wait == 0 {
		return adm, nil
	}
	// Refused, or not known to be admitted: nothing stays counted.
	if err := x.Release(context.WithoutCancel(ctx), now, admitted...); err != nil {
		firstErr = cmp.Or(firstErr, err)
	}
	if firstErr != nil {
		return auth.Admission{}, fmt.Errorf("valkey: lockout reserve: %w", firstErr)
	}
	return auth.Admission{Wait: adm.Wait}, nil
}

// Release takes back admitted attempts, in one round trip.
func (x *Lockouts) Release(ctx context.Context, _ time.Time, attempts ...auth.Attempt) error {
	if len(attempts) == 0 {
		return nil
	}
	execs := make([]vk.LuaExec, len(attempts))
	for i, a := range attempts {
		execs[i] = vk.LuaExec{Keys: []string{x.l.throttleKey(x.l.throttleName(a.Key))}, Args: []string{strconv.Itoa(a.Policy.Free)}}
	}
	ctx, cancel := x.l.call(ctx)
	defer cancel()
	for _, r := range lockoutReleaseScript.ExecMulti(ctx, x.l.c, execs...) {
		if err := r.Error(); err != nil {
			return fmt.Errorf("valkey: lockout release: %w", err)
		}
	}
	return nil
}

// Reset forgets the keys' failures in one round trip: one DEL per key,
// since the keys may live on different cluster slots.
func (x *Lockouts) Reset(ctx context.Context, keys ...auth.ThrottleKey) error {
	if len(keys) == 0 {
		return nil
	}
	cmds := make(vk.Commands, len(keys))
	for i, k := range keys {
		cmds[i] = x.l.c.B().Del().Key(x.l.throttleKey(x.l.throttleName(k))).Build()
	}
	ctx, cancel := x.l.call(ctx)
	defer cancel()
	for _, r := range x.l.c.DoMulti(ctx, cmds...) {
		if err := r.Error(); err != nil {
			return fmt.Errorf("valkey: lockout reset: %w", err)
		}
	}
	return nil
}

// RateLimiter is the domain's fixed-window limit port over window.
type RateLimiter struct{ w *window }

var _ auth.RateLimiter = (*RateLimiter)(nil)

// NewRateLimiter keeps windows under h.
func NewRateLimiter(h Handle) *RateLimiter { return &RateLimiter{newWindow(h)} }

// Allow counts one event of key if its window has room.
func (x *RateLimiter) Allow(ctx context.Context, key auth.ThrottleKey, limit int, window time.Duration, now time.Time) (bool, time.Duration, error) {
	return x.w.Allow(ctx, x.w.throttleName(key), limit, window, now)
}
