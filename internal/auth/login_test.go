package auth_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authd/authd/internal/auth"
	"github.com/authd/authd/internal/auth/authtest"
)

func login(e *env, identifier, pw string) (auth.LoggedIn, error) {
	return e.svc.Login(context.Background(), auth.Login{Identifier: identifier, Password: pw, Client: client})
}

func TestLoginStartsASession(t *testing.T) {
	e := newEnv(t)
	ann := e.user(t, "ann@example.com")
	other := e.user(t, "other@example.com")
	prev, prevToken := e.session(t, other.ID, e.Clock.Now())
	got, err := e.svc.Login(context.Background(), auth.Login{Identifier: " ANN@example.com", Password: password, Client: client, Current: prev})
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	if got.Identity.ID != ann.ID || got.Session.IdentityID != ann.ID || got.Session.IP != client.IP ||
		!got.Session.AuthenticatedAt.Equal(e.Clock.Now()) || got.Session.Token == "" {
		t.Errorf("Login = %+v", got)
	}
	if !e.works(t, got.Session.Token) || e.works(t, prevToken) {
		t.Error("the new session does not work, or the one from before the login does (session fixation)")
	}
	wantTypes(t, e.Audit, auth.EventLoginSucceeded)
	if e.Hasher.Verifies() != 1 || e.Hasher.Hashes() != 0 {
		t.Errorf("hasher calls %v, want one Verify", e.Hasher.CallCounts())
	}
}

// An unknown e-mail, a wrong password, an inactive account and an
// unreadable stored hash cost the same calls and get the same answer.
func TestLoginFailuresLookAlike(t *testing.T) {
	tests := []struct {
		name  string
		setup func(e *env)
		pw    string
		who   bool // the failure is audited against the identity
	}{
		{"unknown e-mail", func(*env) {}, password, false},
		{"wrong password", func(e *env) { e.user(t, "ann@example.com") }, "wrong password", true},
		{"inactive account", func(e *env) { e.user(t, "ann@example.com", inactive) }, password, true},
		{"unreadable stored hash", func(e *env) {
			e.user(t, "ann@example.com", func(i *auth.Identity) { i.PasswordHash = "$corrupt" })
		}, password, true},
	}
	var first map[string]int
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			tt.setup(e)
			_, err := login(e, "ann@example.com", tt.pw)
			if err != auth.ErrInvalidCredentials {
				t.Fatalf("Login = %v, want ErrInvalidCredentials itself", err)
			}
			calls := e.CallCounts()
			if calls["Hasher.Verify"] != 1 || calls["Identities.IdentityByEmail"] != 1 {
				t.Errorf("calls = %v, want one Verify and one identity read", calls)
			}
			if first == nil {
				first = calls
			} else if !maps.Equal(calls, first) {
				t.Errorf("calls = %v, want the same as for an unknown e-mail: %v", calls, first)
			}
			events := e.Audit.OfType(auth.EventLoginFailed)
			if len(events) != 1 || (events[0].IdentityID != nil) != tt.who {
				t.Errorf("login_failed events = %+v, identity named: want %v", events, tt.who)
			}
			if n := e.Lockouts.Failures(accountKey("ann@example.com"), e.Clock.Now()); n != 1 {
				t.Errorf("%d failures counted, want 1", n)
			}
		})
	}
}

func TestLoginValidation(t *testing.T) {
	tests := []struct {
		name, identifier, pw string
		want                 []string
	}{
		{"no identifier", "", password, []string{"identifier=required"}},
		{"bad identifier", "ann", password, []string{"identifier=email_invalid"}},
		{"no password", "ann@example.com", "", []string{"password=required"}},
		{"password no stored one can be", "ann@example.com", strings.Repeat("x", 513), []string{"password=password_too_long"}},
		{"both", "", "", []string{"identifier=required", "password=required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			_, err := login(e, tt.identifier, tt.pw)
			wantFields(t, err, tt.want...)
			if e.Hasher.Verifies() != 0 || e.Lockouts.Calls("Reserve") != 0 {
				t.Errorf("invalid input did work: %v", e.CallCounts())
			}
		})
	}
}

func TestLoginAcceptsAPasswordSetUnderAnOlderPolicy(t *testing.T) {
	e := newEnv(t)
	e.user(t, "ann@example.com", func(i *auth.Identity) { i.PasswordHash = authtest.HashOf("short") })
	if _, err := login(e, "ann@example.com", "short"); err != nil {
		t.Errorf("Login = %v", err)
	}
}

func TestLoginLockout(t *testing.T) {
	e := newEnv(t) // 3 free failures, then 1m, 2m, ...
	e.user(t, "ann@example.com")
	key := accountKey("ann@example.com")
	for i := range 4 {
		if _, err := login(e, "ann@example.com", "wrong password"); err != auth.ErrInvalidCredentials {
			t.Fatalf("failure %d: %v", i+1, err)
		}
	}
	// Locked: even the right password is refused, before any hashing.
	verifies := e.Hasher.Verifies()
	_, err := login(e, "ann@example.com", password)
	if ae := wantErr(t, err, auth.KindRateLimited, auth.CodeRateLimited); ae.RetryAfter != time.Minute {
		t.Errorf("RetryAfter = %v, want 1m", ae.RetryAfter)
	}
	if e.Hasher.Verifies() != verifies || e.Identities.Calls("IdentityByEmail") != 4 {
		t.Errorf("a locked login did work: %v", e.CallCounts())
	}
	// An unknown address is locked the same way.
	for range 4 {
		_, _ = login(e, "nobody@example.com", password)
	}
	_, err = login(e, "nobody@example.com", password)
	wantErr(t, err, auth.KindRateLimited, auth.CodeRateLimited)
	// Failures are not forgotten by a failed login; the lock passes.
	if n := e.Lockouts.Failures(key, e.Clock.Now()); n != 4 {
		t.Errorf("%d failures, want 4", n)
	}
	e.Clock.Advance(time.Minute)
	if _, err := login(e, "ann@example.com", password); err != nil {
		t.Fatalf("Login after the lock: %v", err)
	}
	// Only a success forgets them.
	if n := e.Lockouts.Failures(key, e.Clock.Now()); n != 0 {
		t.Errorf("%d failures after a success, want 0", n)
	}
}

func TestLoginLockoutPerIP(t *testing.T) {
	e := newEnv(t, func(d *auth.Deps) {
		d.Limits.LoginIP = auth.LockoutPolicy{Free: 2, Base: time.Minute, Max: time.Hour, ResetAfter: time.Hour}
	})
	e.user(t, "ann@example.com")
	// Failures for several accounts from one IP.
	for _, addr := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		_, _ = login(e, addr, "wrong password")
	}
	_, err := login(e, "ann@example.com", password)
	wantErr(t, err, auth.KindRateLimited, auth.CodeRateLimited)
	// Another IP may log in; its success does not reset the IP's count.
	other := auth.NewClient("203.0.113.5", "", "")
	if _, err := e.svc.Login(context.Background(), auth.Login{Identifier: "ann@example.com", Password: password, Client: other}); err != nil {
		t.Fatal(err)
	}
	ipKey := auth.ThrottleKey{Scope: "login:ip", Subject: client.IP}
	if n := e.Lockouts.Failures(ipKey, e.Clock.Now()); n != 3 {
		t.Errorf("IP failures = %d, want 3", n)
	}
}

func TestLoginWithoutLockouts(t *testing.T) {
	e := newEnv(t, func(d *auth.Deps) { d.Lockouts = nil })
	e.user(t, "ann@example.com")
	for range 10 {
		if _, err := login(e, "ann@example.com", "wrong password"); err != auth.ErrInvalidCredentials {
			t.Fatal(err)
		}
	}
	if _, err := login(e, "ann@example.com", password); err != nil {
		t.Errorf("Login = %v", err)
	}
}

func TestLoginThrottleFailures(t *testing.T) {
	t.Run("reserve down refuses the login", func(t *testing.T) {
		e := newEnv(t)
		e.user(t, "ann@example.com")
		e.Lockouts.FailOn("Reserve", errInjected)
		_, err := login(e, "ann@example.com", password)
		wantErr(t, err, auth.KindUnavailable, auth.CodeUnavailable)
		if e.Hasher.Verifies() != 0 {
			t.Error("hashed while the throttle was down")
		}
	})
	t.Run("failing to release is logged", func(t *testing.T) {
		e := newEnv(t)
		e.user(t, "ann@example.com")
		e.Lockouts.FailOn("Release", errInjected)
		if _, err := login(e, "ann@example.com", password); err != nil {
			t.Fatalf("Login = %v", err)
		}
		e.logs.wantLogged(t, slog.LevelError, "throttle not released")
	})
	t.Run("failing to reset is logged", func(t *testing.T) {
		e := newEnv(t)
		e.user(t, "ann@example.com")
		e.Lockouts.FailOn("Reset", errInjected)
		if _, err := login(e, "ann@example.com", password); err != nil {
			t.Fatalf("Login = %v", err)
		}
		e.logs.wantLogged(t, slog.LevelError, "throttle not reset")
	})
	t.Run("a tripped lock is logged", func(t *testing.T) {
		e := newEnv(t, func(d *auth.Deps) { d.Limits.LoginAccount.Free = 0 })
		_, _ = login(e, "ann@example.com", "wrong password")
		e.logs.wantLogged(t, slog.LevelWarn, "rate limit tripped")
	})
}

func TestLoginRequireVerified(t *testing.T) {
	tests := []struct {
		name     string
		verified bool
		pw       string
		want     error
	}{
		{"unverified, right password", false, password, auth.ErrEmailNotVerified},
		{"unverified, wrong password", false, "wrong password", auth.ErrInvalidCredentials},
		{"verified", true, password, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, requireVerified)
			e.user(t, "ann@example.com", func(i *auth.Identity) {
				if tt.verified {
					verified(i)
				}
			})
			// A failure to forget: a refusal must not reset it.
			_, _ = login(e, "ann@example.com", "wrong password")
			_, err := login(e, "ann@example.com", tt.pw)
			if err != tt.want {
				t.Fatalf("Login = %v, want %v", err, tt.want)
			}
			wantFailures := 2
			if tt.want == auth.ErrEmailNotVerified {
				wantFailures = 1
			}
			if tt.want == nil {
				wantFailures = 0
			}
			if n := e.Lockouts.Failures(accountKey("ann@example.com"), e.Clock.Now()); n != wantFailures {
				t.Errorf("%d failures, want %d", n, wantFailures)
			}
			if tt.want != nil && e.Sessions.Calls("Start") != 0 {
				t.Error("a refused login started a session")
			}
		})
	}
}

func TestLoginUpgradesAStaleHash(t *testing.T) {
	tests := []struct {
		name     string
		inject   func(e *env)
		upgraded bool
	}{
		{"upgraded", func(*env) {}, true},
		{"hashing fails", func(e *env) { e.Hasher.FailOn("Hash", errInjected) }, false},
		{"storing fails", func(e *env) { e.Identities.FailOn("UpdatePasswordHash", errInjected) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ann := e.user(t, "ann@example.com", func(i *auth.Identity) { i.PasswordHash = authtest.StaleHashOf(password) })
			tt.inject(e)
			got, err := login(e, "ann@example.com", password)
			if err != nil {
				t.Fatalf("Login = %v; a failed upgrade must not fail the login", err)
			}
			want := authtest.StaleHashOf(password)
			if tt.upgraded {
				want = authtest.HashOf(password)
			} else {
				e.logs.wantLogged(t, slog.LevelWarn, "password re-hash failed")
			}
			if stored := e.stored(t, ann.ID).PasswordHash; stored != want || got.Identity.PasswordHash != want {
				t.Errorf("stored hash %q, returned %q; want %q", stored, got.Identity.PasswordHash, want)
			}
		})
	}
	t.Run("a current hash is left alone", func(t *testing.T) {
		e := newEnv(t)
		e.user(t, "ann@example.com")
		if _, err := login(e, "ann@example.com", password); err != nil {
			t.Fatal(err)
		}
		if e.Hasher.Hashes() != 0 || e.Identities.Calls("UpdatePasswordHash") != 0 {
			t.Errorf("calls %v", e.CallCounts())
		}
	})
}

// A session that cannot be written is a failed login: no success is
// recorded and the failures are not forgotten.
func TestLoginSessionFailure(t *testing.T) {
	tests := []struct {
		name   string
		inject func(e *env)
	}{
		{"start fails", func(e *env) { e.Sessions.FailOn("Start", errInjected) }},
		{"ending the previous session fails", func(e *env) { e.Sessions.FailOn("End", errInjected) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ann := e.user(t, "ann@example.com")
			prev, _ := e.session(t, ann.ID, e.Clock.Now())
			_, _ = login(e, "ann@example.com", "wrong password")
			tt.inject(e)
			_, err := e.svc.Login(context.Background(), auth.Login{Identifier: "ann@example.com", Password: password, Client: client, Current: prev})
			ae := wantErr(t, err, auth.KindUnavailable, auth.CodeUnavailable)
			if !errors.Is(ae, errInjected) {
				t.Errorf("the cause is not kept for the logs: %v", ae)
			}
			if n := len(e.Audit.OfType(auth.EventLoginSucceeded)); n != 0 {
				t.Errorf("%d login_succeeded events for a login without a session", n)
			}
			if n := e.Lockouts.Failures(accountKey("ann@example.com"), e.Clock.Now()); n != 1 || e.Lockouts.Calls("Reset") != 0 {
				t.Errorf("failures %d (Reset called %d times): the lock-out was reset without a session", n, e.Lockouts.Calls("Reset"))
			}
		})
	}
}

func TestLoginDependencyFailures(t *testing.T) {
	tests := []struct {
		name   string
		inject func(e *env)
		code   string
	}{
		{"identity store down", func(e *env) { e.Identities.FailOn("IdentityByEmail", errAvailable) }, auth.CodeUnavailable},
		{"hasher overloaded", func(e *env) { e.Hasher.Overload(3 * time.Second) }, auth.CodeOverloaded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.user(t, "ann@example.com")
			tt.inject(e)
			_, err := login(e, "ann@example.com", password)
			wantErr(t, err, auth.KindUnavailable, tt.code)
			// The client may retry: nothing counts against it.
			if n := e.Lockouts.Failures(accountKey("ann@example.com"), e.Clock.Now()); n != 0 || len(e.Audit.Events()) != 0 {
				t.Errorf("a failure of ours was counted: %d failures, events %v", n, e.Audit.Types())
			}
		})
	}
}

// A zero policy or limit turns that limit off; a Service without a clock
// or a logger uses time.Now and discards its logs.
func TestZeroLimitsAndDefaults(t *testing.T) {
	f := authtest.New()
	d := f.Deps()
	d.Now, d.Log, d.Limiter = nil, nil, nil
	d.Policy = auth.PasswordPolicy{MinLength: 8}
	d.Mail = auth.MailSettings{PublicURL: publicURL, RecoveryTTL: time.Hour, VerificationTTL: time.Hour, CodeTTL: time.Minute, CodeAttempts: 3, PerAddressLimit: 1}
	svc := auth.NewService(d)
	before := time.Now()
	got, err := svc.Register(context.Background(), auth.Register{Email: "ann@example.com", Password: password, Client: client})
	if err != nil {
		t.Fatal(err)
	}
	if got.Identity.CreatedAt.Before(before.Truncate(time.Microsecond)) {
		t.Errorf("CreatedAt %v is not from time.Now", got.Identity.CreatedAt)
	}
	for range 20 {
		if _, err := svc.Login(context.Background(), auth.Login{Identifier: "ann@example.com", Password: "wrong password", Client: client}); err != auth.ErrInvalidCredentials {
			t.Fatal(err)
		}
		if err := svc.RequestRecovery(context.Background(), auth.RequestRecovery{Email: "ann@example.com", Client: client}); err != nil {
			t.Fatal(err)
		}
		for _, r := range f.Outbox.TakeRequests() {
			if err := svc.AnswerMailRequest(context.Background(), r); err != nil {
				t.Fatal(err)
			}
		}
	}
	if f.Lockouts.Calls("Reserve") != 0 {
		t.Error("a zero lock-out policy counted failures")
	}
	if n := len(f.Outbox.To("ann@example.com", "recovery")); n != 20 {
		t.Errorf("%d recovery mails without a limiter, want 20", n)
	}
}

// The account lock-out counts per client address: whoever guesses from one
// address locks that address out, not the owner behind another, until the
// account's total over every address is used up.
func TestLoginLockoutPerAccountAndClient(t *testing.T) {
	e := newEnv(t, func(d *auth.Deps) {
		d.Limits.LoginAccountTotal = auth.LockoutPolicy{Free: 6, Base: time.Minute, Max: time.Hour, ResetAfter: time.Hour}
	})
	e.user(t, "ann@example.com")
	attacker, owner := auth.NewClient("203.0.113.66", "", ""), auth.NewClient("198.51.100.7", "", "")
	loginFrom := func(c auth.Client, pw string) error {
		_, err := e.svc.Login(context.Background(), auth.Login{Identifier: "ann@example.com", Password: pw, Client: c})
		return err
	}
	for range 4 { // the pair's 3 free failures and one that locks it
		if err := loginFrom(attacker, "wrong password"); err != auth.ErrInvalidCredentials {
			t.Fatal(err)
		}
	}
	wantErr(t, loginFrom(attacker, password), auth.KindRateLimited, auth.CodeRateLimited)
	if err := loginFrom(owner, password); err != nil {
		t.Fatalf("the owner from another address: %v, want a login", err)
	}
	// The owner's success forgot the account's total, not the attacker's
	// pair.
	wantErr(t, loginFrom(attacker, password), auth.KindRateLimited, auth.CodeRateLimited)
	if n := e.Lockouts.Failures(totalKey("ann@example.com"), e.Clock.Now()); n != 0 {
		t.Errorf("total failures after the owner's login = %d, want 0", n)
	}

	// Guesses spread over many addresses meet the total.
	for i := range 7 {
		c := auth.NewClient(fmt.Sprintf("203.0.113.%d", 100+i), "", "")
		if err := loginFrom(c, "wrong password"); err != auth.ErrInvalidCredentials {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	wantErr(t, loginFrom(owner, password), auth.KindRateLimited, auth.CodeRateLimited)
}

// An attempt is reserved before it is checked, so attempts that arrive
// together cannot all pass the lock before any is counted.
func TestLoginReservesTheAttemptBeforeHashing(t *testing.T) {
	e := newEnv(t)
	e.user(t, "ann@example.com")
	// While the first attempt hashes, the other four arrive: the first is
	// already counted, so only the free ones and one more are checked.
	var inner atomic.Int32
	e.Hasher.Before("Verify", func() {
		if inner.Add(1) != 1 {
			return
		}
		for range 4 {
			_, _ = login(e, "ann@example.com", "wrong password")
		}
	})
	_, _ = login(e, "ann@example.com", "wrong password")
	if got := e.Hasher.Verifies(); got != 4 {
		t.Errorf("%d of 5 overlapping attempts hashed, want 4 (3 free, one that locks)", got)
	}
}

// A login that checked the old password while a reset completed starts no
// session: the reset is seen when the identity is read again, or, if it
// lands after that, its new generation refuses the session.
func TestLoginRacingAPasswordReset(t *testing.T) {
	reset := func(e *env, ann auth.Identity) {
		own, _ := e.session(t, ann.ID, e.Clock.Now())
		_, err := e.svc.ChangePassword(context.Background(), auth.ChangePassword{Session: own,
			Password: newPassword, Client: auth.NewClient("198.51.100.1", "other-device", "")})
		if err != nil {
			t.Fatalf("ChangePassword: %v", err)
		}
	}
	tests := []struct {
		name string
		hook func(e *env, ann auth.Identity)
	}{
		{"the reset commits while the login hashes", func(e *env, ann auth.Identity) {
			e.Hasher.Before("Verify", once(func() { reset(e, ann) }))
		}},
		{"the reset commits after the identity is read again", func(e *env, ann auth.Identity) {
			e.Sessions.Before("Start", once(func() { reset(e, ann) }))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ann := e.user(t, "ann@example.com")
			tt.hook(e, ann)
			_, err := login(e, "ann@example.com", password)
			if err != auth.ErrInvalidCredentials {
				t.Fatalf("Login with the old password = %v, want invalid credentials", err)
			}
			for _, s := range e.Sessions.Live(ann.ID) {
				if s.UserAgent != "other-device" { // the reset's own, renewed
					t.Errorf("a session of the login with the old password lives: %+v", s)
				}
			}
			if n := len(e.Audit.OfType(auth.EventLoginSucceeded)); n != 0 {
				t.Errorf("%d login_succeeded events", n)
			}
		})
	}
}

// once runs fn the first time only: hooks fire on every call, the use case
// a hook runs included.
func once(fn func()) func() {
	var done atomic.Bool
	return func() {
		if done.CompareAndSwap(false, true) {
			fn()
		}
	}
}

// A request the hash pool would shed is refused before any other work: no
// throttle is reserved or used up, no store is read, nothing is hashed, so
// that a storm of retries costs the server little.
func TestShedRequestsCostNoOtherWork(t *testing.T) {
	tests := []struct {
		name string
		call func(e *env, s auth.Session) error
	}{
		{"login", func(e *env, _ auth.Session) error { _, err := login(e, "ann@example.com", password); return err }},
		{"register", func(e *env, _ auth.Session) error {
			_, err := e.svc.Register(context.Background(), auth.Register{Email: "new@example.com", Password: password, Client: client})
			return err
		}},
		{"password change", func(e *env, s auth.Session) error {
			_, err := e.svc.ChangePassword(context.Background(), auth.ChangePassword{Session: s, Password: newPassword, CurrentPassword: password, Client: client})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ann := e.user(t, "ann@example.com")
			s, _ := e.session(t, ann.ID, e.Clock.Now())
			e.Hasher.Overload(2 * time.Second)
			e.ResetCalls()
			err := tt.call(e, s)
			if ae := wantErr(t, err, auth.KindUnavailable, auth.CodeOverloaded); ae.RetryAfter != 2*time.Second {
				t.Errorf("RetryAfter = %v, want the pool's 2s", ae.RetryAfter)
			}
			calls := e.CallCounts()
			for name, n := range calls {
				if name != "Hasher.Admit" && n > 0 {
					t.Errorf("a shed request called %s %d times; calls: %v", name, n, calls)
				}
			}
		})
	}
}
