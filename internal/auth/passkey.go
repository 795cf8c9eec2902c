package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Passkeys (WebAuthn credentials) are registered in settings, several per
// account, each named; they sign in without a password (discoverable
// credentials, user verification required: AAL2 on their own) or serve
// as the second step after one.
//
// What peers got wrong and these use cases keep right: every use stores
// the authenticator's counter and backup flags, so a passkey synced to
// another device (its backup state changes) keeps working, while a
// counter that goes backwards (a cloned authenticator) is refused; a
// challenge is taken once and lives five minutes; the user handle is
// random, never the account's id or e-mail.

// passkeyUser is the identity as the relying party shows it, with its
// passkeys (to exclude them from a new registration).
func (s *Service) passkeyUser(ctx context.Context, identity Identity, withPasskeys bool) (PasskeyUser, error) {
	candidate := make([]byte, 32)
	_, _ = rand.Read(candidate)
	handle, err := s.factors.PasskeyUserHandle(ctx, identity.ID, candidate)
	if err != nil {
		return PasskeyUser{}, storeFailure("passkey user handle", err)
	}
	u := PasskeyUser{Handle: handle, Name: identity.Email.String(), DisplayName: identity.Email.String()}
	if identity.Username != "" {
		u.DisplayName = identity.Username
	}
	if withPasskeys {
		if u.Passkeys, err = s.factors.Passkeys(ctx, identity.ID); err != nil {
			return PasskeyUser{}, storeFailure("list passkeys", err)
		}
	}
	return u, nil
}

// BeginPasskeyRegistration starts adding a passkey to the caller's account.
func (s *Service) BeginPasskeyRegistration(ctx context.Context, sess Session) (Ceremony, error) {
	p, err := s.privileged(ctx, sess)
	if err != nil {
		return Ceremony{}, err
	}
	u, err := s.passkeyUser(ctx, p.Identity, true)
	if err != nil {
		return Ceremony{}, err
	}
	cer, err := s.ceremonies.BeginRegistration(u)
	if errors.Is(err, ErrPasskeysUnavailable) {
		return Ceremony{}, err
	}
	if err != nil {
		return Ceremony{}, Internal("begin passkey registration", err)
	}
	id := p.Identity.ID
	if err := s.challenges.Put(ctx, Challenge{Challenge: cer.Challenge, Purpose: ChallengeRegister, IdentityID: &id,
		State: cer.State, IssuedAt: s.now().UTC()}, ChallengeTTL); err != nil {
		return Ceremony{}, Unavailable("store passkey challenge", err)
	}
	return cer, nil
}

// RegisterPasskey is the answer to a registration ceremony.
type RegisterPasskey struct {
	Session  Session
	Name     string
	Response []byte // the browser's PublicKeyCredential, as JSON
	Client   Client
}

// PasskeyRegistered is the stored passkey and the caller's session, now
// at AAL2 with a new token: the ceremony proved the passkey.
type PasskeyRegistered struct {
	Passkey Passkey
	Session StartedSession
}

// ErrPasskeyCeremony refuses an answer to a ceremony that does not check
// out: no such challenge (used, expired, never issued, or another
// ceremony's), or a signature, origin or relying party that is wrong.
var ErrPasskeyCeremony = &Error{Kind: KindInvalid, Code: CodeInvalidInput, Message: "The passkey could not be verified. Try again.",
	Fields: []FieldError{{Field: "credential", Code: "invalid", Message: "The passkey could not be verified. Try again."}}}

// FinishPasskeyRegistration checks the answer and stores the passkey.
func (s *Service) FinishPasskeyRegistration(ctx context.Context, cmd RegisterPasskey) (PasskeyRegistered, error) {
	p, err := s.privileged(ctx, cmd.Session)
	if err != nil {
		return PasskeyRegistered{}, err
	}
	name, err := passkeyName(cmd.Name)
	if err != nil {
		return PasskeyRegistered{}, err
	}
	challenge, err := s.ceremonies.RegistrationChallenge(cmd.Response)
	if err != nil {
		return PasskeyRegistered{}, ErrPasskeyCeremony
	}
	ch, err := s.takeChallenge(ctx, challenge, ChallengeRegister)
	if err != nil {
		return PasskeyRegistered{}, err
	}
	if ch.IdentityID == nil || *ch.IdentityID != p.Identity.ID {
		s.log.WarnContext(ctx, "passkey registration answered another account's challenge", "identity_id", p.Identity.ID)
		return PasskeyRegistered{}, ErrPasskeyCeremony
	}
	u, err := s.passkeyUser(ctx, p.Identity, true)
	if err != nil {
		return PasskeyRegistered{}, err
	}
	np, err := s.ceremonies.FinishRegistration(u, ch.State, cmd.Response)
	if err != nil {
		s.log.InfoContext(ctx, "passkey registration refused", "identity_id", p.Identity.ID, "reason", err.Error())
		return PasskeyRegistered{}, ErrPasskeyCeremony
	}
	id, err := uuid.NewV7()
	if err != nil {
		return PasskeyRegistered{}, Internal("passkey id", err)
	}
	now := s.now().UTC()
	pk := Passkey{ID: id, IdentityID: p.Identity.ID, NewPasskey: np, Name: name, CreatedAt: now}
	err = s.tx.InTx(ctx, func(st Stores) error {
		if err := st.Factors.AddPasskey(ctx, pk); err != nil {
			return err
		}
		return st.Outbox.Queue(ctx, s.securityNotice(p.Identity, "second_factor_added", "A passkey named “"+name+"”"))
	})
	if err != nil {
		return PasskeyRegistered{}, storeFailure("store passkey", err)
	}
	s.profileChanged(ctx, p.Identity.ID)
	s.audit(ctx, EventPasskeyAdded, &p.Identity.ID, cmd.Client)
	renewed, err := s.raiseSession(ctx, cmd.Session, MethodPasskey, np.UserVerified, cmd.Client)
	if err != nil {
		return PasskeyRegistered{}, err
	}
	return PasskeyRegistered{Passkey: pk, Session: renewed}, nil
}

// takeChallenge takes a challenge once, and only for its purpose and
// within its lifetime (counted by the service's clock as well as by the
// store's expiry).
func (s *Service) takeChallenge(ctx context.Context, challenge string, purpose ChallengePurpose) (Challenge, error) {
	if challenge == "" || len(challenge) > 128 {
		return Challenge{}, ErrPasskeyCeremony
	}
	ch, ok, err := s.challenges.Take(ctx, challenge)
	if err != nil {
		return Challenge{}, Unavailable("take passkey challenge", err)
	}
	if !ok || ch.Purpose != purpose || s.now().Sub(ch.IssuedAt) > ChallengeTTL {
		return Challenge{}, ErrPasskeyCeremony
	}
	return ch, nil
}

// ListPasskeys is the query behind GET /auth/passkeys.
func (s *Service) ListPasskeys(ctx context.Context, sess Session) ([]Passkey, error) {
	if !sess.Live() {
		return nil, ErrUnauthenticated
	}
	list, err := s.factors.Passkeys(ctx, sess.IdentityID)
	if err != nil {
		return nil, storeFailure("list passkeys", err)
	}
	return list, nil
}

// RenamePasskey names one of the caller's passkeys anew. A name is only a
// label, so this needs a session but not a privileged one.
func (s *Service) RenamePasskey(ctx context.Context, sess Session, id uuid.UUID, name string, c Client) (Passkey, error) {
	if !sess.Live() {
		return Passkey{}, ErrUnauthenticated
	}
	name, err := passkeyName(name)
	if err != nil {
		return Passkey{}, err
	}
	pk, err := s.factors.RenamePasskey(ctx, sess.IdentityID, id, name)
	if ErrorKind(err) == KindNotFound {
		return Passkey{}, ErrPasskeyNotFound
	}
	if err != nil {
		return Passkey{}, storeFailure("rename passkey", err)
	}
	s.audit(ctx, EventPasskeyRenamed, &sess.IdentityID, c)
	return pk, nil
}

// DeletePasskey removes one of the caller's passkeys. Without a second
// factor left, the recovery codes go with it.
func (s *Service) DeletePasskey(ctx context.Context, sess Session, id uuid.UUID, c Client) error {
	p, err := s.privileged(ctx, sess)
	if err != nil {
		return err
	}
	err = s.tx.InTx(ctx, func(st Stores) error {
		pk, err := st.Factors.DeletePasskey(ctx, p.Identity.ID, id)
		if err != nil {
			return err
		}
		if !p.Factors.TOTP && p.Factors.Passkeys <= 1 {
			if err := st.Factors.DeleteRecoveryCodes(ctx, p.Identity.ID); err != nil {
				return err
			}
		}
		return st.Outbox.Queue(ctx, s.securityNotice(p.Identity, "second_factor_removed", "The passkey named “"+pk.Name+"”"))
	})
	if ErrorKind(err) == KindNotFound {
		return ErrPasskeyNotFound
	}
	if err != nil {
		return storeFailure("delete passkey", err)
	}
	s.profileChanged(ctx, p.Identity.ID)
	s.audit(ctx, EventPasskeyRemoved, &p.Identity.ID, c)
	return nil
}

// passkeyName checks a passkey's label: 1 to 64 characters, no control
// characters; empty means "Passkey".
func passkeyName(raw string) (string, error) {
	name := strings.TrimSpace(raw)
	if name == "" {
		return "Passkey", nil
	}
	bad := func(code, msg string) error {
		return Invalid(FieldError{Field: "name", Code: code, Message: msg})
	}
	if !utf8.ValidString(name) || strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return "", bad("invalid", "The name cannot contain control characters.")
	}
	if utf8.RuneCountInString(name) > 64 {
		return "", bad("too_long", "The name must be at most 64 characters.")
	}
	return name, nil
}

// BeginPasskeyLogin starts a passkey sign-in. With a live session of an
// account that has passkeys (a pending login, or a step up) it is that
// account's second step, limited to its passkeys; otherwise it is a
// passwordless sign-in with a discoverable passkey, which must verify
// the user.
func (s *Service) BeginPasskeyLogin(ctx context.Context, sess Session, c Client) (Ceremony, error) {
	if err := s.allowPerIP(ctx, "passkey", c.IP, s.limits.PasskeyCeremoniesIP); err != nil {
		return Ceremony{}, err
	}
	ch := Challenge{Purpose: ChallengeLogin, IssuedAt: s.now().UTC()}
	var user *PasskeyUser
	if sess.Live() {
		identity, err := s.activeIdentity(ctx, sess.IdentityID)
		if err != nil {
			return Ceremony{}, err
		}
		u, err := s.passkeyUser(ctx, identity, true)
		if err != nil {
			return Ceremony{}, err
		}
		if len(u.Passkeys) > 0 {
			id := sess.IdentityID
			ch.IdentityID, user = &id, &u
		}
	}
	cer, err := s.ceremonies.BeginLogin(user)
	if errors.Is(err, ErrPasskeysUnavailable) {
		return Ceremony{}, err
	}
	if err != nil {
		return Ceremony{}, Internal("begin passkey login", err)
	}
	ch.Challenge, ch.State = cer.Challenge, cer.State
	if err := s.challenges.Put(ctx, ch, ChallengeTTL); err != nil {
		return Ceremony{}, Unavailable("store passkey challenge", err)
	}
	return cer, nil
}

// PasskeyLogin is the answer to a sign-in ceremony.
type PasskeyLogin struct {
	Response []byte // the browser's PublicKeyCredential, as JSON
	Client   Client
	// Current is the client's session: the one taking its second step,
	// or one to replace.
	Current Session
}

// FinishPasskeyLogin checks the answer and signs in: a new session, or
// the pending one raised to AAL2. Every refusal is ErrInvalidCredentials
// (the reason goes to the log), counted like a wrong password once the
// account is known.
func (s *Service) FinishPasskeyLogin(ctx context.Context, cmd PasskeyLogin) (LoggedIn, error) {
	a, err := s.ceremonies.ParseAssertion(cmd.Response)
	if err != nil {
		return LoggedIn{}, ErrPasskeyCeremony
	}
	refuse := func(reason string, id *uuid.UUID) (LoggedIn, error) {
		s.log.InfoContext(ctx, "passkey sign-in refused", "reason", reason)
		s.audit(ctx, EventPasskeyLoginFailed, id, cmd.Client)
		return LoggedIn{}, ErrInvalidCredentials
	}
	ch, err := s.takeChallenge(ctx, a.Challenge, ChallengeLogin)
	if ErrorKind(err) == KindUnavailable {
		return LoggedIn{}, err
	}
	if err != nil {
		return refuse("unknown, used or expired challenge", nil)
	}
	pk, err := s.factors.PasskeyByCredentialID(ctx, a.CredentialID)
	if ErrorKind(err) == KindNotFound {
		return refuse("unknown credential", nil)
	}
	if err != nil {
		return LoggedIn{}, storeFailure("find passkey", err)
	}
	if ch.IdentityID != nil && *ch.IdentityID != pk.IdentityID {
		return refuse("another account's passkey for this second step", ch.IdentityID)
	}
	identity, err := s.store.IdentityByID(ctx, pk.IdentityID)
	if err != nil && ErrorKind(err) != KindNotFound {
		return LoggedIn{}, err
	}
	if err != nil || identity.State != StateActive {
		return refuse("account gone or inactive", &pk.IdentityID)
	}
	u, err := s.passkeyUser(ctx, identity, false)
	if err != nil {
		return LoggedIn{}, err
	}
	if len(a.UserHandle) > 0 && !bytes.Equal(a.UserHandle, u.Handle) {
		return refuse("user handle is not the passkey's account", &identity.ID)
	}
	attempt, err := s.reserveLogin(ctx, identity.Email, cmd.Client.IP)
	if err != nil {
		return LoggedIn{}, err
	}
	use, err := s.ceremonies.FinishLogin(u, pk, ch.State, a)
	if err != nil {
		s.loginFailed(ctx, attempt)
		return refuse("assertion: "+err.Error(), &identity.ID)
	}
	if (use.SignCount != 0 || pk.SignCount != 0) && use.SignCount <= pk.SignCount {
		s.loginFailed(ctx, attempt)
		s.log.ErrorContext(ctx, "passkey sign counter did not increase: the authenticator may be cloned",
			"identity_id", identity.ID, "passkey_id", pk.ID, "stored", pk.SignCount, "reported", use.SignCount)
		return refuse("sign counter went backwards", &identity.ID)
	}
	use.At = s.now().UTC()
	recorded, err := s.factors.RecordPasskeyUse(ctx, pk.ID, pk.SignCount, use)
	if err != nil {
		s.loginReleased(ctx, attempt)
		return LoggedIn{}, storeFailure("record passkey use", err)
	}
	if !recorded {
		s.loginFailed(ctx, attempt)
		return refuse("passkey used by another sign-in at the same time", &identity.ID)
	}
	var started StartedSession
	if ch.IdentityID != nil && cmd.Current.Live() && cmd.Current.IdentityID == identity.ID {
		started, err = s.raiseSession(ctx, cmd.Current, MethodPasskey, use.UserVerified, cmd.Client)
	} else {
		if ch.IdentityID == nil && !use.UserVerified {
			s.loginFailed(ctx, attempt)
			return refuse("passwordless sign-in without user verification", &identity.ID)
		}
		started, err = s.startPasskeySession(ctx, cmd, identity, use)
	}
	if err != nil {
		s.loginReleased(ctx, attempt)
		return LoggedIn{}, err
	}
	factors, err := s.factorsOf(ctx, s.factors, identity)
	if err != nil {
		factors = Factors{Passkeys: 1} // the session is started; the summary is only shown
	}
	s.loginSucceeded(ctx, attempt)
	s.audit(ctx, EventPasskeyLoginSucceeded, &identity.ID, cmd.Client)
	return LoggedIn{Identity: identity, Factors: factors, Session: started}, nil
}

func (s *Service) startPasskeySession(ctx context.Context, cmd PasskeyLogin, identity Identity, use PasskeyUse) (StartedSession, error) {
	generation, err := s.sessions.Generation(ctx, identity.ID)
	if err != nil {
		return StartedSession{}, Unavailable("session generation", err)
	}
	methods := []MethodUse{{Method: MethodPasskey, At: use.At}}
	started, err := s.startSession(ctx, cmd.Current, identity.ID, generation, cmd.Client,
		proof{aal: levelOf(methods, use.UserVerified), methods: methods})
	if err != nil {
		return StartedSession{}, storeFailure("start session", err)
	}
	return started, nil
}
