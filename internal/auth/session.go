package auth

import "time"

// Session is one live login of an identity. It is found by the hash of its
// token; the raw token exists only in the client's cookie.
type Session struct {
	HashedToken string    `json:"-"` // the key; stores keep it out of the value
	CreatedAt   time.Time `json:"created_at"`
	LastSeenAt  time.Time `json:"last_seen_at"`
	ExpiresAt   time.Time `json:"expires_at"`
	IP          string    `json:"ip"`
	UserAgent   string    `json:"user_agent"`
}
