// Package webauthn is authd's adapter to github.com/go-webauthn/webauthn:
// it runs the WebAuthn ceremonies (options for the browser, parsing and
// verifying its answers: origin, relying party, challenge, signature,
// flags) and owns their wire format. What a passkey may do, and the
// counter and backup rules, are the domain's.
package webauthn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"github.com/authd/authd/internal/auth"
)

// Ceremonies implements auth.PasskeyCeremonies. Without a relying party
// (PUBLIC_URL on an IP address) every ceremony is auth.ErrPasskeysUnavailable.
type Ceremonies struct{ w *gowebauthn.WebAuthn }

// Available says whether passkeys work with this PUBLIC_URL.
func (c *Ceremonies) Available() bool { return c.w != nil }

var _ auth.PasskeyCeremonies = (*Ceremonies)(nil)

// Config names the relying party.
type Config struct {
	// PublicURL is where users reach authd's web app: its host is the RP
	// ID and its origin the first allowed origin.
	PublicURL string
	// Origins are further origins allowed to run ceremonies (an SPA on
	// another origin of the same site).
	Origins     []string
	DisplayName string
}

// New returns the ceremonies of the relying party at cfg.PublicURL.
func New(cfg Config) (*Ceremonies, error) {
	u, err := url.Parse(cfg.PublicURL)
	if err != nil || u.Hostname() == "" {
		return nil, fmt.Errorf("webauthn: public URL %q has no host", cfg.PublicURL)
	}
	if net.ParseIP(u.Hostname()) != nil {
		// WebAuthn has no relying party on an IP address: authd runs, and
		// its passkey routes say why they cannot.
		return &Ceremonies{}, nil
	}
	origins := append([]string{u.Scheme + "://" + u.Host}, cfg.Origins...)
	timeout := gowebauthn.TimeoutConfig{Enforce: true, Timeout: auth.ChallengeTTL, TimeoutUVD: auth.ChallengeTTL}
	w, err := gowebauthn.New(&gowebauthn.Config{
		RPID: u.Hostname(), RPDisplayName: cfg.DisplayName, RPOrigins: origins,
		AttestationPreference: protocol.PreferNoAttestation,
		Timeouts:              gowebauthn.TimeoutsConfig{Login: timeout, Registration: timeout},
	})
	if err != nil {
		return nil, fmt.Errorf("webauthn: %w", err)
	}
	return &Ceremonies{w: w}, nil
}

// user is an identity as go-webauthn wants it.
type user struct {
	u     auth.PasskeyUser
	creds []gowebauthn.Credential
}

func newUser(u auth.PasskeyUser) *user {
	out := &user{u: u}
	for _, p := range u.Passkeys {
		out.creds = append(out.creds, credentialOf(p))
	}
	return out
}

func (u *user) WebAuthnID() []byte                           { return u.u.Handle }
func (u *user) WebAuthnName() string                         { return u.u.Name }
func (u *user) WebAuthnDisplayName() string                  { return u.u.DisplayName }
func (u *user) WebAuthnCredentials() []gowebauthn.Credential { return u.creds }

func credentialOf(p auth.Passkey) gowebauthn.Credential {
	c := gowebauthn.Credential{
		ID: p.CredentialID, PublicKey: p.PublicKey, AttestationType: p.AttestationType,
		Flags:         gowebauthn.CredentialFlags{UserPresent: true, UserVerified: p.UserVerified, BackupEligible: p.BackupEligible, BackupState: p.BackupState},
		Authenticator: gowebauthn.Authenticator{AAGUID: p.AAGUID, SignCount: p.SignCount},
	}
	for _, t := range p.Transports {
		c.Transport = append(c.Transport, protocol.AuthenticatorTransport(t))
	}
	return c
}

func descriptors(ps []auth.Passkey) []protocol.CredentialDescriptor {
	out := make([]protocol.CredentialDescriptor, len(ps))
	for i, p := range ps {
		c := credentialOf(p)
		out[i] = c.Descriptor()
	}
	return out
}

func ceremony(options any, session *gowebauthn.SessionData) (auth.Ceremony, error) {
	opts, err := json.Marshal(options)
	if err != nil {
		return auth.Ceremony{}, err
	}
	state, err := json.Marshal(session)
	if err != nil {
		return auth.Ceremony{}, err
	}
	return auth.Ceremony{Options: opts, Challenge: session.Challenge, State: state}, nil
}

func sessionOf(state []byte) (gowebauthn.SessionData, error) {
	var s gowebauthn.SessionData
	if err := json.Unmarshal(state, &s); err != nil {
		return s, fmt.Errorf("webauthn: stored ceremony state: %w", err)
	}
	return s, nil
}

// BeginRegistration asks for a discoverable credential (a passkey, so it
// can sign in without an e-mail typed), user verification preferred, no
// attestation (nothing here trusts device makers' certificates), and
// excludes the user's passkeys so one authenticator is not added twice.
func (c *Ceremonies) BeginRegistration(u auth.PasskeyUser) (auth.Ceremony, error) {
	if c.w == nil {
		return auth.Ceremony{}, auth.ErrPasskeysUnavailable
	}
	creation, session, err := c.w.BeginRegistration(newUser(u),
		gowebauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			ResidentKey: protocol.ResidentKeyRequirementRequired, RequireResidentKey: protocol.ResidentKeyRequired(),
			UserVerification: protocol.VerificationPreferred,
		}),
		gowebauthn.WithExclusions(descriptors(u.Passkeys)),
		gowebauthn.WithConveyancePreference(protocol.PreferNoAttestation))
	if err != nil {
		return auth.Ceremony{}, fmt.Errorf("webauthn: begin registration: %w", err)
	}
	return ceremony(creation, session)
}

// RegistrationChallenge reads the challenge out of the client data.
func (c *Ceremonies) RegistrationChallenge(response []byte) (string, error) {
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return "", explain(err)
	}
	return parsed.Response.CollectedClientData.Challenge, nil
}

// FinishRegistration verifies the attestation against the ceremony.
func (c *Ceremonies) FinishRegistration(u auth.PasskeyUser, state, response []byte) (auth.NewPasskey, error) {
	if c.w == nil {
		return auth.NewPasskey{}, auth.ErrPasskeysUnavailable
	}
	session, err := sessionOf(state)
	if err != nil {
		return auth.NewPasskey{}, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return auth.NewPasskey{}, explain(err)
	}
	cred, err := c.w.CreateCredential(newUser(u), session, parsed)
	if err != nil {
		return auth.NewPasskey{}, explain(err)
	}
	np := auth.NewPasskey{
		CredentialID: cred.ID, PublicKey: cred.PublicKey, AttestationType: cred.AttestationType,
		AAGUID: cred.Authenticator.AAGUID, SignCount: cred.Authenticator.SignCount,
		BackupEligible: cred.Flags.BackupEligible, BackupState: cred.Flags.BackupState, UserVerified: cred.Flags.UserVerified,
	}
	for _, t := range cred.Transport {
		np.Transports = append(np.Transports, string(t))
	}
	return np, nil
}

// BeginLogin starts a second step for u's passkeys, or a discoverable
// sign-in that must verify the user.
func (c *Ceremonies) BeginLogin(u *auth.PasskeyUser) (auth.Ceremony, error) {
	if c.w == nil {
		return auth.Ceremony{}, auth.ErrPasskeysUnavailable
	}
	if u == nil {
		assertion, session, err := c.w.BeginDiscoverableLogin(gowebauthn.WithUserVerification(protocol.VerificationRequired))
		if err != nil {
			return auth.Ceremony{}, fmt.Errorf("webauthn: begin login: %w", err)
		}
		return ceremony(assertion, session)
	}
	assertion, session, err := c.w.BeginLogin(newUser(*u), gowebauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		return auth.Ceremony{}, fmt.Errorf("webauthn: begin login: %w", err)
	}
	return ceremony(assertion, session)
}

// ParseAssertion reads what an assertion claims.
func (c *Ceremonies) ParseAssertion(response []byte) (auth.Assertion, error) {
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return auth.Assertion{}, explain(err)
	}
	return auth.Assertion{Challenge: parsed.Response.CollectedClientData.Challenge, CredentialID: parsed.RawID,
		UserHandle: parsed.Response.UserHandle, Parsed: parsed}, nil
}

// FinishLogin verifies the assertion by passkey p of user u.
func (c *Ceremonies) FinishLogin(u auth.PasskeyUser, p auth.Passkey, state []byte, a auth.Assertion) (auth.PasskeyUse, error) {
	if c.w == nil {
		return auth.PasskeyUse{}, auth.ErrPasskeysUnavailable
	}
	parsed, ok := a.Parsed.(*protocol.ParsedCredentialAssertionData)
	if !ok {
		return auth.PasskeyUse{}, errors.New("webauthn: assertion was not parsed here")
	}
	session, err := sessionOf(state)
	if err != nil {
		return auth.PasskeyUse{}, err
	}
	u.Passkeys = []auth.Passkey{p}
	wu := newUser(u)
	if len(session.UserID) == 0 {
		_, _, err = c.w.ValidatePasskeyLogin(func(rawID, handle []byte) (gowebauthn.User, error) {
			if !bytes.Equal(handle, u.Handle) || !bytes.Equal(rawID, p.CredentialID) {
				return nil, errors.New("the user handle is not the passkey's account")
			}
			return wu, nil
		}, session, parsed)
	} else {
		_, err = c.w.ValidateLogin(wu, session, parsed)
	}
	if err != nil {
		return auth.PasskeyUse{}, explain(err)
	}
	flags := parsed.Response.AuthenticatorData.Flags
	return auth.PasskeyUse{SignCount: parsed.Response.AuthenticatorData.Counter,
		BackupState: flags.HasBackupState(), UserVerified: flags.HasUserVerified(), At: time.Time{}}, nil
}

// explain adds the library's developer detail, which its Error() omits,
// for the log line the domain writes.
func explain(err error) error {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.DevInfo != "" {
		return fmt.Errorf("%w (%s)", err, pe.DevInfo)
	}
	return err
}
