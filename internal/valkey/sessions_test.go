package valkey

import (
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/internal/auth"
)

// The generation lives in the session index as a field of its own: it is
// never listed, counted against the cap, revoked or touched as a session,
// and it keeps an index that has no session alive for a while.
func TestSessionGenerationField(t *testing.T) {
	h := contractHandle(t)
	m := NewSessions(h, 24*time.Hour, time.Minute, 2)
	id := uuid.New()
	gen, n, err := m.EndGeneration(t.Context(), id)
	if err != nil || n != 0 || gen == 0 {
		t.Fatalf("EndGeneration of an identity without sessions = %d, %d, %v", gen, n, err)
	}
	ttl, err := h.c.Do(t.Context(), h.c.B().Pttl().Key(m.index.indexKey(id.String())).Build()).AsInt64()
	if err != nil || ttl <= 0 || ttl > generationTTL.Milliseconds() {
		t.Errorf("index TTL = %d ms, %v; want within %v", ttl, err, generationTTL)
	}
	now := time.Now().UTC()
	var last auth.StartedSession
	for range 3 {
		last, err = m.Start(t.Context(), auth.Session{IdentityID: id, AuthenticatedAt: now, CreatedAt: now, LastSeenAt: now, Generation: gen})
		if err != nil {
			t.Fatal(err)
		}
	}
	list, err := m.List(t.Context(), id, now)
	if err != nil || len(list) != 2 {
		t.Fatalf("List = %d sessions, %v; want the cap of 2", len(list), err)
	}
	for _, s := range list {
		if s.Key == generationField {
			t.Error("the generation is listed as a session")
		}
	}
	if ok, err := m.Revoke(t.Context(), id, generationField); ok || err != nil {
		t.Errorf("Revoke of the generation field = %v, %v; want false", ok, err)
	}
	if err := m.index.Touch(t.Context(), id.String(), generationField, now.Add(time.Hour)); err != nil {
		t.Errorf("Touch of the generation field: %v", err)
	}
	if n, err := m.RevokeAll(t.Context(), id, last.Key); err != nil || n != 1 {
		t.Errorf("RevokeAll = %d, %v; want 1", n, err)
	}
	if g, err := m.Generation(t.Context(), id); err != nil || g != gen {
		t.Errorf("Generation after all that = %d, %v; want %d", g, err, gen)
	}
}

// Sessions started in the same millisecond sort by key, so the new one may
// sort among the oldest: the cap must still hold after every start.
func TestSessionCapWithSessionsOfOneMillisecond(t *testing.T) {
	m := NewSessions(contractHandle(t), 24*time.Hour, time.Minute, 2)
	id, now := uuid.New(), time.Now().UTC()
	for i := range 12 {
		started, err := m.Start(t.Context(), auth.Session{IdentityID: id, AuthenticatedAt: now, CreatedAt: now, LastSeenAt: now})
		if err != nil {
			t.Fatal(err)
		}
		list, err := m.List(t.Context(), id, now)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) > 2 || !slices.ContainsFunc(list, func(s auth.Session) bool { return s.Key == started.Key }) {
			t.Fatalf("after start %d: %d live sessions (the new one among them: %v), want at most 2 with it",
				i+1, len(list), slices.ContainsFunc(list, func(s auth.Session) bool { return s.Key == started.Key }))
		}
	}
}
