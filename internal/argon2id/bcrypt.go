package argon2id

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

const (
	// bcryptHashLength is the length of every well-formed modular-crypt
	// bcrypt hash: "$2b$" + 2-digit cost + "$" + 22 salt + 31 hash chars.
	bcryptHashLength = 60
	// maxBcryptCost bounds the CPU a stored hash can demand: the cost is
	// a power of two, and at the format's maximum of 31 a single verify
	// would run for days. Kratos defaults to 12.
	maxBcryptCost = 16
	// bcryptMaxPassword is the number of password bytes bcrypt reads.
	bcryptMaxPassword = 72
	bcryptAlphabet    = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
)

// isBcrypt reports whether encoded claims to be a bcrypt hash, in any of
// the variants Kratos and other crypt(3)-style systems write. The variants
// differ only in bugs of old C implementations that do not affect hashes
// of passwords bcrypt accepts, so one verifier serves them all.
func isBcrypt(encoded string) bool {
	return strings.HasPrefix(encoded, "$2a$") ||
		strings.HasPrefix(encoded, "$2b$") ||
		strings.HasPrefix(encoded, "$2y$")
}

// bcryptCost checks the shape of encoded and returns its cost. The
// x/crypto parser is lenient (it accepts trailing bytes, a signed cost and
// no separator after it), and we want malformed data reported as such
// rather than silently failing to match.
func bcryptCost(encoded string) (int, error) {
	if len(encoded) != bcryptHashLength || !isBcrypt(encoded) {
		return 0, fmt.Errorf("%w: bcrypt hash must be %d characters", ErrMalformedHash, bcryptHashLength)
	}
	c1, c2 := encoded[4], encoded[5]
	if c1 < '0' || c1 > '9' || c2 < '0' || c2 > '9' || encoded[6] != '$' {
		return 0, fmt.Errorf("%w: bcrypt cost must be two digits", ErrMalformedHash)
	}
	cost := int(c1-'0')*10 + int(c2-'0')
	if cost < bcrypt.MinCost || cost > maxBcryptCost {
		return 0, fmt.Errorf("%w: bcrypt cost %d is outside %d..%d", ErrMalformedHash, cost, bcrypt.MinCost, maxBcryptCost)
	}
	for i := 7; i < len(encoded); i++ {
		if strings.IndexByte(bcryptAlphabet, encoded[i]) < 0 {
			return 0, fmt.Errorf("%w: bcrypt salt or hash has a character outside its alphabet", ErrMalformedHash)
		}
	}
	return cost, nil
}

// verifyBcrypt checks password against a legacy bcrypt hash.
//
// bcrypt reads only the first 72 bytes of a password, and x/crypto versions
// disagree on longer ones (older ones truncate and may match, newer ones
// refuse). We pin the answer to "no match": Kratos never let a password of
// more than 72 bytes be hashed, so a longer one cannot be the stored
// password, however its prefix compares. The comparison still runs, on the
// prefix, so that the response time does not single out bcrypt accounts.
func verifyBcrypt(password, encoded string) (bool, error) {
	if _, err := bcryptCost(encoded); err != nil {
		return false, err
	}
	pw := []byte(password)
	tooLong := len(pw) > bcryptMaxPassword
	if tooLong {
		pw = pw[:bcryptMaxPassword]
	}
	err := bcrypt.CompareHashAndPassword([]byte(encoded), pw)
	switch {
	case err == nil:
		return !tooLong, nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword),
		errors.Is(err, bcrypt.ErrPasswordTooLong):
		return false, nil
	default:
		return false, fmt.Errorf("%w: bcrypt: %v", ErrMalformedHash, err)
	}
}
