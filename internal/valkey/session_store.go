package valkey

import (
	"context"
	"fmt"
	"time"

	"github.com/alexedwards/scs/v2"
	vk "github.com/valkey-io/valkey-go"
)

var _ scs.CtxStore = (*SessionStore)(nil)

// SessionStore is an scs.CtxStore backed by Valkey. It expects scs to run
// with HashTokenInStore, so the tokens it sees (and the keys it writes) are
// hashes and a leaked key listing does not hand out live cookies.
type SessionStore struct{ Handle }

// NewSessionStore returns a store that keeps sessions at
// prefix+"session:"+hashedToken.
func NewSessionStore(h Handle) *SessionStore { return &SessionStore{h} }

// Key returns the Valkey key holding the session with that (already hashed)
// token.
func (s *SessionStore) Key(hashedToken string) string { return s.sessionKey(hashedToken) }

// sessionKey is the one definition of the session key layout; the session
// index relies on it to check and delete sessions it only knows by token.
func (h Handle) sessionKey(hashedToken string) string { return h.key("session:" + hashedToken) }

// FindCtx returns the session data. Only a missing key is "not found"; any
// other failure is an error, because reporting an outage as not-found would
// silently log users out and hand them fresh sessions.
func (s *SessionStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	// Plain GET rather than DoCache: a revoked session must stop working
	// at once, not when an invalidation message happens to arrive.
	b, err := s.c.Do(ctx, s.c.B().Get().Key(s.Key(token)).Build()).AsBytes()
	if vk.IsValkeyNil(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("valkey: session store find: %w", err)
	}
	return b, true, nil
}

// CommitCtx stores the session until expiry, using an absolute expiry so
// that time spent in transit does not stretch the session's life.
func (s *SessionStore) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	ctx, cancel := s.call(ctx)
	defer cancel()
	key := s.Key(token)
	ms := expiry.UnixMilli()
	if ms <= time.Now().UnixMilli() {
		// PXAT rejects non-positive times, and a session that is already
		// over must not survive a previous commit either.
		if err := s.c.Do(ctx, s.c.B().Del().Key(key).Build()).Error(); err != nil {
			return fmt.Errorf("valkey: session store commit: %w", err)
		}
		return nil
	}
	// string(b) copies: if ctx expires, Do returns before the pipeline has
	// necessarily written the command, and the caller may reuse b.
	cmd := s.c.B().Set().Key(key).Value(string(b)).PxatMillisecondsTimestamp(ms).Build()
	if err := s.c.Do(ctx, cmd).Error(); err != nil {
		return fmt.Errorf("valkey: session store commit: %w", err)
	}
	return nil
}

// DeleteCtx removes the session; deleting a missing session is not an error.
func (s *SessionStore) DeleteCtx(ctx context.Context, token string) error {
	ctx, cancel := s.call(ctx)
	defer cancel()
	if err := s.c.Do(ctx, s.c.B().Del().Key(s.Key(token)).Build()).Error(); err != nil {
		return fmt.Errorf("valkey: session store delete: %w", err)
	}
	return nil
}

// Find implements scs.Store for callers without a context.
func (s *SessionStore) Find(token string) ([]byte, bool, error) {
	return s.FindCtx(context.Background(), token)
}

// Commit implements scs.Store for callers without a context.
func (s *SessionStore) Commit(token string, b []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), token, b, expiry)
}

// Delete implements scs.Store for callers without a context.
func (s *SessionStore) Delete(token string) error {
	return s.DeleteCtx(context.Background(), token)
}
