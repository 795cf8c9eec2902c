package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"time"

	"github.com/google/uuid"
)

// Session is one live login of an identity. Stores find it by Key, a hash
// of its token; the raw token exists only in the client's cookie.
type Session struct {
	Key        string
	IdentityID uuid.UUID
	// AuthenticatedAt is when a credential was last proved in this session:
	// inside the privileged window after it, a password may be changed
	// without giving the current one again.
	AuthenticatedAt time.Time
	CreatedAt       time.Time
	LastSeenAt      time.Time
	ExpiresAt       time.Time
	IP              string
	UserAgent       string
	// Generation is the identity's session generation the session belongs
	// to: a credential change starts a new one, and no session of an older
	// generation can be started or renewed after it.
	Generation int64
	// AAL is the level the factors proved in this session reach; Methods
	// are those factors and when each was proved.
	AAL     AAL
	Methods []MethodUse
	// SecondFactorPending marks the session of a login whose password was
	// right on an account with a second factor: until the second step it
	// may only take that step, read /me and log out.
	SecondFactorPending bool
}

// ID is the session's public id: a hash of its key, so that the id shown
// to the user can neither log in nor name the stored key.
func (s Session) ID() string {
	sum := sha256.Sum256([]byte("authd-session-id:" + s.Key))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// Live says whether this is a session at all: the zero Session stands for
// a request without one.
func (s Session) Live() bool { return s.Key != "" }

// StartedSession is a new session with the raw token the client gets once,
// in its cookie, and that is stored nowhere.
type StartedSession struct {
	Session
	Token string
}

// Sessions keeps login sessions where every instance sees them: a session
// started on one is found on all, and one ended or revoked anywhere stops
// working everywhere at once. Only failures are errors: a missing, expired
// or ended session is "not found", never an error, and a failure is never
// reported as "not found".
//
// Generations close the race between a login and a credential change: a
// login that checked the old password, and starts its session after the
// change has ended "every" session, would keep a live session. So a login
// reads the identity's generation before it confirms the password is still
// the stored one, and Start refuses a session of a generation that a
// change has ended meanwhile.
type Sessions interface {
	// Generation returns the identity's current session generation.
	Generation(ctx context.Context, identityID uuid.UUID) (int64, error)
	// Start writes a new session for s.IdentityID with s's client details,
	// times and generation and returns it with its token; the store sets
	// Key and ExpiresAt (the store's lifetime from now, or s.ExpiresAt if
	// that is earlier). It fails with ErrStaleGeneration, atomically with
	// writing, when s.Generation is no longer the identity's.
	Start(ctx context.Context, s Session) (StartedSession, error)
	// Renew replaces the token of a live session (after a privilege
	// change): the old token stops working at once; the new session keeps
	// the old one's creation time and absolute expiry, takes s's client
	// details and generation (ErrStaleGeneration as for Start), and is
	// authenticated at authAt.
	Renew(ctx context.Context, s Session, authAt time.Time) (StartedSession, error)
	// Find returns the live session of a raw token.
	Find(ctx context.Context, token string) (Session, bool, error)
	// Seen records activity on the session; the store may coalesce writes,
	// so reads stay cheap.
	Seen(ctx context.Context, s Session, at time.Time) error
	// End deletes one session (a logout).
	End(ctx context.Context, s Session) error
	// List returns the identity's live sessions, oldest first.
	List(ctx context.Context, identityID uuid.UUID, now time.Time) ([]Session, error)
	// Revoke ends the identity's session with that key and reports false
	// when the identity has no such session, whoever else may have it.
	Revoke(ctx context.Context, identityID uuid.UUID, key string) (bool, error)
	// RevokeAll ends every session of the identity but those whose keys are
	// in keep, and returns how many it ended.
	RevokeAll(ctx context.Context, identityID uuid.UUID, keep ...string) (int, error)
	// EndGeneration starts the identity's next generation, so that no
	// session of an earlier one can be started or renewed any more, then
	// ends every session but those in keep (which a caller renews into the
	// new generation). It returns the new generation and how many sessions
	// it ended.
	EndGeneration(ctx context.Context, identityID uuid.UUID, keep ...string) (int64, int, error)
}

// ErrStaleGeneration is what Sessions.Start and Renew fail with when the
// session's generation has been ended: the credentials it was opened with
// changed while it was being opened.
var ErrStaleGeneration = errors.New("the identity's credentials changed while the session was being started")

// ErrSessionNotFound answers a revoke of an id that is not one of the
// caller's live sessions, whether or not it belongs to someone else.
var ErrSessionNotFound = &Error{Kind: KindNotFound, Code: CodeNotFound, Message: "No such session."}

// maxSessionCookies bounds how many cookies of the session's name are
// tried: browsers and load tools send stale duplicates, attackers may send
// hundreds.
const maxSessionCookies = 4

// Authenticate is the query every request with a session cookie makes: the
// live session among the tokens the client sent (a client may send stale
// duplicates of the cookie; the first live one counts). ok is false, with
// no error, when none is live.
func (s *Service) Authenticate(ctx context.Context, tokens []string) (Session, bool, error) {
	for i, token := range tokens {
		if i == maxSessionCookies {
			break
		}
		if token == "" || len(token) > 128 {
			continue
		}
		sess, ok, err := s.sessions.Find(ctx, token)
		if err != nil {
			return Session{}, false, Unavailable("find session", err)
		}
		if !ok {
			continue
		}
		if err := s.sessions.Seen(ctx, sess, s.now().UTC()); err != nil {
			// Only the session list's "last seen" suffers.
			s.log.WarnContext(ctx, "session last-seen not updated", "error", err)
		}
		return sess, true, nil
	}
	return Session{}, false, nil
}

// startSession logs the identity in on this client: a session the client
// already had is ended first, so a token planted before the login (session
// fixation) is worthless after it, and the new session is written before
// the caller records any success.
func (s *Service) startSession(ctx context.Context, previous Session, identityID uuid.UUID, generation int64, c Client, p proof) (StartedSession, error) {
	if previous.Live() {
		if err := s.sessions.End(ctx, previous); err != nil {
			return StartedSession{}, Unavailable("end previous session", err)
		}
	}
	now := s.now().UTC()
	started, err := s.sessions.Start(ctx, Session{
		IdentityID: identityID, AuthenticatedAt: now, CreatedAt: now, LastSeenAt: now,
		IP: c.IP, UserAgent: c.UserAgent, Generation: generation,
		AAL: p.aal, Methods: p.methods, SecondFactorPending: p.pending,
	})
	if errors.Is(err, ErrStaleGeneration) {
		return StartedSession{}, err
	}
	if err != nil {
		return StartedSession{}, Unavailable("start session", err)
	}
	return started, nil
}

// proof is what a new session was opened with.
type proof struct {
	aal     AAL
	methods []MethodUse
	pending bool
}

// passwordProof is a session opened with a password alone; pending when
// the account also has a second factor to prove.
func passwordProof(at time.Time, pending bool) proof {
	return proof{aal: AAL1, methods: []MethodUse{{Method: MethodPassword, At: at}}, pending: pending}
}

// raiseSession gives the caller's session a new token after a factor was
// proved in it: its level rises, and a token seen before the proof (on a
// shared computer, in a log) is worth nothing after it.
func (s *Service) raiseSession(ctx context.Context, sess Session, m Method, userVerified bool, c Client) (StartedSession, error) {
	now := s.now().UTC()
	next := withMethod(sess, m, userVerified, now)
	next.IP, next.UserAgent = c.IP, c.UserAgent
	renewed, err := s.sessions.Renew(ctx, next, now)
	if errors.Is(err, ErrStaleGeneration) {
		// The credentials changed meanwhile: this session is over.
		return StartedSession{}, ErrUnauthenticated
	}
	if err != nil {
		return StartedSession{}, Unavailable("renew session", err)
	}
	return renewed, nil
}

// ListSessions is the query behind GET /auth/sessions.
func (s *Service) ListSessions(ctx context.Context, current Session) ([]Session, error) {
	if !current.Live() {
		return nil, ErrUnauthenticated
	}
	list, err := s.sessions.List(ctx, current.IdentityID, s.now())
	if err != nil {
		return nil, Unavailable("list sessions", err)
	}
	return list, nil
}

// RevokeSession ends one of the caller's sessions by its public id.
func (s *Service) RevokeSession(ctx context.Context, current Session, sessionID string, c Client) error {
	list, err := s.ListSessions(ctx, current)
	if err != nil {
		return err
	}
	for _, sess := range list {
		if sess.ID() != sessionID {
			continue
		}
		ok, err := s.sessions.Revoke(ctx, current.IdentityID, sess.Key)
		if err != nil {
			return Unavailable("revoke session", err)
		}
		if !ok {
			break // ended meanwhile
		}
		s.audit(ctx, EventSessionRevoked, &current.IdentityID, c)
		return nil
	}
	return ErrSessionNotFound
}

// RevokeOtherSessions ends every session of the caller but the current
// one, and returns how many it ended.
func (s *Service) RevokeOtherSessions(ctx context.Context, current Session, c Client) (int, error) {
	if !current.Live() {
		return 0, ErrUnauthenticated
	}
	n, err := s.sessions.RevokeAll(ctx, current.IdentityID, current.Key)
	if err != nil {
		return n, Unavailable("revoke sessions", err)
	}
	if n > 0 {
		s.audit(ctx, EventSessionRevoked, &current.IdentityID, c)
	}
	return n, nil
}
