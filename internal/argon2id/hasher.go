// Package argon2id hashes and verifies passwords with Argon2id (RFC 9106),
// storing them as PHC strings so that the parameters travel with each hash
// and can be raised later without invalidating existing credentials.
//
// It also verifies the hashes imported from Ory Kratos: Kratos' Argon2id
// hashes share the PHC format, and its bcrypt hashes are accepted for
// verification only, so that migrated users can log in once and be moved to
// Argon2id. Nothing here ever produces a bcrypt hash.
package argon2id

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/crypto/argon2"
)

// ErrMalformedHash is wrapped by every error caused by a stored hash that
// cannot be parsed or uses an algorithm or parameters we refuse to run.
var ErrMalformedHash = errors.New("argon2id: malformed or unsupported password hash")

// Bounds shared by Params.Validate and ParsePHC. Validate is never looser
// than ParsePHC, so everything Hash writes can be read back.
const (
	// maxMemoryKiB (4 GiB) keeps a hostile or corrupted stored hash from
	// making a single verification allocate without limit.
	maxMemoryKiB = 4 * 1024 * 1024
	// maxIterations bounds the CPU time one stored hash can demand.
	maxIterations = 1 << 16
	// minSaltLength and minKeyLength follow RFC 9106's recommendation for
	// the hashes we create; imports may be shorter (see minImportLength).
	minSaltLength = 16
	minKeyLength  = 16
	// maxBytesLength bounds salts and keys, which we allocate and encode.
	maxBytesLength = 1024
	// minImportLength admits the 8-byte salts of older imported hashes
	// (and the reference test vectors); anything shorter is not credible.
	minImportLength = 8
)

// Params are the Argon2id cost settings.
type Params struct {
	Memory      uint32 // KiB
	Iterations  uint32
	Parallelism uint8
	SaltLength  uint32 // bytes, >= 16
	KeyLength   uint32 // bytes, >= 16
}

// DefaultParams returns OWASP's recommended Argon2id configuration
// (19 MiB, 2 passes, 1 lane), chosen to keep one hash in the tens of
// milliseconds on a small server while staying memory-hard.
func DefaultParams() Params {
	return Params{
		Memory:      19456,
		Iterations:  2,
		Parallelism: 1,
		SaltLength:  16,
		KeyLength:   32,
	}
}

// Validate reports whether p is safe and sensible to hash new passwords with.
func (p Params) Validate() error {
	switch {
	case p.Parallelism < 1:
		return errors.New("argon2id: parallelism must be at least 1")
	case p.Memory < 8*uint32(p.Parallelism):
		// RFC 9106 requires 8 KiB per lane; x/crypto would silently round
		// up, producing hashes other implementations would not reproduce.
		return fmt.Errorf("argon2id: memory %d KiB is below 8 KiB per lane (%d lanes)", p.Memory, p.Parallelism)
	case p.Memory > maxMemoryKiB:
		return fmt.Errorf("argon2id: memory %d KiB exceeds %d KiB", p.Memory, maxMemoryKiB)
	case p.Iterations < 1:
		return errors.New("argon2id: iterations must be at least 1")
	case p.Iterations > maxIterations:
		return fmt.Errorf("argon2id: iterations %d exceed %d", p.Iterations, maxIterations)
	case p.SaltLength < minSaltLength || p.SaltLength > maxBytesLength:
		return fmt.Errorf("argon2id: salt length %d is outside %d..%d bytes", p.SaltLength, minSaltLength, maxBytesLength)
	case p.KeyLength < minKeyLength || p.KeyLength > maxBytesLength:
		return fmt.Errorf("argon2id: key length %d is outside %d..%d bytes", p.KeyLength, minKeyLength, maxBytesLength)
	}
	return nil
}

// Hasher hashes and verifies passwords with fixed parameters. It is safe for
// concurrent use.
type Hasher struct {
	params Params

	dummyOnce sync.Once
	dummy     string
}

// New returns a Hasher using p, or an error if p fails Validate.
func New(p Params) (*Hasher, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &Hasher{params: p}, nil
}

// Params returns the parameters h hashes new passwords with.
func (h *Hasher) Params() Params { return h.params }

// Hash returns a PHC string for password, for example
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>, with a fresh random salt.
// The password is hashed as the UTF-8 bytes it is given; normalising it is
// the caller's job.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	// Argon2 cannot be interrupted, so a request that has already been
	// abandoned must not start one.
	if err := ctx.Err(); err != nil {
		return "", err
	}
	return h.hash([]byte(password)), nil
}

func (h *Hasher) hash(password []byte) string {
	p := h.params
	salt := randomBytes(p.SaltLength)
	key := argon2.IDKey(password, salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLength)
	return PHC{Variant: "argon2id", Params: p, Version: argon2.Version, Salt: salt, Key: key}.String()
}

// Verify reports whether password matches encoded, and whether encoded
// should be replaced by a fresh Hash of password because it was made with
// other parameters or is a legacy bcrypt hash. rehash is only ever true
// together with match: a hash can only be replaced by someone who holds the
// correct password.
//
// A malformed or unsupported encoded returns an error wrapping
// ErrMalformedHash, and a done ctx returns ctx.Err() before any hashing.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (match bool, rehash bool, err error) {
	if err := ctx.Err(); err != nil {
		return false, false, err
	}
	if isBcrypt(encoded) {
		match, err := verifyBcrypt(password, encoded)
		// A bcrypt hash is always replaced: it truncates passwords at 72
		// bytes and is not memory-hard.
		return match, match, err
	}
	phc, err := ParsePHC(encoded)
	if err != nil {
		return false, false, err
	}
	p := phc.Params
	// Imported hashes may use another key length; the key must be derived
	// at that length, since Argon2's output depends on it.
	derive := argon2.IDKey
	if phc.Variant == "argon2i" {
		derive = argon2.Key // Kratos' other Argon2 variant; always replaced
	}
	got := derive([]byte(password), phc.Salt, p.Iterations, p.Memory, p.Parallelism, uint32(len(phc.Key)))
	if subtle.ConstantTimeCompare(got, phc.Key) != 1 {
		return false, false, nil
	}
	return true, p != h.params || phc.Variant != "argon2id", nil
}

// NeedsRehash reports whether encoded was made with other parameters than
// h's, is a legacy bcrypt hash, or cannot be parsed at all.
func (h *Hasher) NeedsRehash(encoded string) bool {
	if isBcrypt(encoded) {
		return true
	}
	phc, err := ParsePHC(encoded)
	if err != nil {
		return true
	}
	return phc.Params != h.params || phc.Variant != "argon2id"
}

// DummyHash returns a valid hash, made with h's parameters, of a random
// secret nobody knows. Verifying a login for an unknown account against it
// costs the same as verifying a real one, so response times do not reveal
// which accounts exist. It is computed once per Hasher.
func (h *Hasher) DummyHash() string {
	h.dummyOnce.Do(func() {
		h.dummy = h.hash(randomBytes(32))
	})
	return h.dummy
}

// randomBytes returns n bytes from the system CSPRNG. Since Go 1.24
// crypto/rand.Read never returns an error (it crashes the program rather
// than hand out weak randomness), so there is no error to propagate.
func randomBytes(n uint32) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
