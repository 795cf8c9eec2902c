package auth

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

const (
	minUsernameLength    = 3
	maxUsernameLength    = 32
	maxGeoLocationLength = 128
)

// ParseUsername validates an optional username: 3 to 32 letters, digits,
// '.', '_' or '-', starting with a letter or digit. The empty string means
// "no username". Uniqueness ignores case.
func ParseUsername(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", nil
	}
	if len(s) > maxUsernameLength*utf8.UTFMax || !utf8.ValidString(s) {
		return "", &RuleError{"username_invalid", "The username must be 3 to 32 characters."}
	}
	s = norm.NFC.String(s)
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
	return s, nil
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
