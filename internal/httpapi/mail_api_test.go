package httpapi_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/internal/testenv"
)

const mailWait = 10 * time.Second

// recoveryToken requests a recovery mail for email and returns the token
// from the link in it.
func recoveryToken(t *testing.T, ts *testServer, email string) string {
	t.Helper()
	before := countSubject(email, "Reset")
	wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/recovery", map[string]string{"email": email}), http.StatusAccepted)
	deadline := time.Now().Add(mailWait)
	for countSubject(email, "Reset") == before {
		if time.Now().After(deadline) {
			t.Fatalf("no recovery mail to %s", email)
		}
		time.Sleep(20 * time.Millisecond)
	}
	msgs := testSink.Messages()
	for i := len(msgs) - 1; i >= 0; i-- {
		if strings.EqualFold(msgs[i].To[0], email) && strings.Contains(msgs[i].Subject, "Reset") {
			tok, err := testenv.LinkToken(msgs[i].Text, "/recovery")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(msgs[i].Text, "https://app.example.test/recovery?token=") || !strings.Contains(msgs[i].Text, "1 hour") {
				t.Errorf("recovery mail text lacks the link or the expiry:\n%s", msgs[i].Text)
			}
			return tok
		}
	}
	t.Fatalf("no recovery mail to %s among %d messages", email, len(msgs))
	return ""
}

func TestRecoveryEndToEnd(t *testing.T) {
	ts := newServer(t, serverOptions{})
	old := ts.client()
	cr := old.register(t)
	other := ts.client()
	wantStatus(t, other.do(http.MethodPost, "/api/v1/auth/login", cr), http.StatusOK)

	token := recoveryToken(t, ts, cr.Identifier)
	r := ts.client().do(http.MethodPost, "/api/v1/auth/recovery/complete", map[string]string{"token": token, "password": "a fresh passphrase 9"})
	wantStatus(t, r, http.StatusNoContent)

	wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/login", cr), http.StatusUnauthorized)
	wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/login", credentials{Identifier: cr.Identifier, Password: "a fresh passphrase 9"}), http.StatusOK)
	// Every session that existed before the reset is gone.
	wantStatus(t, old.do(http.MethodGet, "/api/v1/auth/me", nil), http.StatusUnauthorized)
	wantStatus(t, other.do(http.MethodGet, "/api/v1/auth/me", nil), http.StatusUnauthorized)
	// The owner is told.
	if _, err := testSink.WaitFor(cr.Identifier, "password was changed", mailWait); err != nil {
		t.Error(err)
	}
	// The token is single use.
	again := ts.client().do(http.MethodPost, "/api/v1/auth/recovery/complete", map[string]string{"token": token, "password": "yet another passphrase"})
	wantStatus(t, again, http.StatusGone)
	if p := again.problem(t); p.Code != "token_invalid" {
		t.Errorf("code = %s", p.Code)
	}
}

func TestRecoveryTokenRules(t *testing.T) {
	clk := &clock{now: time.Now()}
	ts := newServer(t, serverOptions{now: clk.Now})
	cr := ts.client().register(t)
	complete := func(token string) response {
		return ts.client().do(http.MethodPost, "/api/v1/auth/recovery/complete", map[string]string{"token": token, "password": "a fresh passphrase 9"})
	}

	t.Run("a second request voids the first", func(t *testing.T) {
		first := recoveryToken(t, ts, cr.Identifier)
		second := recoveryToken(t, ts, cr.Identifier)
		wantStatus(t, complete(first), http.StatusGone)
		if second == first {
			t.Fatal("two requests gave the same token")
		}
	})
	t.Run("expired", func(t *testing.T) {
		token := recoveryToken(t, ts, cr.Identifier)
		clk.Advance(61 * time.Minute)
		wantStatus(t, complete(token), http.StatusGone)
	})
	t.Run("unknown, used and expired tokens get one reply", func(t *testing.T) {
		token := recoveryToken(t, ts, cr.Identifier)
		wantStatus(t, complete(token), http.StatusNoContent)
		used := complete(token)
		unknown := complete("not-a-token-that-was-ever-issued-0000000000")
		if string(used.body) != string(unknown.body) || used.StatusCode != http.StatusGone {
			t.Errorf("used: %d %s\nunknown: %d %s", used.StatusCode, used.body, unknown.StatusCode, unknown.body)
		}
	})
	t.Run("policy applies", func(t *testing.T) {
		token := recoveryToken(t, ts, cr.Identifier)
		r := ts.client().do(http.MethodPost, "/api/v1/auth/recovery/complete", map[string]string{"token": token, "password": "password123"})
		wantStatus(t, r, http.StatusUnprocessableEntity)
		// A refused password does not use up the token.
		wantStatus(t, complete(token), http.StatusNoContent)
	})
	t.Run("the database never holds a raw token", func(t *testing.T) {
		token := recoveryToken(t, ts, cr.Identifier)
		var n int
		err := testDB.Pool.QueryRow(context.Background(), `SELECT
			(SELECT count(*) FROM one_time_tokens WHERE position(convert_to($1, 'UTF8') in token_hash) > 0 OR email LIKE '%' || $1 || '%') +
			(SELECT count(*) FROM river_job WHERE args::text LIKE '%' || $1 || '%' OR encode(convert_to(args::text, 'UTF8'), 'escape') LIKE '%' || $1 || '%')`, token).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%d rows hold the raw token", n)
		}
		var stored int
		if err := testDB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM one_time_tokens WHERE token_hash = sha256(convert_to($1, 'UTF8'))`, token).Scan(&stored); err != nil || stored != 1 {
			t.Errorf("rows with the token's SHA-256 = %d, %v; want 1", stored, err)
		}
	})
}

func TestRecoveryRepliesAreIdentical(t *testing.T) {
	ts := newServer(t, serverOptions{})
	cr := ts.client().register(t)
	known := ts.client().do(http.MethodPost, "/api/v1/auth/recovery", map[string]string{"email": cr.Identifier})
	unknown := ts.client().do(http.MethodPost, "/api/v1/auth/recovery", map[string]string{"email": newEmail("nobody")})
	wantStatus(t, known, http.StatusAccepted)
	wantStatus(t, unknown, http.StatusAccepted)
	sameReply(t, known, unknown)
	invalid := ts.client().do(http.MethodPost, "/api/v1/auth/recovery", map[string]string{"email": "not an address"})
	wantStatus(t, invalid, http.StatusUnprocessableEntity)

	knownV := ts.client().do(http.MethodPost, "/api/v1/auth/verify/link", map[string]string{"email": cr.Identifier})
	unknownV := ts.client().do(http.MethodPost, "/api/v1/auth/verify/link", map[string]string{"email": newEmail("nobody")})
	wantStatus(t, knownV, http.StatusAccepted)
	sameReply(t, knownV, unknownV)
}

// sameReply compares status, body and every header but Date and the request id.
func sameReply(t *testing.T, a, b response) {
	t.Helper()
	if a.StatusCode != b.StatusCode || string(a.body) != string(b.body) {
		t.Errorf("replies differ: %d %s vs %d %s", a.StatusCode, a.body, b.StatusCode, b.body)
	}
	for k := range a.Header {
		if k == "Date" || k == "X-Request-Id" {
			continue
		}
		if strings.Join(a.Header.Values(k), ",") != strings.Join(b.Header.Values(k), ",") {
			t.Errorf("header %s differs: %q vs %q", k, a.Header.Values(k), b.Header.Values(k))
		}
	}
	if len(a.Header) != len(b.Header) {
		t.Errorf("header sets differ: %v vs %v", a.Header, b.Header)
	}
}

func TestRecoveryMailLimitPerAddress(t *testing.T) {
	ts := newServer(t, serverOptions{mailLimit: 3})
	cr := ts.client().register(t)
	for i := range 5 {
		wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/recovery", map[string]string{"email": cr.Identifier}), http.StatusAccepted)
		_ = i
	}
	// Give the queue time to deliver whatever was queued.
	deadline := time.Now().Add(mailWait)
	for countSubject(cr.Identifier, "Reset") < 3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	if n := countSubject(cr.Identifier, "Reset"); n != 3 {
		t.Errorf("recovery mails delivered = %d, want the limit of 3", n)
	}
}

func countSubject(to, subject string) int {
	n := 0
	for _, m := range testSink.Messages() {
		if strings.EqualFold(m.To[0], to) && strings.Contains(m.Subject, subject) {
			n++
		}
	}
	return n
}

func TestMailWaitsForSMTP(t *testing.T) {
	ts := newServer(t, serverOptions{})
	cr := ts.client().register(t)
	if _, err := testSink.WaitFor(cr.Identifier, "Verify", mailWait); err != nil {
		t.Fatal(err) // let the registration mail through before the outage
	}
	if err := testSink.Stop(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	defer func() {
		if !restarted {
			testSink.Restart()
		}
	}()
	wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/recovery", map[string]string{"email": cr.Identifier}), http.StatusAccepted)
	time.Sleep(400 * time.Millisecond) // a few failed attempts
	if n := countSubject(cr.Identifier, "Reset"); n != 0 {
		t.Fatalf("%d mails while SMTP was down", n)
	}
	if err := testSink.Restart(); err != nil {
		t.Fatal(err)
	}
	restarted = true
	if _, err := testSink.WaitFor(cr.Identifier, "Reset", mailWait); err != nil {
		t.Fatalf("mail did not arrive after SMTP came back: %v", err)
	}
	time.Sleep(200 * time.Millisecond)
	if n := countSubject(cr.Identifier, "Reset"); n != 1 {
		t.Errorf("mail delivered %d times, want once", n)
	}
}

var codePattern = regexp.MustCompile(`\b(\d{6})\b`)

func verificationMail(t *testing.T, email string) (token, code string) {
	t.Helper()
	m, err := testSink.WaitFor(email, "Verify", mailWait)
	if err != nil {
		t.Fatal(err)
	}
	token, err = testenv.LinkToken(m.Text, "/verify")
	if err != nil {
		t.Fatal(err)
	}
	match := codePattern.FindStringSubmatch(m.Text)
	if match == nil {
		t.Fatalf("no 6-digit code in:\n%s", m.Text)
	}
	return token, match[1]
}

func TestVerifyByLink(t *testing.T) {
	ts := newServer(t, serverOptions{})
	c := ts.client()
	cr := c.register(t)
	token, _ := verificationMail(t, cr.Identifier)

	r := ts.client().do(http.MethodPost, "/api/v1/auth/verify", map[string]string{"token": token})
	wantStatus(t, r, http.StatusOK)
	if !r.profile(t).EmailVerified {
		t.Error("profile after verify: email_verified = false")
	}
	if !c.do(http.MethodGet, "/api/v1/auth/me", nil).profile(t).EmailVerified {
		t.Error("me after verify: email_verified = false")
	}
	wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/verify", map[string]string{"token": token}), http.StatusGone)
	// A recovery token does not verify, and the reverse.
	rec := recoveryToken(t, ts, cr.Identifier)
	wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/verify", map[string]string{"token": rec}), http.StatusGone)
}

func TestVerifyByCode(t *testing.T) {
	ts := newServer(t, serverOptions{})
	c := ts.client()
	cr := c.register(t)
	_, code := verificationMail(t, cr.Identifier)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	submit := func(code string) response {
		return c.do(http.MethodPost, "/api/v1/auth/verify/code/submit", map[string]string{"code": code})
	}
	for i := range 5 {
		r := submit(wrong)
		if i < 4 {
			wantStatus(t, r, http.StatusUnprocessableEntity)
		}
	}
	// Five wrong attempts void the code: the right one no longer works.
	wantStatus(t, submit(code), http.StatusGone)
	wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/verify/code/submit", map[string]string{"code": code}), http.StatusUnauthorized)

	before := countSubject(cr.Identifier, "Verify")
	wantStatus(t, c.do(http.MethodPost, "/api/v1/auth/verify/code/send", nil), http.StatusAccepted)
	deadline := time.Now().Add(mailWait)
	for countSubject(cr.Identifier, "Verify") == before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	msgs := testSink.Messages()
	var fresh string
	for i := len(msgs) - 1; i >= 0; i-- {
		if strings.EqualFold(msgs[i].To[0], cr.Identifier) {
			fresh = codePattern.FindStringSubmatch(msgs[i].Text)[1]
			break
		}
	}
	r := submit(fresh)
	wantStatus(t, r, http.StatusOK)
	if !r.profile(t).EmailVerified {
		t.Error("email_verified = false after the right code")
	}
	wantStatus(t, submit("12a456"), http.StatusUnprocessableEntity)
}

func TestRequireVerifiedEmail(t *testing.T) {
	ts := newServer(t, serverOptions{requireVerified: true})
	cr := ts.client().register(t)
	r := ts.client().do(http.MethodPost, "/api/v1/auth/login", cr)
	wantStatus(t, r, http.StatusForbidden)
	if p := r.problem(t); p.Code != "email_not_verified" {
		t.Errorf("code = %s", p.Code)
	}
	// A wrong password still looks like any failed login.
	wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/login", credentials{Identifier: cr.Identifier, Password: "wrong password!"}), http.StatusUnauthorized)
	token, _ := verificationMail(t, cr.Identifier)
	wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/verify", map[string]string{"token": token}), http.StatusOK)
	wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/login", cr), http.StatusOK)
}
