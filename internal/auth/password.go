package auth

import (
	"log/slog"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// MaxPasswordLength is counted in characters. It is far above what people
// type and low enough that hashing stays cheap; nothing is truncated.
const MaxPasswordLength = 128

// maxPasswordBytes bounds the work done on a hostile input before it is
// rejected: 128 characters of at most 4 bytes each.
const maxPasswordBytes = MaxPasswordLength * utf8.UTFMax

// Password is a plaintext password that passed the policy, NFC-normalised so
// that the same characters typed on different systems hash the same.
type Password struct{ s string }

// Blocklist reports whether a password is too common to allow.
type Blocklist interface {
	Contains(password string) bool
}

// PasswordPolicy follows NIST SP 800-63B: a minimum length, a generous
// maximum, no composition rules, and a check against common passwords and
// the account's own identifiers.
type PasswordPolicy struct {
	MinLength int
	Blocklist Blocklist // nil means no list
}

// Check validates raw for the account with the given e-mail and username.
func (p PasswordPolicy) Check(raw string, email Email, username string) (Password, error) {
	if raw == "" {
		return Password{}, &RuleError{"required", "A password is required."}
	}
	if len(raw) > maxPasswordBytes {
		return Password{}, &RuleError{"password_too_long", "The password must be at most 128 characters."}
	}
	if !utf8.ValidString(raw) {
		return Password{}, &RuleError{"password_invalid", "The password is not valid UTF-8."}
	}
	if strings.IndexByte(raw, 0) >= 0 {
		return Password{}, &RuleError{"password_invalid", "The password must not contain NUL characters."}
	}
	s := norm.NFC.String(raw)
	n := utf8.RuneCountInString(s)
	minLen := max(p.MinLength, 1)
	if n < minLen {
		return Password{}, &RuleError{"password_too_short", "The password must be at least " + strconv.Itoa(minLen) + " characters."}
	}
	if n > MaxPasswordLength {
		return Password{}, &RuleError{"password_too_long", "The password must be at most 128 characters."}
	}
	lower := strings.ToLower(s)
	if containsIdentifier(lower, email, username) {
		return Password{}, &RuleError{"password_contains_identifier", "The password must not contain your e-mail address or username."}
	}
	if p.Blocklist != nil && p.Blocklist.Contains(lower) {
		return Password{}, &RuleError{"password_too_common", "This password is too common. Choose another one."}
	}
	return Password{s: s}, nil
}

func containsIdentifier(lowerPassword string, email Email, username string) bool {
	// The whole address, not its local part: a local part such as "test"
	// is too short a word to forbid inside every password.
	// Both forms of an internationalised domain: the user typed the
	// Unicode one, the canonical form has A-labels.
	if !email.IsZero() && (strings.Contains(lowerPassword, email.String()) || strings.Contains(lowerPassword, email.Unicode())) {
		return true
	}
	return username != "" && strings.Contains(lowerPassword, strings.ToLower(username))
}

// CandidatePassword normalises a password typed at login, without the policy:
// a password set under an older policy must still log in.
func CandidatePassword(raw string) Password {
	return Password{s: norm.NFC.String(raw)}
}

// Plaintext returns the password for hashing. It is the only way to read it:
// String and LogValue redact, so a stray log line cannot leak it.
func (p Password) Plaintext() string { return p.s }

func (Password) String() string { return "[redacted]" }

func (Password) LogValue() slog.Value { return slog.StringValue("[redacted]") }
