package auth

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"
)

// MaxEmailLength is the longest address SMTP can carry (RFC 5321 path
// limit). It bounds the canonical form, whose domain is in A-labels: an
// internationalised domain is longer as punycode than as typed.
const MaxEmailLength = 254

// maxLocalLength is the longest local part SMTP must accept (RFC 5321).
const maxLocalLength = 64

// Email is a normalised e-mail address, the login identifier of an
// identity. Its canonical form, the one that is stored, compared and mailed
// to, has no surrounding whitespace, a local part in NFC and lower case
// (two addresses that differ only in case are the same identity, as in Ory
// Kratos) and the domain as A-labels (ASCII, punycode) after the UTS #46
// mapping: a@bücher.example, a@BÜCHER.example and a@xn--bcher-kva.example
// are one Email, a@xn--bcher-kva.example. A-labels rather than U-labels
// because every SMTP server can carry them (a U-label domain needs
// SMTPUTF8 on every hop) and because each domain has exactly one A-label
// form, whatever mapping a client applied. Unicode gives the form to show
// a person.
type Email struct{ s string }

// domainProfile maps a domain as a lookup does (RFC 5891 section 5, UTS #46
// non-transitional: case, width and compatibility forms are mapped, ß stays
// ß) and converts it to A-labels, refusing what UTS #46 refuses: invalid
// punycode, labels against the bidi rule (RFC 5893), misplaced joiners
// (RFC 5892 appendix A), misplaced hyphens, and anything but letters,
// digits and hyphens (STD3). The options are spelt out rather than taken
// from idna.Lookup, whose configuration "may change over time": the
// canonical form of stored addresses must not. The DNS length limits are
// left to validDomain, after the length of the whole address, so that an
// address too long for SMTP is reported as such.
var domainProfile = idna.New(
	idna.MapForLookup(),
	idna.Transitional(false),
	idna.BidiRule(),
	idna.CheckJoiners(true),
	idna.CheckHyphens(true),
	idna.StrictDomainName(true),
)

// ParseEmail validates an e-mail address and returns its canonical form.
// Invisible characters (format characters such as U+200B, U+200D, U+00AD,
// U+202E or U+FEFF, and the other default-ignorable code points) are
// refused anywhere in the address: they would let one visible address name
// several identities.
func ParseEmail(raw string) (Email, error) {
	if !utf8.ValidString(raw) {
		return Email{}, &RuleError{"email_invalid", "The e-mail address is not valid UTF-8."}
	}
	s := strings.TrimSpace(raw)
	if s == "" {
		return Email{}, &RuleError{"required", "An e-mail address is required."}
	}
	// Bound the work before normalising: a huge input costs little. The
	// exact limit applies to the canonical form below, since NFC and the
	// domain mapping can shorten what was typed and punycode can lengthen it.
	if len(s) > MaxEmailLength*utf8.UTFMax {
		return Email{}, &RuleError{"email_too_long", "The e-mail address is too long."}
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return Email{}, &RuleError{"email_invalid", "The e-mail address must not contain spaces or control characters."}
		}
		if invisible(r) {
			return Email{}, &RuleError{"email_invalid", "The e-mail address must not contain invisible characters (such as zero-width spaces, soft hyphens or text direction marks)."}
		}
	}
	s = strings.ToLower(norm.NFC.String(s))
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || strings.Count(s, "@") != 1 {
		return Email{}, &RuleError{"email_invalid", "Enter an e-mail address like name@example.com."}
	}
	local, domain := s[:at], s[at+1:]
	if len(local) > maxLocalLength {
		return Email{}, &RuleError{"email_invalid", "The part before @ is too long."}
	}
	domain, err := domainProfile.ToASCII(domain)
	if err != nil {
		return Email{}, &RuleError{"email_invalid", "The part after @ is not a valid domain name."}
	}
	s = local + "@" + domain
	if len(s) > MaxEmailLength {
		return Email{}, &RuleError{"email_too_long", "The e-mail address is too long."}
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

// validDomain checks an A-label domain against the DNS rules idna leaves
// to it: at least two labels, each 1 to 63 letters, digits or hyphens, not
// starting or ending with a hyphen.
func validDomain(d string) bool {
	if !strings.Contains(d, ".") {
		return false
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return false
		}
		for _, r := range label {
			if r != '-' && (r < 'a' || r > 'z') && (r < '0' || r > '9') {
				return false
			}
		}
	}
	return true
}

// EmailFromStore rebuilds an Email read back from storage without
// re-validating it.
func EmailFromStore(s string) Email { return Email{s: s} }

// String is the canonical form, with an A-label domain.
func (e Email) String() string { return e.s }

// Unicode is the address with its domain in U-labels (a@bücher.example),
// as a person types and reads it. It is for people, never for comparing or
// storing; a domain that does not decode is returned as it is.
func (e Email) Unicode() string {
	i := strings.LastIndexByte(e.s, '@')
	if i < 0 || !strings.Contains(e.s[i:], "xn--") {
		return e.s
	}
	domain, err := domainProfile.ToUnicode(e.s[i+1:])
	if err != nil {
		return e.s
	}
	return e.s[:i+1] + domain
}

// Local returns the part before the @.
func (e Email) Local() string {
	if i := strings.LastIndexByte(e.s, '@'); i >= 0 {
		return e.s[:i]
	}
	return e.s
}

func (e Email) IsZero() bool { return e.s == "" }
