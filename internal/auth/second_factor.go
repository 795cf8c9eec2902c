package auth

import (
	"context"
)

// SecondFactorLogin is the command behind POST /auth/login/second-factor:
// a TOTP code or a recovery code for the caller's session.
type SecondFactorLogin struct {
	Session Session
	Method  Method
	Code    string
	Client  Client
}

// LoginSecondFactor completes a login whose password was right (or lifts
// an older session to AAL2): the code is checked and used up, and the
// session gets a new token at AAL2. Wrong codes count against the same
// lock-outs as wrong passwords (per account and client, per account, per
// client), and those are only reset when the whole login succeeds, so a
// known password does not open unlimited guessing of the second factor.
func (s *Service) LoginSecondFactor(ctx context.Context, cmd SecondFactorLogin) (LoggedIn, error) {
	if !cmd.Session.Live() {
		return LoggedIn{}, ErrUnauthenticated
	}
	if cmd.Method != MethodTOTP && cmd.Method != MethodRecoveryCode {
		return LoggedIn{}, Invalid(FieldError{Field: "method", Code: "invalid",
			Message: `The method must be "totp" or "recovery_code"; passkeys use /passkeys/login.`})
	}
	if err := checkCodeForm(cmd.Code); err != nil {
		return LoggedIn{}, err
	}
	identity, err := s.activeIdentity(ctx, cmd.Session.IdentityID)
	if err != nil {
		return LoggedIn{}, err
	}
	factors, err := s.factorsOf(ctx, s.factors, identity)
	if err != nil {
		return LoggedIn{}, err
	}
	if !factors.HasSecondFactor() {
		return LoggedIn{}, ErrNoSecondFactor
	}
	attempt, err := s.reserveLogin(ctx, identity.Email, cmd.Client.IP)
	if err != nil {
		return LoggedIn{}, err
	}
	ok, err := s.useSecondFactor(ctx, identity, factors, cmd)
	if err != nil {
		s.loginReleased(ctx, attempt)
		return LoggedIn{}, err
	}
	if !ok {
		s.loginFailed(ctx, attempt)
		s.audit(ctx, EventSecondFactorFailed, &identity.ID, cmd.Client)
		return LoggedIn{}, errCodeIncorrect
	}
	started, err := s.raiseSession(ctx, cmd.Session, cmd.Method, false, cmd.Client)
	if err != nil {
		s.loginReleased(ctx, attempt)
		return LoggedIn{}, err
	}
	s.loginSucceeded(ctx, attempt)
	if cmd.Method == MethodRecoveryCode {
		factors.RecoveryCodesLeft--
		s.profileChanged(ctx, identity.ID)
		s.audit(ctx, EventRecoveryCodeUsed, &identity.ID, cmd.Client)
	}
	s.audit(ctx, EventSecondFactorSucceeded, &identity.ID, cmd.Client)
	return LoggedIn{Identity: identity, Factors: factors, Session: started}, nil
}

// useSecondFactor checks the code and uses it up, atomically: of two
// requests with one code, one at most succeeds.
func (s *Service) useSecondFactor(ctx context.Context, identity Identity, f Factors, cmd SecondFactorLogin) (bool, error) {
	now := s.now().UTC()
	if cmd.Method == MethodTOTP {
		if !f.TOTP {
			return false, nil
		}
		totp, err := s.factors.TOTP(ctx, identity.ID)
		if err != nil {
			return false, storeFailure("read TOTP factor", err)
		}
		step, ok, err := s.matchTOTP(totp, cmd.Code)
		if err != nil || !ok {
			return false, err
		}
		used, err := s.factors.UseTOTPStep(ctx, identity.ID, step, false, now)
		if err != nil {
			return false, storeFailure("use TOTP step", err)
		}
		return used, nil // false: the step was used meanwhile (a replay)
	}
	used := false
	err := s.tx.InTx(ctx, func(st Stores) error {
		for _, hash := range s.recoveryCodeHashes(cmd.Code) {
			var err error
			if used, err = st.Factors.UseRecoveryCode(ctx, identity.ID, hash, now); err != nil {
				return err
			}
			if used {
				break
			}
		}
		if !used {
			return nil
		}
		return st.Outbox.Queue(ctx, s.securityNotice(identity, "recovery_code_used", "a recovery code"))
	})
	if err != nil {
		return false, storeFailure("use recovery code", err)
	}
	return used, nil
}
