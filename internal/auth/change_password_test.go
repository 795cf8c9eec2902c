package auth_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/authd/authd/internal/auth"
	"github.com/authd/authd/internal/auth/authtest"
)

func TestChangePassword(t *testing.T) {
	tests := []struct {
		name    string
		authAgo time.Duration // how long ago the session was authenticated
		current string
	}{
		{"inside the privileged window", 5 * time.Minute, ""},
		{"at the end of the window", 15 * time.Minute, ""},
		{"outside the window with the current password", time.Hour, password},
		{"inside the window with the current password", time.Minute, password},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ann := e.user(t, "ann@example.com")
			now := e.Clock.Now()
			current, currentToken := e.session(t, ann.ID, now.Add(-tt.authAgo))
			_, otherToken := e.session(t, ann.ID, now.Add(-time.Hour))
			bob := e.user(t, "bob@example.com")
			_, bobToken := e.session(t, bob.ID, now)
			_ = e.Profiles.Put(context.Background(), ann.Profile())

			got, err := e.svc.ChangePassword(context.Background(), auth.ChangePassword{
				Session: current, Password: newPassword, CurrentPassword: tt.current, Client: client})
			if err != nil {
				t.Fatalf("ChangePassword: %v", err)
			}
			stored := e.stored(t, ann.ID)
			if stored.PasswordHash != authtest.HashOf(newPassword) || got.Identity.PasswordHash != stored.PasswordHash ||
				!stored.UpdatedAt.Equal(now) {
				t.Errorf("stored %+v, returned %+v", stored, got.Identity)
			}
			if _, ok := e.Profiles.Cached(ann.ID); ok {
				t.Error("the cached profile was not invalidated")
			}
			// Every other session ends; the caller's gets a new token.
			if e.works(t, otherToken) || e.works(t, currentToken) || !e.works(t, bobToken) {
				t.Error("other sessions survived, the old token works, or another identity's session ended")
			}
			renewed, ok, _ := e.Sessions.Find(context.Background(), got.Session.Token)
			if !ok || renewed.IdentityID != ann.ID || !renewed.AuthenticatedAt.Equal(now) || !renewed.CreatedAt.Equal(current.CreatedAt) {
				t.Errorf("renewed session = %+v (found %v); want authenticated now, created %v", renewed, ok, current.CreatedAt)
			}
			if live := e.Sessions.Live(ann.ID); len(live) != 1 {
				t.Errorf("%d live sessions, want the renewed one only", len(live))
			}
			wantTypes(t, e.Audit, auth.EventPasswordChanged)
			if _, err := login(e, "ann@example.com", newPassword); err != nil {
				t.Errorf("login with the new password: %v", err)
			}
		})
	}
}

func TestChangePasswordRefusals(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(e *env, ann auth.Identity)
		session func(e *env, s auth.Session) auth.Session
		pw      string
		current string
		kind    auth.Kind
		code    string
		failed  int // failures counted against the account
	}{
		{name: "without a session", session: func(*env, auth.Session) auth.Session { return auth.Session{} },
			pw: newPassword, kind: auth.KindUnauthenticated, code: auth.CodeUnauthenticated},
		{name: "the identity is gone", setup: func(e *env, _ auth.Identity) { e.Identities.FailOn("IdentityByID", auth.ErrNotFound) },
			pw: newPassword, kind: auth.KindUnauthenticated, code: auth.CodeUnauthenticated},
		{name: "the identity is inactive", setup: func(e *env, ann auth.Identity) {
			ann.State = auth.StateInactive
			e.Identities.Put(ann)
		}, pw: newPassword, kind: auth.KindUnauthenticated, code: auth.CodeUnauthenticated},
		{name: "the store is down", setup: func(e *env, _ auth.Identity) { e.Identities.FailOn("IdentityByID", errAvailable) },
			pw: newPassword, kind: auth.KindUnavailable, code: auth.CodeUnavailable},
		{name: "the new password breaks the policy", pw: "short", kind: auth.KindInvalid, code: auth.CodeInvalidInput},
		{name: "the new password contains the e-mail", pw: "ann@example.com!", kind: auth.KindInvalid, code: auth.CodeInvalidInput},
		{name: "an old session without the current password",
			session: func(e *env, s auth.Session) auth.Session {
				s.AuthenticatedAt = e.Clock.Now().Add(-16 * time.Minute)
				return s
			},
			pw: newPassword, kind: auth.KindForbidden, code: auth.CodeReauthRequired},
		{name: "a wrong current password", pw: newPassword, current: "wrong password",
			kind: auth.KindInvalid, code: auth.CodeInvalidInput, failed: 1},
		{name: "the account is locked", setup: func(e *env, _ auth.Identity) {
			for range 4 {
				_, _ = login(e, "ann@example.com", "wrong password")
			}
			e.ResetCalls()
		}, pw: newPassword, current: password, kind: auth.KindRateLimited, code: auth.CodeRateLimited, failed: 4},
		{name: "the lock-out store is down", setup: func(e *env, _ auth.Identity) { e.Lockouts.FailOn("Reserve", errInjected) },
			pw: newPassword, current: password, kind: auth.KindUnavailable, code: auth.CodeUnavailable},
		{name: "the hasher is overloaded verifying", setup: func(e *env, _ auth.Identity) { e.Hasher.FailOn("Verify", auth.Overloaded(time.Second, nil)) },
			pw: newPassword, current: password, kind: auth.KindUnavailable, code: auth.CodeOverloaded},
		{name: "the stored hash is unreadable", setup: func(e *env, ann auth.Identity) {
			ann.PasswordHash = "$corrupt"
			e.Identities.Put(ann)
		}, pw: newPassword, current: password, kind: auth.KindInvalid, code: auth.CodeInvalidInput, failed: 1},
		{name: "the hasher fails hashing", setup: func(e *env, _ auth.Identity) { e.Hasher.FailOn("Hash", errInjected) },
			pw: newPassword, kind: auth.KindInternal, code: auth.CodeInternal},
		{name: "the hasher is overloaded hashing", setup: func(e *env, _ auth.Identity) { e.Hasher.FailOn("Hash", auth.Overloaded(time.Second, nil)) },
			pw: newPassword, kind: auth.KindUnavailable, code: auth.CodeOverloaded},
		{name: "the hash cannot be stored", setup: func(e *env, _ auth.Identity) { e.Identities.FailOn("UpdatePasswordHash", errAvailable) },
			pw: newPassword, kind: auth.KindUnavailable, code: auth.CodeUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ann := e.user(t, "ann@example.com")
			s, token := e.session(t, ann.ID, e.Clock.Now())
			_, other := e.session(t, ann.ID, e.Clock.Now())
			if tt.setup != nil {
				tt.setup(e, ann)
			}
			if tt.session != nil {
				s = tt.session(e, s)
			}
			_, err := e.svc.ChangePassword(context.Background(), auth.ChangePassword{Session: s, Password: tt.pw, CurrentPassword: tt.current, Client: client})
			wantErr(t, err, tt.kind, tt.code)
			if stored, ok := e.Identities.Get(ann.ID); ok && stored.PasswordHash == authtest.HashOf(newPassword) {
				t.Error("the password changed")
			}
			if !e.works(t, token) || !e.works(t, other) {
				t.Error("a refused change ended sessions")
			}
			if n := e.Lockouts.Failures(accountKey("ann@example.com"), e.Clock.Now()); n != tt.failed {
				t.Errorf("%d failures counted, want %d", n, tt.failed)
			}
			if len(e.Audit.OfType(auth.EventPasswordChanged)) != 0 {
				t.Error("a refused change was audited")
			}
		})
	}
}

func TestChangePasswordFieldNames(t *testing.T) {
	e := newEnv(t)
	ann := e.user(t, "ann@example.com")
	s, _ := e.session(t, ann.ID, e.Clock.Now())
	_, err := e.svc.ChangePassword(context.Background(), auth.ChangePassword{Session: s, Password: "short"})
	wantFields(t, err, "password=password_too_short")
	_, err = e.svc.ChangePassword(context.Background(), auth.ChangePassword{Session: s, Password: newPassword, CurrentPassword: "wrong password"})
	wantFields(t, err, "current_password=incorrect")
}

// Once the password is changed, a failure to end the other sessions or to
// renew the caller's is reported: an attacker's session must not survive
// silently.
func TestChangePasswordSessionFailures(t *testing.T) {
	for _, method := range []string{"EndGeneration", "Renew"} {
		t.Run(method+" fails", func(t *testing.T) {
			e := newEnv(t)
			ann := e.user(t, "ann@example.com")
			s, _ := e.session(t, ann.ID, e.Clock.Now())
			e.Sessions.FailOn(method, errInjected)
			_, err := e.svc.ChangePassword(context.Background(), auth.ChangePassword{Session: s, Password: newPassword, Client: client})
			wantErr(t, err, auth.KindUnavailable, auth.CodeUnavailable)
			if !errors.Is(err, errInjected) {
				t.Errorf("cause lost: %v", err)
			}
			if e.stored(t, ann.ID).PasswordHash != authtest.HashOf(newPassword) {
				t.Error("the password did not change")
			}
		})
	}
}

func TestChangePasswordCacheFailureIsLogged(t *testing.T) {
	e := newEnv(t)
	ann := e.user(t, "ann@example.com")
	s, _ := e.session(t, ann.ID, e.Clock.Now())
	e.Profiles.FailOn("Invalidate", errInjected)
	if _, err := e.svc.ChangePassword(context.Background(), auth.ChangePassword{Session: s, Password: newPassword}); err != nil {
		t.Fatal(err)
	}
	e.logs.wantLogged(t, slog.LevelError, "profile cache not invalidated")
}
