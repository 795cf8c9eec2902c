package httpapi_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/internal/auth"
)

// meBody is /me's reply: the profile with the level and the factors.
type meBody struct {
	profileBody
	AAL     string `json:"aal"`
	Factors struct {
		TOTP              bool `json:"totp"`
		Passkeys          int  `json:"passkeys"`
		RecoveryCodesLeft int  `json:"recovery_codes_left"`
	} `json:"factors"`
}

func (r response) me(t *testing.T) meBody {
	t.Helper()
	var m meBody
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("me body %q: %v", r.body, err)
	}
	return m
}

// methodsOf is the methods member of a second_factor_required reply.
func methodsOf(t *testing.T, r response) []string {
	t.Helper()
	var p struct {
		Code                 string   `json:"code"`
		SecondFactorRequired bool     `json:"second_factor_required"`
		Methods              []string `json:"methods"`
	}
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	if p.Code != "second_factor_required" && !p.SecondFactorRequired {
		t.Fatalf("body %s does not ask for a second factor", r.body)
	}
	return p.Methods
}

func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	code, err := auth.TOTPCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// enrolTOTP sets up and confirms TOTP for c's session at the clock's
// time and returns the secret and the recovery codes.
func enrolTOTP(t *testing.T, c *client, clk *clock) (string, []string) {
	t.Helper()
	r := c.do(http.MethodPost, "/api/v1/auth/mfa/totp/setup", nil)
	wantStatus(t, r, http.StatusOK)
	var setup struct {
		Secret     string `json:"secret"`
		OTPAuthURL string `json:"otpauth_url"`
		QRCode     string `json:"qr_code"`
	}
	if err := json.Unmarshal(r.body, &setup); err != nil {
		t.Fatal(err)
	}
	if len(setup.Secret) != 32 { // 160 bits in base32
		t.Errorf("secret %q is not 160 bits", setup.Secret)
	}
	if !strings.HasPrefix(setup.OTPAuthURL, "otpauth://totp/") || !strings.Contains(setup.OTPAuthURL, "secret="+setup.Secret) ||
		!strings.Contains(setup.OTPAuthURL, "period=30") || !strings.Contains(setup.OTPAuthURL, "digits=6") {
		t.Errorf("otpauth URL %q", setup.OTPAuthURL)
	}
	if !strings.HasPrefix(setup.QRCode, "data:image/png;base64,iVBOR") {
		t.Errorf("QR code is not a PNG data URL: %.40s", setup.QRCode)
	}
	r = c.do(http.MethodPost, "/api/v1/auth/mfa/totp/confirm", map[string]string{"code": totpCode(t, setup.Secret, clk.Now())})
	wantStatus(t, r, http.StatusOK)
	var codes struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	if err := json.Unmarshal(r.body, &codes); err != nil {
		t.Fatal(err)
	}
	if len(codes.RecoveryCodes) != 10 {
		t.Fatalf("%d recovery codes, want 10", len(codes.RecoveryCodes))
	}
	return setup.Secret, codes.RecoveryCodes
}

// passwordLogin logs a fresh client in with the password and returns it
// with its session owing the second step.
func passwordLogin(t *testing.T, ts *testServer, cr credentials) *client {
	t.Helper()
	c := ts.client()
	r := c.do(http.MethodPost, "/api/v1/auth/login", cr)
	wantStatus(t, r, http.StatusOK)
	if m := methodsOf(t, r); !slices.Contains(m, "totp") {
		t.Fatalf("methods = %v, want totp among them", m)
	}
	return c
}

func secondStep(c *client, method, code string) response {
	return c.do(http.MethodPost, "/api/v1/auth/login/second-factor", map[string]string{"method": method, "code": code})
}

func wantCode(t *testing.T, r response, status int, code string) {
	t.Helper()
	wantStatus(t, r, status)
	if p := r.problem(t); p.Code != code {
		t.Fatalf("%s %s: code = %s, want %s", r.Request.Method, r.Request.URL.Path, p.Code, code)
	}
}

func TestTOTPEnrolmentAndLogin(t *testing.T) {
	clk := &clock{now: time.Now()}
	ts := newServer(t, serverOptions{now: clk.Now})
	c := ts.client()
	cr := c.register(t)
	if m := c.do(http.MethodGet, "/api/v1/auth/me", nil).me(t); m.AAL != "aal1" || m.Factors.TOTP {
		t.Fatalf("before enrolment: %+v", m)
	}
	secret, codes := enrolTOTP(t, c, clk)
	m := c.do(http.MethodGet, "/api/v1/auth/me", nil).me(t)
	if m.AAL != "aal2" || !m.Factors.TOTP || m.Factors.RecoveryCodesLeft != 10 {
		t.Errorf("after enrolment: aal %s, factors %+v; want aal2, totp, 10 codes", m.AAL, m.Factors)
	}
	if _, err := testSink.WaitFor(cr.Identifier, "sign-in factor was added", mailWait); err != nil {
		t.Errorf("no notice of the new factor: %v", err)
	}
	wantCode(t, c.do(http.MethodPost, "/api/v1/auth/mfa/totp/setup", nil), http.StatusConflict, "totp_already_enabled")

	t.Run("a password alone owes the second step", func(t *testing.T) {
		p := passwordLogin(t, ts, cr)
		r := p.do(http.MethodGet, "/api/v1/auth/me", nil)
		wantCode(t, r, http.StatusForbidden, "second_factor_required")
		if got := methodsOf(t, r); !slices.Equal(got, []string{"totp", "recovery_code"}) {
			t.Errorf("methods = %v", got)
		}
	})

	t.Run("the code that confirmed the enrolment cannot log in", func(t *testing.T) {
		p := passwordLogin(t, ts, cr)
		wantCode(t, secondStep(p, "totp", totpCode(t, secret, clk.Now())), http.StatusUnprocessableEntity, "invalid_input")
	})

	clk.Advance(30 * time.Second)
	t.Run("a valid code raises the session to aal2 with a new id", func(t *testing.T) {
		p := passwordLogin(t, ts, cr)
		pending := p.sessionToken()
		code := totpCode(t, secret, clk.Now())
		r := secondStep(p, "totp", code)
		wantStatus(t, r, http.StatusOK)
		if got := r.me(t); got.AAL != "aal2" {
			t.Errorf("aal = %s", got.AAL)
		}
		if p.sessionToken() == pending {
			t.Error("the session kept its id across the second step")
		}
		old := ts.client()
		old.setSessionToken(pending)
		wantStatus(t, old.do(http.MethodGet, "/api/v1/auth/me", nil), http.StatusUnauthorized)
		if got := p.do(http.MethodGet, "/api/v1/auth/me", nil).me(t); got.AAL != "aal2" {
			t.Errorf("me after the second step: aal %s", got.AAL)
		}

		// The same code, inside its 30 s and inside the skew, is refused.
		again := passwordLogin(t, ts, cr)
		wantCode(t, secondStep(again, "totp", code), http.StatusUnprocessableEntity, "invalid_input")
	})

	t.Run("one step of skew each way, not two", func(t *testing.T) {
		clk.Advance(5 * time.Minute)
		now := clk.Now()
		tests := []struct {
			name string
			at   time.Time
			ok   bool
		}{
			{"two steps behind", now.Add(-60 * time.Second), false},
			{"one step behind", now.Add(-30 * time.Second), true},
			{"one step ahead", now.Add(30 * time.Second), true},
			{"two steps ahead", now.Add(90 * time.Second), false},
		}
		for _, tt := range tests {
			p := passwordLogin(t, ts, cr)
			r := secondStep(p, "totp", totpCode(t, secret, tt.at))
			if got := r.StatusCode == http.StatusOK; got != tt.ok {
				t.Errorf("%s: status %d, want ok=%v", tt.name, r.StatusCode, tt.ok)
			}
		}
		// "one step ahead" used the latest step: every earlier one is
		// used up with it, the current one included.
		p := passwordLogin(t, ts, cr)
		wantStatus(t, secondStep(p, "totp", totpCode(t, secret, now)), http.StatusUnprocessableEntity)
	})

	t.Run("recovery codes are single use", func(t *testing.T) {
		p := passwordLogin(t, ts, cr)
		// As typed from paper: upper case, spaces for dashes.
		typed := strings.ToUpper(strings.ReplaceAll(codes[0], "-", " "))
		r := secondStep(p, "recovery_code", typed)
		wantStatus(t, r, http.StatusOK)
		if got := r.me(t); got.AAL != "aal2" || got.Factors.RecoveryCodesLeft != 9 {
			t.Errorf("after a recovery code: aal %s, %d left", got.AAL, got.Factors.RecoveryCodesLeft)
		}
		if _, err := testSink.WaitFor(cr.Identifier, "recovery code was used", mailWait); err != nil {
			t.Errorf("no notice of the used code: %v", err)
		}
		again := passwordLogin(t, ts, cr)
		wantCode(t, secondStep(again, "recovery_code", codes[0]), http.StatusUnprocessableEntity, "invalid_input")
	})

	t.Run("a new set voids the old", func(t *testing.T) {
		a := passwordLogin(t, ts, cr)
		wantStatus(t, secondStep(a, "recovery_code", codes[1]), http.StatusOK)
		r := a.do(http.MethodPost, "/api/v1/auth/mfa/recovery-codes", nil)
		wantStatus(t, r, http.StatusOK)
		var fresh struct {
			RecoveryCodes []string `json:"recovery_codes"`
		}
		if err := json.Unmarshal(r.body, &fresh); err != nil || len(fresh.RecoveryCodes) != 10 {
			t.Fatalf("new codes %s: %v", r.body, err)
		}
		if got := a.do(http.MethodGet, "/api/v1/auth/me", nil).me(t).Factors.RecoveryCodesLeft; got != 10 {
			t.Errorf("%d codes left after a new set, want 10", got)
		}
		b := passwordLogin(t, ts, cr)
		wantStatus(t, secondStep(b, "recovery_code", codes[2]), http.StatusUnprocessableEntity)
		wantStatus(t, secondStep(b, "recovery_code", fresh.RecoveryCodes[0]), http.StatusOK)
	})
}

// TestWrongCodesAreThrottledLikePasswords: with the same lock-out
// settings, wrong TOTP codes after a right password lock the account out
// after exactly as many attempts as wrong passwords do, and a right
// password in between does not reset the count.
func TestWrongCodesAreThrottledLikePasswords(t *testing.T) {
	clk := &clock{now: time.Now()}
	ts := newServer(t, serverOptions{now: clk.Now, env: testLockout})

	attemptsUntilLocked := func(try func() response) int {
		for n := 1; n <= 20; n++ {
			if try().StatusCode == http.StatusTooManyRequests {
				return n
			}
		}
		return -1
	}
	pw := ts.client().register(t)
	passwords := attemptsUntilLocked(func() response {
		return ts.client().do(http.MethodPost, "/api/v1/auth/login", credentials{Identifier: pw.Identifier, Password: "not the password"})
	})

	c := ts.client()
	cr := c.register(t)
	secret, _ := enrolTOTP(t, c, clk)
	wrong := "000000"
	if totpCode(t, secret, clk.Now().Add(-30*time.Second)) == wrong || totpCode(t, secret, clk.Now()) == wrong || totpCode(t, secret, clk.Now().Add(30*time.Second)) == wrong {
		wrong = "999999" // never both: the three codes are one
	}
	codes := attemptsUntilLocked(func() response {
		// A fresh right password before every wrong code: once the
		// codes have locked the account, it is the password that is
		// refused.
		p := ts.client()
		if r := p.do(http.MethodPost, "/api/v1/auth/login", cr); r.StatusCode != http.StatusOK {
			return r
		}
		return secondStep(p, "totp", wrong)
	})
	if passwords != 5 || codes != passwords {
		t.Errorf("locked after %d wrong passwords and %d wrong codes; want both 5 (3 free, the 4th locks)", passwords, codes)
	}
	// Locked: the right password is refused as well, as with passwords.
	wantCode(t, ts.client().do(http.MethodPost, "/api/v1/auth/login", cr), http.StatusTooManyRequests, "rate_limited")
}

// TestPendingSessionCanOnlyFinishTheLogin walks every route of the API
// with a session that owes its second factor: only the second step, the
// passkey sign-in, /me (403), login and logout take it. A new route gets
// the same treatment unless it is added to the list on purpose.
func TestPendingSessionCanOnlyFinishTheLogin(t *testing.T) {
	clk := &clock{now: time.Now()}
	ts := newServer(t, serverOptions{now: clk.Now})
	c := ts.client()
	cr := c.register(t)
	enrolTOTP(t, c, clk)
	p := passwordLogin(t, ts, cr)
	p.noContract = true // bodies are {} everywhere; what counts is the gate

	allowed := map[string]bool{
		"POST /api/v1/auth/login":                 true,
		"POST /api/v1/auth/login/second-factor":   true,
		"POST /api/v1/auth/passkeys/login/begin":  true,
		"POST /api/v1/auth/passkeys/login/finish": true,
		"POST /api/v1/auth/logout":                true,
		"GET /api/v1/auth/me":                     true, // answers 403 itself, with the methods
	}
	checked := 0
	for _, route := range routesOf(ts) {
		method, path, _ := strings.Cut(route, " ")
		if !strings.HasPrefix(path, "/api/v1/auth/") || allowed[route] {
			continue
		}
		path = strings.ReplaceAll(path, "{id}", "0190b2a4-6f1e-7c3a-9d2e-5b8f4a1c2d3e")
		var body any
		if method != http.MethodGet && method != http.MethodDelete {
			body = map[string]any{}
		}
		r := p.do(method, path, body)
		if r.StatusCode != http.StatusForbidden || r.problem(t).Code != "second_factor_required" {
			t.Errorf("%s with a pending session: %d %s, want 403 second_factor_required", route, r.StatusCode, r.body)
		}
		checked++
	}
	if checked < 20 {
		t.Errorf("only %d routes checked", checked)
	}
	wantCode(t, p.do(http.MethodGet, "/api/v1/auth/me", nil), http.StatusForbidden, "second_factor_required")
	wantStatus(t, p.do(http.MethodPost, "/api/v1/auth/logout", nil), http.StatusNoContent)
	wantStatus(t, p.do(http.MethodGet, "/api/v1/auth/me", nil), http.StatusUnauthorized)
}

// TestPrivilegedRoutesNeedTheHighestLevel: an account with TOTP changes
// credentials and factors only from an aal2 session whose last factor is
// recent; an older aal1 session (from before TOTP) can step up.
func TestPrivilegedRoutesNeedTheHighestLevel(t *testing.T) {
	clk := &clock{now: time.Now()}
	ts := newServer(t, serverOptions{now: clk.Now})
	c := ts.client()
	cr := c.register(t)
	older := ts.client() // an aal1 session from before the enrolment
	wantStatus(t, older.do(http.MethodPost, "/api/v1/auth/login", cr), http.StatusOK)
	secret, _ := enrolTOTP(t, c, clk)

	privileged := []struct {
		method, path string
		body         any
	}{
		{http.MethodPut, "/api/v1/auth/settings", map[string]string{"method": "password", "password": "a brand new passphrase", "current_password": cr.Password}},
		{http.MethodDelete, "/api/v1/auth/mfa/totp", nil},
		{http.MethodPost, "/api/v1/auth/mfa/recovery-codes", nil},
		{http.MethodPost, "/api/v1/auth/passkeys/register/begin", nil},
		{http.MethodPost, "/api/v1/auth/mfa/totp/setup", nil},
	}
	for _, p := range privileged {
		wantCode(t, older.do(p.method, p.path, p.body), http.StatusForbidden, "second_factor_required")
	}
	// The profile is not a credential: the aal1 session may change it.
	wantStatus(t, older.do(http.MethodPut, "/api/v1/auth/settings", map[string]any{"method": "profile", "traits": map[string]string{"geo_location": "Lyon"}}), http.StatusOK)

	clk.Advance(16 * time.Minute) // past PRIVILEGED_WINDOW (15m)
	wantCode(t, c.do(http.MethodDelete, "/api/v1/auth/mfa/totp", nil), http.StatusForbidden, "reauth_required")
	wantCode(t, c.do(http.MethodPost, "/api/v1/auth/mfa/recovery-codes", nil), http.StatusForbidden, "reauth_required")

	// The older session steps up with a code and may then remove TOTP.
	wantStatus(t, secondStep(older, "totp", totpCode(t, secret, clk.Now())), http.StatusOK)
	wantStatus(t, older.do(http.MethodDelete, "/api/v1/auth/mfa/totp", nil), http.StatusNoContent)
	if m := older.do(http.MethodGet, "/api/v1/auth/me", nil).me(t); m.Factors.TOTP || m.Factors.RecoveryCodesLeft != 0 {
		t.Errorf("after removal: %+v, want no TOTP and no recovery codes", m.Factors)
	}
	if _, err := testSink.WaitFor(cr.Identifier, "sign-in factor was removed", mailWait); err != nil {
		t.Errorf("no notice of the removal: %v", err)
	}
	// Without a factor, a password logs in at once again.
	r := ts.client().do(http.MethodPost, "/api/v1/auth/login", cr)
	wantStatus(t, r, http.StatusOK)
	if m := r.me(t); m.AAL != "aal1" {
		t.Errorf("login after removal: aal %s", m.AAL)
	}
	wantCode(t, ts.client().do(http.MethodPost, "/api/v1/auth/mfa/recovery-codes", nil), http.StatusUnauthorized, "unauthenticated")
}

// TestRecoveryDoesNotSkipTheSecondFactor: a password reset by mail proves
// the address, not the second factor (ASVS 6.4.3): the next login still
// owes it.
func TestRecoveryDoesNotSkipTheSecondFactor(t *testing.T) {
	clk := &clock{now: time.Now()}
	ts := newServer(t, serverOptions{now: clk.Now})
	c := ts.client()
	cr := c.register(t)
	enrolTOTP(t, c, clk)
	token := recoveryToken(t, ts, cr.Identifier)
	newPassword := "an entirely new passphrase"
	wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/recovery/complete", map[string]string{"token": token, "password": newPassword}), http.StatusNoContent)
	// Every session ended with the reset, the enrolling one too.
	wantStatus(t, c.do(http.MethodGet, "/api/v1/auth/me", nil), http.StatusUnauthorized)
	p := passwordLogin(t, ts, credentials{Identifier: cr.Identifier, Password: newPassword})
	wantCode(t, p.do(http.MethodGet, "/api/v1/auth/me", nil), http.StatusForbidden, "second_factor_required")
}
