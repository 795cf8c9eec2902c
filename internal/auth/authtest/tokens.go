package authtest

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/internal/auth"
)

var (
	errDuplicateID   = errors.New("duplicate id")
	errDuplicateHash = errors.New("duplicate token hash")
)

// TokenRecord is a stored one-time token and what became of it.
type TokenRecord struct {
	auth.IssuedToken
	UsedAt   *time.Time // when it was used or voided
	Attempts int        // wrong codes submitted
}

// Live says whether the token can still be used at now.
func (r TokenRecord) Live(now time.Time) bool { return r.UsedAt == nil && r.ExpiresAt.After(now) }

// Tokens is an in-memory auth.TokenStore with the SQL store's semantics:
// Issue voids the identity's unused tokens of the purpose; Lookup and
// Redeem find an unused token whose expiry is after now; Redeem is single
// use; SubmitCode compares in constant time, counts wrong codes and voids
// the code, and the link issued with it, at maxAttempts.
type Tokens struct {
	Probe
	mu      sync.Mutex
	records []TokenRecord // in the order issued
}

var _ auth.TokenStore = (*Tokens)(nil)

// NewTokens returns an empty store.
func NewTokens() *Tokens {
	return &Tokens{Probe: newProbe("Issue", "IssueAlongside", "Lookup", "Redeem", "SubmitCode", "Void")}
}

// Records returns every token issued so far, in order, without counting a
// call.
func (s *Tokens) Records() []TokenRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.records)
}

// Live returns the tokens of the identity and purpose usable at now.
func (s *Tokens) Live(identityID uuid.UUID, p auth.Purpose, now time.Time) []TokenRecord {
	var out []TokenRecord
	for _, r := range s.Records() {
		if r.IdentityID == identityID && r.Purpose == p && r.Live(now) {
			out = append(out, r)
		}
	}
	return out
}

func (s *Tokens) Issue(_ context.Context, t auth.IssuedToken) error {
	if err := s.enter("Issue"); err != nil {
		return err
	}
	return s.issue(t, true)
}

func (s *Tokens) IssueAlongside(_ context.Context, t auth.IssuedToken) error {
	if err := s.enter("IssueAlongside"); err != nil {
		return err
	}
	return s.issue(t, false)
}

// issue stores t, voiding the identity's live tokens of its purpose first
// when void is set.
func (s *Tokens) issue(t auth.IssuedToken, void bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.records {
		if r.ID == t.ID {
			return auth.Internal("authtest: issue token", errDuplicateID)
		}
		if bytes.Equal(r.TokenHash, t.TokenHash) {
			return auth.Internal("authtest: issue token", errDuplicateHash)
		}
	}
	if void {
		s.void(t.IdentityID, t.Purpose, t.CreatedAt)
	}
	t.TokenHash = bytes.Clone(t.TokenHash)
	t.CodeHash = bytes.Clone(t.CodeHash)
	s.records = append(s.records, TokenRecord{IssuedToken: t})
	return nil
}

// Void uses up the identity's unused tokens of the purpose.
func (s *Tokens) Void(_ context.Context, identityID uuid.UUID, p auth.Purpose, at time.Time) error {
	if err := s.enter("Void"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.void(identityID, p, at)
	return nil
}

// void uses up the unused tokens; the caller holds s.mu.
func (s *Tokens) void(identityID uuid.UUID, p auth.Purpose, at time.Time) {
	for i := range s.records {
		r := &s.records[i]
		if r.IdentityID == identityID && r.Purpose == p && r.UsedAt == nil {
			used := at
			r.UsedAt = &used
		}
	}
}

// find returns the index of the live token with that hash and purpose.
func (s *Tokens) find(p auth.Purpose, hash []byte, now time.Time) int {
	return slices.IndexFunc(s.records, func(r TokenRecord) bool {
		return r.Purpose == p && bytes.Equal(r.TokenHash, hash) && r.Live(now)
	})
}

func (s *Tokens) Lookup(_ context.Context, p auth.Purpose, hash []byte, now time.Time) (auth.RedeemedToken, error) {
	if err := s.enter("Lookup"); err != nil {
		return auth.RedeemedToken{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.find(p, hash, now)
	if i < 0 {
		return auth.RedeemedToken{}, auth.ErrTokenInvalid
	}
	return redeemed(s.records[i]), nil
}

func (s *Tokens) Redeem(_ context.Context, p auth.Purpose, hash []byte, now time.Time) (auth.RedeemedToken, error) {
	if err := s.enter("Redeem"); err != nil {
		return auth.RedeemedToken{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.find(p, hash, now)
	if i < 0 {
		return auth.RedeemedToken{}, auth.ErrTokenInvalid
	}
	s.records[i].UsedAt = &now
	return redeemed(s.records[i]), nil
}

func (s *Tokens) SubmitCode(_ context.Context, identityID uuid.UUID, codeHash []byte, maxAttempts int, now time.Time) (auth.CodeResult, auth.RedeemedToken, error) {
	if err := s.enter("SubmitCode"); err != nil {
		return auth.CodeVoid, auth.RedeemedToken{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// The latest unused verification token of the identity that has a code.
	i := -1
	for j, r := range s.records {
		if r.IdentityID != identityID || r.Purpose != auth.PurposeVerification || r.UsedAt != nil || r.CodeHash == nil {
			continue
		}
		if i < 0 || !r.CreatedAt.Before(s.records[i].CreatedAt) {
			i = j
		}
	}
	if i < 0 {
		return auth.CodeVoid, auth.RedeemedToken{}, nil
	}
	r := &s.records[i]
	if r.CodeExpiresAt.IsZero() || !now.Before(r.CodeExpiresAt) || r.Attempts >= maxAttempts {
		return auth.CodeVoid, auth.RedeemedToken{}, nil
	}
	if subtle.ConstantTimeCompare(r.CodeHash, codeHash) == 1 {
		r.UsedAt = &now
		return auth.CodeAccepted, redeemed(*r), nil
	}
	r.Attempts++
	if r.Attempts >= maxAttempts {
		r.UsedAt = &now // the last allowed attempt voids the code and its link
	}
	return auth.CodeWrong, auth.RedeemedToken{}, nil
}

func redeemed(r TokenRecord) auth.RedeemedToken {
	return auth.RedeemedToken{IdentityID: r.IdentityID, Email: r.Email}
}

// forgetIdentity drops the identity's tokens (its deletion).
func (s *Tokens) forgetIdentity(id uuid.UUID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records = slices.DeleteFunc(s.records, func(r TokenRecord) bool { return r.IdentityID == id })
}

func (s *Tokens) snapshot() (restore func()) {
	s.mu.Lock()
	saved := slices.Clone(s.records)
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.records = saved
	}
}
