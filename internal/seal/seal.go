// Package seal encrypts small secrets that authd must keep at rest but
// read back (queued mails, TOTP secrets) with AES-256-GCM under a key
// derived from SECRET_KEY. A Box seals with the current secret and opens
// with it or any previous one, so that SECRET_KEY can be rotated without
// losing what was sealed before.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
)

// Box seals and opens under keys bound to one purpose.
type Box struct {
	seals cipher.AEAD
	opens []cipher.AEAD
}

// ErrUnsealable is what Open returns for data that none of the keys opens
// (tampered, truncated, or sealed under a secret no longer configured).
var ErrUnsealable = errors.New("seal: sealed data opens with none of the keys")

// New returns a Box for purpose (a label such as "authd mail queue seal
// v1", so that one secret serves several uses without their keys being
// the same) under secret, opening also what previous secrets sealed.
func New(purpose string, secret []byte, previous ...[]byte) (*Box, error) {
	current, err := newAEAD(purpose, secret)
	if err != nil {
		return nil, err
	}
	b := &Box{seals: current, opens: []cipher.AEAD{current}}
	for _, p := range previous {
		a, err := newAEAD(purpose, p)
		if err != nil {
			return nil, err
		}
		b.opens = append(b.opens, a)
	}
	return b, nil
}

func newAEAD(purpose string, secret []byte) (cipher.AEAD, error) {
	if len(secret) < 32 {
		return nil, errors.New("seal: the secret key must be at least 32 bytes")
	}
	key := sha256.Sum256(append([]byte(purpose+"\x00"), secret...))
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Seal encrypts plain under the current key with a random nonce.
func (b *Box) Seal(plain []byte) []byte {
	nonce := make([]byte, b.seals.NonceSize())
	_, _ = rand.Read(nonce)
	return b.seals.Seal(nonce, nonce, plain, nil)
}

// Open decrypts what Seal made under the current or a previous key.
func (b *Box) Open(sealed []byte) ([]byte, error) {
	n := b.seals.NonceSize()
	if len(sealed) < n {
		return nil, ErrUnsealable
	}
	for _, a := range b.opens {
		if plain, err := a.Open(nil, sealed[:n], sealed[n:], nil); err == nil {
			return plain, nil
		}
	}
	return nil, ErrUnsealable
}
