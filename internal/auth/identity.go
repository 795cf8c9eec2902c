package auth

import (
	"time"

	"github.com/google/uuid"
)

// State says whether an identity may log in.
type State string

const (
	StateActive   State = "active"
	StateInactive State = "inactive"
)

// Identity is a person who can log in. PasswordHash is a PHC string and
// never leaves the server.
type Identity struct {
	ID              uuid.UUID
	Email           Email
	EmailVerifiedAt *time.Time
	Username        string
	GeoLocation     string
	PasswordHash    string
	State           State
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// Profile is what an identity may see of itself.
type Profile struct {
	ID            uuid.UUID
	Email         string
	EmailVerified bool
	Username      *string
	GeoLocation   *string
	State         State
	CreatedAt     time.Time
	UpdatedAt     time.Time
	// Factors are the identity's second factors (CurrentProfile fills
	// them in; Identity.Profile cannot know them).
	Factors Factors
}

// Profile returns the client-facing view of the identity.
func (i Identity) Profile() Profile {
	return Profile{
		ID:            i.ID,
		Email:         i.Email.String(),
		EmailVerified: i.EmailVerifiedAt != nil,
		Username:      optional(i.Username),
		GeoLocation:   optional(i.GeoLocation),
		State:         i.State,
		CreatedAt:     i.CreatedAt.UTC(),
		UpdatedAt:     i.UpdatedAt.UTC(),
	}
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
