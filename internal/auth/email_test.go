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
		{in: "jöRg@bücher.de", want: "jörg@bücher.de"},
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
