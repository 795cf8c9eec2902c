package auth

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
)

// sendVerification issues a verification link and code for the identity's
// current address and queues the mail; older ones stop working.
func (s *Service) sendVerification(ctx context.Context, identity Identity) error {
	token, hash, err := newToken()
	if err != nil {
		return Internal("verification token", err)
	}
	code, err := newCode()
	if err != nil {
		return Internal("verification code", err)
	}
	now := s.now().UTC()
	issued := IssuedToken{
		ID: uuid.Must(uuid.NewV7()), IdentityID: identity.ID, Purpose: PurposeVerification, Email: identity.Email,
		TokenHash: hash, ExpiresAt: now.Add(s.mail.VerificationTTL),
		CodeHash: s.hashCode(identity.ID, code), CodeExpiresAt: now.Add(s.mail.CodeTTL), CreatedAt: now,
	}
	mail := Mail{To: identity.Email.String(), Template: "verification", Data: map[string]string{
		"Product": s.mail.Product, "Email": identity.Email.String(), "Link": s.link("/verify", token),
		"Code": code, "Expiry": humanDuration(s.mail.VerificationTTL), "CodeExpiry": humanDuration(s.mail.CodeTTL),
	}}
	return s.tx.InTx(ctx, func(st Stores) error {
		if err := st.Tokens.Issue(ctx, issued); err != nil {
			return err
		}
		return st.Outbox.Queue(ctx, mail)
	})
}

// ResendVerification is the command behind POST /auth/verify/link.
type ResendVerification struct {
	Email  string
	Client Client
}

// ResendVerification asks for a new verification link to an unverified
// address that has an account; the reply, and its time, are the same for
// every address (see RequestRecovery).
func (s *Service) ResendVerification(ctx context.Context, cmd ResendVerification) error {
	return s.queueMailRequest(ctx, PurposeVerification, cmd.Email, cmd.Client)
}

// SendVerificationCode is behind POST /auth/verify/code/send: a new code
// (and link) for the logged-in identity.
func (s *Service) SendVerificationCode(ctx context.Context, identityID uuid.UUID) error {
	identity, err := s.activeIdentity(ctx, identityID)
	if err != nil {
		return err
	}
	if identity.EmailVerifiedAt != nil {
		return nil
	}
	if !s.mailAllowed(ctx, identity.Email) {
		return &Error{Kind: KindRateLimited, Code: CodeRateLimited, Message: "Too many codes were sent. Try again later.", RetryAfter: time.Hour}
	}
	return s.sendVerification(ctx, identity)
}

// VerifyEmail is behind POST /auth/verify: the token from the link marks
// the address it was sent to as verified, or, for the link of an e-mail
// change, makes that address the account's.
func (s *Service) VerifyEmail(ctx context.Context, token string, c Client) (Identity, error) {
	if token == "" || len(token) > 128 {
		return Identity{}, ErrTokenInvalid
	}
	hash := HashToken(token)
	redeemed, err := s.tokens.Redeem(ctx, PurposeVerification, hash, s.now().UTC())
	if errors.Is(err, ErrTokenInvalid) {
		// The link of an e-mail change goes to the same page: the new
		// address is verified by taking it.
		return s.confirmEmailChange(ctx, hash, c)
	}
	if err != nil {
		return Identity{}, err
	}
	return s.markVerified(ctx, redeemed, c)
}

// SubmitVerificationCode is behind POST /auth/verify/code/submit.
func (s *Service) SubmitVerificationCode(ctx context.Context, identityID uuid.UUID, code string, c Client) (Identity, error) {
	if len(code) != 6 || !allDigits(code) {
		return Identity{}, Invalid(FieldError{Field: "code", Code: "code_invalid", Message: "Enter the 6-digit code from the e-mail."})
	}
	result, redeemed, err := s.tokens.SubmitCode(ctx, identityID, s.hashCode(identityID, code), s.mail.CodeAttempts, s.now().UTC())
	if err != nil {
		return Identity{}, err
	}
	switch result {
	case CodeWrong:
		return Identity{}, Invalid(FieldError{Field: "code", Code: "incorrect", Message: "The code is incorrect."})
	case CodeVoid:
		return Identity{}, ErrTokenInvalid
	}
	return s.markVerified(ctx, redeemed, c)
}

// markVerified verifies the address a token was sent to, if it is still
// the identity's address: a token for an old address verifies nothing.
func (s *Service) markVerified(ctx context.Context, t RedeemedToken, c Client) (Identity, error) {
	identity, err := s.activeIdentity(ctx, t.IdentityID)
	if err != nil {
		if ErrorKind(err) == KindUnauthenticated {
			return Identity{}, ErrTokenInvalid
		}
		return Identity{}, err
	}
	if identity.Email != t.Email {
		return Identity{}, ErrTokenInvalid
	}
	if identity.EmailVerifiedAt == nil {
		now := s.now().UTC().Truncate(time.Microsecond)
		if err := s.store.MarkEmailVerified(ctx, identity.ID, now); err != nil {
			return Identity{}, err
		}
		identity.EmailVerifiedAt, identity.UpdatedAt = &now, now
		s.audit(ctx, EventEmailVerified, &identity.ID, c)
		s.profileChanged(ctx, identity.ID)
	}
	return identity, nil
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
