package auth

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// MaxEmailLength is the longest address SMTP can carry (RFC 5321 path limit).
const MaxEmailLength = 254

// Email is a normalised e-mail address: NFC, lower-cased, without
// surrounding whitespace. Two addresses that differ only in case are the
// same identity, as in Ory Kratos.
type Email struct{ s string }

// ParseEmail validates and normalises an e-mail address.
func ParseEmail(raw string) (Email, error) {
	if !utf8.ValidString(raw) {
		return Email{}, &RuleError{"email_invalid", "The e-mail address is not valid UTF-8."}
	}
	s := strings.TrimSpace(raw)
	if s == "" {
		return Email{}, &RuleError{"required", "An e-mail address is required."}
	}
	// Check the length before any further work so a huge input costs little.
	if len(s) > MaxEmailLength {
		return Email{}, &RuleError{"email_too_long", "The e-mail address is too long."}
	}
	s = strings.ToLower(norm.NFC.String(s))
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return Email{}, &RuleError{"email_invalid", "The e-mail address must not contain spaces or control characters."}
		}
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || strings.Count(s, "@") != 1 {
		return Email{}, &RuleError{"email_invalid", "Enter an e-mail address like name@example.com."}
	}
	local, domain := s[:at], s[at+1:]
	if len(local) > 64 {
		return Email{}, &RuleError{"email_invalid", "The part before @ is too long."}
	}
	if !validDomain(domain) {
		return Email{}, &RuleError{"email_invalid", "Enter an e-mail address like name@example.com."}
	}
	// net/mail accepts display names and comments; only a bare address that
	// parses back to itself is an identifier.
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Name != "" || addr.Address != s {
		return Email{}, &RuleError{"email_invalid", "Enter an e-mail address like name@example.com."}
	}
	return Email{s: s}, nil
}

func validDomain(d string) bool {
	if !strings.Contains(d, ".") {
		return false
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return false
		}
		for _, r := range label {
			if r != '-' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
				return false
			}
		}
	}
	return true
}

// EmailFromStore rebuilds an Email read back from storage without
// re-validating it.
func EmailFromStore(s string) Email { return Email{s: s} }

func (e Email) String() string { return e.s }

// Local returns the part before the @.
func (e Email) Local() string {
	if i := strings.LastIndexByte(e.s, '@'); i >= 0 {
		return e.s[:i]
	}
	return e.s
}

func (e Email) IsZero() bool { return e.s == "" }
