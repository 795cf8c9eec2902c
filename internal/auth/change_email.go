package auth

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
)

// EmailChangeCancelTTL is how long the old address's "this was not me"
// link works: longer than the new address's link, so that an owner who
// reads mail once a week can still undo a change someone else confirmed.
const EmailChangeCancelTTL = 7 * 24 * time.Hour

// ChangeEmail is the command behind PUT /auth/settings with method
// "email".
type ChangeEmail struct {
	Session Session
	Email   string
	Client  Client
}

// RequestEmailChange starts moving the account to a new address. Nothing
// changes yet: the new address is mailed a link (to /verify, like a
// verification link) that makes it the account's address, and the old one
// a notice with a link that cancels the change, undoes it if it was
// already made, and ends every session. It needs a recent proof at the
// highest level the account has, as any change of credentials does.
//
// The reply is the same whether or not the new address belongs to another
// account: then that account's owner is told by mail instead, and no
// change is pending. The mails to the new address count against its
// per-address limit; the notice to the old one never does, so that a
// spent limit cannot hide a change from the owner.
func (s *Service) RequestEmailChange(ctx context.Context, cmd ChangeEmail) error {
	p, err := s.privileged(ctx, cmd.Session)
	if err != nil {
		return err
	}
	identity := p.Identity
	email, err := ParseEmail(cmd.Email)
	if err != nil {
		return invalidField("email", err)
	}
	if email == identity.Email {
		return Invalid(FieldError{Field: "email", Code: "unchanged", Message: "This is already the account's address."})
	}
	if err := s.allowPerIP(ctx, "mail", cmd.Client.IP, s.limits.MailRequestsIP); err != nil {
		return err
	}
	_, err = s.store.IdentityByEmail(ctx, email)
	taken := err == nil
	if err != nil && ErrorKind(err) != KindNotFound {
		return storeFailure("look up the new address", err)
	}
	now := s.now().UTC()
	cancelToken, cancelHash, err := newToken()
	if err != nil {
		return Internal("e-mail change token", err)
	}
	cancel := IssuedToken{ID: uuid.Must(uuid.NewV7()), IdentityID: identity.ID, Purpose: PurposeEmailChangeCancel,
		Email: identity.Email, TokenHash: cancelHash, ExpiresAt: now.Add(EmailChangeCancelTTL), CreatedAt: now}
	notice := Mail{To: identity.Email.String(), Template: "email_change_requested", Data: map[string]string{
		"Product": s.mail.Product, "Email": identity.Email.String(), "NewEmail": email.String(),
		"Link": s.link("/email/cancel", cancelToken), "Expiry": humanDuration(EmailChangeCancelTTL),
		"When": now.Format("2 January 2006 15:04 MST"),
	}}
	var change *IssuedToken
	var toNew *Mail
	if s.mailAllowed(ctx, email) {
		if taken {
			toNew = &Mail{To: email.String(), Template: "email_change_taken", Data: map[string]string{
				"Product": s.mail.Product, "Email": email.String(), "Link": s.mail.PublicURL + "/login",
			}}
		} else {
			token, hash, err := newToken()
			if err != nil {
				return Internal("e-mail change token", err)
			}
			change = &IssuedToken{ID: uuid.Must(uuid.NewV7()), IdentityID: identity.ID, Purpose: PurposeEmailChange,
				Email: email, TokenHash: hash, ExpiresAt: now.Add(s.mail.VerificationTTL), CreatedAt: now}
			toNew = &Mail{To: email.String(), Template: "email_change", Data: map[string]string{
				"Product": s.mail.Product, "Email": email.String(), "OldEmail": identity.Email.String(),
				"Link": s.link("/verify", token), "Expiry": humanDuration(s.mail.VerificationTTL),
			}}
		}
	}
	err = s.tx.InTx(ctx, func(st Stores) error {
		if err := st.Tokens.IssueAlongside(ctx, cancel); err != nil {
			return err
		}
		if err := st.Outbox.Queue(ctx, notice); err != nil {
			return err
		}
		if change != nil {
			// A newer request voids the link of an older one.
			if err := st.Tokens.Issue(ctx, *change); err != nil {
				return err
			}
		}
		if toNew != nil {
			return st.Outbox.Queue(ctx, *toNew)
		}
		return nil
	})
	if err != nil {
		return storeFailure("request e-mail change", err)
	}
	s.audit(ctx, EventEmailChangeRequested, &identity.ID, cmd.Client)
	return nil
}

// confirmEmailChange redeems the new address's link: the address becomes
// the account's, verified, and the links mailed to the old address for
// recovery or verification stop working. Any failure is ErrTokenInvalid,
// like every link, but for a new address another account took meanwhile.
func (s *Service) confirmEmailChange(ctx context.Context, hash []byte, c Client) (Identity, error) {
	now := s.now().UTC().Truncate(time.Microsecond)
	var identity Identity
	err := s.tx.InTx(ctx, func(st Stores) error {
		redeemed, err := st.Tokens.Redeem(ctx, PurposeEmailChange, hash, now)
		if err != nil {
			return err
		}
		identity, err = st.Identities.IdentityByID(ctx, redeemed.IdentityID)
		if ErrorKind(err) == KindNotFound {
			return ErrTokenInvalid
		}
		if err != nil {
			return err
		}
		if identity.State != StateActive {
			return ErrTokenInvalid
		}
		if err := st.Identities.UpdateEmail(ctx, identity.ID, redeemed.Email, &now, now); err != nil {
			return err
		}
		for _, p := range []Purpose{PurposeRecovery, PurposeVerification} {
			if err := st.Tokens.Void(ctx, identity.ID, p, now); err != nil {
				return err
			}
		}
		identity.Email, identity.EmailVerifiedAt, identity.UpdatedAt = redeemed.Email, &now, now
		return nil
	})
	switch {
	case errors.Is(err, ErrEmailTaken):
		return Identity{}, &Error{Kind: KindConflict, Code: CodeEmailTaken,
			Message: "Another account has taken this address since the link was sent."}
	case err != nil:
		return Identity{}, storeFailure("confirm e-mail change", err)
	}
	s.profileChanged(ctx, identity.ID)
	s.audit(ctx, EventEmailChanged, &identity.ID, c)
	return identity, nil
}

// CancelEmailChange is the command behind POST /auth/email/cancel, the
// old address's "this was not me" link: the pending change is voided, a
// change already made is undone (the old address is the account's again,
// verified, since its owner just used a link mailed to it), recovery
// links (which may point at the new address) are voided, and every
// session of the account ends on every instance, the one that asked for
// the change included.
func (s *Service) CancelEmailChange(ctx context.Context, token string, c Client) error {
	if token == "" || len(token) > 128 {
		return ErrTokenInvalid
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	var identity Identity
	err := s.tx.InTx(ctx, func(st Stores) error {
		redeemed, err := st.Tokens.Redeem(ctx, PurposeEmailChangeCancel, HashToken(token), now)
		if err != nil {
			return err
		}
		identity, err = st.Identities.IdentityByID(ctx, redeemed.IdentityID)
		if ErrorKind(err) == KindNotFound {
			return ErrTokenInvalid
		}
		if err != nil {
			return err
		}
		for _, p := range []Purpose{PurposeEmailChange, PurposeRecovery} {
			if err := st.Tokens.Void(ctx, identity.ID, p, now); err != nil {
				return err
			}
		}
		if identity.Email == redeemed.Email {
			return nil
		}
		other, err := st.Identities.IdentityByEmail(ctx, redeemed.Email)
		switch {
		case err == nil && other.ID != identity.ID:
			// Someone registered the old address after it was given up:
			// it is theirs now. The sessions still end below.
			s.log.WarnContext(ctx, "e-mail change not undone: the old address belongs to another identity now",
				"identity_id", identity.ID, "other_identity_id", other.ID)
			return nil
		case err != nil && ErrorKind(err) != KindNotFound:
			return err
		}
		if err := st.Identities.UpdateEmail(ctx, identity.ID, redeemed.Email, &now, now); err != nil {
			return err
		}
		identity.Email = redeemed.Email
		return nil
	})
	if err != nil {
		return storeFailure("cancel e-mail change", err)
	}
	s.profileChanged(ctx, identity.ID)
	if _, _, err := s.sessions.EndGeneration(ctx, identity.ID); err != nil {
		return Unavailable("end sessions after a cancelled e-mail change", err)
	}
	s.audit(ctx, EventEmailChangeCancelled, &identity.ID, c)
	return nil
}
