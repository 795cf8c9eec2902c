package authtest

import (
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/internal/auth"
)

// TestSessions is the contract of auth.Sessions. Real stores expire
// sessions on their own clock, so the times the contract passes start at
// the present, and expiry by the passage of time is left to the adapters'
// own tests; newSessions should give sessions a lifetime of an hour or
// more.
func TestSessions(t *testing.T, newSessions func(t *testing.T) auth.Sessions) {
	// Whole milliseconds: stores may keep no finer times.
	base := time.Now().UTC().Truncate(time.Millisecond)
	client := auth.Session{AuthenticatedAt: base.Add(-time.Minute), CreatedAt: base, LastSeenAt: base,
		IP: "192.0.2.7", UserAgent: "authtest contract"}
	start := func(t *testing.T, m auth.Sessions, id uuid.UUID, created time.Duration) auth.StartedSession {
		t.Helper()
		s := client
		s.IdentityID, s.CreatedAt, s.LastSeenAt = id, base.Add(created), base.Add(created)
		started, err := m.Start(t.Context(), s)
		if err != nil {
			t.Fatalf("Start: %v", err)
		}
		return started
	}
	find := func(t *testing.T, m auth.Sessions, token string) (auth.Session, bool) {
		t.Helper()
		s, ok, err := m.Find(t.Context(), token)
		if err != nil {
			t.Fatalf("Find: %v", err)
		}
		return s, ok
	}
	wantFound := func(t *testing.T, m auth.Sessions, what string, s auth.StartedSession) {
		t.Helper()
		got, ok := find(t, m, s.Token)
		if !ok {
			t.Errorf("%s: session not found", what)
			return
		}
		if got.Key != s.Key || got.IdentityID != s.IdentityID || !got.AuthenticatedAt.Equal(s.AuthenticatedAt) ||
			!got.CreatedAt.Equal(s.CreatedAt) || !got.ExpiresAt.Equal(s.ExpiresAt) {
			t.Errorf("%s: Find = %+v, want %+v", what, got, s.Session)
		}
	}
	wantGone := func(t *testing.T, m auth.Sessions, what string, s auth.StartedSession) {
		t.Helper()
		if _, ok := find(t, m, s.Token); ok {
			t.Errorf("%s: the session still works", what)
		}
	}
	keys := func(t *testing.T, m auth.Sessions, id uuid.UUID, now time.Time) []string {
		t.Helper()
		list, err := m.List(t.Context(), id, now)
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		out := []string{}
		for _, s := range list {
			out = append(out, s.Key)
		}
		return out
	}
	keysOf := func(ss ...auth.StartedSession) []string {
		out := []string{}
		for _, s := range ss {
			out = append(out, s.Key)
		}
		return out
	}

	t.Run("start gives a random token and a key that is not the token", func(t *testing.T) {
		m := newSessions(t)
		id := uuid.New()
		a, b := start(t, m, id, 0), start(t, m, id, 0)
		for _, s := range []auth.StartedSession{a, b} {
			raw, err := base64.RawURLEncoding.DecodeString(s.Token)
			if err != nil || len(raw) < 32 {
				t.Errorf("token %q is not base64url of at least 256 bits (%d bytes, %v)", s.Token, len(raw), err)
			}
			if s.Key == "" || s.Key == s.Token || strings.Contains(s.Key, s.Token) {
				t.Errorf("key %q is empty or holds the token", s.Key)
			}
			if s.IdentityID != id || !s.AuthenticatedAt.Equal(client.AuthenticatedAt) || !s.CreatedAt.Equal(base) ||
				!s.LastSeenAt.Equal(base) || s.IP != client.IP || s.UserAgent != client.UserAgent {
				t.Errorf("Start = %+v, want the details given", s.Session)
			}
			if !s.ExpiresAt.After(s.CreatedAt) {
				t.Errorf("ExpiresAt %v is not after CreatedAt %v", s.ExpiresAt, s.CreatedAt)
			}
		}
		if a.Token == b.Token || a.Key == b.Key {
			t.Error("two sessions got the same token or key")
		}
	})

	t.Run("find returns the session of a token", func(t *testing.T) {
		m := newSessions(t)
		s := start(t, m, uuid.New(), 0)
		wantFound(t, m, "Find", s)
	})

	t.Run("what is not a live token is not found, without an error", func(t *testing.T) {
		m := newSessions(t)
		s := start(t, m, uuid.New(), 0)
		tests := []struct{ name, token string }{
			{"empty", ""},
			{"unknown", base64.RawURLEncoding.EncodeToString(sha("unknown:" + unique()))},
			{"not base64", "not a token!"},
			{"the key instead of the token", s.Key},
			{"the public id instead of the token", s.ID()},
		}
		for _, tt := range tests {
			if _, ok, err := m.Find(t.Context(), tt.token); ok || err != nil {
				t.Errorf("%s: Find = %v, %v; want not found", tt.name, ok, err)
			}
		}
	})

	t.Run("end stops the session and is not an error twice", func(t *testing.T) {
		m := newSessions(t)
		id := uuid.New()
		s, other := start(t, m, id, 0), start(t, m, id, time.Millisecond)
		check(t, "End", m.End(t.Context(), s.Session))
		wantGone(t, m, "after End", s)
		wantFound(t, m, "another session of the identity", other)
		check(t, "End of an ended session", m.End(t.Context(), s.Session))
		check(t, "Seen of an ended session", m.Seen(t.Context(), s.Session, base.Add(time.Minute)))
		if got := keys(t, m, id, base); !slices.Equal(got, keysOf(other)) {
			t.Errorf("List after End = %v, want %v", got, keysOf(other))
		}
	})

	t.Run("list gives live sessions oldest first with their details", func(t *testing.T) {
		m := newSessions(t)
		id, other := uuid.New(), uuid.New()
		third := start(t, m, id, 2*time.Millisecond)
		first := start(t, m, id, 0)
		second := start(t, m, id, time.Millisecond)
		start(t, m, other, 0)
		list, err := m.List(t.Context(), id, base)
		check(t, "List", err)
		want := []auth.StartedSession{first, second, third}
		if len(list) != len(want) {
			t.Fatalf("List = %d sessions, want %d", len(list), len(want))
		}
		for i, got := range list {
			w := want[i].Session
			if got.Key != w.Key || got.IdentityID != id || !got.CreatedAt.Equal(w.CreatedAt) ||
				!got.AuthenticatedAt.Equal(w.AuthenticatedAt) || !got.LastSeenAt.Equal(w.LastSeenAt) ||
				!got.ExpiresAt.Equal(w.ExpiresAt) || got.IP != w.IP || got.UserAgent != w.UserAgent {
				t.Errorf("List[%d] = %+v, want %+v", i, got, w)
			}
		}
		if got := keys(t, m, uuid.New(), base); len(got) != 0 {
			t.Errorf("List of an identity without sessions = %v", got)
		}
	})

	t.Run("list leaves out ended, revoked and expired sessions", func(t *testing.T) {
		m := newSessions(t)
		id := uuid.New()
		ended, revoked, live := start(t, m, id, 0), start(t, m, id, time.Millisecond), start(t, m, id, 2*time.Millisecond)
		check(t, "End", m.End(t.Context(), ended.Session))
		if ok, err := m.Revoke(t.Context(), id, revoked.Key); !ok || err != nil {
			t.Fatalf("Revoke = %v, %v", ok, err)
		}
		if got := keys(t, m, id, base); !slices.Equal(got, keysOf(live)) {
			t.Errorf("List = %v, want only %v", got, keysOf(live))
		}
		if got := keys(t, m, id, live.ExpiresAt); len(got) != 0 {
			t.Errorf("List at the sessions' expiry = %v, want none", got)
		}
	})

	t.Run("seen never moves last-seen backwards", func(t *testing.T) {
		m := newSessions(t)
		id := uuid.New()
		s := start(t, m, id, 0)
		found, _ := find(t, m, s.Token)
		lastSeen := func() time.Time {
			list, err := m.List(t.Context(), id, base)
			check(t, "List", err)
			if len(list) != 1 {
				t.Fatalf("List = %d sessions, want 1", len(list))
			}
			return list[0].LastSeenAt
		}
		later := base.Add(time.Minute)
		check(t, "Seen", m.Seen(t.Context(), found, later))
		// The store may coalesce: either time is right.
		if got := lastSeen(); !got.Equal(base) && !got.Equal(later) {
			t.Errorf("LastSeenAt after Seen = %v, want %v or %v", got, base, later)
		}
		before := lastSeen()
		check(t, "Seen earlier", m.Seen(t.Context(), found, base.Add(-time.Hour)))
		if got := lastSeen(); got.Before(before) {
			t.Errorf("LastSeenAt moved back from %v to %v", before, got)
		}
		wantFound(t, m, "after Seen", s)
	})

	t.Run("renew replaces the token and keeps the session", func(t *testing.T) {
		m := newSessions(t)
		id := uuid.New()
		old, other := start(t, m, id, 0), start(t, m, id, time.Millisecond)
		current, ok := find(t, m, old.Token)
		if !ok {
			t.Fatal("session not found")
		}
		authAt := base.Add(5 * time.Minute)
		renewed, err := m.Renew(t.Context(), current, authAt)
		check(t, "Renew", err)
		if renewed.Token == old.Token || renewed.Key == old.Key || renewed.Token == "" {
			t.Error("Renew kept the token or key")
		}
		if renewed.IdentityID != id || !renewed.CreatedAt.Equal(old.CreatedAt) || !renewed.AuthenticatedAt.Equal(authAt) {
			t.Errorf("Renew = %+v; want identity %v, created %v, authenticated %v", renewed.Session, id, old.CreatedAt, authAt)
		}
		wantGone(t, m, "the old token", old)
		wantFound(t, m, "the new token", renewed)
		wantFound(t, m, "another session", other)
		got := keys(t, m, id, base)
		if slices.Contains(got, old.Key) || !slices.Contains(got, renewed.Key) || len(got) != 2 {
			t.Errorf("List after Renew = %v; want %v and %v", got, renewed.Key, other.Key)
		}
	})

	t.Run("an identity can revoke only its own sessions", func(t *testing.T) {
		m := newSessions(t)
		alice, bob := uuid.New(), uuid.New()
		a, b := start(t, m, alice, 0), start(t, m, bob, 0)
		tests := []struct {
			name string
			who  uuid.UUID
			key  string
			want bool
		}{
			{"another identity's session", bob, a.Key, false},
			{"an unknown key", alice, "unknown-" + unique(), false},
			{"an empty key", alice, "", false},
			{"the token instead of the key", alice, a.Token, false},
			{"its own session", alice, a.Key, true},
			{"its own session again", alice, a.Key, false},
		}
		for _, tt := range tests {
			ok, err := m.Revoke(t.Context(), tt.who, tt.key)
			if err != nil || ok != tt.want {
				t.Errorf("%s: Revoke = %v, %v; want %v", tt.name, ok, err, tt.want)
			}
			if !tt.want && tt.name != "its own session again" {
				wantFound(t, m, tt.name+": the session", a)
			}
		}
		wantGone(t, m, "after Revoke", a)
		wantFound(t, m, "bob's session", b)
	})

	t.Run("revoke all ends all but the kept and no other identity's", func(t *testing.T) {
		tests := []struct {
			name     string
			sessions int
			keep     []int // indexes of the sessions to keep
			extra    []string
			want     int
		}{
			{"keep one", 3, []int{0}, nil, 2},
			{"keep two", 4, []int{1, 3}, nil, 2},
			{"keep none", 2, nil, nil, 2},
			{"keep all", 2, []int{0, 1}, nil, 0},
			{"keep an unknown key", 2, nil, []string{"unknown"}, 2},
			{"no sessions", 0, nil, nil, 0},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				m := newSessions(t)
				alice, bob := uuid.New(), uuid.New()
				var ss []auth.StartedSession
				for i := range tt.sessions {
					ss = append(ss, start(t, m, alice, time.Duration(i)*time.Millisecond))
				}
				b := start(t, m, bob, 0)
				keep := slices.Clone(tt.extra)
				for _, i := range tt.keep {
					keep = append(keep, ss[i].Key)
				}
				n, err := m.RevokeAll(t.Context(), alice, keep...)
				if err != nil || n != tt.want {
					t.Errorf("RevokeAll = %d, %v; want %d", n, err, tt.want)
				}
				var kept []auth.StartedSession
				for i, s := range ss {
					if slices.Contains(tt.keep, i) {
						kept = append(kept, s)
						wantFound(t, m, "a kept session", s)
					} else {
						wantGone(t, m, "a revoked session", s)
					}
				}
				if got := keys(t, m, alice, base); !slices.Equal(got, keysOf(kept...)) {
					t.Errorf("List after RevokeAll = %v, want %v", got, keysOf(kept...))
				}
				wantFound(t, m, "another identity's session", b)
				if n, err := m.RevokeAll(t.Context(), alice, keep...); err != nil || n != 0 {
					t.Errorf("RevokeAll again = %d, %v; want 0", n, err)
				}
			})
		}
	})

	t.Run("a new generation refuses sessions of the old one", func(t *testing.T) {
		m := newSessions(t)
		alice, bob := uuid.New(), uuid.New()
		gen := func(id uuid.UUID) int64 {
			t.Helper()
			g, err := m.Generation(t.Context(), id)
			if err != nil {
				t.Fatalf("Generation: %v", err)
			}
			return g
		}
		startIn := func(id uuid.UUID, g int64) (auth.StartedSession, error) {
			s := client
			s.IdentityID, s.Generation = id, g
			return m.Start(t.Context(), s)
		}
		g0 := gen(alice)
		old, err := startIn(alice, g0)
		if err != nil {
			t.Fatalf("Start in the current generation: %v", err)
		}
		kept, err := startIn(alice, g0)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := find(t, m, old.Token); got.Generation != g0 {
			t.Errorf("Find: generation %d, want %d", got.Generation, g0)
		}
		b := start(t, m, bob, 0)

		g1, n, err := m.EndGeneration(t.Context(), alice, kept.Key)
		if err != nil || n != 1 || g1 == g0 || gen(alice) != g1 {
			t.Fatalf("EndGeneration = %d, %d, %v (Generation %d); want a new generation, 1 ended", g1, n, err, gen(alice))
		}
		wantGone(t, m, "a session of the ended generation", old)
		wantFound(t, m, "the kept session", kept)
		wantFound(t, m, "another identity's session", b)
		if _, err := startIn(alice, g0); !errors.Is(err, auth.ErrStaleGeneration) {
			t.Errorf("Start in the ended generation = %v, want ErrStaleGeneration", err)
		}
		if got := keys(t, m, alice, base); !slices.Equal(got, keysOf(kept)) {
			t.Errorf("List = %v, want only the kept session %v", got, keysOf(kept))
		}
		stale, _ := find(t, m, kept.Token)
		if _, err := m.Renew(t.Context(), stale, base); !errors.Is(err, auth.ErrStaleGeneration) {
			t.Errorf("Renew into the ended generation = %v, want ErrStaleGeneration", err)
		}
		wantFound(t, m, "the kept session after a refused renewal", kept)
		stale.Generation = g1
		renewed, err := m.Renew(t.Context(), stale, base)
		if err != nil {
			t.Fatalf("Renew into the new generation: %v", err)
		}
		wantGone(t, m, "the renewed session's old token", kept)
		if got, _ := find(t, m, renewed.Token); got.Generation != g1 {
			t.Errorf("renewed: generation %d, want %d", got.Generation, g1)
		}
		if _, err := startIn(alice, g1); err != nil {
			t.Errorf("Start in the new generation: %v", err)
		}
		if g2, _, err := m.EndGeneration(t.Context(), alice); err != nil || g2 == g1 || g2 == g0 {
			t.Errorf("EndGeneration again = %d, %v; want a generation unlike %d and %d", g2, err, g0, g1)
		}
		if gen(bob) == gen(alice) {
			t.Error("another identity's generation moved")
		}
	})
}
