package auth

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// RecoveryLink is a recovery link made for an operator: Link is set when
// it is handed to the operator, empty when it was mailed to the owner.
type RecoveryLink struct {
	Link      string
	ExpiresAt time.Time
	Mailed    bool
}

// IssueRecoveryLink is the command behind POST
// /admin/v1/identities/{id}/recovery-link: a recovery link for the
// identity, returned to the operator to pass on, or (mail) sent to the
// identity's address as a requested one would be. Either way the links
// issued before it stop working. The operator's own link is not throttled
// by the per-address mail limit: an operator acts on purpose.
func (s *Service) IssueRecoveryLink(ctx context.Context, by Actor, id uuid.UUID, mail bool) (RecoveryLink, error) {
	identity, err := s.store.IdentityByID(ctx, id)
	if err != nil {
		return RecoveryLink{}, identityFailure(err)
	}
	if identity.State != StateActive {
		return RecoveryLink{}, &Error{Kind: KindConflict, Code: CodeIdentityInactive,
			Message: "The identity is inactive: enable it before sending a recovery link."}
	}
	token, hash, err := newToken()
	if err != nil {
		return RecoveryLink{}, Internal("recovery token", err)
	}
	now := s.now().UTC()
	issued := IssuedToken{ID: uuid.Must(uuid.NewV7()), IdentityID: identity.ID, Purpose: PurposeRecovery, Email: identity.Email,
		TokenHash: hash, ExpiresAt: now.Add(s.mail.RecoveryTTL), CreatedAt: now}
	link := s.link("/recovery", token)
	err = s.tx.InTx(ctx, func(st Stores) error {
		if err := st.Tokens.Issue(ctx, issued); err != nil {
			return err
		}
		if !mail {
			return nil
		}
		return st.Outbox.Queue(ctx, Mail{To: identity.Email.String(), Template: "recovery", Data: map[string]string{
			"Product": s.mail.Product, "Email": identity.Email.String(), "Link": link, "Expiry": humanDuration(s.mail.RecoveryTTL),
		}})
	})
	if err != nil {
		return RecoveryLink{}, storeFailure("issue recovery link", err)
	}
	s.auditBy(ctx, EventAdminRecoveryLinkCreated, &identity.ID, by)
	out := RecoveryLink{ExpiresAt: issued.ExpiresAt, Mailed: mail}
	if !mail {
		out.Link = link
	}
	return out, nil
}
