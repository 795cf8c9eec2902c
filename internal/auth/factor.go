package auth

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// TOTPFactor is an identity's TOTP enrolment. The secret is sealed: the
// store never holds it in the clear. LastStep is the last time step whose
// code was accepted.
type TOTPFactor struct {
	SealedSecret []byte
	Confirmed    bool
	LastStep     int64
}

// Passkey is a WebAuthn credential of an identity. The flags and counter
// are as the authenticator last reported them.
type Passkey struct {
	ID         uuid.UUID
	IdentityID uuid.UUID
	NewPasskey
	Name       string
	CreatedAt  time.Time
	LastUsedAt *time.Time
}

// PasskeyUse is what an authenticator reported in a sign-in, to be stored.
type PasskeyUse struct {
	SignCount    uint32
	BackupState  bool
	UserVerified bool
	At           time.Time
}

// FactorStore keeps second factors. A missing row is KindNotFound.
// Functions that report a bool report whether they changed anything, so
// that the single-use rules hold when two requests race.
type FactorStore interface {
	// Factors summarises the identity's confirmed factors.
	Factors(ctx context.Context, identityID uuid.UUID) (Factors, error)

	// PutPendingTOTP stores an unconfirmed TOTP secret, replacing an
	// earlier unconfirmed one; it fails with ErrTOTPAlreadyEnabled when a
	// confirmed one exists.
	PutPendingTOTP(ctx context.Context, identityID uuid.UUID, sealed []byte, at time.Time) error
	TOTP(ctx context.Context, identityID uuid.UUID) (TOTPFactor, error)
	// UseTOTPStep records that the code of step was accepted, only if no
	// code of that step or a later one was; confirm also confirms a
	// pending enrolment (and only a pending one).
	UseTOTPStep(ctx context.Context, identityID uuid.UUID, step int64, confirm bool, at time.Time) (bool, error)
	DeleteTOTP(ctx context.Context, identityID uuid.UUID) (bool, error)

	// ReplaceRecoveryCodes voids the identity's codes and stores these.
	ReplaceRecoveryCodes(ctx context.Context, identityID uuid.UUID, hashes [][]byte, at time.Time) error
	// UseRecoveryCode marks the unused code with that hash used.
	UseRecoveryCode(ctx context.Context, identityID uuid.UUID, hash []byte, at time.Time) (bool, error)
	DeleteRecoveryCodes(ctx context.Context, identityID uuid.UUID) error

	// PasskeyUserHandle returns the identity's WebAuthn user handle,
	// storing candidate as it when it has none yet.
	PasskeyUserHandle(ctx context.Context, identityID uuid.UUID, candidate []byte) ([]byte, error)
	// IdentityByUserHandle finds the identity of a user handle.
	IdentityByUserHandle(ctx context.Context, handle []byte) (uuid.UUID, error)
	// AddPasskey stores p; a credential id already stored (by anyone) is
	// ErrPasskeyExists.
	AddPasskey(ctx context.Context, p Passkey) error
	Passkeys(ctx context.Context, identityID uuid.UUID) ([]Passkey, error)
	PasskeyByCredentialID(ctx context.Context, credentialID []byte) (Passkey, error)
	// RecordPasskeyUse stores the counter and flags of a sign-in, only if
	// the counter is still the one the sign-in was checked against.
	RecordPasskeyUse(ctx context.Context, id uuid.UUID, checkedCount uint32, use PasskeyUse) (bool, error)
	RenamePasskey(ctx context.Context, identityID, id uuid.UUID, name string) (Passkey, error)
	DeletePasskey(ctx context.Context, identityID, id uuid.UUID) (Passkey, error)
}

var (
	ErrTOTPAlreadyEnabled = &Error{Kind: KindConflict, Code: CodeTOTPAlreadyEnabled,
		Message: "An authenticator app is already set up. Remove it first to set up another."}
	ErrTOTPNotPending = &Error{Kind: KindConflict, Code: CodeTOTPNotPending,
		Message: "Start the authenticator app setup first."}
	ErrPasskeyExists = &Error{Kind: KindConflict, Code: CodePasskeyExists,
		Message: "This passkey is already registered."}
	ErrPasskeyNotFound = &Error{Kind: KindNotFound, Code: CodeNotFound, Message: "No such passkey."}
	// ErrPasskeysUnavailable answers passkey ceremonies on a server whose
	// PUBLIC_URL is an IP address: WebAuthn needs a host name.
	ErrPasskeysUnavailable = &Error{Kind: KindConflict, Code: CodePasskeysUnavailable,
		Message: "Passkeys are not available on this server: its PUBLIC_URL has no host name."}
)

// Challenge is the server's half of a WebAuthn ceremony in flight: what
// the ceremony library must see again to check the answer, for whom, and
// since when. It is found by its challenge, which the client signs back,
// and can be taken once.
type Challenge struct {
	Challenge string
	Purpose   ChallengePurpose
	// IdentityID is the identity the ceremony is for: the registering one,
	// or the one taking its second step; nil for a passwordless sign-in,
	// where the passkey names the account.
	IdentityID *uuid.UUID
	State      []byte
	IssuedAt   time.Time
}

// ChallengePurpose keeps a registration challenge from serving a sign-in.
type ChallengePurpose string

const (
	ChallengeRegister ChallengePurpose = "register"
	ChallengeLogin    ChallengePurpose = "login"
)

// ChallengeTTL is how long a WebAuthn challenge can be answered.
const ChallengeTTL = 5 * time.Minute

// Challenges keep ceremonies in flight where every instance sees them.
type Challenges interface {
	Put(ctx context.Context, c Challenge, ttl time.Duration) error
	// Take returns the challenge and deletes it, atomically: of two
	// answers to one challenge, one at most finds it.
	Take(ctx context.Context, challenge string) (Challenge, bool, error)
}

// PasskeyUser is an identity as a WebAuthn relying party shows it.
type PasskeyUser struct {
	Handle      []byte
	Name        string
	DisplayName string
	Passkeys    []Passkey
}

// NewPasskey is a registered credential, before it is named and stored:
// what the authenticator reported.
type NewPasskey struct {
	CredentialID    []byte
	PublicKey       []byte
	AttestationType string
	AAGUID          []byte
	Transports      []string
	SignCount       uint32
	BackupEligible  bool
	BackupState     bool
	UserVerified    bool
}

// Assertion is a parsed sign-in answer: what it claims, not yet verified.
type Assertion struct {
	Challenge    string
	CredentialID []byte
	UserHandle   []byte
	// Parsed is the ceremony library's own form, handed back to it.
	Parsed any
}

// Ceremony is a started ceremony: options for the browser, and the state
// to keep until its answer.
type Ceremony struct {
	Options   []byte // JSON for navigator.credentials.create or .get
	Challenge string
	State     []byte
}

// PasskeyCeremonies checks WebAuthn ceremonies: their wire format, origin,
// relying party and signatures. The rules about accounts, counters and
// sessions are the use cases'.
type PasskeyCeremonies interface {
	BeginRegistration(u PasskeyUser) (Ceremony, error)
	// RegistrationChallenge reads the challenge an answer claims to sign.
	RegistrationChallenge(response []byte) (string, error)
	FinishRegistration(u PasskeyUser, state, response []byte) (NewPasskey, error)
	// BeginLogin starts a sign-in: for u's passkeys (a second step), or,
	// with u nil, for any discoverable passkey (a passwordless sign-in,
	// which requires user verification).
	BeginLogin(u *PasskeyUser) (Ceremony, error)
	ParseAssertion(response []byte) (Assertion, error)
	// FinishLogin verifies the assertion of one of u's passkeys against the
	// state of its challenge and returns what the authenticator reported.
	FinishLogin(u PasskeyUser, p Passkey, state []byte, a Assertion) (PasskeyUse, error)
}
