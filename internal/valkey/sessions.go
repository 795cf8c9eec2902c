package valkey

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/google/uuid"

	"github.com/authd/authd/internal/auth"
)

// Sessions is the domain's session port over scs and Valkey: scs keeps each
// session at the hash of its token (SessionStore), and a per-identity
// index (sessionIndex) lets every instance list and end an identity's
// sessions without scanning them all.
//
// Order matters for the index: a session is indexed only after scs has
// committed it (so List cannot prune it as dead, nor a concurrent RevokeAll
// miss it), and a session whose indexing fails is deleted again, so there
// is never a live session that "log out everywhere" cannot find.
type Sessions struct {
	perIdentity int // most live sessions of one identity; 0: no cap
	scs         *scs.SessionManager
	store       *SessionStore
	index       *sessionIndex
	touches     *touchLimiter
}

var _ auth.Sessions = (*Sessions)(nil)

// What scs keeps in each session. Plain strings and int64s: the gob codec
// needs no registration for them.
const (
	keyIdentity   = "identity_id"
	keyAuthTime   = "auth_time"  // unix ms
	keyCreatedAt  = "created_at" // unix ms
	keyGeneration = "generation"
	keyAAL        = "aal"     // 1 or 2; absent in sessions of older versions: 1
	keyMethods    = "methods" // "password:<unix ms>,totp:<unix ms>"
	keyPending    = "second_factor_pending"
)

// NewSessions keeps sessions for lifetime (an absolute deadline; there is
// no idle timeout, which would write to the store on every request). A
// session's last-seen time is written at most once per touchEvery per
// instance: often enough for the session list, rarely enough that reads
// stay read-only.
//
// perIdentity caps an identity's live sessions: a login beyond it ends the
// oldest ones (0: no cap), so that a script that logs in in a loop cannot
// grow one index and one session list without bound.
func NewSessions(h Handle, lifetime, touchEvery time.Duration, perIdentity int) *Sessions {
	store := NewSessionStore(h)
	sm := scs.New()
	sm.Store = store
	// The store, and so Valkey, only ever sees a hash of the token.
	sm.HashTokenInStore = true
	sm.Lifetime = lifetime
	sm.IdleTimeout = 0
	return &Sessions{perIdentity: perIdentity, scs: sm, store: store, index: newSessionIndex(h), touches: newTouchLimiter(touchEvery)}
}

// hashToken is how scs (HashTokenInStore) keys a session: SHA-256 in
// base64url. It is the domain's Session.Key.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Start writes a new session and indexes it.
func (m *Sessions) Start(ctx context.Context, s auth.Session) (auth.StartedSession, error) {
	if s.IdentityID == uuid.Nil {
		return auth.StartedSession{}, fmt.Errorf("valkey: start session: %w", errNoIdentity)
	}
	sctx, err := m.scs.Load(ctx, "") // a fresh session: no store call
	if err != nil {
		return auth.StartedSession{}, fmt.Errorf("valkey: start session: %w", err)
	}
	if !s.ExpiresAt.IsZero() && s.ExpiresAt.Before(m.scs.Deadline(sctx)) {
		// A renewed session keeps its absolute lifetime.
		m.scs.SetDeadline(sctx, s.ExpiresAt)
	}
	m.scs.Put(sctx, keyIdentity, s.IdentityID.String())
	m.scs.Put(sctx, keyAuthTime, s.AuthenticatedAt.UnixMilli())
	m.scs.Put(sctx, keyCreatedAt, s.CreatedAt.UnixMilli())
	m.scs.Put(sctx, keyGeneration, s.Generation)
	m.scs.Put(sctx, keyAAL, int64(s.AAL))
	m.scs.Put(sctx, keyMethods, encodeMethods(s.Methods))
	if s.SecondFactorPending {
		m.scs.Put(sctx, keyPending, int64(1))
	}
	token, expiry, err := m.scs.Commit(sctx)
	if err != nil {
		return auth.StartedSession{}, fmt.Errorf("valkey: start session: %w", err)
	}
	s.Key, s.ExpiresAt = hashToken(token), expiry.UTC()
	// Indexed only if the generation is still the identity's: after a
	// credential change this refuses, atomically, the session of a login
	// that checked the old password (and the session written above is
	// deleted again before anyone has its token).
	n, err := m.index.add(ctx, s.IdentityID.String(), recordOf(s), generationString(s.Generation))
	if err != nil {
		if derr := m.store.DeleteCtx(context.WithoutCancel(ctx), s.Key); derr != nil {
			err = fmt.Errorf("%w (and the unindexed session was not deleted: %v)", err, derr)
		}
		return auth.StartedSession{}, fmt.Errorf("valkey: start session: %w", err)
	}
	if m.perIdentity > 0 && n > m.perIdentity {
		if err := m.endOldest(ctx, s); err != nil {
			return auth.StartedSession{}, fmt.Errorf("valkey: start session: %w", err)
		}
	}
	return auth.StartedSession{Session: s, Token: token}, nil
}

// endOldest ends the identity's oldest sessions beyond the cap, never the
// one just started. The index may still count ended sessions, which List
// prunes, so the cap is applied to the live ones.
func (m *Sessions) endOldest(ctx context.Context, started auth.Session) error {
	live, err := m.index.List(ctx, started.IdentityID.String(), time.Now())
	if err != nil {
		return err
	}
	// The new session may sort among the oldest (sessions started in the
	// same millisecond sort by key): it is passed over, not counted.
	excess := len(live) - m.perIdentity
	for _, r := range live {
		if excess <= 0 {
			break
		}
		if r.HashedToken == started.Key {
			continue
		}
		if err := m.index.End(ctx, started.IdentityID.String(), r.HashedToken); err != nil {
			return err
		}
		excess--
	}
	return nil
}

// Renew starts a session like s with a new token, then ends s.
func (m *Sessions) Renew(ctx context.Context, s auth.Session, authAt time.Time) (auth.StartedSession, error) {
	next := s
	next.Key, next.AuthenticatedAt, next.LastSeenAt = "", authAt, authAt
	started, err := m.Start(ctx, next)
	if err != nil {
		return auth.StartedSession{}, err
	}
	if err := m.End(ctx, s); err != nil {
		// Two live sessions where the caller expects one: end the new one
		// too, and let the client log in again.
		_ = m.End(context.WithoutCancel(ctx), started.Session)
		return auth.StartedSession{}, fmt.Errorf("valkey: renew session: %w", err)
	}
	return started, nil
}

// Find loads the session of a raw token. What scs keeps is returned: the
// identity and the times; the client details live in the index (List).
func (m *Sessions) Find(ctx context.Context, token string) (auth.Session, bool, error) {
	sctx, err := m.scs.Load(ctx, token)
	if err != nil {
		return auth.Session{}, false, fmt.Errorf("valkey: find session: %w", err)
	}
	id, err := uuid.Parse(m.scs.GetString(sctx, keyIdentity))
	if err != nil {
		return auth.Session{}, false, nil // unknown, expired, or not a login
	}
	aal := auth.AAL(m.scs.GetInt64(sctx, keyAAL))
	if aal < auth.AAL1 {
		aal = auth.AAL1
	}
	return auth.Session{
		Key:                 hashToken(token),
		IdentityID:          id,
		AuthenticatedAt:     time.UnixMilli(m.scs.GetInt64(sctx, keyAuthTime)).UTC(),
		CreatedAt:           time.UnixMilli(m.scs.GetInt64(sctx, keyCreatedAt)).UTC(),
		ExpiresAt:           m.scs.Deadline(sctx).UTC(),
		Generation:          m.scs.GetInt64(sctx, keyGeneration),
		AAL:                 aal,
		Methods:             decodeMethods(m.scs.GetString(sctx, keyMethods)),
		SecondFactorPending: m.scs.GetInt64(sctx, keyPending) == 1,
	}, true, nil
}

func encodeMethods(uses []auth.MethodUse) string {
	parts := make([]string, len(uses))
	for i, u := range uses {
		parts[i] = string(u.Method) + ":" + strconv.FormatInt(u.At.UnixMilli(), 10)
	}
	return strings.Join(parts, ",")
}

// decodeMethods reads encodeMethods' form, skipping what it cannot read.
func decodeMethods(v string) []auth.MethodUse {
	var out []auth.MethodUse
	for part := range strings.SplitSeq(v, ",") {
		name, ms, ok := strings.Cut(part, ":")
		n, err := strconv.ParseInt(ms, 10, 64)
		if !ok || err != nil || name == "" {
			continue
		}
		out = append(out, auth.MethodUse{Method: auth.Method(name), At: time.UnixMilli(n).UTC()})
	}
	return out
}

// Seen moves the session's last-seen time, at most once per touch interval
// per instance.
func (m *Sessions) Seen(ctx context.Context, s auth.Session, at time.Time) error {
	if !m.touches.due(s.Key, at) {
		return nil
	}
	return m.index.Touch(ctx, s.IdentityID.String(), s.Key, at)
}

// End deletes the session and its index entry.
func (m *Sessions) End(ctx context.Context, s auth.Session) error {
	if s.IdentityID == uuid.Nil {
		return fmt.Errorf("valkey: end session: %w", errNoIdentity)
	}
	return m.index.End(ctx, s.IdentityID.String(), s.Key)
}

// List returns the identity's live sessions, oldest first.
func (m *Sessions) List(ctx context.Context, identityID uuid.UUID, now time.Time) ([]auth.Session, error) {
	recs, err := m.index.List(ctx, identityID.String(), now)
	if err != nil {
		return nil, err
	}
	out := make([]auth.Session, len(recs))
	for i, r := range recs {
		out[i] = auth.Session{Key: r.HashedToken, IdentityID: identityID, AuthenticatedAt: r.AuthenticatedAt,
			CreatedAt: r.CreatedAt, LastSeenAt: r.LastSeenAt, ExpiresAt: r.ExpiresAt, IP: r.IP, UserAgent: r.UserAgent}
	}
	return out, nil
}

// Revoke ends one session of the identity.
func (m *Sessions) Revoke(ctx context.Context, identityID uuid.UUID, key string) (bool, error) {
	return m.index.Revoke(ctx, identityID.String(), key)
}

// RevokeAll ends every session of the identity but those in keep.
func (m *Sessions) RevokeAll(ctx context.Context, identityID uuid.UUID, keep ...string) (int, error) {
	return m.index.RevokeAll(ctx, identityID.String(), keep...)
}

// Generation returns the identity's session generation.
func (m *Sessions) Generation(ctx context.Context, identityID uuid.UUID) (int64, error) {
	return m.index.Generation(ctx, identityID.String())
}

// EndGeneration starts a new generation first, so that a session started
// after the listing below cannot be of the old one, then ends the rest.
func (m *Sessions) EndGeneration(ctx context.Context, identityID uuid.UUID, keep ...string) (int64, int, error) {
	gen, err := m.index.NewGeneration(ctx, identityID.String())
	if err != nil {
		return 0, 0, err
	}
	n, err := m.index.RevokeAll(ctx, identityID.String(), keep...)
	if err != nil {
		return 0, n, err
	}
	return gen, n, nil
}

func generationString(g int64) string { return strconv.FormatInt(g, 10) }

func recordOf(s auth.Session) sessionRecord {
	return sessionRecord{HashedToken: s.Key, AuthenticatedAt: s.AuthenticatedAt.UTC(), CreatedAt: s.CreatedAt.UTC(),
		LastSeenAt: s.LastSeenAt.UTC(), ExpiresAt: s.ExpiresAt.UTC(), IP: s.IP, UserAgent: s.UserAgent}
}
