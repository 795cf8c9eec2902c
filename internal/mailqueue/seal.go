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
// hashes only, and the queue holds ciphertext.
type sealer struct{ aead cipher.AEAD }

func newSealer(secret []byte) (*sealer, error) {
	if len(secret) < 32 {
		return nil, errors.New("mailqueue: the secret key must be at least 32 bytes")
	}
	// A purpose-bound key, so the same secret can serve other uses safely.
	key := sha256.Sum256(append([]byte("authd mail queue seal v1\x00"), secret...))
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

func (s *sealer) seal(plain []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	return s.aead.Seal(nonce, nonce, plain, nil)
}

func (s *sealer) open(sealed []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("mailqueue: sealed mail too short")
	}
	return s.aead.Open(nil, sealed[:n], sealed[n:], nil)
}
