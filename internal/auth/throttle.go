package auth

import (
	"context"
	"time"
)

// LockoutPolicy grows lock-outs after repeated failures: failures 1..Free
// are free; failure Free+k locks until now + min(Base·2^(k-1), Max); the
// count is forgotten ResetAfter after the last failure.
type LockoutPolicy struct {
	Free       int
	Base       time.Duration
	Max        time.Duration
	ResetAfter time.Duration
}

// ThrottleKey names what a limit counts: a Scope ("login:account",
// "register:ip") and its Subject (an e-mail address, an IP). The subject is
// personal data, so stores keep only a keyed hash of it.
type ThrottleKey struct {
	Scope   string
	Subject string
}

// Lockouts count failures per key and lock keys, shared by all instances.
type Lockouts interface {
	// Check returns how long the longest-locked of keys stays locked (0
	// when none is), recording nothing.
	Check(ctx context.Context, now time.Time, keys ...ThrottleKey) (time.Duration, error)
	// Fail counts a failure and returns the lock now in force.
	Fail(ctx context.Context, key ThrottleKey, p LockoutPolicy, now time.Time) (time.Duration, error)
	// Reset forgets the key's failures.
	Reset(ctx context.Context, key ThrottleKey) error
}

// RateLimiter counts events per key in fixed windows. Allow counts one
// event if the window has room, and otherwise says how long until it has.
type RateLimiter interface {
	Allow(ctx context.Context, key ThrottleKey, limit int, window time.Duration, now time.Time) (bool, time.Duration, error)
}

// Limits are the abuse limits. A zero policy or limit turns that limit off.
type Limits struct {
	LoginAccount   LockoutPolicy // failed logins per account
	LoginIP        LockoutPolicy // failed logins per client IP
	RegisterPerIP  int           // registrations per IP per hour
	MailRequestsIP int           // recovery/verification requests per IP per hour
}

// errRateLimited is the reply to a throttled request. It is built the same
// way for every account, known or not, so throttling reveals nothing.
func errRateLimited(retryAfter time.Duration) error {
	return &Error{Kind: KindRateLimited, Code: CodeRateLimited,
		Message: "Too many attempts. Wait a while, then try again.", RetryAfter: max(retryAfter, time.Second)}
}

func accountKey(email Email) ThrottleKey {
	return ThrottleKey{Scope: "login:account", Subject: email.String()}
}

func ipKey(scope, ip string) ThrottleKey { return ThrottleKey{Scope: scope + ":ip", Subject: ip} }

// loginKeys are the keys a login attempt is counted against.
func (s *Service) loginKeys(email Email, ip string) []ThrottleKey {
	keys := []ThrottleKey{accountKey(email)}
	if ip != "" && s.limits.LoginIP.Base > 0 {
		keys = append(keys, ipKey("login", ip))
	}
	return keys
}

// checkLogin refuses a login while the account or the client IP is locked,
// before the password is looked at: a right password does not open a lock.
func (s *Service) checkLogin(ctx context.Context, email Email, ip string) error {
	if s.lockouts == nil {
		return nil
	}
	wait, err := s.lockouts.Check(ctx, s.now(), s.loginKeys(email, ip)...)
	if err != nil {
		return Unavailable("login throttle", err)
	}
	if wait > 0 {
		return errRateLimited(wait)
	}
	return nil
}

// loginFailed counts a failure against the account and the IP.
func (s *Service) loginFailed(ctx context.Context, email Email, ip string) {
	if s.lockouts == nil {
		return
	}
	s.fail(ctx, accountKey(email), s.limits.LoginAccount)
	if ip != "" && s.limits.LoginIP.Base > 0 {
		s.fail(ctx, ipKey("login", ip), s.limits.LoginIP)
	}
}

func (s *Service) fail(ctx context.Context, key ThrottleKey, p LockoutPolicy) {
	if p.Base <= 0 {
		return
	}
	d, err := s.lockouts.Fail(ctx, key, p, s.now())
	if err != nil {
		s.log.ErrorContext(ctx, "throttle not updated", "limit", key.Scope, "error", err)
		return
	}
	if d > 0 {
		s.log.WarnContext(ctx, "rate limit tripped", "limit", key.Scope, "locked_for", d.String())
	}
}

// loginSucceeded forgets the account's failures: a user who logs in is not
// punished later for old typos. The IP count stays, so one known password
// cannot reset an IP that tries many accounts.
func (s *Service) loginSucceeded(ctx context.Context, email Email) {
	if s.lockouts == nil {
		return
	}
	if err := s.lockouts.Reset(ctx, accountKey(email)); err != nil {
		s.log.ErrorContext(ctx, "throttle not reset", "error", err)
	}
}

// allowPerIP applies a per-IP hourly limit (registrations, mail requests).
func (s *Service) allowPerIP(ctx context.Context, scope, ip string, limit int) error {
	if s.limiter == nil || limit <= 0 || ip == "" {
		return nil
	}
	ok, retry, err := s.limiter.Allow(ctx, ipKey(scope, ip), limit, time.Hour, s.now())
	if err != nil {
		return Unavailable("rate limit", err)
	}
	if !ok {
		s.log.WarnContext(ctx, "rate limit tripped", "limit", scope+"_ip", "retry_after", retry.String())
		return errRateLimited(retry)
	}
	return nil
}
