package auth

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// EventType names something that happened to an identity. The values are
// stored and shown to users, so they are never renamed.
type EventType string

const (
	EventRegistered        EventType = "registration"
	EventLoginSucceeded    EventType = "login_succeeded"
	EventLoginFailed       EventType = "login_failed"
	EventLogout            EventType = "logout"
	EventPasswordChanged   EventType = "password_changed"
	EventProfileUpdated    EventType = "profile_updated"
	EventRecoveryRequested EventType = "recovery_requested"
	EventRecoveryCompleted EventType = "recovery_completed"
	EventEmailVerified     EventType = "email_verified"
	EventSessionRevoked    EventType = "session_revoked"

	// A right password on an account with a second factor: the login is
	// not complete until EventSecondFactorSucceeded.
	EventLoginPasswordVerified  EventType = "login_password_verified"
	EventSecondFactorSucceeded  EventType = "login_second_factor_succeeded"
	EventSecondFactorFailed     EventType = "login_second_factor_failed"
	EventTOTPEnabled            EventType = "totp_enabled"
	EventTOTPRemoved            EventType = "totp_removed"
	EventRecoveryCodesGenerated EventType = "recovery_codes_generated"
	EventRecoveryCodeUsed       EventType = "recovery_code_used"
	EventPasskeyAdded           EventType = "passkey_added"
	EventPasskeyRemoved         EventType = "passkey_removed"
	EventPasskeyRenamed         EventType = "passkey_renamed"
	EventPasskeyLoginSucceeded  EventType = "passkey_login_succeeded"
	EventPasskeyLoginFailed     EventType = "passkey_login_failed"
)

// Event is one row of the append-only audit trail. It never holds a
// password, token or cookie: only who, what, when and from where.
type Event struct {
	Type       EventType
	IdentityID *uuid.UUID // nil when the identity is unknown (failed login for an unknown e-mail)
	IP         string
	UserAgent  string
	RequestID  string
	CreatedAt  time.Time
}

// AuditLog appends events and reads an identity's recent ones.
type AuditLog interface {
	Record(ctx context.Context, e Event) error
	Recent(ctx context.Context, identityID uuid.UUID, limit int) ([]Event, error)
}

// audit appends an event. A failure is logged, not returned: losing an
// audit row must not turn a successful login into an error.
func (s *Service) audit(ctx context.Context, t EventType, identityID *uuid.UUID, c Client) {
	err := s.auditLog.Record(ctx, Event{
		Type: t, IdentityID: identityID, IP: c.IP, UserAgent: c.UserAgent,
		RequestID: c.RequestID, CreatedAt: s.now().UTC(),
	})
	if err != nil {
		s.log.ErrorContext(ctx, "audit event not recorded", "event", string(t), "error", err)
	}
}

// Activity is the query behind GET /auth/activity: the caller's latest events.
func (s *Service) Activity(ctx context.Context, identityID uuid.UUID) ([]Event, error) {
	return s.auditLog.Recent(ctx, identityID, 50)
}
