package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// RequestRecovery is the command behind POST /auth/recovery.
type RequestRecovery struct {
	Email  string
	Client Client
}

// RequestRecovery mails a reset link to the address if it has an account.
// The caller answers 202 in every case: whether the address exists, or was
// over its mail limit, is never revealed.
func (s *Service) RequestRecovery(ctx context.Context, cmd RequestRecovery) error {
	identity, ok, err := s.mailRecipient(ctx, cmd.Email, cmd.Client)
	if err != nil || !ok {
		return err
	}
	email := identity.Email
	token, hash, err := newToken()
	if err != nil {
		return Internal("recovery token", err)
	}
	now := s.now().UTC()
	issued := IssuedToken{ID: uuid.Must(uuid.NewV7()), IdentityID: identity.ID, Purpose: PurposeRecovery, Email: email,
		TokenHash: hash, ExpiresAt: now.Add(s.mail.RecoveryTTL), CreatedAt: now}
	mail := Mail{To: email.String(), Template: "recovery", Data: map[string]string{
		"Product": s.mail.Product, "Email": email.String(),
		"Link": s.link("/recovery", token), "Expiry": humanDuration(s.mail.RecoveryTTL),
	}}
	if err := s.tokens.Issue(ctx, issued, mail); err != nil {
		return err
	}
	s.audit(ctx, EventRecoveryRequested, &identity.ID, cmd.Client)
	return nil
}

// CompleteRecovery is the command behind POST /auth/recovery/complete.
type CompleteRecovery struct {
	Token    string
	Password string
	Client   Client
}

// CompleteRecovery sets a new password with a recovery token, then ends
// every session of the identity on every instance and mails a notice.
func (s *Service) CompleteRecovery(ctx context.Context, cmd CompleteRecovery) error {
	if cmd.Token == "" || len(cmd.Token) > 128 {
		return ErrTokenInvalid
	}
	now := s.now().UTC()
	hash := HashToken(cmd.Token)
	// The policy needs the account's identifiers, which only the token
	// names: look it up first, redeem it with the new hash below.
	owner, err := s.tokens.Lookup(ctx, PurposeRecovery, hash, now)
	if err != nil {
		return err
	}
	identity, err := s.store.IdentityByID(ctx, owner.IdentityID)
	if err != nil {
		if ErrorKind(err) == KindNotFound {
			return ErrTokenInvalid
		}
		return err
	}
	password, err := s.policy.Check(cmd.Password, identity.Email, identity.Username)
	if err != nil {
		return Invalid(err.(*RuleError).Field("password"))
	}
	passwordHash, err := s.hasher.Hash(ctx, password.Plaintext())
	if err != nil {
		return hashFailure(err)
	}
	if _, err := s.tokens.RedeemRecovery(ctx, hash, passwordHash, now); err != nil {
		return err
	}
	s.audit(ctx, EventRecoveryCompleted, &identity.ID, cmd.Client)
	if _, err := s.sessions.RevokeAll(ctx, identity.ID.String()); err != nil {
		return Unavailable("revoke sessions after recovery", err)
	}
	s.profileChanged(ctx, identity.ID)
	s.notifyPasswordChanged(ctx, identity)
	return nil
}

// notifyPasswordChanged tells the owner, so a change they did not make
// does not go unnoticed. The change stands even if the notice cannot be
// queued.
func (s *Service) notifyPasswordChanged(ctx context.Context, identity Identity) {
	err := s.tokens.QueueMail(ctx, Mail{To: identity.Email.String(), Template: "password_changed", Data: map[string]string{
		"Product": s.mail.Product, "Email": identity.Email.String(), "When": s.now().UTC().Format("2 January 2006 15:04 MST"),
	}})
	if err != nil {
		s.log.ErrorContext(ctx, "password change notice not queued", "identity_id", identity.ID, "error", err)
	}
}

// mailRecipient finds the active identity a requested mail would go to.
// ok is false, with no error, when no mail should go out: the address has
// no account or is over its mail limit. The caller's reply is the same
// either way. Only a malformed address, the per-IP limit and a failing
// dependency are errors.
func (s *Service) mailRecipient(ctx context.Context, rawEmail string, c Client) (Identity, bool, error) {
	email, err := ParseEmail(rawEmail)
	if err != nil {
		return Identity{}, false, Invalid(err.(*RuleError).Field("email"))
	}
	if err := s.allowPerIP(ctx, "mail", c.IP, s.limits.MailRequestsIP); err != nil {
		return Identity{}, false, err
	}
	if !s.mailAllowed(ctx, email) {
		return Identity{}, false, nil
	}
	identity, err := s.store.IdentityByEmail(ctx, email)
	if ErrorKind(err) == KindNotFound {
		return Identity{}, false, nil
	}
	if err != nil {
		return Identity{}, false, err
	}
	return identity, identity.State == StateActive, nil
}

// mailAllowed applies the per-address mail limit. Over the limit, or when
// the limiter cannot be reached, no mail goes out; the reply is the same.
func (s *Service) mailAllowed(ctx context.Context, email Email) bool {
	if s.limiter == nil || s.mail.PerAddressLimit <= 0 {
		return true
	}
	sum := sha256.Sum256([]byte("mail:" + email.String()))
	ok, _, err := s.limiter.Allow(ctx, "mail:"+hex.EncodeToString(sum[:16]), s.mail.PerAddressLimit, time.Hour, s.now())
	if err != nil {
		s.log.WarnContext(ctx, "mail limit unavailable; mail not sent", "error", err)
		return false
	}
	if !ok {
		s.log.InfoContext(ctx, "mail limit reached for an address; mail not sent")
	}
	return ok
}

func (s *Service) link(path, token string) string {
	return s.mail.PublicURL + path + "?token=" + url.QueryEscape(token)
}

// humanDuration writes a TTL the way a mail reader expects ("1 hour").
func humanDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0 && d >= time.Hour:
		if h := int(d / time.Hour); h != 1 {
			return strconv.Itoa(h) + " hours"
		}
		return "1 hour"
	case d%time.Minute == 0:
		if m := int(d / time.Minute); m != 1 {
			return strconv.Itoa(m) + " minutes"
		}
		return "1 minute"
	}
	return d.String()
}
