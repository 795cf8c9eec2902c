package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
)

// TOTP parameters: those every authenticator app understands (RFC 6238's
// defaults, as Google Authenticator reads otpauth URLs), with a 160-bit
// secret (RFC 4226's recommendation) and one step of clock skew each way.
const (
	totpPeriod     = 30 // seconds
	totpSkew       = 1  // steps
	totpSecretSize = 20 // bytes
)

var totpOpts = hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// TOTPSetup is a new secret to show once: as text, and as the otpauth URL
// that a QR code carries.
type TOTPSetup struct {
	Secret string // base32
	URL    string // otpauth://totp/...
}

// SetUpTOTP starts an enrolment: a fresh secret, sealed and stored as
// pending; it counts as a factor only once ConfirmTOTP has seen a code of
// it. Starting again replaces a pending secret.
func (s *Service) SetUpTOTP(ctx context.Context, sess Session) (TOTPSetup, error) {
	p, err := s.privileged(ctx, sess)
	if err != nil {
		return TOTPSetup{}, err
	}
	if p.Factors.TOTP {
		return TOTPSetup{}, ErrTOTPAlreadyEnabled
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: s.mail.Product, AccountName: p.Identity.Email.String(),
		Period: totpPeriod, SecretSize: totpSecretSize, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return TOTPSetup{}, Internal("generate TOTP secret", err)
	}
	if err := s.factors.PutPendingTOTP(ctx, p.Identity.ID, s.secrets.Seal([]byte(key.Secret())), s.now().UTC()); err != nil {
		if ErrorKind(err) == KindConflict {
			return TOTPSetup{}, err
		}
		return TOTPSetup{}, Unavailable("store TOTP secret", err)
	}
	return TOTPSetup{Secret: key.Secret(), URL: key.URL()}, nil
}

// TOTPConfirmed is an enabled TOTP factor: the recovery codes, shown this
// once, and the caller's session, now at AAL2 with a new token.
type TOTPConfirmed struct {
	RecoveryCodes []string
	Session       StartedSession
}

// ConfirmTOTP enables the pending TOTP factor once the code shows the app
// has the secret, and makes the first set of recovery codes. The code's
// step is used up like any other.
func (s *Service) ConfirmTOTP(ctx context.Context, sess Session, code string, c Client) (TOTPConfirmed, error) {
	p, err := s.privileged(ctx, sess)
	if err != nil {
		return TOTPConfirmed{}, err
	}
	if err := checkCodeForm(code); err != nil {
		return TOTPConfirmed{}, err
	}
	f, err := s.factors.TOTP(ctx, p.Identity.ID)
	if ErrorKind(err) == KindNotFound || (err == nil && f.Confirmed) {
		return TOTPConfirmed{}, ErrTOTPNotPending
	}
	if err != nil {
		return TOTPConfirmed{}, Unavailable("read TOTP factor", err)
	}
	step, ok, err := s.matchTOTP(f, code)
	if err != nil {
		return TOTPConfirmed{}, err
	}
	if !ok {
		return TOTPConfirmed{}, errCodeIncorrect
	}
	codes, hashes := s.newRecoveryCodes()
	now := s.now().UTC()
	err = s.tx.InTx(ctx, func(st Stores) error {
		used, err := st.Factors.UseTOTPStep(ctx, p.Identity.ID, step, true, now)
		if err != nil {
			return err
		}
		if !used {
			return ErrTOTPNotPending // confirmed (or replaced) meanwhile
		}
		if err := st.Factors.ReplaceRecoveryCodes(ctx, p.Identity.ID, hashes, now); err != nil {
			return err
		}
		return st.Outbox.Queue(ctx, s.securityNotice(p.Identity, "second_factor_added", "An authenticator app"))
	})
	if err != nil {
		return TOTPConfirmed{}, storeFailure("enable TOTP", err)
	}
	s.profileChanged(ctx, p.Identity.ID)
	s.audit(ctx, EventTOTPEnabled, &p.Identity.ID, c)
	s.audit(ctx, EventRecoveryCodesGenerated, &p.Identity.ID, c)
	renewed, err := s.raiseSession(ctx, sess, MethodTOTP, false, c)
	if err != nil {
		return TOTPConfirmed{}, err
	}
	return TOTPConfirmed{RecoveryCodes: codes, Session: renewed}, nil
}

// RemoveTOTP turns the TOTP factor off. Without a passkey left, the
// recovery codes go with it: they only stand in for a second factor.
func (s *Service) RemoveTOTP(ctx context.Context, sess Session, c Client) error {
	p, err := s.privileged(ctx, sess)
	if err != nil {
		return err
	}
	if !p.Factors.TOTP {
		return &Error{Kind: KindNotFound, Code: CodeNotFound, Message: "No authenticator app is set up."}
	}
	err = s.tx.InTx(ctx, func(st Stores) error {
		if _, err := st.Factors.DeleteTOTP(ctx, p.Identity.ID); err != nil {
			return err
		}
		if p.Factors.Passkeys == 0 {
			if err := st.Factors.DeleteRecoveryCodes(ctx, p.Identity.ID); err != nil {
				return err
			}
		}
		return st.Outbox.Queue(ctx, s.securityNotice(p.Identity, "second_factor_removed", "The authenticator app"))
	})
	if err != nil {
		return storeFailure("remove TOTP", err)
	}
	s.profileChanged(ctx, p.Identity.ID)
	s.audit(ctx, EventTOTPRemoved, &p.Identity.ID, c)
	return nil
}

// matchTOTP finds the step, within the allowed skew and later than the
// last one used, whose code is code.
func (s *Service) matchTOTP(f TOTPFactor, code string) (int64, bool, error) {
	secret, err := s.secrets.Open(f.SealedSecret)
	if err != nil {
		return 0, false, Internal("open TOTP secret", err)
	}
	now := s.now().Unix() / totpPeriod
	for step := now - totpSkew; step <= now+totpSkew; step++ {
		if step <= f.LastStep || step < 0 {
			continue // used, or before a step that was: never twice
		}
		want, err := hotp.GenerateCodeCustom(string(secret), uint64(step), totpOpts)
		if err != nil {
			return 0, false, Internal("compute TOTP code", err)
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return step, true, nil
		}
	}
	return 0, false, nil
}

// TOTPStep is the time step of t, for tests and tools that compute codes.
func TOTPStep(t time.Time) int64 { return t.Unix() / totpPeriod }

// TOTPCode is the code of secret (base32) at t, as an authenticator app
// shows it; for tests and tools.
func TOTPCode(secret string, t time.Time) (string, error) {
	return hotp.GenerateCodeCustom(secret, uint64(TOTPStep(t)), totpOpts)
}

var errCodeIncorrect = Invalid(FieldError{Field: "code", Code: "incorrect", Message: "The code is incorrect."})

// checkCodeForm refuses what cannot be a code before anything is counted.
func checkCodeForm(code string) error {
	if code == "" {
		return Invalid(FieldError{Field: "code", Code: "required", Message: "A code is required."})
	}
	if len(code) > 64 {
		return Invalid(FieldError{Field: "code", Code: "too_long", Message: "The code is too long."})
	}
	return nil
}

// storeFailure passes the domain's own refusals through and turns any
// other failure of a store into a 503.
func storeFailure(op string, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return Unavailable(op, err)
}

// securityNotice tells the owner of a change to how the account is
// protected, so that one they did not make does not go unnoticed.
func (s *Service) securityNotice(identity Identity, template, factor string) Mail {
	return Mail{To: identity.Email.String(), Template: template, Data: map[string]string{
		"Product": s.mail.Product, "Email": identity.Email.String(), "Factor": factor,
		"When": s.now().UTC().Format("2 January 2006 15:04 MST"),
	}}
}
