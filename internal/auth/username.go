package auth

import (
	"slices"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mtibben/confusables"
	"golang.org/x/text/cases"
	"golang.org/x/text/language"
	"golang.org/x/text/unicode/norm"
)

const (
	minUsernameLength    = 3
	maxUsernameLength    = 32
	maxGeoLocationLength = 128
)

// ParseUsername validates an optional username and returns it in NFKC:
// 3 to 32 letters, digits, '.', '_' or '-', starting with a letter or
// digit, with no invisible characters and the letters of one script. The
// empty string means "no username". NFKC rather than NFC, so that the
// compatibility forms of letters (fullwidth ａｄｍｉｎ, ligatures,
// mathematical alphanumerics) are the letters they imitate. Uniqueness
// ignores letter case and look-alike characters (UsernameKey).
func ParseUsername(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", nil
	}
	if len(s) > maxUsernameLength*utf8.UTFMax || !utf8.ValidString(s) {
		return "", &RuleError{"username_invalid", "The username must be 3 to 32 characters."}
	}
	// Before NFKC, which maps some invisible characters to others but never
	// to nothing, and after it, for what the mapping produced.
	if hasInvisible(s) {
		return "", errUsernameInvisible()
	}
	s = norm.NFKC.String(s)
	if hasInvisible(s) {
		return "", errUsernameInvisible()
	}
	n := utf8.RuneCountInString(s)
	if n < minUsernameLength || n > maxUsernameLength {
		return "", &RuleError{"username_invalid", "The username must be 3 to 32 characters."}
	}
	for i, r := range s {
		ok := unicode.IsLetter(r) || unicode.IsDigit(r) || (i > 0 && (r == '.' || r == '_' || r == '-'))
		if !ok {
			return "", &RuleError{"username_invalid", "The username may contain letters, digits, '.', '_' and '-', and must start with a letter or digit."}
		}
	}
	if !singleScript(s) {
		return "", &RuleError{"username_invalid", "The username must not mix letters of different scripts, such as Latin and Cyrillic."}
	}
	return s, nil
}

func errUsernameInvisible() error {
	return &RuleError{"username_invalid", "The username must not contain invisible characters (such as zero-width spaces, soft hyphens or text direction marks)."}
}

// UsernameKey is what makes two usernames one: storage refuses a username
// whose key another identity's username has (and, as before, one that
// differs from another only in letter case). It is the UTS #39 confusable
// skeleton, case-folded:
//
//  1. NFKC, and invisible characters dropped (as NFKC_Casefold does), so
//     that compatibility forms and hidden characters change nothing;
//  2. the skeleton: NFD, each character replaced by its prototype in the
//     Unicode confusables table (Cyrillic а by Latin a, digit 0 by O,
//     capital I by l, m by rn, ...), NFD again;
//  3. full Unicode case folding, so that what differs only in case after
//     step 2 is one key;
//  4. steps 2 and 3 again until nothing changes (a folded prototype can
//     have a prototype of its own: M folds to m, which is rn), so that the
//     key of a key is itself.
//
// The skeleton comes before the folding because the confusables table is
// case-sensitive: capital I looks like l and is mapped to it, so PayPaI
// and PayPal share a key, as do Greek ΙΒΜ and Latin IBM. The price is that
// a few case pairs do not (ADMIN is "adrnln", admin "adrnin"): letter case
// stays a rule of its own, which storage keeps beside the key.
//
// The key is for comparison only: it is not a username and is never shown.
// It is stored, so it must not change for a given username; a change of
// the confusables or case tables (an upgrade of github.com/mtibben/confusables
// or golang.org/x/text that breaks TestUsernameKeyIsStable) needs the stored
// keys recomputed, see internal/postgres's backfill.
func UsernameKey(username string) string {
	s := strings.Map(func(r rune) rune {
		if invisible(r) {
			return -1
		}
		return r
	}, norm.NFKC.String(username))
	for range maxSkeletonRounds {
		next := norm.NFD.String(foldCase(confusables.Skeleton(s)))
		if next == s {
			break
		}
		s = next
	}
	return s
}

// maxSkeletonRounds bounds the fixed-point loop of UsernameKey; with the
// Unicode 13 table every letter and digit gets there within four rounds
// (TestUsernameKeyOfAKey checks that it does).
const maxSkeletonRounds = 8

// foldCase is full case folding made idempotent: x/text's Fold maps small
// Cherokee letters to capitals and capitals back to small ones, so the
// string is lower-cased first (Cherokee then settles on the capitals, as
// Unicode's CaseFolding.txt has it).
func foldCase(s string) string {
	return cases.Fold().String(cases.Lower(language.Und).String(s))
}

// Scripts that UTS #39 (section 5.2, "highly restrictive") lets mix with
// each other: Latin with the scripts of Japanese, Chinese or Korean
// writing, whose letters are not mistaken for Latin ones.
var scriptMixes = [][]string{
	{"Latin", "Han", "Hiragana", "Katakana"},
	{"Latin", "Han", "Bopomofo"},
	{"Latin", "Han", "Hangul"},
}

// singleScript reports whether the letters and digits of s are of one
// script, or of one of the mixes above. Characters of the Common and
// Inherited scripts (ASCII digits, '.', '_', '-') go with any script.
// Scripts, not Script_Extensions (which Go's unicode package lacks), so
// the test errs towards refusing.
func singleScript(s string) bool {
	var seen []string
	for _, r := range s {
		sc := scriptOf(r)
		if sc == "" || slices.Contains(seen, sc) {
			continue
		}
		seen = append(seen, sc)
	}
	if len(seen) <= 1 {
		return true
	}
	for _, mix := range scriptMixes {
		if allIn(seen, mix) {
			return true
		}
	}
	return false
}

func allIn(xs, set []string) bool {
	for _, x := range xs {
		if !slices.Contains(set, x) {
			return false
		}
	}
	return true
}

// scriptNames are the names of unicode.Scripts in a fixed order, so that
// scriptOf does not depend on map iteration.
var scriptNames = func() []string {
	names := make([]string, 0, len(unicode.Scripts))
	for name := range unicode.Scripts {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}()

// scriptOf names the script of r, or "" for Common, Inherited and
// unassigned characters, which are not a script of their own.
func scriptOf(r rune) string {
	if r < utf8.RuneSelf {
		if ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') {
			return "Latin"
		}
		return ""
	}
	for _, name := range scriptNames {
		if unicode.Is(unicode.Scripts[name], r) {
			if name == "Common" || name == "Inherited" {
				return ""
			}
			return name
		}
	}
	return ""
}

// ParseGeoLocation validates an optional free-text location.
func ParseGeoLocation(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", nil
	}
	if len(s) > maxGeoLocationLength*utf8.UTFMax || !utf8.ValidString(s) {
		return "", &RuleError{"geo_location_invalid", "The location must be at most 128 characters."}
	}
	s = norm.NFC.String(s)
	if utf8.RuneCountInString(s) > maxGeoLocationLength {
		return "", &RuleError{"geo_location_invalid", "The location must be at most 128 characters."}
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "", &RuleError{"geo_location_invalid", "The location must not contain control characters."}
		}
	}
	return s, nil
}
