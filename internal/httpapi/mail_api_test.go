package httpapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/internal/testenv"
	"github.com/google/uuid"
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
		err := testDB.Pool().QueryRow(context.Background(), `SELECT
			(SELECT count(*) FROM one_time_tokens WHERE position(convert_to($1, 'UTF8') in token_hash) > 0 OR email LIKE '%' || $1 || '%') +
			(SELECT count(*) FROM river_job WHERE args::text LIKE '%' || $1 || '%' OR encode(convert_to(args::text, 'UTF8'), 'escape') LIKE '%' || $1 || '%')`, token).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%d rows hold the raw token", n)
		}
		var stored int
		if err := testDB.Pool().QueryRow(context.Background(), `SELECT count(*) FROM one_time_tokens WHERE token_hash = sha256(convert_to($1, 'UTF8'))`, token).Scan(&stored); err != nil || stored != 1 {
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
	ts := newServer(t, serverOptions{env: map[string]string{"MAIL_LIMIT_PER_HOUR": "3"}})
	cr := ts.client().register(t)
	since := dbNow(t)
	for range 5 {
		wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/recovery", map[string]string{"email": cr.Identifier}), http.StatusAccepted)
	}
	// Every request answered and every mail delivered before counting:
	// none is in flight.
	waitMailJobs(t, since, allDone)
	if n := countSubject(cr.Identifier, "Reset"); n != 3 {
		t.Errorf("recovery mails delivered = %d, want the limit of 3", n)
	}
}

// mailJob is the state of one queued mail (River job) as the database has
// it; the mail itself is sealed.
type mailJob struct {
	Kind     string
	State    string
	Attempts int
	Errors   int
}

// dbNow is the database's clock, to which the jobs' times belong.
func dbNow(t *testing.T) time.Time {
	t.Helper()
	var now time.Time
	if err := testDB.Pool().QueryRow(context.Background(), `SELECT clock_timestamp()`).Scan(&now); err != nil {
		t.Fatal(err)
	}
	return now
}

// waitMailJobs polls the mail jobs queued since `since` until done says
// so, or fails the test at a deadline. The jobs are the mails
// ("send_mail") and the requests for a recovery or verification link
// ("answer_mail_request"), whose answers queue the mails.
func waitMailJobs(t *testing.T, since time.Time, done func([]mailJob) bool) []mailJob {
	t.Helper()
	deadline := time.Now().Add(mailWait)
	for {
		rows, err := testDB.Pool().Query(context.Background(), `SELECT kind, state, attempt, coalesce(array_length(errors, 1), 0)
			FROM river_job WHERE kind IN ('send_mail', 'answer_mail_request') AND created_at >= $1 ORDER BY id`, since)
		if err != nil {
			t.Fatal(err)
		}
		var jobs []mailJob
		for rows.Next() {
			var j mailJob
			if err := rows.Scan(&j.Kind, &j.State, &j.Attempts, &j.Errors); err != nil {
				t.Fatal(err)
			}
			jobs = append(jobs, j)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if done(jobs) {
			return jobs
		}
		if time.Now().After(deadline) {
			t.Fatalf("mail jobs never reached the awaited state: %+v", jobs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mailsOf are the mails among jobs.
func mailsOf(jobs []mailJob) []mailJob {
	var out []mailJob
	for _, j := range jobs {
		if j.Kind == "send_mail" {
			out = append(out, j)
		}
	}
	return out
}

func allDone(jobs []mailJob) bool {
	for _, j := range jobs {
		if j.State != "completed" {
			return false
		}
	}
	return true
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

// TestMailWaitsForSMTP: the SMTP relay goes down while users ask for
// recovery mail. Every request is still answered 202 at once (the mail is
// queued, not sent in the request), the queue keeps retrying, and once the
// relay is back every queued mail is delivered exactly once.
func TestMailWaitsForSMTP(t *testing.T) {
	ts := newServer(t, serverOptions{})
	const users = 4
	accounts := make([]credentials, users)
	for i := range accounts {
		accounts[i] = ts.client().register(t)
		if _, err := testSink.WaitFor(accounts[i].Identifier, "Verify", mailWait); err != nil {
			t.Fatal(err) // let the registration mails through before the outage
		}
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
	since := dbNow(t)
	// Each user asks once, the first one twice: five mails in all.
	want := map[string]int{}
	for i, cr := range append(accounts, accounts[0]) {
		start := time.Now()
		wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/recovery", map[string]string{"email": cr.Identifier}), http.StatusAccepted)
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("recovery request %d with SMTP down took %v: it waited for the relay", i, d)
		}
		want[cr.Identifier]++
	}
	// The queue keeps trying: wait for two failed attempts of each mail.
	waitMailJobs(t, since, func(js []mailJob) bool {
		mails := mailsOf(js)
		if len(mails) != users+1 {
			return false
		}
		for _, m := range mails {
			if m.Errors < 2 || m.State == "completed" {
				return false
			}
		}
		return true
	})
	if err := testSink.Restart(); err != nil {
		t.Fatal(err)
	}
	restarted = true
	for _, cr := range accounts {
		if _, err := testSink.WaitFor(cr.Identifier, "Reset", mailWait); err != nil {
			t.Fatalf("mail did not arrive after SMTP came back: %v", err)
		}
	}
	waitMailJobs(t, since, allDone)
	for to, n := range want {
		if got := countSubject(to, "Reset"); got != n {
			t.Errorf("%d recovery mails delivered to %s, want exactly %d", got, to, n)
		}
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
	for range 5 { // the fifth wrong code is still "incorrect", and voids the code
		wantStatus(t, submit(wrong), http.StatusUnprocessableEntity)
	}
	// Five wrong attempts void the code: the right one no longer works.
	wantStatus(t, submit(code), http.StatusGone)
	wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/verify/code/submit", map[string]string{"code": code}), http.StatusUnauthorized)

	before := countSubject(cr.Identifier, "Verify")
	wantStatus(t, c.do(http.MethodPost, "/api/v1/auth/verify/code/send", nil), http.StatusAccepted)
	deadline := time.Now().Add(mailWait)
	for countSubject(cr.Identifier, "Verify") == before {
		if time.Now().After(deadline) {
			t.Fatalf("no new verification mail to %s", cr.Identifier)
		}
		time.Sleep(20 * time.Millisecond)
	}
	msgs := testSink.Messages()
	var fresh string
	for i := len(msgs) - 1; i >= 0; i-- {
		if strings.EqualFold(msgs[i].To[0], cr.Identifier) {
			m := codePattern.FindStringSubmatch(msgs[i].Text)
			if m == nil {
				t.Fatalf("the new verification mail has no code:\n%s", msgs[i].Text)
			}
			fresh = m[1]
			break
		}
	}
	if fresh == code {
		t.Error("the new mail repeats the voided code")
	}
	r := submit(fresh)
	wantStatus(t, r, http.StatusOK)
	if !r.profile(t).EmailVerified {
		t.Error("email_verified = false after the right code")
	}
	wantStatus(t, submit("12a456"), http.StatusUnprocessableEntity)
}

func TestRequireVerifiedEmail(t *testing.T) {
	ts := newServer(t, serverOptions{env: map[string]string{"REQUIRE_VERIFIED_EMAIL": "true"}})
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

// TestMailSealedWithAnotherKeyIsLeftForAnInstanceThatHasIt: an instance
// whose SECRET_KEY differs (a misconfigured replica) must not destroy the
// mails it cannot open; an instance that lists the old key in
// SECRET_KEY_PREVIOUS (a key rotation) delivers them.
func TestMailSealedWithAnotherKeyIsLeftForAnInstanceThatHasIt(t *testing.T) {
	const otherKey = "b3RoZXItc2VjcmV0LWtleS1vdGhlci1zZWNyZXQta2V5LQ=="
	since := dbNow(t)
	queuer := newServer(t, serverOptions{env: map[string]string{"MAIL_WORKERS": "0"}})
	cr := queuer.client().register(t)
	wantStatus(t, queuer.client().do(http.MethodPost, "/api/v1/auth/recovery", map[string]string{"email": cr.Identifier}), http.StatusAccepted)

	wrongKey := newServer(t, serverOptions{env: map[string]string{"SECRET_KEY": otherKey}})
	deadline := time.Now().Add(mailWait)
	for !strings.Contains(wrongKey.logs.String(), "cannot be unsealed") {
		if time.Now().After(deadline) {
			t.Fatalf("the instance with the other key never tried the mails; logs:\n%s", wrongKey.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	wrongKey.stop()
	for _, j := range waitMailJobs(t, since, func([]mailJob) bool { return true }) {
		if j.State == "cancelled" || j.State == "discarded" || j.State == "completed" {
			t.Fatalf("a mail the instance could not open was %s: %+v", j.State, j)
		}
	}
	if n := countSubject(cr.Identifier, "Reset"); n != 0 {
		t.Fatalf("%d recovery mails sent before any instance could open them", n)
	}

	newServer(t, serverOptions{env: map[string]string{"SECRET_KEY": otherKey, "SECRET_KEY_PREVIOUS": testSecret}})
	jobs := mailsOf(waitMailJobs(t, since, allDone))
	if len(jobs) != 2 {
		t.Errorf("%d mail jobs, want 2 (verification and recovery)", len(jobs))
	}
	if _, err := testSink.WaitFor(cr.Identifier, "Reset", mailWait); err != nil {
		t.Fatal(err)
	}
}

// TestVerificationCodeHashIsKeyed plays the attack on a leaked table: with
// a million possible codes, an unkeyed hash is reversed by trying them all.
// The stored hash must match none of them without the server's key.
func TestVerificationCodeHashIsKeyed(t *testing.T) {
	ts := newServer(t, serverOptions{})
	c := ts.client()
	cr := c.register(t)
	_, code := verificationMail(t, cr.Identifier)
	var (
		id     uuid.UUID
		stored []byte
	)
	err := testDB.Pool().QueryRow(context.Background(), `SELECT i.id, t.code_hash FROM one_time_tokens t JOIN identities i ON i.id = t.identity_id
		WHERE lower(i.email) = lower($1) AND t.purpose = 'verification' AND t.used_at IS NULL`, cr.Identifier).Scan(&id, &stored)
	if err != nil {
		t.Fatal(err)
	}
	candidates := func(code string) [][]byte {
		a := sha256.Sum256([]byte(code))
		b := sha256.Sum256([]byte("authd-code:" + id.String() + ":" + code))
		c := sha256.Sum256([]byte(id.String() + ":" + code))
		return [][]byte{a[:], b[:], c[:]}
	}
	for _, h := range candidates(code) {
		if bytes.Equal(h, stored) {
			t.Fatal("the stored code hash is an unkeyed SHA-256 of the mailed code")
		}
	}
	for n := range 1_000_000 {
		for _, h := range candidates(fmt.Sprintf("%06d", n)) {
			if bytes.Equal(h, stored) {
				t.Fatalf("the code was recovered from the table by brute force: %06d", n)
			}
		}
	}
	// And the code still works.
	wantStatus(t, c.do(http.MethodPost, "/api/v1/auth/verify/code/submit", map[string]string{"code": code}), http.StatusOK)
}
