package authtest

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/internal/auth"
)

// DefaultSessionLifetime is the lifetime of a fake session unless told.
const DefaultSessionLifetime = 24 * time.Hour

var (
	errNoIdentity = errors.New("authtest: session without an identity")
	errNoKey      = errors.New("authtest: session without a key")
)

// Sessions is an in-memory auth.Sessions that behaves like the Valkey
// adapter: tokens are 32 random bytes in base64url, a session's Key is the
// SHA-256 of its token in base64url, a session expires Lifetime after it
// was started on the fake's clock, and Find returns what the real store
// keeps with the session (key, identity, times and expiry) while the client
// details and the last-seen time come only from List. Renew starts a
// session like the one given (its client details included) and ends the
// old one.
type Sessions struct {
	Probe
	now      func() time.Time
	lifetime time.Duration
	mu       sync.Mutex
	byKey    map[string]auth.Session
	gens     map[uuid.UUID]int64 // absent: 0
	nextGen  int64
}

var _ auth.Sessions = (*Sessions)(nil)

// NewSessions returns an empty store on the clock now (time.Now when nil)
// whose sessions live for lifetime (DefaultSessionLifetime when 0).
func NewSessions(now func() time.Time, lifetime time.Duration) *Sessions {
	if now == nil {
		now = time.Now
	}
	if lifetime <= 0 {
		lifetime = DefaultSessionLifetime
	}
	return &Sessions{
		Probe: newProbe("Generation", "Start", "Renew", "Find", "Seen", "End", "List", "Revoke", "RevokeAll", "EndGeneration"),
		now:   now, lifetime: lifetime, byKey: map[string]auth.Session{}, gens: map[uuid.UUID]int64{},
	}
}

// SessionKey is the key of a session with that raw token.
func SessionKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// All returns every stored session, live or expired, oldest first, without
// counting a call.
func (m *Sessions) All() []auth.Session {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]auth.Session, 0, len(m.byKey))
	for _, s := range m.byKey {
		out = append(out, s)
	}
	sortSessions(out)
	return out
}

// Live returns the identity's live sessions on the fake's clock, without
// counting a call.
func (m *Sessions) Live(identityID uuid.UUID) []auth.Session {
	return m.list(identityID, m.now())
}

func (m *Sessions) Start(_ context.Context, s auth.Session) (auth.StartedSession, error) {
	if err := m.enter("Start"); err != nil {
		return auth.StartedSession{}, err
	}
	return m.start(s)
}

func (m *Sessions) start(s auth.Session) (auth.StartedSession, error) {
	if s.IdentityID == uuid.Nil {
		return auth.StartedSession{}, errNoIdentity
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return auth.StartedSession{}, err
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	s.Key, s.ExpiresAt = SessionKey(token), m.now().Add(m.lifetime).UTC()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.gens[s.IdentityID] != s.Generation {
		return auth.StartedSession{}, auth.ErrStaleGeneration
	}
	m.byKey[s.Key] = s
	return auth.StartedSession{Session: s, Token: token}, nil
}

func (m *Sessions) Renew(_ context.Context, s auth.Session, authAt time.Time) (auth.StartedSession, error) {
	if err := m.enter("Renew"); err != nil {
		return auth.StartedSession{}, err
	}
	if s.Key == "" {
		return auth.StartedSession{}, errNoKey
	}
	next := s
	next.Key, next.AuthenticatedAt, next.LastSeenAt = "", authAt, authAt
	started, err := m.start(next)
	if err != nil {
		return auth.StartedSession{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.byKey, s.Key)
	return started, nil
}

func (m *Sessions) Find(_ context.Context, token string) (auth.Session, bool, error) {
	if err := m.enter("Find"); err != nil {
		return auth.Session{}, false, err
	}
	if token == "" {
		return auth.Session{}, false, nil
	}
	key := SessionKey(token)
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.byKey[key]
	if !ok {
		return auth.Session{}, false, nil
	}
	if !m.now().Before(s.ExpiresAt) {
		delete(m.byKey, key)
		return auth.Session{}, false, nil
	}
	return auth.Session{Key: s.Key, IdentityID: s.IdentityID, AuthenticatedAt: s.AuthenticatedAt,
		CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt, Generation: s.Generation}, true, nil
}

func (m *Sessions) Seen(_ context.Context, s auth.Session, at time.Time) error {
	if err := m.enter("Seen"); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.byKey[s.Key]
	if !ok || cur.IdentityID != s.IdentityID || !at.After(cur.LastSeenAt) {
		return nil
	}
	cur.LastSeenAt = at
	m.byKey[s.Key] = cur
	return nil
}

func (m *Sessions) End(_ context.Context, s auth.Session) error {
	if err := m.enter("End"); err != nil {
		return err
	}
	if s.Key == "" || s.IdentityID == uuid.Nil {
		return errNoKey
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.byKey, s.Key)
	return nil
}

func (m *Sessions) List(_ context.Context, identityID uuid.UUID, now time.Time) ([]auth.Session, error) {
	if err := m.enter("List"); err != nil {
		return nil, err
	}
	return m.list(identityID, now), nil
}

func (m *Sessions) list(identityID uuid.UUID, now time.Time) []auth.Session {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []auth.Session{}
	for _, s := range m.byKey {
		if s.IdentityID == identityID && s.ExpiresAt.After(now) {
			out = append(out, s)
		}
	}
	sortSessions(out)
	return out
}

func (m *Sessions) Revoke(_ context.Context, identityID uuid.UUID, key string) (bool, error) {
	if err := m.enter("Revoke"); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.byKey[key]
	if !ok || s.IdentityID != identityID {
		return false, nil
	}
	delete(m.byKey, key)
	return m.now().Before(s.ExpiresAt), nil
}

func (m *Sessions) Generation(_ context.Context, identityID uuid.UUID) (int64, error) {
	if err := m.enter("Generation"); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.gens[identityID], nil
}

// EndGeneration counts generations up; the adapter's are random, and the
// contract only says a new one differs from every earlier one.
func (m *Sessions) EndGeneration(_ context.Context, identityID uuid.UUID, keep ...string) (int64, int, error) {
	if err := m.enter("EndGeneration"); err != nil {
		return 0, 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nextGen++
	m.gens[identityID] = m.nextGen
	return m.nextGen, m.revokeAll(identityID, keep), nil
}

func (m *Sessions) RevokeAll(_ context.Context, identityID uuid.UUID, keep ...string) (int, error) {
	if err := m.enter("RevokeAll"); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.revokeAll(identityID, keep), nil
}

func (m *Sessions) revokeAll(identityID uuid.UUID, keep []string) int {
	n, now := 0, m.now()
	for key, s := range m.byKey {
		if s.IdentityID != identityID || slices.Contains(keep, key) {
			continue
		}
		delete(m.byKey, key)
		if now.Before(s.ExpiresAt) {
			n++
		}
	}
	return n
}

func sortSessions(list []auth.Session) {
	slices.SortFunc(list, func(a, b auth.Session) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.Key, b.Key))
	})
}
