package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
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

// Lockouts count failures per key and lock keys, shared by all instances.
type Lockouts interface {
	Check(ctx context.Context, key string, now time.Time) (time.Duration, error)
	Fail(ctx context.Context, key string, p LockoutPolicy, now time.Time) (time.Duration, error)
	Reset(ctx context.Context, key string) error
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

// accountKey names an account in throttle keys without putting the
// address itself into Valkey.
func accountKey(email Email) string {
	sum := sha256.Sum256([]byte("authd-throttle:" + email.String()))
	return "login:account:" + hex.EncodeToString(sum[:16])
}

func ipKey(scope, ip string) string { return scope + ":ip:" + ip }

// checkLogin refuses a login while the account or the client IP is locked,
// before the password is looked at: a right password does not open a lock.
func (s *Service) checkLogin(ctx context.Context, email Email, ip string) error {
	if s.lockouts == nil {
		return nil
	}
	keys := []string{accountKey(email)}
	if ip != "" && s.limits.LoginIP.Base > 0 {
		keys = append(keys, ipKey("login", ip))
	}
	var wait time.Duration
	for _, k := range keys {
		d, err := s.lockouts.Check(ctx, k, s.now())
		if err != nil {
			return Unavailable("login throttle", err)
		}
		wait = max(wait, d)
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
	s.fail(ctx, accountKey(email), s.limits.LoginAccount, "login_account")
	if ip != "" && s.limits.LoginIP.Base > 0 {
		s.fail(ctx, ipKey("login", ip), s.limits.LoginIP, "login_ip")
	}
}

func (s *Service) fail(ctx context.Context, key string, p LockoutPolicy, limit string) {
	if p.Base <= 0 {
		return
	}
	d, err := s.lockouts.Fail(ctx, key, p, s.now())
	if err != nil {
		s.log.ErrorContext(ctx, "throttle not updated", "limit", limit, "error", err)
		return
	}
	if d > 0 {
		s.log.WarnContext(ctx, "rate limit tripped", "limit", limit, "locked_for", d.String())
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
