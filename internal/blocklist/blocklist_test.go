package blocklist

import (
	"strings"
	"testing"
)

// withList is a Common over entries instead of the shipped list, for rules
// the shipped list cannot show (it has no entry under 8 characters).
func withList(entries ...string) *Common {
	c := &Common{}
	c.once.Do(func() { c.set = parse(strings.Join(entries, "\n")) })
	return c
}

func TestList(t *testing.T) {
	var c Common
	if n := c.Len(); n < 10000 {
		t.Fatalf("list has %d entries, want at least 10 000", n)
	}
	// Each entry is stored as it is looked up: trimmed and lower-case.
	for _, l := range strings.Split(commonPasswords, "\n") {
		if l != "" && (l != strings.TrimSpace(l) || l != strings.ToLower(l)) {
			t.Errorf("entry %q is not trimmed and lower-case", l)
		}
	}
}

func TestCommon(t *testing.T) {
	var c Common
	tests := []struct {
		password string
		want     bool
		why      string
	}{
		// Refused.
		{"password", true, "listed"},
		{"password123", true, "listed"},
		{"qwertyuiop", true, "listed"},
		{"iloveyou", true, "listed"},
		{"12345678", true, "listed"},
		{"p@ssw0rd", true, "listed, inner symbols kept"},
		{"PASSWORD", true, "case-insensitive"},
		{"PassWord", true, "case-insensitive"},
		{"Password1!", true, "password1 after the symbol, password after digits and symbols"},
		{"Test1234!", true, "test1234 after the trailing symbol"},
		{"TEST1234", true, "case-insensitive"},
		{"Qwerty123!", true, "qwerty123 after the trailing symbol"},
		{"!12345678", true, "12345678 after the leading symbol"},
		{"12345678!?", true, "12345678 after the trailing symbols"},
		{"!!Password!!", true, "password after the symbols"},
		{"2024Sunshine!", true, "sunshine after digits and symbols"},
		{"1Password", true, "password after the leading digit"},
		{"password!1", true, "password after the trailing symbol and digit"},
		{"  iloveyou  ", true, "spaces at the ends are symbols"},
		{"P@ssw0rd!", true, "p@ssw0rd after the trailing symbol"},

		// Accepted.
		{"", false, "empty"},
		{"correct horse battery staple", false, "passphrase"},
		{"Correct Horse Battery Staple 42!", false, "passphrase with digits and symbols at the end"},
		{"g7#kq!zvLm2@x", false, "random"},
		{"Ld-k3j9x0q2-lz8f0k1a", false, "random, as k6 newPassword makes them"},
		{"8Fh!2Qz#pW9m", false, "random"},
		{"pass word", false, "inner space kept"},
		{"passwordx", false, "only digits and symbols are stripped, not letters"},
		{"xpassword", false, "only digits and symbols are stripped, not letters"},
		{"pass1234word", false, "inner digits kept"},
		{"Test1234!x", false, "a letter at the end: nothing is stripped"},
		{"!!!!!!!!", false, "nothing left after stripping"},
		{"12345!@#$%", false, "stripped form 12345 is not listed"},
	}
	for _, tt := range tests {
		if got := c.Contains(tt.password); got != tt.want {
			t.Errorf("Contains(%q) = %v, want %v (%s)", tt.password, got, tt.want, tt.why)
		}
	}
}

// TestShortRemainder: a stripped form with fewer than minStripped letters or
// digits is not looked up, so short entries refuse only themselves.
func TestShortRemainder(t *testing.T) {
	c := withList("abc", "ab12", "a1", "1234", "love", "password")
	tests := []struct {
		password string
		want     bool
		why      string
	}{
		// Refused.
		{"abc", true, "whole form, however short"},
		{"ABC", true, "whole form, case-insensitive"},
		{"a1", true, "whole form, however short"},
		{"!ab12!", true, "ab12: 4 letters or digits"},
		{"!!1234!!", true, "1234: 4 digits"},
		{"1990!love!2024", true, "love: 4 letters"},
		{"Love2024!", true, "love: 4 letters"},
		{"Password1!", true, "password"},

		// Accepted.
		{"1990!abc!2024", false, "abc: 3 letters, whole form only"},
		{"Abc12345!", false, "abc: 3 letters; abc12345 is not listed"},
		{"!!a1!!", false, "a1: 2 letters or digits"},
		{"9999a1", false, "a: 1 letter"},
		{"!abc!", false, "abc: 3 letters"},
		{"abcd", false, "not listed"},
	}
	for _, tt := range tests {
		if got := c.Contains(tt.password); got != tt.want {
			t.Errorf("Contains(%q) = %v, want %v (%s)", tt.password, got, tt.want, tt.why)
		}
	}
}

func TestContainsDoesNotAllocate(t *testing.T) {
	var c Common
	c.Contains("")
	for _, p := range []string{"password1!", "correct horse battery staple", "2024sunshine!"} {
		if n := testing.AllocsPerRun(100, func() { c.Contains(p) }); n != 0 {
			t.Errorf("Contains(%q): %v allocations, want 0 for a lower-case password", p, n)
		}
	}
}

func BenchmarkContains(b *testing.B) {
	var c Common
	c.Contains("")
	for _, p := range []string{"Password1!", "correct horse battery staple", "g7#kq!zvLm2@x"} {
		b.Run(p, func(b *testing.B) {
			for b.Loop() {
				c.Contains(p)
			}
		})
	}
}
