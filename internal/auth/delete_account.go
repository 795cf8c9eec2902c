package auth

import (
	"context"
	"errors"
)

// DeleteAccount is the command behind DELETE /api/v1/auth/me: the owner
// deletes their account. Like any change of credentials it needs the
// highest level the account has, proved within the privileged window, so
// a stolen session cookie alone cannot delete anyone.
func (s *Service) DeleteAccount(ctx context.Context, sess Session, c Client) error {
	p, err := s.privileged(ctx, sess)
	if err != nil {
		return err
	}
	// The owner's own deletion is recorded without the IP and user agent
	// it came from: what stays of the account names nobody.
	e := s.event(EventAccountDeleted, &p.Identity.ID, Actor{Client: Client{RequestID: c.RequestID}})
	if err := s.deleteIdentity(ctx, p.Identity, e); err != nil {
		return err
	}
	s.clearLockout(ctx, p.Identity.Email, c.IP)
	return nil
}

// deleteIdentity deletes an identity and what hangs off it, and records e.
//
// In one transaction: the mails still waiting for the address are
// dropped, the identity goes with its tokens and second factors, the IP
// and user agent of its audit events are blanked (the events, with the
// identity's id, stay: the trail of what happened to an account must
// outlive it, and an id that nothing else names any more identifies
// nobody), e is recorded, and a notice is queued to the address. Then
// every session ends on every instance: after the identity is gone, so
// that a login checked before the deletion cannot start a session after
// it (its generation is over, and a later login finds no identity).
func (s *Service) deleteIdentity(ctx context.Context, identity Identity, e Event) error {
	notice := Mail{To: identity.Email.String(), Template: "account_deleted", Data: map[string]string{
		"Product": s.mail.Product, "Email": identity.Email.String(), "When": s.now().UTC().Format("2 January 2006 15:04 MST"),
	}}
	err := s.tx.InTx(ctx, func(st Stores) error {
		if _, err := st.Outbox.DiscardMailTo(ctx, identity.Email); err != nil {
			return err
		}
		if err := st.Identities.DeleteIdentity(ctx, identity.ID); err != nil {
			return err
		}
		if err := st.Audit.Pseudonymise(ctx, identity.ID); err != nil {
			return err
		}
		if err := st.Audit.Record(ctx, e); err != nil {
			return err
		}
		return st.Outbox.Queue(ctx, notice)
	})
	if errors.Is(err, ErrNotFound) || ErrorKind(err) == KindNotFound {
		return ErrIdentityNotFound // deleted meanwhile
	}
	if err != nil {
		return storeFailure("delete identity", err)
	}
	s.profileChanged(ctx, identity.ID)
	if _, _, err := s.sessions.EndGeneration(ctx, identity.ID); err != nil {
		// The identity is gone, so its sessions open nothing any more
		// (every use case reads the identity); they are still reported,
		// because the caller was told they end.
		return Unavailable("end the sessions of a deleted identity", err)
	}
	return nil
}
