package authtest

import (
	"bytes"
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/internal/auth"
)

// Factors is an in-memory auth.FactorStore with the SQL store's semantics:
// one TOTP factor per identity, a step used only if later than the last;
// recovery codes single use; passkeys unique by credential id, their use
// recorded only if the counter is still the one checked.
type Factors struct {
	Probe
	mu       sync.Mutex
	totp     map[uuid.UUID]totpRecord
	codes    map[uuid.UUID][]codeRecord
	handles  map[uuid.UUID][]byte
	passkeys []auth.Passkey
}

type totpRecord struct {
	auth.TOTPFactor
	createdAt time.Time
}

type codeRecord struct {
	hash []byte
	used bool
}

var _ auth.FactorStore = (*Factors)(nil)

// NewFactors returns an empty store.
func NewFactors() *Factors {
	return &Factors{
		Probe: newProbe("Factors", "PutPendingTOTP", "TOTP", "UseTOTPStep", "DeleteTOTP", "ReplaceRecoveryCodes",
			"UseRecoveryCode", "DeleteRecoveryCodes", "PasskeyUserHandle", "IdentityByUserHandle", "AddPasskey",
			"Passkeys", "PasskeyByCredentialID", "RecordPasskeyUse", "RenamePasskey", "DeletePasskey"),
		totp: map[uuid.UUID]totpRecord{}, codes: map[uuid.UUID][]codeRecord{}, handles: map[uuid.UUID][]byte{},
	}
}

func (s *Factors) Factors(_ context.Context, id uuid.UUID) (auth.Factors, error) {
	if err := s.enter("Factors"); err != nil {
		return auth.Factors{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var f auth.Factors
	f.TOTP = s.totp[id].Confirmed
	for _, p := range s.passkeys {
		if p.IdentityID == id {
			f.Passkeys++
		}
	}
	for _, c := range s.codes[id] {
		if !c.used {
			f.RecoveryCodesLeft++
		}
	}
	return f, nil
}

func (s *Factors) PutPendingTOTP(_ context.Context, id uuid.UUID, sealed []byte, at time.Time) error {
	if err := s.enter("PutPendingTOTP"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.totp[id].Confirmed {
		return auth.ErrTOTPAlreadyEnabled
	}
	s.totp[id] = totpRecord{TOTPFactor: auth.TOTPFactor{SealedSecret: bytes.Clone(sealed)}, createdAt: at}
	return nil
}

func (s *Factors) TOTP(_ context.Context, id uuid.UUID) (auth.TOTPFactor, error) {
	if err := s.enter("TOTP"); err != nil {
		return auth.TOTPFactor{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.totp[id]
	if !ok {
		return auth.TOTPFactor{}, auth.ErrNotFound
	}
	r.SealedSecret = bytes.Clone(r.SealedSecret)
	return r.TOTPFactor, nil
}

func (s *Factors) UseTOTPStep(_ context.Context, id uuid.UUID, step int64, confirm bool, _ time.Time) (bool, error) {
	if err := s.enter("UseTOTPStep"); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.totp[id]
	if !ok || r.LastStep >= step || r.Confirmed == confirm {
		return false, nil
	}
	r.LastStep, r.Confirmed = step, true
	s.totp[id] = r
	return true, nil
}

func (s *Factors) DeleteTOTP(_ context.Context, id uuid.UUID) (bool, error) {
	if err := s.enter("DeleteTOTP"); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.totp[id]
	delete(s.totp, id)
	return ok, nil
}

func (s *Factors) ReplaceRecoveryCodes(_ context.Context, id uuid.UUID, hashes [][]byte, _ time.Time) error {
	if err := s.enter("ReplaceRecoveryCodes"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	codes := make([]codeRecord, len(hashes))
	for i, h := range hashes {
		codes[i] = codeRecord{hash: bytes.Clone(h)}
	}
	s.codes[id] = codes
	return nil
}

func (s *Factors) UseRecoveryCode(_ context.Context, id uuid.UUID, hash []byte, _ time.Time) (bool, error) {
	if err := s.enter("UseRecoveryCode"); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, c := range s.codes[id] {
		if !c.used && bytes.Equal(c.hash, hash) {
			s.codes[id][i].used = true
			return true, nil
		}
	}
	return false, nil
}

func (s *Factors) DeleteRecoveryCodes(_ context.Context, id uuid.UUID) error {
	if err := s.enter("DeleteRecoveryCodes"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.codes, id)
	return nil
}

func (s *Factors) PasskeyUserHandle(_ context.Context, id uuid.UUID, candidate []byte) ([]byte, error) {
	if err := s.enter("PasskeyUserHandle"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if h, ok := s.handles[id]; ok {
		return bytes.Clone(h), nil
	}
	s.handles[id] = bytes.Clone(candidate)
	return bytes.Clone(candidate), nil
}

func (s *Factors) IdentityByUserHandle(_ context.Context, handle []byte) (uuid.UUID, error) {
	if err := s.enter("IdentityByUserHandle"); err != nil {
		return uuid.Nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, h := range s.handles {
		if bytes.Equal(h, handle) {
			return id, nil
		}
	}
	return uuid.Nil, auth.ErrNotFound
}

func (s *Factors) AddPasskey(_ context.Context, p auth.Passkey) error {
	if err := s.enter("AddPasskey"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, q := range s.passkeys {
		if bytes.Equal(q.CredentialID, p.CredentialID) {
			return auth.ErrPasskeyExists
		}
	}
	s.passkeys = append(s.passkeys, clonePasskey(p))
	return nil
}

func (s *Factors) Passkeys(_ context.Context, id uuid.UUID) ([]auth.Passkey, error) {
	if err := s.enter("Passkeys"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []auth.Passkey
	for _, p := range s.passkeys {
		if p.IdentityID == id {
			out = append(out, clonePasskey(p))
		}
	}
	return out, nil
}

func (s *Factors) PasskeyByCredentialID(_ context.Context, credentialID []byte) (auth.Passkey, error) {
	if err := s.enter("PasskeyByCredentialID"); err != nil {
		return auth.Passkey{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.passkeys {
		if bytes.Equal(p.CredentialID, credentialID) {
			return clonePasskey(p), nil
		}
	}
	return auth.Passkey{}, auth.ErrNotFound
}

func (s *Factors) RecordPasskeyUse(_ context.Context, id uuid.UUID, checked uint32, use auth.PasskeyUse) (bool, error) {
	if err := s.enter("RecordPasskeyUse"); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, p := range s.passkeys {
		if p.ID == id && p.SignCount == checked {
			at := use.At
			s.passkeys[i].SignCount, s.passkeys[i].BackupState, s.passkeys[i].LastUsedAt = use.SignCount, use.BackupState, &at
			s.passkeys[i].UserVerified = p.UserVerified || use.UserVerified
			return true, nil
		}
	}
	return false, nil
}

func (s *Factors) RenamePasskey(_ context.Context, identityID, id uuid.UUID, name string) (auth.Passkey, error) {
	if err := s.enter("RenamePasskey"); err != nil {
		return auth.Passkey{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, p := range s.passkeys {
		if p.ID == id && p.IdentityID == identityID {
			s.passkeys[i].Name = name
			return clonePasskey(s.passkeys[i]), nil
		}
	}
	return auth.Passkey{}, auth.ErrNotFound
}

func (s *Factors) DeletePasskey(_ context.Context, identityID, id uuid.UUID) (auth.Passkey, error) {
	if err := s.enter("DeletePasskey"); err != nil {
		return auth.Passkey{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, p := range s.passkeys {
		if p.ID == id && p.IdentityID == identityID {
			s.passkeys = slices.Delete(s.passkeys, i, i+1)
			return p, nil
		}
	}
	return auth.Passkey{}, auth.ErrNotFound
}

func clonePasskey(p auth.Passkey) auth.Passkey {
	p.CredentialID, p.PublicKey, p.AAGUID = bytes.Clone(p.CredentialID), bytes.Clone(p.PublicKey), bytes.Clone(p.AAGUID)
	p.Transports = slices.Clone(p.Transports)
	return p
}

// forgetIdentity drops the identity's factors and user handle (its
// deletion).
func (s *Factors) forgetIdentity(id uuid.UUID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.totp, id)
	delete(s.codes, id)
	delete(s.handles, id)
	s.passkeys = slices.DeleteFunc(s.passkeys, func(p auth.Passkey) bool { return p.IdentityID == id })
}

func (s *Factors) snapshot() (restore func()) {
	s.mu.Lock()
	totp, codes, handles := maps.Clone(s.totp), maps.Clone(s.codes), maps.Clone(s.handles)
	for id, c := range codes {
		codes[id] = slices.Clone(c)
	}
	passkeys := slices.Clone(s.passkeys)
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.totp, s.codes, s.handles, s.passkeys = totp, codes, handles, passkeys
	}
}

// Challenges is an in-memory auth.Challenges; the ttl is kept on the
// fakes' clock.
type Challenges struct {
	Probe
	now func() time.Time
	mu  sync.Mutex
	m   map[string]challengeRecord
}

type challengeRecord struct {
	c       auth.Challenge
	expires time.Time
}

var _ auth.Challenges = (*Challenges)(nil)

// NewChallenges returns an empty store on the clock now.
func NewChallenges(now func() time.Time) *Challenges {
	return &Challenges{Probe: newProbe("Put", "Take"), now: now, m: map[string]challengeRecord{}}
}

func (s *Challenges) Put(_ context.Context, c auth.Challenge, ttl time.Duration) error {
	if err := s.enter("Put"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[c.Challenge]; !ok {
		s.m[c.Challenge] = challengeRecord{c: c, expires: s.now().Add(ttl)}
	}
	return nil
}

func (s *Challenges) Take(_ context.Context, challenge string) (auth.Challenge, bool, error) {
	if err := s.enter("Take"); err != nil {
		return auth.Challenge{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.m[challenge]
	delete(s.m, challenge)
	if !ok || !s.now().Before(r.expires) {
		return auth.Challenge{}, false, nil
	}
	r.c.Challenge = challenge
	return r.c, true, nil
}
