package auth

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

func TestChangePassword(t *testing.T) {
	tests := []struct {
		name     string
		current  string
		loginAgo time.Duration
		wantErr  error
		wantCode string
	}{
		{name: "current password given", current: "old secret pw", loginAgo: 2 * time.Hour},
		{name: "inside the privileged window", loginAgo: 14 * time.Minute},
		{name: "outside the window without current password", loginAgo: 16 * time.Minute, wantErr: ErrReauthRequired},
		{name: "wrong current password", current: "not it at all", loginAgo: time.Minute, wantCode: "incorrect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv()
			ctx := context.Background()
			id, err := env.svc.registerT(ctx, Register{Email: "ivy@example.com", Password: "old secret pw"})
			if err != nil {
				t.Fatal(err)
			}
			env.sessions.byID[id.ID.String()] = []Session{{HashedToken: "mine"}, {HashedToken: "other1"}, {HashedToken: "other2"}}
			loginAt := env.now
			env.now = env.now.Add(tt.loginAgo)

			_, err = env.svc.ChangePassword(ctx, ChangePassword{IdentityID: id.ID, Password: "new secret pw", CurrentPassword: tt.current, AuthenticatedAt: loginAt, KeepSession: "mine"})
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
			case tt.wantCode != "":
				var e *Error
				if !errors.As(err, &e) || len(e.Fields) != 1 || e.Fields[0].Code != tt.wantCode {
					t.Fatalf("err = %v, want field code %s", err, tt.wantCode)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if got := env.store.ids[id.ID].PasswordHash; got != "v2:new secret pw" {
					t.Errorf("stored hash = %q", got)
				}
				if got := env.sessions.byID[id.ID.String()]; len(got) != 1 || got[0].HashedToken != "mine" {
					t.Errorf("sessions after change = %v, want only the caller's", got)
				}
				if !slices.Contains(env.audit.types(), EventPasswordChanged) {
					t.Errorf("audit = %v, want password_changed", env.audit.types())
				}
				return
			}
			if got := env.store.ids[id.ID].PasswordHash; got != "v2:old secret pw" {
				t.Errorf("a refused change altered the hash to %q", got)
			}
			if n := len(env.sessions.byID[id.ID.String()]); n != 3 {
				t.Errorf("a refused change ended sessions: %d left", n)
			}
		})
	}
}

func TestChangePasswordAppliesPolicy(t *testing.T) {
	env := newTestEnv()
	ctx := context.Background()
	id, _ := env.svc.registerT(ctx, Register{Email: "jack@example.com", Password: "old secret pw", Username: "jackie"})
	_, err := env.svc.ChangePassword(ctx, ChangePassword{IdentityID: id.ID, Password: "i-am-jackie!", AuthenticatedAt: env.now})
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindInvalid || e.Fields[0].Field != "password" {
		t.Errorf("err = %v, want the policy to refuse a password containing the username", err)
	}
}

func TestUpdateProfile(t *testing.T) {
	env := newTestEnv()
	ctx := context.Background()
	a, _ := env.svc.registerT(ctx, Register{Email: "kim@example.com", Password: "the secret of k", Username: "kimmy", GeoLocation: "Rome"})
	b, _ := env.svc.registerT(ctx, Register{Email: "lee@example.com", Password: "the secret of l"})

	newName := "kim2"
	got, err := env.svc.UpdateProfile(ctx, UpdateProfile{IdentityID: a.ID, Username: &newName})
	if err != nil || got.Username != "kim2" || got.GeoLocation != "Rome" {
		t.Fatalf("UpdateProfile = %+v, %v; want username changed and location kept", got, err)
	}
	empty := ""
	if got, _ := env.svc.UpdateProfile(ctx, UpdateProfile{IdentityID: a.ID, GeoLocation: &empty}); got.GeoLocation != "" {
		t.Errorf("location = %q, want cleared", got.GeoLocation)
	}
	taken := "KIM2"
	if _, err := env.svc.UpdateProfile(ctx, UpdateProfile{IdentityID: b.ID, Username: &taken}); !errors.Is(err, ErrUsernameTaken) {
		t.Errorf("err = %v, want ErrUsernameTaken", err)
	}
	bad := "x"
	if _, err := env.svc.UpdateProfile(ctx, UpdateProfile{IdentityID: b.ID, Username: &bad}); ErrorKind(err) != KindInvalid {
		t.Errorf("err = %v, want KindInvalid", err)
	}
}

func TestRevokeSession(t *testing.T) {
	env := newTestEnv()
	ctx := context.Background()
	a, _ := env.svc.registerT(ctx, Register{Email: "mo@example.com", Password: "the secret of m"})
	b, _ := env.svc.registerT(ctx, Register{Email: "ned@example.com", Password: "the secret of n"})
	mine := Session{HashedToken: "a1"}
	theirs := Session{HashedToken: "b1"}
	env.sessions.byID[a.ID.String()] = []Session{mine, {HashedToken: "a2"}}
	env.sessions.byID[b.ID.String()] = []Session{theirs}

	if err := env.svc.RevokeSession(ctx, a.ID, theirs.ID(), Client{}); !errors.Is(err, ErrSessionNotFound) {
		t.Errorf("revoking another identity's session: err = %v, want ErrSessionNotFound", err)
	}
	if len(env.sessions.byID[b.ID.String()]) != 1 {
		t.Error("another identity's session was ended")
	}
	if err := env.svc.RevokeSession(ctx, a.ID, mine.ID(), Client{}); err != nil {
		t.Errorf("RevokeSession = %v", err)
	}
	if got := env.sessions.byID[a.ID.String()]; len(got) != 1 || got[0].HashedToken != "a2" {
		t.Errorf("sessions = %v", got)
	}
	if mine.ID() == mine.HashedToken || len(mine.ID()) < 20 {
		t.Errorf("ID() = %q does not hide the hashed token", mine.ID())
	}
}

func TestAuditTrailOfLogin(t *testing.T) {
	env := newTestEnv()
	ctx := context.Background()
	env.svc.registerT(ctx, Register{Email: "ola@example.com", Password: "secret of o.l.a"})
	env.svc.Login(ctx, Login{Identifier: "ola@example.com", Password: "wrong password"})
	env.svc.Login(ctx, Login{Identifier: "nobody@example.com", Password: "wrong password"})
	env.svc.Login(ctx, Login{Identifier: "ola@example.com", Password: "secret of o.l.a"})
	want := []EventType{EventRegistered, EventLoginFailed, EventLoginFailed, EventLoginSucceeded}
	if got := env.audit.types(); !slices.Equal(got, want) {
		t.Errorf("audit = %v, want %v", got, want)
	}
	if env.audit.events[2].IdentityID != nil {
		t.Error("failed login for an unknown e-mail recorded an identity")
	}
}
