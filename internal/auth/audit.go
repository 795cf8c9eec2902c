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

	EventAccountDeleted       EventType = "account_deleted"
	EventEmailChangeRequested EventType = "email_change_requested"
	EventEmailChanged         EventType = "email_changed"
	EventEmailChangeCancelled EventType = "email_change_cancelled"

	// Admin calls, each naming its Actor. The ones that only read are
	// AdminReads.
	EventAdminIdentitiesListed     EventType = "admin_identities_listed"
	EventAdminIdentityRead         EventType = "admin_identity_read"
	EventAdminIdentityCreated      EventType = "admin_identity_created"
	EventAdminIdentityUpdated      EventType = "admin_identity_updated"
	EventAdminIdentityDisabled     EventType = "admin_identity_disabled"
	EventAdminIdentityEnabled      EventType = "admin_identity_enabled"
	EventAdminIdentityDeleted      EventType = "admin_identity_deleted"
	EventAdminSessionsListed       EventType = "admin_sessions_listed"
	EventAdminSessionRevoked       EventType = "admin_session_revoked"
	EventAdminSessionsRevoked      EventType = "admin_sessions_revoked"
	EventAdminRecoveryLinkCreated  EventType = "admin_recovery_link_created"
	EventAdminSecondFactorsRemoved EventType = "admin_second_factors_removed"
	EventAdminAuditQueried         EventType = "admin_audit_queried"
)

// AdminReads are the admin calls that change nothing. They stay in the
// trail, but an identity's own activity list leaves them out: an
// operator looking an account up is not something its owner did.
func AdminReads() []EventType {
	return []EventType{EventAdminIdentitiesListed, EventAdminIdentityRead, EventAdminSessionsListed, EventAdminAuditQueried}
}

// Event is one row of the append-only audit trail. It never holds a
// password, token, cookie or e-mail address: only who, what, when and
// from where.
type Event struct {
	// ID is the store's, in the order events were recorded; 0 until then.
	ID         int64
	Type       EventType
	IdentityID *uuid.UUID // nil when the identity is unknown (failed login for an unknown e-mail)
	// Actor names who made an admin call ("admin:<token name>",
	// "cli:<user>"); empty for what an identity did itself.
	Actor     string
	IP        string
	UserAgent string
	RequestID string
	CreatedAt time.Time
}

// AuditLog appends events, reads an identity's recent ones, and
// pseudonymises a deleted identity's.
type AuditLog interface {
	Record(ctx context.Context, e Event) error
	// Recent returns the identity's latest events, newest first, without
	// the AdminReads.
	Recent(ctx context.Context, identityID uuid.UUID, limit int) ([]Event, error)
	// Pseudonymise blanks the IP and user agent of every event of the
	// identity, keeping its id, type, actor and time: what is left of a
	// deleted account names nobody.
	Pseudonymise(ctx context.Context, identityID uuid.UUID) error
}

// Actor is who made an admin call, for the trail: a token of the admin API
// or a user of the CLI, and the client the call came from.
type Actor struct {
	Name   string
	Client Client
}

// audit appends an event. A failure is logged, not returned: losing an
// audit row must not turn a successful login into an error.
func (s *Service) audit(ctx context.Context, t EventType, identityID *uuid.UUID, c Client) {
	s.record(ctx, s.auditLog, s.event(t, identityID, Actor{Client: c}))
}

// auditBy appends an event of an admin call.
func (s *Service) auditBy(ctx context.Context, t EventType, identityID *uuid.UUID, by Actor) {
	s.record(ctx, s.auditLog, s.event(t, identityID, by))
}

func (s *Service) event(t EventType, identityID *uuid.UUID, by Actor) Event {
	return Event{
		Type: t, IdentityID: identityID, Actor: by.Name, IP: by.Client.IP, UserAgent: by.Client.UserAgent,
		RequestID: by.Client.RequestID, CreatedAt: s.now().UTC(),
	}
}

func (s *Service) record(ctx context.Context, log AuditLog, e Event) {
	if err := log.Record(ctx, e); err != nil {
		s.log.ErrorContext(ctx, "audit event not recorded", "event", string(e.Type), "error", err)
	}
}

// Activity is the query behind GET /auth/activity: the caller's latest events.
func (s *Service) Activity(ctx context.Context, identityID uuid.UUID) ([]Event, error) {
	return s.auditLog.Recent(ctx, identityID, 50)
}
