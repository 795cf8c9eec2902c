package mailqueue

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
)

// sealer encrypts queued mails (AES-256-GCM) so that the links and codes
// in them never lie in the database in the clear: the tokens table holds
// hashes only, and the queue holds ciphertext. It seals with the current
// secret and opens with it or any previous one, so that a key can be
// rotated without losing the mails queued before.
type sealer struct {
	seals cipher.AEAD
	opens []cipher.AEAD
}

func newSealer(secret []byte, previous ...[]byte) (*sealer, error) {
	current, err := newAEAD(secret)
	if err != nil {
		return nil, err
	}
	s := &sealer{seals: current, opens: []cipher.AEAD{current}}
	for _, p := range previous {
		a, err := newAEAD(p)
		if err != nil {
			return nil, err
		}
		s.opens = append(s.opens, a)
	}
	return s, nil
}

func newAEAD(secret []byte) (cipher.AEAD, error) {
	if len(secret) < 32 {
		return nil, errors.New("mailqueue: the secret key must be at least 32 bytes")
	}
	// A purpose-bound key, so the same secret can serve other uses safely.
	key := sha256.Sum256(append([]byte("authd mail queue seal v1\x00"), secret...))
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func (s *sealer) seal(plain []byte) []byte {
	nonce := make([]byte, s.seals.NonceSize())
	_, _ = rand.Read(nonce)
	return s.seals.Seal(nonce, nonce, plain, nil)
}

var errUnsealable = errors.New("mailqueue: sealed mail opens with none of the keys")

func (s *sealer) open(sealed []byte) ([]byte, error) {
	n := s.seals.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("mailqueue: sealed mail too short")
	}
	for _, a := range s.opens {
		if plain, err := a.Open(nil, sealed[:n], sealed[n:], nil); err == nil {
			return plain, nil
		}
	}
	return nil, errUnsealable
}
