package authtest

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/authd/authd/internal/auth"
)

// The formats of the fake hashes: the current parameters, and older ones
// that verify but ask for a re-hash (as an imported bcrypt hash does).
const (
	currentPrefix = "fake1$"
	stalePrefix   = "fake0$"
)

// ErrUnreadableHash is what Hasher.Verify returns for a stored hash it
// cannot parse, as the real hasher does for a corrupt PHC string.
var ErrUnreadableHash = errors.New("authtest: unreadable password hash")

// Hasher is a cheap, deterministic auth.PasswordHasher that counts its
// calls ("Hash", "Verify", "DummyHash", "Admit"). HashOf and StaleHashOf make stored
// hashes for a test; a stale hash verifies and asks for a re-hash. SetErr
// and FailOn("Hash"|"Verify", err) make it fail; Overload makes both
// answer auth.Overloaded, as the hash pool does when it sheds work.
type Hasher struct {
	Probe
}

var (
	_ auth.PasswordHasher = (*Hasher)(nil)
	_ auth.HashFormats    = (*Hasher)(nil)
)

// CheckHash accepts the fake's own formats, as the real one accepts the
// hashes it can verify.
func (h *Hasher) CheckHash(encoded string) error {
	if strings.HasPrefix(encoded, currentPrefix) || strings.HasPrefix(encoded, stalePrefix) {
		return nil
	}
	return ErrUnreadableHash
}

// NewHasher returns a hasher with no calls counted.
func NewHasher() *Hasher { return &Hasher{Probe: newProbe("Hash", "Verify", "DummyHash", "Admit")} }

func digest(password string) string {
	sum := sha256.Sum256([]byte("authtest-password:" + password))
	return hex.EncodeToString(sum[:])
}

// HashOf is the hash Hash returns for password, computed without counting
// a call.
func HashOf(password string) string { return currentPrefix + digest(password) }

// StaleHashOf is a hash of password made with old parameters: it verifies,
// with rehash set.
func StaleHashOf(password string) string { return stalePrefix + digest(password) }

// Overload makes Admit, Hash and Verify answer auth.Overloaded(retryAfter).
func (h *Hasher) Overload(retryAfter time.Duration) {
	err := auth.Overloaded(retryAfter, errors.New("authtest: hash pool full"))
	h.FailOn("Admit", err)
	h.FailOn("Hash", err)
	h.FailOn("Verify", err)
}

// Admit is nil unless Overload or FailOn("Admit") says otherwise.
func (h *Hasher) Admit() error { return h.enter("Admit") }

// Hashes and Verifies count the calls of Hash and Verify.
func (h *Hasher) Hashes() int   { return h.Calls("Hash") }
func (h *Hasher) Verifies() int { return h.Calls("Verify") }

func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if err := h.enter("Hash"); err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	return HashOf(password), nil
}

func (h *Hasher) Verify(ctx context.Context, password, encoded string) (match, rehash bool, err error) {
	if err := h.enter("Verify"); err != nil {
		return false, false, err
	}
	if err := ctx.Err(); err != nil {
		return false, false, err
	}
	var stored string
	var stale bool
	switch {
	case strings.HasPrefix(encoded, currentPrefix):
		stored = strings.TrimPrefix(encoded, currentPrefix)
	case strings.HasPrefix(encoded, stalePrefix):
		stored, stale = strings.TrimPrefix(encoded, stalePrefix), true
	default:
		return false, false, ErrUnreadableHash
	}
	match = subtle.ConstantTimeCompare([]byte(stored), []byte(digest(password))) == 1
	return match, match && stale, nil
}

// DummyHash is a valid hash that no password typed at login matches.
func (h *Hasher) DummyHash() string {
	_ = h.enter("DummyHash")
	return currentPrefix + strings.Repeat("0", 64)
}

// Blocklist is an auth.Blocklist of the given passwords (compared
// lower-cased, as the policy hands them over).
type Blocklist map[string]bool

var _ auth.Blocklist = Blocklist(nil)

// NewBlocklist returns a list of the passwords.
func NewBlocklist(passwords ...string) Blocklist {
	b := Blocklist{}
	for _, p := range passwords {
		b[strings.ToLower(p)] = true
	}
	return b
}

func (b Blocklist) Contains(password string) bool { return b[strings.ToLower(password)] }
