package adminapi

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/internal/auth"
)

// The JSON bodies of the admin API; the domain types carry no wire format
// of their own. A view never holds a password hash or a session token.

// IdentityView is an identity in the admin API's JSON, which the CLI's
// --json output shares.
type IdentityView struct {
	ID            uuid.UUID   `json:"id"`
	Email         string      `json:"email"`
	EmailVerified bool        `json:"email_verified"`
	Username      *string     `json:"username"`
	GeoLocation   *string     `json:"geo_location"`
	State         string      `json:"state"`
	HasPassword   bool        `json:"has_password"`
	Factors       FactorsView `json:"factors"`
	CreatedAt     time.Time   `json:"created_at"`
	UpdatedAt     time.Time   `json:"updated_at"`
}

// FactorsView are an identity's second factors in JSON.
type FactorsView struct {
	TOTP              bool `json:"totp"`
	Passkeys          int  `json:"passkeys"`
	RecoveryCodesLeft int  `json:"recovery_codes_left"`
}

// IdentityOf is the JSON view of an identity.
func IdentityOf(m auth.ManagedIdentity) IdentityView {
	p := m.Profile()
	return IdentityView{ID: p.ID, Email: p.Email, EmailVerified: p.EmailVerified, Username: p.Username, GeoLocation: p.GeoLocation,
		State: string(p.State), HasPassword: m.HasPassword(), Factors: FactorsOf(m.Factors), CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
}

// FactorsOf is the JSON view of second factors.
func FactorsOf(f auth.Factors) FactorsView {
	return FactorsView{TOTP: f.TOTP, Passkeys: f.Passkeys, RecoveryCodesLeft: f.RecoveryCodesLeft}
}

type identityPageView struct {
	Identities []IdentityView `json:"identities"`
	NextCursor *string        `json:"next_cursor"`
}

// SessionView is a session in JSON: never its token.
type SessionView struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	IP         string    `json:"ip"`
	UserAgent  string    `json:"user_agent"`
}

// SessionOf is the JSON view of a session.
func SessionOf(o auth.Session) SessionView {
	return SessionView{ID: o.ID(), CreatedAt: o.CreatedAt.UTC(), LastSeenAt: o.LastSeenAt.UTC(),
		ExpiresAt: o.ExpiresAt.UTC(), IP: o.IP, UserAgent: o.UserAgent}
}

type eventView struct {
	ID         int64      `json:"id"`
	Event      string     `json:"event"`
	IdentityID *uuid.UUID `json:"identity_id"`
	Actor      string     `json:"actor"`
	IP         string     `json:"ip"`
	UserAgent  string     `json:"user_agent"`
	RequestID  string     `json:"request_id"`
	CreatedAt  time.Time  `json:"created_at"`
}

type eventPageView struct {
	Events     []eventView `json:"events"`
	NextCursor *string     `json:"next_cursor"`
}

// Cursors are opaque to clients: base64url of what the next page starts
// after, with a letter for its kind, so that a cursor of one list is not
// taken by the other.

// EncodeIdentityCursor is the opaque cursor of a page of identities (the
// CLI prints it too).
func EncodeIdentityCursor(c auth.IdentityCursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte("i:" + c.CreatedAt.UTC().Format(time.RFC3339Nano) + "," + c.ID.String()))
}

// DecodeIdentityCursor reads EncodeIdentityCursor's cursor.
func DecodeIdentityCursor(s string) (*auth.IdentityCursor, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, false
	}
	rest, ok := strings.CutPrefix(string(b), "i:")
	at, id, found := strings.Cut(rest, ",")
	if !ok || !found {
		return nil, false
	}
	t, err1 := time.Parse(time.RFC3339Nano, at)
	u, err2 := uuid.Parse(id)
	if err1 != nil || err2 != nil {
		return nil, false
	}
	return &auth.IdentityCursor{CreatedAt: t, ID: u}, true
}

func eventCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("e:" + strconv.FormatInt(id, 10)))
}

func parseEventCursor(s string) (int64, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, false
	}
	rest, ok := strings.CutPrefix(string(b), "e:")
	n, err := strconv.ParseInt(rest, 10, 64)
	if !ok || err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}
