// Package blocklist knows the passwords too common to allow: the 20 000
// most frequent passwords of 8 or more characters from the SecLists
// "10 million passwords" top-1M list (MIT licence), lower-cased. The list
// ships inside the binary and is loaded once, on first use.
//
// # Comparison
//
// A password is compared case-insensitively, and people who must "add a
// digit and a symbol" mostly do it at the ends of a common word, so
// [Common.Contains] refuses a password if any of these forms is on the list:
//
//  1. the whole password, lower-cased: "PassWord" → "password";
//  2. that, without the symbols at its ends (anything that is neither a
//     letter nor a digit, spaces included): "Test1234!" → "test1234",
//     "!12345678" → "12345678";
//  3. that, without the digits and symbols at its ends, i.e. from its first
//     to its last letter: "Password1!" → "password", "2024Sunshine!" →
//     "sunshine".
//
// Only the ends are stripped; characters inside stay as they are, so
// "p@ssw0rd" is listed in its own right and "pass word" is not "password".
//
// Forms 2 and 3 are looked up only if they keep at least four letters or
// digits (minStripped). A shorter remainder says nothing about the password
// it came from: "1990!ab!2024" must not be refused because "ab" is common.
// Such a password is judged by its whole lower-cased form alone. (Every
// entry of the shipped list has 8 or more characters, so today a stripped
// form refuses a password only when it is itself a listed password of that
// length; the rule keeps a shorter list entry from ever refusing much
// longer passwords.)
//
// A lookup lower-cases and slices the password (no copy when it is already
// lower-case) and makes at most three map lookups.
package blocklist

import (
	_ "embed"
	"strings"
	"sync"
	"unicode"
)

//go:embed common-passwords.txt
var commonPasswords string

// minStripped is how many letters or digits a stripped form (forms 2 and 3
// of the package comment) must keep to be looked up.
const minStripped = 4

// Common is the list of common passwords. The zero value is ready to use.
type Common struct {
	once sync.Once
	set  map[string]struct{}
}

// Contains reports whether password is on the list, compared as the package
// comment describes: case-insensitively, and also without the digits and
// symbols at its ends. The password may be passed lower-cased or not.
func (c *Common) Contains(password string) bool {
	c.once.Do(c.load)
	lower := strings.ToLower(password)
	if c.has(lower) {
		return true
	}
	trimmed := strings.TrimFunc(lower, isSymbol)
	if trimmed != lower && c.hasStripped(trimmed) {
		return true
	}
	core := strings.TrimFunc(trimmed, notLetter)
	return core != trimmed && c.hasStripped(core)
}

// Len is the number of entries.
func (c *Common) Len() int {
	c.once.Do(c.load)
	return len(c.set)
}

func (c *Common) has(s string) bool {
	_, ok := c.set[s]
	return ok
}

// hasStripped looks up a stripped form, unless it is too short to count.
func (c *Common) hasStripped(s string) bool {
	n := 0
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if n++; n >= minStripped {
				return c.has(s)
			}
		}
	}
	return false
}

func isSymbol(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }

func notLetter(r rune) bool { return !unicode.IsLetter(r) }

func (c *Common) load() { c.set = parse(commonPasswords) }

func parse(list string) map[string]struct{} {
	lines := strings.Split(list, "\n")
	set := make(map[string]struct{}, len(lines))
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" {
			set[strings.ToLower(l)] = struct{}{}
		}
	}
	return set
}
