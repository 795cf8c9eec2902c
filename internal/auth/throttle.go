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

// On says whether the policy limits anything: the zero policy is off.
func (p LockoutPolicy) On() bool { return p.Base > 0 }

// ThrottleKey names what a limit counts: a Scope ("login:account",
// "register:ip") and its Subject (an e-mail address, an IP). The subject is
// personal data, so stores keep only a keyed hash of it.
type ThrottleKey struct {
	Scope   string
	Subject string
}

// Attempt is one attempt counted against a key under its policy.
type Attempt struct {
	Key    ThrottleKey
	Policy LockoutPolicy
}

// Admission is the answer to a reservation. When the attempt is refused,
// Wait is how long the longest-locked key stays locked; when it is
// admitted, Wait is 0 and Locks holds, for each attempt in order, the lock
// its key is under should the attempt fail (0 while within the free ones).
type Admission struct {
	Wait  time.Duration
	Locks []time.Duration
}

// Admitted says whether the attempt may go on.
func (a Admission) Admitted() bool { return a.Wait == 0 }

// Lockouts count failures per key and lock keys, shared by all instances.
//
// An attempt is reserved before it is checked, not counted after: checking
// a password takes tens of milliseconds of hashing, and attempts that
// arrive together would all pass a lock that only counts them once they
// have failed. So an admitted attempt counts as a failure at once, and a
// success takes it back (Release, or Reset of the account).
type Lockouts interface {
	// Reserve admits one attempt on every key or on none. When no key is
	// locked it counts the attempt as a failure of each key, atomically per
	// key (of many attempts released together on one key only Free+1 are
	// admitted), and may lock keys by doing so; otherwise it counts nothing
	// and returns the longest lock as the Wait.
	Reserve(ctx context.Context, now time.Time, attempts ...Attempt) (Admission, error)
	// Release takes back admitted attempts that did not fail, and the locks
	// they set while within their key's free attempts.
	Release(ctx context.Context, now time.Time, attempts ...Attempt) error
	// Reset forgets the keys' failures.
	Reset(ctx context.Context, keys ...ThrottleKey) error
}

// RateLimiter counts events per key in fixed windows. Allow counts one
// event if the window has room, and otherwise says how long until it has.
type RateLimiter interface {
	Allow(ctx context.Context, key ThrottleKey, limit int, window time.Duration, now time.Time) (bool, time.Duration, error)
}

// Limits are the abuse limits. A zero policy or limit turns that limit off.
type Limits struct {
	// LoginAccount counts failed logins per account and client IP: whoever
	// guesses from one address locks that address out of the account, not
	// the owner behind another.
	LoginAccount LockoutPolicy
	// LoginAccountTotal counts failed logins per account from every
	// address, the bound on guesses spread over many (NIST SP 800-63B
	// §5.2.2: at most 100 consecutive failures).
	LoginAccountTotal LockoutPolicy
	LoginIP           LockoutPolicy // failed logins per client IP, any account
	RegisterPerIP     int           // registrations per IP per hour
	MailRequestsIP    int           // recovery/verification requests per IP per hour
	// PasskeyCeremoniesIP bounds the passkey sign-ins an IP may start per
	// hour: each keeps a challenge in Valkey for five minutes.
	PasskeyCeremoniesIP int
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

// accountClientKey is the pair of an account and a client address. NUL
// cannot occur in either, so no two pairs share a subject.
func accountClientKey(email Email, ip string) ThrottleKey {
	return ThrottleKey{Scope: "login:account-client", Subject: email.String() + "\x00" + ip}
}

func ipKey(scope, ip string) ThrottleKey { return ThrottleKey{Scope: scope + ":ip", Subject: ip} }

// loginAttempt is a login (or a check of the current password) reserved
// against the account, the account from this client, and the client.
type loginAttempt struct {
	attempts []Attempt
	locks    []time.Duration // per attempt, should it fail
}

// loginAttempts are the keys a login attempt counts against, those whose
// limits are on.
func (s *Service) loginAttempts(email Email, ip string) loginAttempt {
	var a loginAttempt
	add := func(k ThrottleKey, p LockoutPolicy) {
		if p.On() {
			a.attempts = append(a.attempts, Attempt{Key: k, Policy: p})
		}
	}
	// Without a client address the pair is the account alone, as strict
	// as a lock-out per account.
	add(accountClientKey(email, ip), s.limits.LoginAccount)
	add(accountKey(email), s.limits.LoginAccountTotal)
	if ip != "" {
		add(ipKey("login", ip), s.limits.LoginIP)
	}
	return a
}

// reserveLogin admits a login attempt before the password is looked at,
// or refuses it while the account, the pair or the client is locked: a
// right password does not open a lock. The attempt counts as a failure
// until loginSucceeded or loginReleased takes it back.
func (s *Service) reserveLogin(ctx context.Context, email Email, ip string) (loginAttempt, error) {
	a := s.loginAttempts(email, ip)
	if s.lockouts == nil || len(a.attempts) == 0 {
		return loginAttempt{}, nil
	}
	adm, err := s.lockouts.Reserve(ctx, s.now(), a.attempts...)
	if err != nil {
		return loginAttempt{}, Unavailable("login throttle", err)
	}
	if !adm.Admitted() {
		return loginAttempt{}, errRateLimited(adm.Wait)
	}
	a.locks = adm.Locks
	return a, nil
}

// loginFailed leaves the reserved attempt counted as the failure it is,
// and says which locks it set.
func (s *Service) loginFailed(ctx context.Context, a loginAttempt) {
	for i, d := range a.locks {
		if d > 0 {
			s.log.WarnContext(ctx, "rate limit tripped", "limit", a.attempts[i].Key.Scope, "locked_for", d.String())
		}
	}
}

// loginSucceeded forgets the account's failures, from this client and in
// total: a user who logs in is not punished later for old typos. The
// client's own count only gets this attempt back, so one known password
// cannot reset an IP that tries many accounts.
func (s *Service) loginSucceeded(ctx context.Context, a loginAttempt) {
	if s.lockouts == nil || len(a.attempts) == 0 {
		return
	}
	var forget []ThrottleKey
	var release []Attempt
	for _, at := range a.attempts {
		if at.Key.Scope == "login:ip" {
			release = append(release, at)
		} else {
			forget = append(forget, at.Key)
		}
	}
	if err := s.lockouts.Reset(ctx, forget...); err != nil {
		s.log.ErrorContext(ctx, "throttle not reset", "error", err)
	}
	s.releaseAttempts(ctx, release)
}

// loginReleased takes back an attempt that neither failed nor logged in:
// the check could not run (overload), or it proved the password without a
// login (the current password in settings, an unverified address).
func (s *Service) loginReleased(ctx context.Context, a loginAttempt) {
	if s.lockouts != nil {
		s.releaseAttempts(ctx, a.attempts)
	}
}

func (s *Service) releaseAttempts(ctx context.Context, attempts []Attempt) {
	if len(attempts) == 0 {
		return
	}
	// Even when the client has gone: an attempt never taken back counts
	// as a failure against the owner.
	if err := s.lockouts.Release(context.WithoutCancel(ctx), s.now(), attempts...); err != nil {
		s.log.ErrorContext(ctx, "throttle not released", "error", err)
	}
}

// clearLockout forgets the account's failures in total and from this
// client: the owner proved control of the address (a completed recovery).
// Other clients' pairs stay locked, whoever they are.
func (s *Service) clearLockout(ctx context.Context, email Email, ip string) {
	if s.lockouts == nil {
		return
	}
	if err := s.lockouts.Reset(ctx, accountKey(email), accountClientKey(email, ip)); err != nil {
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
