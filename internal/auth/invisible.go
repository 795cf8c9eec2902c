package auth

import "unicode"

// invisible reports a character that renders as nothing (or as blank
// space) and so lets two identifiers that look the same differ: format
// characters (category Cf: zero-width space and joiners, the soft hyphen,
// bidirectional controls such as U+202E, the byte order mark, tag
// characters), the other default-ignorable code points (Hangul fillers,
// the combining grapheme joiner), variation selectors, and the blank
// Braille pattern. Identifiers never need them: the rare script that uses
// a joiner inside a word is the price of refusing them all.
func invisible(r rune) bool {
	return unicode.Is(unicode.Cf, r) ||
		unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) ||
		unicode.Is(unicode.Variation_Selector, r) ||
		r == '\u2800' // BRAILLE PATTERN BLANK: not ignorable, but shows as a space
}

// hasInvisible reports whether s holds an invisible character.
func hasInvisible(s string) bool {
	for _, r := range s {
		if invisible(r) {
			return true
		}
	}
	return false
}
