package auth

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

type listBlocklist map[string]bool

func (l listBlocklist) Contains(p string) bool { return l[p] }

func TestPasswordPolicy(t *testing.T) {
	policy := PasswordPolicy{MinLength: 8, Blocklist: listBlocklist{"password123": true}}
	email, _ := ParseEmail("carol.jones@example.com")
	tests := []struct {
		name     string
		in       string
		username string
		wantCode string
	}{
		{name: "plain 8 chars", in: "abcdefgh"},
		{name: "passphrase with spaces", in: "correct horse battery staple"},
		{name: "leading and trailing spaces kept", in: "  spaced out  "},
		{name: "unicode counted as characters", in: "пароль12"},
		{name: "emoji", in: "🔒🔒🔒🔒🔒🔒🔒🔒"},
		{name: "exactly 128", in: strings.Repeat("x", 128)},
		{name: "128 multibyte", in: strings.Repeat("ж", 128)},
		{name: "empty", in: "", wantCode: "required"},
		{name: "7 chars", in: "abcdefg", wantCode: "password_too_short"},
		{name: "7 multibyte chars", in: "жжжжжжж", wantCode: "password_too_short"},
		{name: "129 chars", in: strings.Repeat("x", 129), wantCode: "password_too_long"},
		{name: "huge", in: strings.Repeat("x", 100000), wantCode: "password_too_long"},
		{name: "NUL", in: "abc\x00defgh", wantCode: "password_invalid"},
		{name: "invalid utf-8", in: "abcdefgh\xff", wantCode: "password_invalid"},
		{name: "common", in: "Password123", wantCode: "password_too_common"},
		{name: "contains e-mail", in: "xCarol.Jones@example.com1", wantCode: "password_contains_identifier"},
		{name: "local part alone is fine", in: "my carol.jones pw"},
		{name: "contains username", in: "superbob99!", username: "Bob99", wantCode: "password_contains_identifier"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := policy.Check(tt.in, email, tt.username)
			if tt.wantCode == "" {
				if err != nil {
					t.Errorf("Check(%q) = %v, want ok", tt.in, err)
				}
				return
			}
			re, ok := err.(*RuleError)
			if !ok || re.Code != tt.wantCode {
				t.Errorf("Check(%q) = %v, want code %q", tt.in, err, tt.wantCode)
			}
		})
	}
}

func TestPasswordNFCNormalised(t *testing.T) {
	p := PasswordPolicy{MinLength: 8}
	nfc, err1 := p.Check("caf\u00e9-caf\u00e9", Email{}, "")
	nfd, err2 := p.Check("cafe\u0301-cafe\u0301", Email{}, "")
	if err1 != nil || err2 != nil {
		t.Fatalf("Check errors: %v, %v", err1, err2)
	}
	if nfc.Plaintext() != nfd.Plaintext() {
		t.Errorf("NFC %q and NFD %q normalise differently", nfc.Plaintext(), nfd.Plaintext())
	}
	if CandidatePassword("cafe\u0301-cafe\u0301").Plaintext() != nfc.Plaintext() {
		t.Error("CandidatePassword does not normalise like the policy")
	}
}

func TestPasswordNeverPrinted(t *testing.T) {
	p, err := PasswordPolicy{MinLength: 8}.Check("s3cret-value", Email{}, "")
	if err != nil {
		t.Fatal(err)
	}
	var buf strings.Builder
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "password", p)
	for _, s := range []string{fmt.Sprint(p), fmt.Sprintf("%v %+v %s", p, p, p), buf.String()} {
		if strings.Contains(s, "s3cret") {
			t.Errorf("password leaked in %q", s)
		}
	}
}
