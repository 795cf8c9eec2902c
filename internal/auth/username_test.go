package auth

import (
	"strings"
	"testing"
	"unicode"
)

func TestParseUsername(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"", "", true},
		{"  ", "", true},
		{"bob", "bob", true},
		{" Bob_99 ", "Bob_99", true},
		{"jörg.m-1", "jörg.m-1", true},
		{"ab", "", false},
		{strings.Repeat("a", 33), "", false},
		{"_bob", "", false},
		{"bo b", "", false},
		{"bob<script>", "", false},
		{"bob'; DROP TABLE identities;--", "", false},
		{"bob\x00", "", false},
	}
	for _, tt := range tests {
		got, err := ParseUsername(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseUsername(%q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// TestParseUsernameLookalikes covers the look-alike usernames of issue 10
// (#12): compatibility forms become the letters they imitate, invisible
// characters and mixed scripts are refused.
func TestParseUsernameLookalikes(t *testing.T) {
	const (
		invisibleMessage = "invisible characters"
		scriptMessage    = "different scripts"
	)
	tests := []struct {
		name     string
		in       string
		want     string
		wantText string // part of the message, when refused
	}{
		// NFKC: compatibility forms are the letters they imitate.
		{name: "fullwidth", in: "\uff41\uff44\uff4d\uff49\uff4e", want: "admin"},
		{name: "fullwidth digits", in: "bob\uff11\uff12", want: "bob12"},
		{name: "mathematical bold", in: "\U0001d41a\U0001d41d\U0001d426\U0001d422\U0001d427", want: "admin"},
		{name: "ligature", in: "\ufb01le", want: "file"},
		{name: "decomposed stays composed", in: "jo\u0308rg", want: "j\u00f6rg"},

		// Invisible characters.
		{name: "zero-width space", in: "ad\u200bmin", wantText: invisibleMessage},
		{name: "zero-width joiner", in: "admin\u200d", wantText: invisibleMessage},
		{name: "soft hyphen", in: "ad\u00admin", wantText: invisibleMessage},
		{name: "right-to-left override", in: "\u202enimda", wantText: invisibleMessage},
		{name: "byte order mark", in: "admin\ufeff", wantText: invisibleMessage},
		{name: "Hangul filler (a letter before)", in: "admin\u3164", wantText: invisibleMessage},
		{name: "halfwidth Hangul filler", in: "admin\uffa0", wantText: invisibleMessage},
		{name: "variation selector", in: "admin\ufe0f", wantText: invisibleMessage},

		// One script per username.
		{name: "Cyrillic a among Latin letters", in: "\u0430dmin", wantText: scriptMessage},
		{name: "Cyrillic a and i among Latin letters", in: "\u0430dm\u0456n", wantText: scriptMessage},
		{name: "Greek omicron among Latin letters", in: "r\u03bfot", wantText: scriptMessage},
		{name: "Latin and Cyrillic words", in: "john\u0438\u0432\u0430\u043d", wantText: scriptMessage},
		{name: "Arabic-Indic digits with Latin letters", in: "bob\u0661\u0662", wantText: scriptMessage},
		{name: "all Cyrillic", in: "\u0441\u04bb\u0430\u043e\u0455", want: "\u0441\u04bb\u0430\u043e\u0455"},
		{name: "all Greek", in: "\u03b5\u03bb\u03bb\u03ac\u03b4\u03b1", want: "\u03b5\u03bb\u03bb\u03ac\u03b4\u03b1"},
		{name: "one script with digits and punctuation", in: "\u0438\u0432\u0430\u043d_1987.x-y", wantText: scriptMessage}, // x, y are Latin
		{name: "Cyrillic with digits and punctuation", in: "\u0438\u0432\u0430\u043d_1987.-", want: "\u0438\u0432\u0430\u043d_1987.-"},
		{name: "Japanese: Han, Hiragana, Katakana and Latin", in: "\u5c71\u7530\u305f\u308d\u3046\u30bftaro", want: "\u5c71\u7530\u305f\u308d\u3046\u30bftaro"},
		{name: "Korean: Hangul and Latin", in: "\ud55c\uad6dkim", want: "\ud55c\uad6dkim"},
		{name: "Chinese: Han, Bopomofo and Latin", in: "\u738b\u3105wang", want: "\u738b\u3105wang"},
		{name: "Hangul and Katakana", in: "\ud55c\uad6d\u30bf", wantText: scriptMessage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseUsername(tt.in)
			if tt.wantText != "" {
				re, ok := err.(*RuleError)
				if !ok || re.Code != "username_invalid" || !strings.Contains(re.Message, tt.wantText) {
					t.Errorf("ParseUsername(%+q) = %+q, %v; want username_invalid with %q", tt.in, got, err, tt.wantText)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseUsername(%+q) = %+q, %v; want %+q", tt.in, got, err, tt.want)
			}
		})
	}
}

// TestUsernameKey lists usernames that are one username (same key) and
// usernames that are not.
func TestUsernameKey(t *testing.T) {
	same := []struct{ name, a, b string }{
		{"letter case", "chaos", "CHAOS"},
		{"letter case, mixed", "admin", "AdMiN"},
		{"fullwidth", "admin", "\uff41\uff44\uff4d\uff49\uff4e"},
		{"fullwidth capitals", "ADMIN", "\uff21\uff24\uff2d\uff29\uff2e"},
		{"mathematical bold", "admin", "\U0001d41a\U0001d41d\U0001d426\U0001d422\U0001d427"},
		{"rn looks like m", "admin", "adrnin"},
		{"capital I looks like l", "PayPal", "PayPaI"},
		{"capital I looks like l, any case", "paypal", "PAYPAI"},
		{"digit one looks like l", "lee", "1ee"},
		{"digit zero looks like O", "bob", "b0b"},
		{"all-Cyrillic look-alike", "chaos", "\u0441\u04bb\u0430\u043e\u0455"},
		{"all-Cyrillic look-alike in capitals", "chaos", "\u0421\u04ba\u0410\u041e\u0405"},
		{"all-Cyrillic capitals like Latin capitals", "HEAT", "\u041d\u0415\u0410\u0422"},
		{"all-Cyrillic look-alike of another word", "scope", "\u0455\u0441\u043e\u0440\u0435"},
		{"mixed-script look-alike", "admin", "\u0430dm\u0456n"},
		{"all-Greek capitals like Latin capitals", "IBM", "\u0399\u0392\u039c"},
		{"sharp s folds to ss", "strasse", "stra\u00dfe"},
		{"decomposed", "j\u00f6rg", "jo\u0308rg"},
		{"invisible characters do not count", "admin", "ad\u200bmin\u00ad"},
		{"Hangul filler does not count", "admin", "admin\u3164"},
		{"digits and punctuation", "bob_1.x-2", "BOB_1.X-2"},
	}
	for _, tt := range same {
		if ka, kb := UsernameKey(tt.a), UsernameKey(tt.b); ka != kb {
			t.Errorf("%s: UsernameKey(%+q) = %+q, UsernameKey(%+q) = %+q; want one key", tt.name, tt.a, ka, tt.b, kb)
		}
	}
	differ := []struct{ name, a, b string }{
		{"another letter", "admin", "admit"},
		{"one letter more", "chaos", "chaoss"},
		{"accent", "jorg", "j\u00f6rg"},
		{"punctuation", "bob.x", "bob_x"},
		{"Cyrillic word that does not look Latin", "ivan", "\u0438\u0432\u0430\u043d"},
		// Capital I is drawn like l, small i is not: letter case is the
		// stores' rule of its own, beside the key.
		{"a case pair the key keeps apart", "admin", "ADMIN"},
	}
	for _, tt := range differ {
		if ka, kb := UsernameKey(tt.a), UsernameKey(tt.b); ka == kb {
			t.Errorf("%s: UsernameKey(%+q) = UsernameKey(%+q) = %+q; want different keys", tt.name, tt.a, tt.b, ka)
		}
	}
}

// TestUsernameKeyIsStable pins keys as they are stored. If it fails after
// a dependency upgrade (the confusables or case-folding tables changed),
// the stored keys must be recomputed: a migration that sets username_key
// to NULL, which the backfill of internal/postgres fills again.
func TestUsernameKeyIsStable(t *testing.T) {
	tests := []struct{ in, want string }{
		{"admin", "adrnin"},
		{"ADMIN", "adrnln"},
		{"Admin_01", "adrnin_ol"},
		{"\u0441\u04bb\u0430\u043e\u0455", "chaos"},
		{"stra\u00dfe", "strasse"},
		{"j\u00f6rg", "jo\u0308rg"},
		{"\u03a3\u03bf\u03c6\u03af\u03b1", "\u0283o\u0278i\u0301a"},
		{"\u5c71\u7530\u305f\u308d\u3046", "\u5c71\u7530\u305f\u308d\u3046"},
		{"\u13a0\uab70", "d\u1d05"}, // Cherokee: x/text's Fold alone would flip-flop
	}
	for _, tt := range tests {
		if got := UsernameKey(tt.in); got != tt.want {
			t.Errorf("UsernameKey(%+q) = %+q, want %+q", tt.in, got, tt.want)
		}
	}
}

// TestUsernameKeyOfAKey checks that the key of a key is the key, for
// every letter and digit: UsernameKey reaches its fixed point.
func TestUsernameKeyOfAKey(t *testing.T) {
	for r := rune(0); r <= 0x1ffff; r++ {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			continue
		}
		k := UsernameKey(string(r))
		if again := UsernameKey(k); again != k {
			t.Errorf("UsernameKey(%U) = %+q, whose key is %+q", r, k, again)
		}
	}
}

func TestParseGeoLocation(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"", "", true},
		{" Berlin, DE ", "Berlin, DE", true},
		{"<b>Paris</b>", "<b>Paris</b>", true}, // stored as text; escaping is the renderer's job
		{strings.Repeat("x", 128), strings.Repeat("x", 128), true},
		{strings.Repeat("x", 129), "", false},
		{"Ber\x00lin", "", false},
		{"Ber\nlin", "", false},
	}
	for _, tt := range tests {
		got, err := ParseGeoLocation(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseGeoLocation(%q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
