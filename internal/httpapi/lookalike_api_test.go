package httpapi_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// Look-alike identities (issue 10, #12): an address with invisible
// characters, the same domain as Unicode and as punycode, and usernames in
// fullwidth, Cyrillic or mixed-script letters each used to get an account
// of their own beside the one they imitate.

const lookalikePassword = "correct horse battery staple"

// lookalikeSuffix makes the names of one test run unique in the shared
// database; digits only, so that it is the same in every script.
func lookalikeSuffix() string {
	userSeq++
	return strconv.FormatInt(userSeq%10_000_000_000, 10)
}

// identitiesWithEmail counts the stored identities with that address.
func identitiesWithEmail(t *testing.T, email string) int {
	t.Helper()
	var n int
	if err := testDB.Pool().QueryRow(context.Background(), `SELECT count(*) FROM identities WHERE email = $1`, email).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// wantFieldError checks a problem's status, code and its one field error.
func wantFieldError(t *testing.T, r response, status int, code, field, fieldCode string) {
	t.Helper()
	wantStatus(t, r, status)
	p := r.problem(t)
	if p.Code != code || len(p.Errors) != 1 || p.Errors[0].Field != field || p.Errors[0].Code != fieldCode {
		t.Errorf("problem = %+v; want %s with one error %s/%s", p, code, field, fieldCode)
	}
}

// TestLookalikeEmailsAreRefused: invisible characters are refused with the
// field named, and the Unicode and punycode forms of a domain are one
// address, so the second registration is the duplicate it is.
func TestLookalikeEmailsAreRefused(t *testing.T) {
	ts := newServer(t, serverOptions{})
	local := "idn" + lookalikeSuffix()
	canonical := local + "@xn--bcher-kva.example"
	first := ts.client().do(http.MethodPost, "/api/v1/auth/register", map[string]string{
		"identifier": local + "@b\u00fccher.example", "password": lookalikePassword,
	})
	wantStatus(t, first, http.StatusCreated)
	owner := first.profile(t)
	if owner.Email != canonical {
		t.Errorf("profile email = %q, want the A-label form %q", owner.Email, canonical)
	}

	invisible := []struct{ name, email string }{
		{"zero-width space", "ad\u200bmin." + local + "@example.com"},
		{"zero-width joiner", "admin\u200d." + local + "@example.com"},
		{"soft hyphen", "ad\u00admin." + local + "@example.com"},
		{"right-to-left override", "\u202enimda." + local + "@example.com"},
		{"byte order mark", "\ufeffadmin." + local + "@example.com"},
		{"soft hyphen in the domain", "admin." + local + "@exam\u00adple.com"},
		{"zero-width joiner in the domain", local + "@bu\u200dcher.example"},
	}
	for _, tt := range invisible {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.client().do(http.MethodPost, "/api/v1/auth/register", map[string]string{"identifier": tt.email, "password": lookalikePassword})
			wantFieldError(t, r, http.StatusUnprocessableEntity, "invalid_input", "identifier", "email_invalid")
			if p := r.problem(t); len(p.Errors) == 1 && !strings.Contains(p.Errors[0].Message, "invisible") {
				t.Errorf("message %q does not say why", p.Errors[0].Message)
			}
		})
	}

	duplicates := []struct{ name, email string }{
		{"punycode form", canonical},
		{"punycode in capitals", strings.ToUpper(canonical)},
		{"Unicode in capitals", strings.ToUpper(local) + "@B\u00dcCHER.example"},
		{"Unicode decomposed (NFD)", local + "@bu\u0308cher.example"},
		{"fullwidth domain", local + "@\uff42\u00fc\uff43\uff48\uff45\uff52.example"},
	}
	for _, tt := range duplicates {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.client().do(http.MethodPost, "/api/v1/auth/register", map[string]string{"identifier": tt.email, "password": "another long password"})
			wantFieldError(t, r, http.StatusConflict, "email_taken", "identifier", "email_taken")
			if r.Header.Get("Set-Cookie") != "" {
				t.Error("a refused registration set a cookie")
			}
		})
	}
	if n := identitiesWithEmail(t, canonical); n != 1 {
		t.Errorf("%d identities with %s, want 1", n, canonical)
	}

	// Either form logs in to the one account.
	for _, typed := range []string{canonical, local + "@b\u00fccher.example"} {
		r := ts.client().do(http.MethodPost, "/api/v1/auth/login", credentials{Identifier: typed, Password: lookalikePassword})
		wantStatus(t, r, http.StatusOK)
		if got := r.profile(t).ID; got != owner.ID {
			t.Errorf("login as %q reached %s, want %s", typed, got, owner.ID)
		}
	}
}

// TestLookalikeUsernamesAreRefused: fullwidth, Cyrillic and other
// look-alikes of a username are that username (409), invisible characters
// and mixed scripts are refused (422), at registration and in settings.
func TestLookalikeUsernamesAreRefused(t *testing.T) {
	ts := newServer(t, serverOptions{})
	sfx := lookalikeSuffix()
	register := func(username string) response {
		return ts.client().do(http.MethodPost, "/api/v1/auth/register", map[string]string{
			"identifier": newEmail("lookalike"), "password": lookalikePassword, "username": username,
		})
	}
	wantStatus(t, register("admin_"+sfx), http.StatusCreated)
	chaos := ts.client()
	wantStatus(t, chaos.do(http.MethodPost, "/api/v1/auth/register", map[string]string{
		"identifier": newEmail("chaos"), "password": lookalikePassword, "username": "chaos_" + sfx,
	}), http.StatusCreated)

	tests := []struct {
		name     string
		username string
		status   int
		code     string // of the problem; the field error's is fieldCode
		fieldErr string
	}{
		{"fullwidth", "\uff41\uff44\uff4d\uff49\uff4e_" + sfx, http.StatusConflict, "username_taken", "username_taken"},
		{"fullwidth capitals and digits", "\uff21\uff24\uff2d\uff29\uff2e_" + fullwidthDigits(sfx), http.StatusConflict, "username_taken", "username_taken"},
		{"mathematical bold", "\U0001d41a\U0001d41d\U0001d426\U0001d422\U0001d427_" + sfx, http.StatusConflict, "username_taken", "username_taken"},
		{"rn for m", "adrnin_" + sfx, http.StatusConflict, "username_taken", "username_taken"},
		{"all-Cyrillic look-alike", "\u0441\u04bb\u0430\u043e\u0455_" + sfx, http.StatusConflict, "username_taken", "username_taken"},
		{"all-Cyrillic capitals", "\u0421\u04ba\u0410\u041e\u0405_" + sfx, http.StatusConflict, "username_taken", "username_taken"},
		{"digit zero for o", "cha0s_" + sfx, http.StatusConflict, "username_taken", "username_taken"},
		{"Cyrillic a and i among Latin letters", "\u0430dm\u0456n_" + sfx, http.StatusUnprocessableEntity, "invalid_input", "username_invalid"},
		{"Greek omicron among Latin letters", "cha\u03bfs_" + sfx, http.StatusUnprocessableEntity, "invalid_input", "username_invalid"},
		{"zero-width space", "ad\u200bmin_" + sfx, http.StatusUnprocessableEntity, "invalid_input", "username_invalid"},
		{"zero-width joiner", "admin\u200d_" + sfx, http.StatusUnprocessableEntity, "invalid_input", "username_invalid"},
		{"soft hyphen", "ad\u00admin_" + sfx, http.StatusUnprocessableEntity, "invalid_input", "username_invalid"},
		{"right-to-left override", "\u202eadmin_" + sfx, http.StatusUnprocessableEntity, "invalid_input", "username_invalid"},
		{"Hangul filler", "admin\u3164_" + sfx, http.StatusUnprocessableEntity, "invalid_input", "username_invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			email := newEmail("lookalike")
			r := ts.client().do(http.MethodPost, "/api/v1/auth/register", map[string]string{
				"identifier": email, "password": lookalikePassword, "username": tt.username,
			})
			wantFieldError(t, r, tt.status, tt.code, "username", tt.fieldErr)
			if n := identitiesWithEmail(t, email); n != 0 {
				t.Errorf("the refused registration made %d identities", n)
			}
		})
	}

	// The same rules in settings.
	settings := []struct {
		name, username string
		status         int
		code, fieldErr string
	}{
		{"fullwidth of another's", "\uff41\uff44\uff4d\uff49\uff4e_" + sfx, http.StatusConflict, "username_taken", "username_taken"},
		{"rn for m, another's", "adrnin_" + sfx, http.StatusConflict, "username_taken", "username_taken"},
		{"mixed scripts", "\u0430dmin_" + sfx, http.StatusUnprocessableEntity, "invalid_input", "username_invalid"},
	}
	for _, tt := range settings {
		t.Run("settings: "+tt.name, func(t *testing.T) {
			r := chaos.do(http.MethodPut, "/api/v1/auth/settings", map[string]any{"method": "profile", "traits": map[string]any{"username": tt.username}})
			field := "traits.username"
			if tt.status == http.StatusConflict {
				field = "username" // the conflict names the trait as register does
			}
			wantFieldError(t, r, tt.status, tt.code, field, tt.fieldErr)
		})
	}
	// Her own look-alike is still her username.
	r := chaos.do(http.MethodPut, "/api/v1/auth/settings", map[string]any{"method": "profile", "traits": map[string]any{"username": "\u0441\u04bb\u0430\u043e\u0455_" + sfx}})
	wantStatus(t, r, http.StatusOK)
}

// TestLookalikesInStrictRegistration: in the strict mode the punycode form
// of a taken address is a taken address (202 like any registration, the
// owner mailed, no second account), and a look-alike username makes no
// account either.
func TestLookalikesInStrictRegistration(t *testing.T) {
	ts := newServer(t, serverOptions{env: map[string]string{"REGISTRATION_MODE": "strict"}})
	sfx := lookalikeSuffix()
	local := "strictidn" + sfx
	canonical := local + "@xn--bcher-kva.example"
	first := ts.client().do(http.MethodPost, "/api/v1/auth/register", map[string]string{
		"identifier": local + "@b\u00fccher.example", "password": lookalikePassword, "username": "admin_" + sfx,
	})
	wantStatus(t, first, http.StatusAccepted)
	second := ts.client().do(http.MethodPost, "/api/v1/auth/register", map[string]string{
		"identifier": canonical, "password": "another long password",
	})
	wantStatus(t, second, http.StatusAccepted)
	sameReply(t, first, second)
	if n := identitiesWithEmail(t, canonical); n != 1 {
		t.Errorf("%d identities with %s, want 1", n, canonical)
	}
	if _, err := testSink.WaitFor(canonical, "sign up", mailWait); err != nil {
		t.Errorf("the owner of the address was not told of the second registration: %v", err)
	}

	email := newEmail("strictlookalike")
	r := ts.client().do(http.MethodPost, "/api/v1/auth/register", map[string]string{
		"identifier": email, "password": lookalikePassword, "username": "\uff41\uff44\uff4d\uff49\uff4e_" + sfx,
	})
	wantStatus(t, r, http.StatusAccepted)
	if n := identitiesWithEmail(t, email); n != 0 {
		t.Errorf("a registration with a look-alike username made %d identities", n)
	}
}

// fullwidthDigits writes the ASCII digits of s as fullwidth digits.
func fullwidthDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if '0' <= r && r <= '9' {
			return r - '0' + '\uff10'
		}
		return r
	}, s)
}
