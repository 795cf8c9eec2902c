package auth

import (
	"context"
	"time"
)

// AAL is a session's authenticator assurance level (NIST SP 800-63B):
// AAL1 when one factor was proved, AAL2 when two were (a password and a
// second factor), or a passkey with user verification, which is both a
// possession and a knowledge or biometric factor.
type AAL int

const (
	AAL1 AAL = 1
	AAL2 AAL = 2
)

func (a AAL) String() string {
	if a >= AAL2 {
		return "aal2"
	}
	return "aal1"
}

// Level is the session's level; a session that does not say (one from
// before levels were kept) proved one factor.
func (s Session) Level() AAL { return max(s.AAL, AAL1) }

// Method is a way of proving who one is.
type Method string

const (
	MethodPassword     Method = "password"
	MethodTOTP         Method = "totp"
	MethodRecoveryCode Method = "recovery_code"
	MethodPasskey      Method = "passkey"
)

// MethodUse is one factor proved in a session, and when.
type MethodUse struct {
	Method Method
	At     time.Time
}

// Factors are the second factors an identity has. Recovery codes only
// count alongside TOTP or a passkey: they stand in for a lost device.
type Factors struct {
	TOTP              bool
	Passkeys          int
	RecoveryCodesLeft int
}

// HasSecondFactor says whether logins of the identity need two factors.
func (f Factors) HasSecondFactor() bool { return f.TOTP || f.Passkeys > 0 }

// Highest is the highest level a session of the identity can reach, the
// level that privileged changes need (Kratos' highest_available).
func (f Factors) Highest() AAL {
	if f.HasSecondFactor() {
		return AAL2
	}
	return AAL1
}

// SecondSteps are the methods that can raise a session of the identity to
// AAL2, in the order a client should offer them.
func (f Factors) SecondSteps() []Method {
	var m []Method
	if f.TOTP {
		m = append(m, MethodTOTP)
	}
	if f.Passkeys > 0 {
		m = append(m, MethodPasskey)
	}
	if f.HasSecondFactor() && f.RecoveryCodesLeft > 0 {
		m = append(m, MethodRecoveryCode)
	}
	return m
}

// ErrSecondFactorRequired answers a request that needs a level the session
// has not reached; secondFactorRequired adds the methods that reach it.
var ErrSecondFactorRequired = &Error{Kind: KindForbidden, Code: CodeSecondFactorRequired,
	Message: "Confirm it is you with your second factor first."}

func secondFactorRequired(f Factors) *Error {
	e := *ErrSecondFactorRequired
	e.Methods = f.SecondSteps()
	return &e
}

// ErrNoSecondFactor refuses what only makes sense with a second factor,
// such as recovery codes or a second login step, on an account without.
var ErrNoSecondFactor = &Error{Kind: KindConflict, Code: CodeNoSecondFactor,
	Message: "Set up an authenticator app or a passkey first."}

// factorsOf reads the identity's factors.
func (s *Service) factorsOf(ctx context.Context, st FactorStore, identity Identity) (Factors, error) {
	f, err := st.Factors(ctx, identity.ID)
	if err != nil {
		return Factors{}, storeFailure("read second factors", err)
	}
	return f, nil
}

// Privileged is what a privileged use case works on: the caller's
// identity and its factors, after the checks.
type Privileged struct {
	Identity Identity
	Factors  Factors
}

// privileged admits a change of credentials or factors: the session must
// be at the highest level the account has (else ErrSecondFactorRequired)
// and must have proved a factor within the privileged window (else
// ErrReauthRequired). A stolen session cookie alone therefore cannot add
// an attacker's authenticator, remove the owner's, or read new recovery
// codes.
func (s *Service) privileged(ctx context.Context, sess Session) (Privileged, error) {
	p, err := s.elevated(ctx, sess)
	if err != nil {
		return Privileged{}, err
	}
	if s.now().Sub(sess.AuthenticatedAt) > s.privilegedWindow {
		return Privileged{}, ErrReauthRequired
	}
	return p, nil
}

// elevated is privileged without the recent-proof check: for a password
// change, where the current password may stand in for a recent login.
func (s *Service) elevated(ctx context.Context, sess Session) (Privileged, error) {
	if !sess.Live() {
		return Privileged{}, ErrUnauthenticated
	}
	if sess.SecondFactorPending {
		return Privileged{}, s.pendingError(ctx, sess)
	}
	identity, err := s.activeIdentity(ctx, sess.IdentityID)
	if err != nil {
		return Privileged{}, err
	}
	f, err := s.factorsOf(ctx, s.factors, identity)
	if err != nil {
		return Privileged{}, err
	}
	if sess.Level() < f.Highest() {
		return Privileged{}, secondFactorRequired(f)
	}
	return Privileged{Identity: identity, Factors: f}, nil
}

// RequireCompleteSession is the rule every route but the second login
// step, /me and logout applies: a session that still owes its second
// factor can do nothing else. The error lists the methods it can use.
func (s *Service) RequireCompleteSession(ctx context.Context, sess Session) error {
	if !sess.SecondFactorPending {
		return nil
	}
	return s.pendingError(ctx, sess)
}

func (s *Service) pendingError(ctx context.Context, sess Session) error {
	f, err := s.factors.Factors(ctx, sess.IdentityID)
	if err != nil {
		return storeFailure("read second factors", err)
	}
	return secondFactorRequired(f)
}

// withMethod is the session after a factor was proved at `at`, at the
// level its factors now reach.
func withMethod(sess Session, m Method, userVerified bool, at time.Time) Session {
	if len(sess.Methods) == 0 && sess.Live() {
		// A session from before sessions kept their methods: a password
		// login, the only kind there was.
		sess.Methods = []MethodUse{{Method: MethodPassword, At: sess.AuthenticatedAt}}
	}
	sess.Methods = append(append([]MethodUse(nil), sess.Methods...), MethodUse{Method: m, At: at})
	sess.AAL = levelOf(sess.Methods, userVerified)
	sess.SecondFactorPending = false
	sess.AuthenticatedAt = at
	return sess
}

// levelOf is the level a set of proved factors reaches: a password (or a
// passkey) and a second factor, or a user-verified passkey, is AAL2.
func levelOf(uses []MethodUse, passkeyVerified bool) AAL {
	var first, second bool
	for _, u := range uses {
		switch u.Method {
		case MethodPassword:
			first = true
		case MethodTOTP, MethodRecoveryCode:
			second = true
		case MethodPasskey:
			if passkeyVerified {
				return AAL2
			}
			if first {
				second = true
			} else {
				first = true
			}
		}
	}
	if first && second {
		return AAL2
	}
	return AAL1
}
