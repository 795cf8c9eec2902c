package auth

import (
	"context"
	"crypto/rand"
	"log/slog"
	"time"

	"github.com/google/uuid"
)

// PasswordHasher hashes and verifies passwords. Verify's rehash result says
// the stored hash was made with other parameters (or another algorithm) and
// should be replaced after a successful login.
type PasswordHasher interface {
	Hash(ctx context.Context, password string) (string, error)
	Verify(ctx context.Context, password, encoded string) (match, rehash bool, err error)
	DummyHash() string
	// Admit says at once, doing nothing, whether a hash asked for now would
	// be refused as overloaded (that error) or started or queued (nil). A
	// use case asks first, so that a request shed under load costs no
	// store or throttle work before its 503.
	Admit() error
}

// ProfileCache is the read model of GET /auth/me. Invalidate drops an
// identity's cached profile on every instance after it changed.
type ProfileCache interface {
	Get(ctx context.Context, id uuid.UUID) (Profile, bool, error)
	Put(ctx context.Context, p Profile) error
	Invalidate(ctx context.Context, id uuid.UUID) error
}

// MailSettings shape the mails authd sends and how often.
type MailSettings struct {
	PublicURL       string // links point at the SPA under this URL
	Product         string
	RecoveryTTL     time.Duration
	VerificationTTL time.Duration
	CodeTTL         time.Duration
	CodeAttempts    int
	PerAddressLimit int // recovery and verification mails per address per hour
	// RequireVerified refuses logins until the e-mail address is verified.
	RequireVerified bool
}

// Sealer encrypts secrets the server must read back (TOTP secrets), so
// that a copy of the database alone does not hold them.
type Sealer interface {
	Seal(plain []byte) []byte
	Open(sealed []byte) ([]byte, error)
}

// Deps are the ports and settings of the Service.
type Deps struct {
	// Stores work outside a transaction; Transactor gives the same stores
	// inside one.
	Stores     Stores
	Transactor Transactor
	Hasher     PasswordHasher
	Sessions   Sessions
	Audit      AuditLog
	Limiter    RateLimiter
	Lockouts   Lockouts
	Limits     Limits
	Mail       MailSettings
	Profiles   ProfileCache // nil when profiles are not cached
	Policy     PasswordPolicy
	// StrictRegistration makes registration reveal nothing: 202 for every
	// address, accounts unverified until the mailed link is used.
	StrictRegistration bool
	// PrivilegedWindow is how long after a login a password may be changed
	// without giving the current one again.
	PrivilegedWindow time.Duration
	// Challenges keep WebAuthn ceremonies in flight; Ceremonies check them.
	Challenges Challenges
	Ceremonies PasskeyCeremonies
	// Secrets seals TOTP secrets at rest.
	Secrets Sealer
	// RecoveryCodeKey keys the hashes of recovery codes (derived from
	// SECRET_KEY); without one, a random key is made, as for CodeKey.
	// PreviousRecoveryCodeKeys (from SECRET_KEY_PREVIOUS) still check the
	// codes made before a rotation of SECRET_KEY.
	RecoveryCodeKey          []byte
	PreviousRecoveryCodeKeys [][]byte
	// CodeKey keys the hashes of verification codes; the same on every
	// instance (derived from SECRET_KEY). Without one, a random key is
	// made: codes then verify only on this instance.
	CodeKey []byte
	// IdentityQueries and AuditQueries are the read side of the admin use
	// cases; HashFormats tells which imported password hashes verify.
	IdentityQueries IdentityQueries
	AuditQueries    AuditQueries
	HashFormats     HashFormats
	Now             func() time.Time
	Log             *slog.Logger
}

// Service carries out the identity use cases, one file each.
type Service struct {
	store              IdentityStore
	tokens             TokenStore
	outbox             Outbox
	tx                 Transactor
	hasher             PasswordHasher
	sessions           Sessions
	auditLog           AuditLog
	profiles           ProfileCache
	limiter            RateLimiter
	lockouts           Lockouts
	limits             Limits
	mail               MailSettings
	policy             PasswordPolicy
	privilegedWindow   time.Duration
	strictRegistration bool
	codeKey            []byte
	factors            FactorStore
	challenges         Challenges
	ceremonies         PasskeyCeremonies
	secrets            Sealer
	recoveryCodeKey    []byte
	oldRecoveryKeys    [][]byte
	identityQueries    IdentityQueries
	auditQueries       AuditQueries
	hashFormats        HashFormats
	now                func() time.Time
	log                *slog.Logger
}

// NewService wires the use cases to their ports.
func NewService(d Deps) *Service {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if len(d.CodeKey) == 0 {
		d.CodeKey = make([]byte, 32)
		_, _ = rand.Read(d.CodeKey)
	}
	if len(d.RecoveryCodeKey) == 0 {
		d.RecoveryCodeKey = make([]byte, 32)
		_, _ = rand.Read(d.RecoveryCodeKey)
	}
	if d.StrictRegistration {
		// A strict registration proves nothing until the address is verified.
		d.Mail.RequireVerified = true
	}
	return &Service{
		store: d.Stores.Identities, tokens: d.Stores.Tokens, outbox: d.Stores.Outbox, tx: d.Transactor,
		hasher: d.Hasher, sessions: d.Sessions, auditLog: d.Audit, profiles: d.Profiles,
		limiter: d.Limiter, mail: d.Mail, lockouts: d.Lockouts, limits: d.Limits,
		policy: d.Policy, privilegedWindow: d.PrivilegedWindow, now: d.Now, log: d.Log,
		strictRegistration: d.StrictRegistration, codeKey: d.CodeKey,
		factors: d.Stores.Factors, challenges: d.Challenges, ceremonies: d.Ceremonies, secrets: d.Secrets,
		recoveryCodeKey: d.RecoveryCodeKey, oldRecoveryKeys: d.PreviousRecoveryCodeKeys,
		identityQueries: d.IdentityQueries, auditQueries: d.AuditQueries, hashFormats: d.HashFormats,
	}
}

// profileChanged invalidates cached profiles. The change is already
// committed, so a failure is logged; the cache entry's TTL bounds the harm.
func (s *Service) profileChanged(ctx context.Context, id uuid.UUID) {
	if s.profiles == nil {
		return
	}
	if err := s.profiles.Invalidate(ctx, id); err != nil {
		s.log.ErrorContext(ctx, "profile cache not invalidated", "identity_id", id, "error", err)
	}
}
