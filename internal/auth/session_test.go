package auth_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/internal/auth"
	"github.com/authd/authd/internal/auth/authtest"
)

func TestLogout(t *testing.T) {
	t.Run("ends the session", func(t *testing.T) {
		e := newEnv(t)
		ann := e.user(t, "ann@example.com")
		s, token := e.session(t, ann.ID, e.Clock.Now())
		if err := e.svc.Logout(context.Background(), s, client); err != nil {
			t.Fatal(err)
		}
		if e.works(t, token) {
			t.Error("the session works after logout")
		}
		wantTypes(t, e.Audit, auth.EventLogout)
	})
	t.Run("without a session", func(t *testing.T) {
		e := newEnv(t)
		if err := e.svc.Logout(context.Background(), auth.Session{}, client); err != auth.ErrUnauthenticated {
			t.Errorf("Logout = %v", err)
		}
	})
	t.Run("session store down", func(t *testing.T) {
		e := newEnv(t)
		ann := e.user(t, "ann@example.com")
		s, token := e.session(t, ann.ID, e.Clock.Now())
		e.Sessions.FailOn("End", errInjected)
		wantErr(t, e.svc.Logout(context.Background(), s, client), auth.KindUnavailable, auth.CodeUnavailable)
		e.Sessions.Heal()
		if !e.works(t, token) || len(e.Audit.Events()) != 0 {
			t.Error("a failed logout was recorded or ended the session")
		}
	})
}

func TestAuthenticate(t *testing.T) {
	e := newEnv(t)
	ann := e.user(t, "ann@example.com")
	s, live := e.session(t, ann.ID, e.Clock.Now())
	_, ended := e.session(t, ann.ID, e.Clock.Now())
	endedSession, _, _ := e.Sessions.Find(context.Background(), ended)
	if err := e.Sessions.End(context.Background(), endedSession); err != nil {
		t.Fatal(err)
	}
	unknown := strings.Repeat("A", 43)
	tests := []struct {
		name   string
		tokens []string
		found  bool
		finds  int // Find calls: over-long and empty tokens cost none
	}{
		{"no cookie", nil, false, 0},
		{"the live token", []string{live}, true, 1},
		{"stale duplicates before the live one", []string{ended, "", unknown, live}, true, 3},
		{"the first live one counts", []string{live, ended}, true, 1},
		{"over-long tokens are not looked up", []string{strings.Repeat("x", 129), live}, true, 1},
		{"only stale tokens", []string{ended, unknown}, false, 2},
		{"at most four cookies are tried", []string{unknown, unknown, unknown, unknown, live}, false, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.Sessions.ResetCalls()
			got, ok, err := e.svc.Authenticate(context.Background(), tt.tokens)
			if err != nil || ok != tt.found {
				t.Fatalf("Authenticate = %v, %v; want found %v", ok, err, tt.found)
			}
			if ok && (got.Key != s.Key || got.IdentityID != ann.ID) {
				t.Errorf("Authenticate = %+v, want %+v", got, s)
			}
			if n := e.Sessions.Calls("Find"); n != tt.finds {
				t.Errorf("%d Find calls, want %d", n, tt.finds)
			}
		})
	}
}

func TestAuthenticateRecordsActivity(t *testing.T) {
	e := newEnv(t)
	ann := e.user(t, "ann@example.com")
	_, token := e.session(t, ann.ID, e.Clock.Now())
	now := e.Clock.Advance(time.Minute)
	if _, ok, err := e.svc.Authenticate(context.Background(), []string{token}); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if live := e.Sessions.Live(ann.ID); len(live) != 1 || !live[0].LastSeenAt.Equal(now) {
		t.Errorf("sessions = %+v, want last seen %v", live, now)
	}
}

func TestAuthenticateFailures(t *testing.T) {
	t.Run("a failing find is an error, not a missing session", func(t *testing.T) {
		e := newEnv(t)
		e.Sessions.FailOn("Find", errInjected)
		_, ok, err := e.svc.Authenticate(context.Background(), []string{"token"})
		wantErr(t, err, auth.KindUnavailable, auth.CodeUnavailable)
		if ok {
			t.Error("ok with an error")
		}
	})
	t.Run("a failing seen is only logged", func(t *testing.T) {
		e := newEnv(t)
		ann := e.user(t, "ann@example.com")
		_, token := e.session(t, ann.ID, e.Clock.Now())
		e.Sessions.FailOn("Seen", errInjected)
		if _, ok, err := e.svc.Authenticate(context.Background(), []string{token}); !ok || err != nil {
			t.Errorf("Authenticate = %v, %v; want the session", ok, err)
		}
		e.logs.wantLogged(t, slog.LevelWarn, "session last-seen not updated")
	})
}

func TestListSessions(t *testing.T) {
	e := newEnv(t)
	ann, bob := e.user(t, "ann@example.com"), e.user(t, "bob@example.com")
	first, _ := e.session(t, ann.ID, e.Clock.Now())
	e.Clock.Advance(time.Second)
	second, _ := e.session(t, ann.ID, e.Clock.Now())
	e.session(t, bob.ID, e.Clock.Now())
	list, err := e.svc.ListSessions(context.Background(), second)
	if err != nil || len(list) != 2 || list[0].Key != first.Key || list[1].Key != second.Key {
		t.Errorf("ListSessions = %+v, %v; want ann's two, oldest first", list, err)
	}
	if _, err := e.svc.ListSessions(context.Background(), auth.Session{}); err != auth.ErrUnauthenticated {
		t.Errorf("without a session: %v", err)
	}
	e.Sessions.FailOn("List", errInjected)
	_, err = e.svc.ListSessions(context.Background(), first)
	wantErr(t, err, auth.KindUnavailable, auth.CodeUnavailable)
}

// revokeRace is a session store whose sessions end between List and
// Revoke.
type revokeRace struct{ *authtest.Sessions }

func (revokeRace) Revoke(context.Context, uuid.UUID, string) (bool, error) { return false, nil }

func TestRevokeSession(t *testing.T) {
	type fixture struct {
		e                 *env
		current, other    auth.Session
		otherToken, bobID string
	}
	setup := func(t *testing.T, opts ...func(*auth.Deps)) fixture {
		e := newEnv(t, opts...)
		ann, bob := e.user(t, "ann@example.com"), e.user(t, "bob@example.com")
		current, _ := e.session(t, ann.ID, e.Clock.Now())
		other, otherToken := e.session(t, ann.ID, e.Clock.Now())
		bobs, _ := e.session(t, bob.ID, e.Clock.Now())
		return fixture{e, current, other, otherToken, bobs.ID()}
	}
	t.Run("one of the caller's sessions", func(t *testing.T) {
		f := setup(t)
		if err := f.e.svc.RevokeSession(context.Background(), f.current, f.other.ID(), client); err != nil {
			t.Fatal(err)
		}
		if f.e.works(t, f.otherToken) {
			t.Error("the revoked session works")
		}
		wantTypes(t, f.e.Audit, auth.EventSessionRevoked)
	})
	tests := []struct {
		name string
		id   func(f fixture) string
	}{
		{"another identity's session", func(f fixture) string { return f.bobID }},
		{"an unknown id", func(fixture) string { return "no-such-session" }},
		{"the key instead of the id", func(f fixture) string { return f.other.Key }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t)
			err := f.e.svc.RevokeSession(context.Background(), f.current, tt.id(f), client)
			if err != auth.ErrSessionNotFound {
				t.Errorf("RevokeSession = %v, want ErrSessionNotFound", err)
			}
			if f.e.Sessions.Calls("Revoke") != 0 || len(f.e.Sessions.All()) != 3 {
				t.Error("a session was revoked")
			}
		})
	}
	t.Run("ended meanwhile", func(t *testing.T) {
		f := newEnv(t)
		ann := f.user(t, "ann@example.com")
		cur, _ := f.session(t, ann.ID, f.Clock.Now())
		other, _ := f.session(t, ann.ID, f.Clock.Now())
		d := defaultDeps(f.Fakes, f.logs)
		d.Sessions = revokeRace{f.Sessions}
		err := auth.NewService(d).RevokeSession(context.Background(), cur, other.ID(), client)
		if err != auth.ErrSessionNotFound || len(f.Audit.Events()) != 0 {
			t.Errorf("RevokeSession = %v (events %v), want ErrSessionNotFound", err, f.Audit.Types())
		}
	})
	t.Run("without a session", func(t *testing.T) {
		f := setup(t)
		if err := f.e.svc.RevokeSession(context.Background(), auth.Session{}, f.other.ID(), client); err != auth.ErrUnauthenticated {
			t.Errorf("RevokeSession = %v", err)
		}
	})
	for _, method := range []string{"List", "Revoke"} {
		t.Run(method+" fails", func(t *testing.T) {
			f := setup(t)
			f.e.Sessions.FailOn(method, errInjected)
			err := f.e.svc.RevokeSession(context.Background(), f.current, f.other.ID(), client)
			wantErr(t, err, auth.KindUnavailable, auth.CodeUnavailable)
			if !errors.Is(err, errInjected) {
				t.Errorf("cause lost: %v", err)
			}
		})
	}
}

func TestRevokeOtherSessions(t *testing.T) {
	e := newEnv(t)
	ann, bob := e.user(t, "ann@example.com"), e.user(t, "bob@example.com")
	current, currentToken := e.session(t, ann.ID, e.Clock.Now())
	_, t1 := e.session(t, ann.ID, e.Clock.Now())
	_, t2 := e.session(t, ann.ID, e.Clock.Now())
	_, bobs := e.session(t, bob.ID, e.Clock.Now())
	n, err := e.svc.RevokeOtherSessions(context.Background(), current, client)
	if err != nil || n != 2 {
		t.Fatalf("RevokeOtherSessions = %d, %v; want 2", n, err)
	}
	if !e.works(t, currentToken) || e.works(t, t1) || e.works(t, t2) || !e.works(t, bobs) {
		t.Error("wrong sessions ended")
	}
	wantTypes(t, e.Audit, auth.EventSessionRevoked)
	// Nothing left to end: nothing recorded.
	if n, err := e.svc.RevokeOtherSessions(context.Background(), current, client); n != 0 || err != nil {
		t.Errorf("again = %d, %v", n, err)
	}
	wantTypes(t, e.Audit, auth.EventSessionRevoked)
	if _, err := e.svc.RevokeOtherSessions(context.Background(), auth.Session{}, client); err != auth.ErrUnauthenticated {
		t.Errorf("without a session: %v", err)
	}
	e.Sessions.FailOn("RevokeAll", errInjected)
	_, err = e.svc.RevokeOtherSessions(context.Background(), current, client)
	wantErr(t, err, auth.KindUnavailable, auth.CodeUnavailable)
}

func TestSessionID(t *testing.T) {
	a, b := auth.Session{Key: "key-a"}, auth.Session{Key: "key-b"}
	if a.ID() == b.ID() || a.ID() != (auth.Session{Key: "key-a"}).ID() || strings.Contains(a.ID(), "key-a") {
		t.Errorf("ids %q %q: want stable, distinct and not the key", a.ID(), b.ID())
	}
	if (auth.Session{}).Live() || !a.Live() {
		t.Error("Live")
	}
}
