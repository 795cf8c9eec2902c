package auth

import (
	"context"
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

// RequestRecovery asks for a reset link to the address. The caller answers
// 202 in every case: whether the address exists, or was over its mail
// limit, is never revealed, neither by the reply nor by its time, because
// the request is only queued here (the same one write for every address)
// and answered later (AnswerMailRequest).
func (s *Service) RequestRecovery(ctx context.Context, cmd RequestRecovery) error {
	return s.queueMailRequest(ctx, PurposeRecovery, cmd.Email, cmd.Client)
}

// sendRecovery mails a reset link to the identity.
func (s *Service) sendRecovery(ctx context.Context, identity Identity, c Client) error {
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
	err = s.tx.InTx(ctx, func(st Stores) error {
		if err := st.Tokens.Issue(ctx, issued); err != nil {
			return err
		}
		return st.Outbox.Queue(ctx, mail)
	})
	if err != nil {
		return err
	}
	s.audit(ctx, EventRecoveryRequested, &identity.ID, c)
	return nil
}

// CompleteRecovery is the command behind POST /auth/recovery/complete.
type CompleteRecovery struct {
	Token    string
	Password string
	Client   Client
}

// CompleteRecovery sets a new password with a recovery token, then ends
// every session of the identity on every instance. The token is used, the
// password set and the owner's notice queued in one transaction: all three
// happen or none.
func (s *Service) CompleteRecovery(ctx context.Context, cmd CompleteRecovery) error {
	if cmd.Token == "" || len(cmd.Token) > 128 {
		return ErrTokenInvalid
	}
	now := s.now().UTC().Truncate(time.Microsecond)
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
		return invalidField("password", err)
	}
	if err := s.admitHash(); err != nil {
		return err
	}
	passwordHash, err := s.hasher.Hash(ctx, password.Plaintext())
	if err != nil {
		return hashFailure(err)
	}
	err = s.tx.InTx(ctx, func(st Stores) error {
		redeemed, err := st.Tokens.Redeem(ctx, PurposeRecovery, hash, now)
		if err != nil {
			return err
		}
		if redeemed.IdentityID != identity.ID {
			return ErrTokenInvalid // cannot happen: the hash names one row
		}
		if err := st.Identities.UpdatePasswordHash(ctx, identity.ID, passwordHash, now); err != nil {
			return err
		}
		return st.Outbox.Queue(ctx, s.passwordChangedNotice(identity))
	})
	if err != nil {
		return err
	}
	s.profileChanged(ctx, identity.ID)
	// Whoever kept the account locked with wrong guesses does not keep
	// its owner, who just proved control of the address, out of it.
	s.clearLockout(ctx, identity.Email, cmd.Client.IP)
	// A new generation ends every session, and those a login that checked
	// the old password is about to start.
	if _, _, err := s.sessions.EndGeneration(ctx, identity.ID); err != nil {
		return Unavailable("revoke sessions after recovery", err)
	}
	s.audit(ctx, EventRecoveryCompleted, &identity.ID, cmd.Client)
	return nil
}

// passwordChangedNotice tells the owner, so a change they did not make
// does not go unnoticed.
func (s *Service) passwordChangedNotice(identity Identity) Mail {
	return Mail{To: identity.Email.String(), Template: "password_changed", Data: map[string]string{
		"Product": s.mail.Product, "Email": identity.Email.String(), "When": s.now().UTC().Format("2 January 2006 15:04 MST"),
	}}
}

// queueMailRequest checks what can be checked without knowing whether the
// address has an account (its form, the client's limit) and queues the
// request.
func (s *Service) queueMailRequest(ctx context.Context, p Purpose, rawEmail string, c Client) error {
	email, err := ParseEmail(rawEmail)
	if err != nil {
		return invalidField("email", err)
	}
	if err := s.allowPerIP(ctx, "mail", c.IP, s.limits.MailRequestsIP); err != nil {
		return err
	}
	return s.outbox.QueueRequest(ctx, MailRequest{Purpose: p, Email: email, Client: c, RequestedAt: s.now().UTC()})
}

// AnswerMailRequest answers a queued request: a recovery link to an active
// account, a verification link to an unverified one, within the address's
// mail limit, and nothing otherwise. Only a failure is an error, after
// which the request is tried again.
func (s *Service) AnswerMailRequest(ctx context.Context, r MailRequest) error {
	identity, ok, err := s.mailRecipient(ctx, r.Email)
	if err != nil || !ok {
		return err
	}
	switch r.Purpose {
	case PurposeRecovery:
		return s.sendRecovery(ctx, identity, r.Client)
	case PurposeVerification:
		if identity.EmailVerifiedAt != nil {
			return nil
		}
		return s.sendVerification(ctx, identity)
	}
	s.log.ErrorContext(ctx, "mail request of an unknown purpose dropped", "purpose", string(r.Purpose))
	return nil
}

// mailRecipient finds the active identity a requested mail would go to.
// ok is false, with no error, when no mail should go out: the address has
// no account or is over its mail limit. Only a failing dependency is an
// error.
func (s *Service) mailRecipient(ctx context.Context, email Email) (Identity, bool, error) {
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
	key := ThrottleKey{Scope: "mail:address", Subject: email.String()}
	ok, _, err := s.limiter.Allow(ctx, key, s.mail.PerAddressLimit, time.Hour, s.now())
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
