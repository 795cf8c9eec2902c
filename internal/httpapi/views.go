package httpapi

import (
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/internal/auth"
)

// The JSON bodies of the API. Field names are the old service's and never
// change; the domain types carry no wire format of their own.

type profileView struct {
	ID            uuid.UUID `json:"id"`
	Email         string    `json:"email"`
	EmailVerified bool      `json:"email_verified"`
	Username      *string   `json:"username"`
	GeoLocation   *string   `json:"geo_location"`
	State         string    `json:"state"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

func profileOf(p auth.Profile) profileView {
	return profileView{ID: p.ID, Email: p.Email, EmailVerified: p.EmailVerified, Username: p.Username,
		GeoLocation: p.GeoLocation, State: string(p.State), CreatedAt: p.CreatedAt.UTC(), UpdatedAt: p.UpdatedAt.UTC()}
}

type sessionView struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	IP         string    `json:"ip"`
	UserAgent  string    `json:"user_agent"`
	Current    bool      `json:"current"`
}

type eventView struct {
	Event     string    `json:"event"`
	IP        string    `json:"ip"`
	UserAgent string    `json:"user_agent"`
	CreatedAt time.Time `json:"created_at"`
}

type fieldErrorView struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func fieldErrorsOf(fields []auth.FieldError) []fieldErrorView {
	if len(fields) == 0 {
		return nil
	}
	out := make([]fieldErrorView, len(fields))
	for i, f := range fields {
		out[i] = fieldErrorView(f)
	}
	return out
}
