package auth

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzValueObjects checks that no input makes a value object panic, and
// that whatever is accepted is normalised and within bounds.
func FuzzValueObjects(f *testing.F) {
	for _, s := range []string{"alice@example.com", " A@B.CO ", "jo\u0308rg@x.de", "", "\x00", "a@b@c", strings.Repeat("é", 200), "bad\xff", "correct horse battery staple", "\uff41\uff44\uff4d\uff49\uff4e", "\u0441\u04bb\u0430\u043e\u0455", "a@b\u00fccher.example", "ad\u200bmin"} {
		f.Add(s)
	}
	policy := PasswordPolicy{MinLength: 8}
	f.Fuzz(func(t *testing.T, s string) {
		if e, err := ParseEmail(s); err == nil {
			if len(e.String()) > MaxEmailLength+16 || strings.ToLower(e.String()) != e.String() || strings.Count(e.String(), "@") != 1 {
				t.Errorf("ParseEmail(%q) accepted %q", s, e)
			}
			again, err := ParseEmail(e.String())
			if err != nil || again != e {
				t.Errorf("ParseEmail not idempotent on %q: %q, %v", e, again, err)
			}
		}
		if p, err := policy.Check(s, Email{}, ""); err == nil {
			n := utf8.RuneCountInString(p.Plaintext())
			if n < 8 || n > MaxPasswordLength || !utf8.ValidString(p.Plaintext()) {
				t.Errorf("policy accepted %q (%d chars)", s, n)
			}
		}
		if u, err := ParseUsername(s); err == nil && u != "" {
			if n := utf8.RuneCountInString(u); n < 3 || n > 32 {
				t.Errorf("ParseUsername accepted %q", u)
			}
			if again, err := ParseUsername(u); err != nil || again != u {
				t.Errorf("ParseUsername not idempotent on %+q: %+q, %v", u, again, err)
			}
			if k := UsernameKey(u); k == "" || UsernameKey(k) != k {
				t.Errorf("UsernameKey(%+q) = %+q, whose key is %+q", u, k, UsernameKey(k))
			}
		}
		if g, err := ParseGeoLocation(s); err == nil && utf8.RuneCountInString(g) > 128 {
			t.Errorf("ParseGeoLocation accepted %q", g)
		}
	})
}
