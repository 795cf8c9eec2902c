package auth

import (
	"strings"
	"testing"
)

func TestParseEmail(t *testing.T) {
	tests := []struct {
		in       string
		want     string
		wantCode string
	}{
		{in: "alice@example.com", want: "alice@example.com"},
		{in: "  Alice@Example.COM \t", want: "alice@example.com"},
		{in: "first.last+tag@sub.example.org", want: "first.last+tag@sub.example.org"},
		{in: "jöRg@bücher.de", want: "jörg@xn--bcher-kva.de"},  // the domain in A-labels
		{in: "jo\u0308rg@example.de", want: "jörg@example.de"}, // NFD input normalised to NFC
		{in: "", wantCode: "required"},
		{in: "   ", wantCode: "required"},
		{in: "alice", wantCode: "email_invalid"},
		{in: "@example.com", wantCode: "email_invalid"},
		{in: "alice@", wantCode: "email_invalid"},
		{in: "alice@localhost", wantCode: "email_invalid"},
		{in: "alice@@example.com", wantCode: "email_invalid"},
		{in: "a@b@example.com", wantCode: "email_invalid"},
		{in: "al ice@example.com", wantCode: "email_invalid"},
		{in: "alice@exa mple.com", wantCode: "email_invalid"},
		{in: "alice\x00@example.com", wantCode: "email_invalid"},
		{in: "Alice <alice@example.com>", wantCode: "email_invalid"},
		{in: "alice@-example.com", wantCode: "email_invalid"},
		{in: "alice@example..com", wantCode: "email_invalid"},
		{in: "\"quoted\"@example.com", wantCode: "email_invalid"},
		{in: "<script>@example.com", wantCode: "email_invalid"},
		{in: "x@" + strings.Repeat("a", 250) + ".com", wantCode: "email_too_long"},
		{in: strings.Repeat("a", 65) + "@example.com", wantCode: "email_invalid"},
		{in: strings.Repeat("a", 10000) + "@example.com", wantCode: "email_too_long"},
		{in: "bad\xffutf8@example.com", wantCode: "email_invalid"},
	}
	for _, tt := range tests {
		got, err := ParseEmail(tt.in)
		if tt.wantCode != "" {
			re, ok := err.(*RuleError)
			if !ok || re.Code != tt.wantCode {
				t.Errorf("ParseEmail(%q) error = %v, want code %q", tt.in, err, tt.wantCode)
			}
			continue
		}
		if err != nil || got.String() != tt.want {
			t.Errorf("ParseEmail(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestEmailLocal(t *testing.T) {
	e, err := ParseEmail("Bob.Smith@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if got := e.Local(); got != "bob.smith" {
		t.Errorf("Local() = %q, want %q", got, "bob.smith")
	}
}

// TestParseEmailLookalikes covers the look-alike addresses of issue 10
// (#12): invisible characters are refused wherever they are, and every
// spelling of an internationalised domain is one address, its A-label form.
func TestParseEmailLookalikes(t *testing.T) {
	const invisibleMessage = "invisible characters"
	tests := []struct {
		name     string
		in       string
		want     string // the canonical form, when accepted
		wantCode string
		wantText string // part of the message, when refused
	}{
		// Invisible characters, in the local part and in the domain.
		{name: "zero-width space", in: "ad\u200bmin@example.com", wantCode: "email_invalid", wantText: invisibleMessage},
		{name: "zero-width joiner", in: "admin\u200d@example.com", wantCode: "email_invalid", wantText: invisibleMessage},
		{name: "zero-width non-joiner", in: "ad\u200cmin@example.com", wantCode: "email_invalid", wantText: invisibleMessage},
		{name: "soft hyphen", in: "ad\u00admin@example.com", wantCode: "email_invalid", wantText: invisibleMessage},
		{name: "right-to-left override", in: "\u202enimda@example.com", wantCode: "email_invalid", wantText: invisibleMessage},
		{name: "left-to-right mark", in: "admin\u200e@example.com", wantCode: "email_invalid", wantText: invisibleMessage},
		{name: "byte order mark first", in: "\ufeffadmin@example.com", wantCode: "email_invalid", wantText: invisibleMessage},
		{name: "word joiner", in: "ad\u2060min@example.com", wantCode: "email_invalid", wantText: invisibleMessage},
		{name: "Arabic letter mark", in: "admin\u061c@example.com", wantCode: "email_invalid", wantText: invisibleMessage},
		{name: "tag character", in: "admin\U000E0041@example.com", wantCode: "email_invalid", wantText: invisibleMessage},
		{name: "Hangul filler", in: "admin\u3164@example.com", wantCode: "email_invalid", wantText: invisibleMessage},
		{name: "combining grapheme joiner", in: "adm\u034fin@example.com", wantCode: "email_invalid", wantText: invisibleMessage},
		{name: "variation selector", in: "admin\ufe0f@example.com", wantCode: "email_invalid", wantText: invisibleMessage},
		{name: "Braille blank", in: "admin\u2800@example.com", wantCode: "email_invalid", wantText: invisibleMessage},
		{name: "soft hyphen in the domain", in: "admin@exam\u00adple.com", wantCode: "email_invalid", wantText: invisibleMessage},
		{name: "zero-width joiner in the domain", in: "admin@bu\u200dcher.example", wantCode: "email_invalid", wantText: invisibleMessage},
		{name: "zero-width space in the domain", in: "admin@example\u200b.com", wantCode: "email_invalid", wantText: invisibleMessage},

		// One domain, however it is spelt.
		{name: "U-label domain", in: "a@b\u00fccher.example", want: "a@xn--bcher-kva.example"},
		{name: "A-label domain", in: "a@xn--bcher-kva.example", want: "a@xn--bcher-kva.example"},
		{name: "A-label in capitals", in: "a@XN--BCHER-KVA.EXAMPLE", want: "a@xn--bcher-kva.example"},
		{name: "U-label in capitals", in: "A@B\u00dcCHER.EXAMPLE", want: "a@xn--bcher-kva.example"},
		{name: "U-label decomposed (NFD)", in: "a@bu\u0308cher.example", want: "a@xn--bcher-kva.example"},
		{name: "fullwidth letters", in: "a@\uff42\u00fc\uff43\uff48\uff45\uff52.example", want: "a@xn--bcher-kva.example"},
		{name: "ideographic full stop", in: "a@b\u00fccher\u3002example", want: "a@xn--bcher-kva.example"},
		{name: "sharp s is not ss (non-transitional)", in: "a@fa\u00df.example", want: "a@xn--fa-hia.example"},
		{name: "non-ASCII local part is kept", in: "J\u00d6RG@b\u00fccher.example", want: "j\u00f6rg@xn--bcher-kva.example"},

		// Invalid internationalised domains.
		{name: "invalid punycode", in: "a@xn--a.example", wantCode: "email_invalid"},
		{name: "A-label of a capital (bÜcher)", in: "a@xn--bcher-2pa.example", wantCode: "email_invalid"},
		{name: "A-label of a fullwidth letter (bｕcher)", in: "a@xn--bcher-ss33a.example", wantCode: "email_invalid"},
		{name: "bidi rule (Hebrew and Latin in a label)", in: "a@\u05d0a.example", wantCode: "email_invalid"},
		{name: "hyphens in positions 3 and 4", in: "a@ab--cd.example", wantCode: "email_invalid"},
		{name: "underscore (STD3)", in: "a@ex_ample.com", wantCode: "email_invalid"},
		{name: "punctuation (STD3)", in: "a@exa!mple.com", wantCode: "email_invalid"},
		{name: "A-label longer than 63", in: "a@" + strings.Repeat("\u00fc", 60) + ".example", wantCode: "email_invalid"},

		// The limit is on the canonical form: punycode lengthens the address.
		{name: "short as typed, too long as A-labels", in: "a@" + strings.Repeat("b\u00fccher.", 30) + "example", wantCode: "email_too_long"},
		{name: "at the limit as A-labels", in: "a@" + strings.Repeat("b\u00fccher.", 17) + "xxxxxx.example", want: "a@" + strings.Repeat("xn--bcher-kva.", 17) + "xxxxxx.example"}, // 254 bytes
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEmail(tt.in)
			if tt.wantCode != "" {
				re, ok := err.(*RuleError)
				if !ok || re.Code != tt.wantCode || !strings.Contains(re.Message, tt.wantText) {
					t.Errorf("ParseEmail(%+q) = %q, %v; want code %q with %q", tt.in, got, err, tt.wantCode, tt.wantText)
				}
				return
			}
			if err != nil || got.String() != tt.want {
				t.Fatalf("ParseEmail(%+q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
			if len(got.String()) > MaxEmailLength {
				t.Errorf("ParseEmail(%+q) accepted %d bytes", tt.in, len(got.String()))
			}
			if again, err := ParseEmail(got.String()); err != nil || again != got {
				t.Errorf("ParseEmail(%q) = %q, %v; the canonical form must parse to itself", got, again, err)
			}
		})
	}
}

func TestEmailUnicode(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a@b\u00fccher.example", "a@b\u00fccher.example"},
		{"a@xn--bcher-kva.example", "a@b\u00fccher.example"},
		{"alice@example.com", "alice@example.com"},
	}
	for _, tt := range tests {
		e, err := ParseEmail(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.Unicode(); got != tt.want {
			t.Errorf("ParseEmail(%q).Unicode() = %q, want %q", tt.in, got, tt.want)
		}
	}
}
