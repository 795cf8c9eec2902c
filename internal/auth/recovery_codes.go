package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"strings"
)

// Recovery codes (Kratos' lookup secrets) stand in for a lost second
// factor. Each is 12 characters of a 32-letter alphabet (60 bits), far
// beyond guessing under the login throttle, so a keyed SHA-256 is enough
// to store them: a slow password hash would only make each check cost.
const (
	recoveryCodeCount = 10
	recoveryCodeLen   = 12
	// Without i, l, o and 1, which are misread: a code is read off paper
	// and typed. 32 symbols, 5 bits each.
	recoveryAlphabet = "abcdefghjkmnpqrstuvwxyz023456789"
)

// newRecoveryCodes makes a set of codes, as shown (xxxx-xxxx-xxxx) and as
// stored.
func (s *Service) newRecoveryCodes() (codes []string, hashes [][]byte) {
	for range recoveryCodeCount {
		raw := make([]byte, recoveryCodeLen)
		_, _ = rand.Read(raw)
		var b strings.Builder
		for i, r := range raw {
			if i > 0 && i%4 == 0 {
				b.WriteByte('-')
			}
			b.WriteByte(recoveryAlphabet[r&31]) // 256 is a multiple of 32: no bias
		}
		code := b.String()
		codes = append(codes, code)
		hashes = append(hashes, s.recoveryCodeHash(code))
	}
	return codes, hashes
}

// recoveryCodeHash hashes a code as typed: case, spaces and dashes do not
// matter.
func (s *Service) recoveryCodeHash(code string) []byte {
	return recoveryCodeHashWith(s.recoveryCodeKey, code)
}

// recoveryCodeHashes are the code's hash under the current key, then
// under each previous one: a code made before SECRET_KEY was rotated is
// stored under an old key.
func (s *Service) recoveryCodeHashes(code string) [][]byte {
	out := [][]byte{s.recoveryCodeHash(code)}
	for _, k := range s.oldRecoveryKeys {
		out = append(out, recoveryCodeHashWith(k, code))
	}
	return out
}

func recoveryCodeHashWith(key []byte, code string) []byte {
	norm := strings.Map(func(r rune) rune {
		switch r {
		case '-', ' ', '\t':
			return -1
		}
		return r
	}, strings.ToLower(code))
	m := hmac.New(sha256.New, key)
	m.Write([]byte("authd recovery code\x00" + norm))
	return m.Sum(nil)
}

// RecoveryCodes is a new set of codes, shown this once.
type RecoveryCodes struct{ Codes []string }

// RegenerateRecoveryCodes makes a new set and voids every code of the old.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, sess Session, c Client) (RecoveryCodes, error) {
	p, err := s.privileged(ctx, sess)
	if err != nil {
		return RecoveryCodes{}, err
	}
	if !p.Factors.HasSecondFactor() {
		return RecoveryCodes{}, ErrNoSecondFactor
	}
	codes, hashes := s.newRecoveryCodes()
	if err := s.factors.ReplaceRecoveryCodes(ctx, p.Identity.ID, hashes, s.now().UTC()); err != nil {
		return RecoveryCodes{}, storeFailure("replace recovery codes", err)
	}
	s.profileChanged(ctx, p.Identity.ID)
	s.audit(ctx, EventRecoveryCodesGenerated, &p.Identity.ID, c)
	return RecoveryCodes{Codes: codes}, nil
}
