// Package session manages login sessions: cookie sessions kept by scs in a
// server-side store, plus a per-identity index of live sessions so that
// "log out everywhere" works on every instance at once.
package session

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/google/uuid"

	"github.com/authd/authd/internal/auth"
)

// Index keeps the live sessions of each identity.
type Index interface {
	Add(ctx context.Context, identityID string, s auth.Session) error
	Remove(ctx context.Context, identityID, hashedToken string) error
	Touch(ctx context.Context, identityID, hashedToken string, at time.Time) error
}

// Cookie holds the cookie settings; the secure defaults come from config.
type Cookie struct {
	Name     string
	Domain   string
	Secure   bool
	Lifetime time.Duration
}

const (
	keyIdentity = "identity_id"
	keyAuthTime = "auth_time"
)

// Manager starts, reads and ends sessions.
type Manager struct {
	scs     *scs.SessionManager
	index   Index
	now     func() time.Time
	log     *slog.Logger
	touches *touchLimiter
}

// NewManager configures scs: the store only ever sees a hash of the token,
// there is no idle timeout (it would write to the store on every request),
// and the cookie is HttpOnly and SameSite=Lax.
// touchEvery is how often a session's last-seen time may be written: often
// enough for the session list, rarely enough that reads stay read-only.
func NewManager(store scs.Store, index Index, c Cookie, touchEvery time.Duration, now func() time.Time, log *slog.Logger) *Manager {
	sm := scs.New()
	sm.Store = store
	sm.HashTokenInStore = true
	sm.Lifetime = c.Lifetime
	sm.IdleTimeout = 0
	sm.Cookie.Name = c.Name
	sm.Cookie.Domain = c.Domain
	sm.Cookie.Path = "/"
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = http.SameSiteLaxMode
	sm.Cookie.Secure = c.Secure
	sm.Cookie.Persist = true
	return &Manager{scs: sm, index: index, now: now, log: log, touches: newTouchLimiter(touchEvery)}
}

// CookieName is the name of the session cookie.
func (m *Manager) CookieName() string { return m.scs.Cookie.Name }

// HashToken is how the store and the index key a session: SHA-256 in
// base64url, the same as scs does with HashTokenInStore.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

type stateKey struct{}

// requestState remembers, for one request, the cookie to write.
type requestState struct {
	cookie  func(w http.ResponseWriter)
	written bool
}

// Load reads the session of the token from the request cookie. A missing,
// expired or unknown token gives an empty session; a store failure is an
// error (503), never an empty session.
func (m *Manager) Load(ctx context.Context, token string) (context.Context, error) {
	ctx, err := m.scs.Load(ctx, token)
	if err != nil {
		return nil, auth.Unavailable("session: load", err)
	}
	if id, ok := m.IdentityID(ctx); ok {
		hashed := HashToken(token)
		if now := m.now(); m.touches.due(hashed, now) {
			if err := m.index.Touch(ctx, id.String(), hashed, now.UTC()); err != nil {
				m.log.WarnContext(ctx, "session last-seen not updated", "error", err)
			}
		}
	}
	return context.WithValue(ctx, stateKey{}, &requestState{}), nil
}

// IdentityID returns the identity the session belongs to.
func (m *Manager) IdentityID(ctx context.Context) (uuid.UUID, bool) {
	s := m.scs.GetString(ctx, keyIdentity)
	if s == "" {
		return uuid.UUID{}, false
	}
	id, err := uuid.Parse(s)
	return id, err == nil
}

// AuthenticatedAt is when the identity last proved its password in this session.
func (m *Manager) AuthenticatedAt(ctx context.Context) time.Time {
	return time.Unix(m.scs.GetInt64(ctx, keyAuthTime), 0)
}

// Renew replaces the session's token after a privilege change (a new
// password): the old token stops working at once, the client gets the new
// one, and the session counts as freshly authenticated.
func (m *Manager) Renew(ctx context.Context, client auth.Client) error {
	id, ok := m.IdentityID(ctx)
	if !ok {
		return auth.ErrUnauthenticated
	}
	return m.Start(ctx, id, client)
}

// HashedToken is the store key of the current session, or "" if none.
func (m *Manager) HashedToken(ctx context.Context) string {
	if t := m.scs.Token(ctx); t != "" {
		return HashToken(t)
	}
	return ""
}

// Start logs the identity in: any previous session of this client is
// deleted, a new token is issued (so a planted token is worthless) and the
// session is written to the store and the index before the reply goes out.
func (m *Manager) Start(ctx context.Context, identityID uuid.UUID, client auth.Client) error {
	if oldToken := m.scs.Token(ctx); oldToken != "" {
		if old, ok := m.IdentityID(ctx); ok {
			if err := m.index.Remove(ctx, old.String(), HashToken(oldToken)); err != nil {
				return auth.Unavailable("session: unindex previous", err)
			}
		}
	}
	if err := m.scs.RenewToken(ctx); err != nil {
		return auth.Unavailable("session: renew token", err)
	}
	now := m.now().UTC()
	m.scs.Put(ctx, keyIdentity, identityID.String())
	m.scs.Put(ctx, keyAuthTime, now.Unix())
	token, expiry, err := m.scs.Commit(ctx)
	if err != nil {
		return auth.Unavailable("session: commit", err)
	}
	rec := auth.Session{
		HashedToken: HashToken(token),
		CreatedAt:   now,
		LastSeenAt:  now,
		ExpiresAt:   expiry.UTC(),
		IP:          client.IP,
		UserAgent:   client.UserAgent,
	}
	if err := m.index.Add(ctx, identityID.String(), rec); err != nil {
		return auth.Unavailable("session: index", err)
	}
	state(ctx).cookie = func(w http.ResponseWriter) { m.scs.WriteSessionCookie(ctx, w, token, expiry) }
	return nil
}

// End logs out: the session is deleted from the store and the index, and
// the reply clears the cookie.
func (m *Manager) End(ctx context.Context) error {
	id, hasIdentity := m.IdentityID(ctx)
	hashed := m.HashedToken(ctx)
	if err := m.scs.Destroy(ctx); err != nil {
		return auth.Unavailable("session: destroy", err)
	}
	if hasIdentity && hashed != "" {
		if err := m.index.Remove(ctx, id.String(), hashed); err != nil {
			return auth.Unavailable("session: unindex", err)
		}
	}
	state(ctx).cookie = func(w http.ResponseWriter) { m.scs.WriteSessionCookie(ctx, w, "", time.Time{}) }
	return nil
}

// WriteCookie adds the Set-Cookie header the request's session needs, once.
// It runs just before the response headers go out, on success and error
// paths alike. Sessions changed without Start or End are committed here;
// read-only requests write nothing.
func (m *Manager) WriteCookie(ctx context.Context, w http.ResponseWriter) {
	st, _ := ctx.Value(stateKey{}).(*requestState)
	if st == nil || st.written {
		return
	}
	st.written = true
	w.Header().Add("Vary", "Cookie")
	if st.cookie != nil {
		st.cookie(w)
		return
	}
	if m.scs.Status(ctx) == scs.Modified {
		token, expiry, err := m.scs.Commit(ctx)
		if err != nil {
			m.log.ErrorContext(ctx, "session commit failed", "error", err)
			return
		}
		m.scs.WriteSessionCookie(ctx, w, token, expiry)
	}
}

func state(ctx context.Context) *requestState {
	st, _ := ctx.Value(stateKey{}).(*requestState)
	if st == nil {
		panic(errors.New("session: context was not loaded by Manager.Load"))
	}
	return st
}
