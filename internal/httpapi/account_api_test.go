package httpapi_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/internal/testenv"
)

// idOf is the identity id behind a logged-in client.
func idOf(t *testing.T, c *client) uuid.UUID {
	t.Helper()
	r := c.do(http.MethodGet, "/api/v1/auth/me", nil)
	wantStatus(t, r, http.StatusOK)
	return r.profile(t).ID
}

// rowsOf counts the rows of an identity in each table that holds any.
func rowsOf(t *testing.T, id uuid.UUID) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, table := range []string{"identities", "one_time_tokens", "totp_factors", "recovery_codes", "passkey_users", "passkeys", "audit_events"} {
		col := "identity_id"
		if table == "identities" {
			col = "id"
		}
		var n int
		if err := testDB.Pool().QueryRow(context.Background(), `SELECT count(*) FROM `+table+` WHERE `+col+` = $1`, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[table] = n
	}
	return out
}

// identityKeys are the Valkey keys under the server's prefix that name the
// identity, with their values' types.
func identityKeys(t *testing.T, ts *testServer, id uuid.UUID) []string {
	t.Helper()
	keys, err := testValkey.Do(context.Background(), testValkey.B().Keys().Pattern(ts.prefix+"*"+id.String()+"*").Build()).AsStrSlice()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	return keys
}

// wantOnlyFences checks that what Valkey still holds of a deleted identity
// is a fence that names nobody and expires: the session index's generation
// (so that a login checked before the deletion cannot start a session
// after it) and the profile cache's short hold (so that a read in flight
// cannot cache the profile again).
func wantOnlyFences(t *testing.T, ts *testServer, id uuid.UUID) {
	t.Helper()
	ctx := context.Background()
	for _, k := range identityKeys(t, ts, id) {
		switch {
		case k == ts.prefix+"user:"+id.String()+":sessions":
			fields, err := testValkey.Do(ctx, testValkey.B().Hkeys().Key(k).Build()).AsStrSlice()
			if err != nil || !slices.Equal(fields, []string{"#generation"}) {
				t.Errorf("session index of a deleted identity holds %v, %v; want only its generation", fields, err)
			}
		case strings.HasPrefix(k, ts.prefix+"profile-hold:"):
		default:
			t.Errorf("Valkey still holds %s of a deleted identity", k)
			continue
		}
		if ttl, err := testValkey.Do(ctx, testValkey.B().Pttl().Key(k).Build()).AsInt64(); err != nil || ttl <= 0 {
			t.Errorf("%s: PTTL = %d, %v; want it to expire", k, ttl, err)
		}
	}
}

// TestDeleteAccount: the owner deletes the account with a recent login;
// every session ends, the rows and keys of the identity go, the audit
// trail stays pseudonymised, mail still waiting is not sent, and a notice
// is.
func TestDeleteAccount(t *testing.T) {
	ts := newServer(t, serverOptions{})
	a := ts.client()
	cr := a.register(t)
	id := idOf(t, a)
	b := ts.client()
	wantStatus(t, b.do(http.MethodPost, "/api/v1/auth/login", cr), http.StatusOK)
	wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/login", credentials{Identifier: cr.Identifier, Password: "wrong password!"}), http.StatusUnauthorized)
	sessionA, sessionB := a.sessionToken(), b.sessionToken()
	if before := rowsOf(t, id); before["identities"] != 1 || before["one_time_tokens"] == 0 || before["audit_events"] < 3 {
		t.Fatalf("before the deletion: %v", before)
	}

	r := a.do(http.MethodDelete, "/api/v1/auth/me", nil)
	wantStatus(t, r, http.StatusNoContent)
	if sc := r.Header.Get("Set-Cookie"); !strings.Contains(sc, "Max-Age=0") {
		t.Errorf("Set-Cookie = %q, want the cookie cleared", sc)
	}
	for _, c := range []*client{a, b} {
		wantStatus(t, c.do(http.MethodGet, "/api/v1/auth/me", nil), http.StatusUnauthorized)
	}
	wantCode(t, ts.client().do(http.MethodPost, "/api/v1/auth/login", cr), http.StatusUnauthorized, "invalid_credentials")

	after := rowsOf(t, id)
	for table, n := range after {
		if table != "audit_events" && n != 0 {
			t.Errorf("%s still holds %d rows of the deleted identity", table, n)
		}
	}
	// The trail stays, with the identity's id and without IP or user agent.
	rows, err := testDB.Pool().Query(context.Background(), `SELECT event, ip, user_agent FROM audit_events WHERE identity_id = $1 ORDER BY id`, id)
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	for rows.Next() {
		var event, ip, ua string
		if err := rows.Scan(&event, &ip, &ua); err != nil {
			t.Fatal(err)
		}
		events = append(events, event)
		if ip != "" || ua != "" {
			t.Errorf("event %s of the deleted identity keeps ip %q, user agent %q", event, ip, ua)
		}
	}
	rows.Close()
	if len(events) < 4 || events[0] != "registration" || events[len(events)-1] != "account_deleted" {
		t.Errorf("audit trail after the deletion = %v, want it from registration to account_deleted", events)
	}
	for _, token := range []string{sessionA, sessionB} {
		if n, err := testValkey.Do(context.Background(), testValkey.B().Exists().Key(ts.sessionKey(token)).Build()).AsInt64(); err != nil || n != 0 {
			t.Errorf("session key of the deleted identity: EXISTS = %d, %v", n, err)
		}
	}
	wantOnlyFences(t, ts, id)
	if _, err := testSink.WaitFor(cr.Identifier, "account was deleted", mailWait); err != nil {
		t.Error(err)
	}
	// The address is free for a new account.
	wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/register", cr), http.StatusCreated)
}

// TestDeleteAccountDropsWaitingMail: mail to the address that no worker
// has sent yet is dropped with the account; the notice of the deletion is
// the one mail left for it.
func TestDeleteAccountDropsWaitingMail(t *testing.T) {
	ts := newServer(t, serverOptions{env: map[string]string{"MAIL_WORKERS": "0"}}) // mail waits
	c := ts.client()
	since := dbNow(t)
	cr := c.register(t)
	waiting := mailJobIDs(t, since)
	if len(waiting) != 1 {
		t.Fatalf("%d mails waiting after the registration, want its verification mail", len(waiting))
	}
	wantStatus(t, c.do(http.MethodDelete, "/api/v1/auth/me", nil), http.StatusNoContent)
	left := mailJobIDs(t, since)
	if len(left) != 1 || left[0] == waiting[0] {
		t.Errorf("mails waiting after the deletion: %v (before: %v); want only the new notice", left, waiting)
	}
	_ = cr
}

// mailJobIDs lists the ids of the mails queued since and still waiting.
func mailJobIDs(t *testing.T, since time.Time) []int64 {
	t.Helper()
	rows, err := testDB.Pool().Query(context.Background(),
		`SELECT id FROM river_job WHERE kind = 'send_mail' AND created_at >= $1 AND state = 'available' ORDER BY id`, since)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out = append(out, id)
	}
	return out
}

// TestDeleteAccountIsPrivileged: deleting needs the highest level the
// account has and a recent proof, like any change of credentials.
func TestDeleteAccountIsPrivileged(t *testing.T) {
	clk := &clock{now: time.Now()}
	ts := newServer(t, serverOptions{now: clk.Now})
	c := ts.client()
	cr := c.register(t)
	older := ts.client()
	wantStatus(t, older.do(http.MethodPost, "/api/v1/auth/login", cr), http.StatusOK)
	enrolTOTP(t, c, clk)
	// An aal1 session of an account with TOTP cannot delete it.
	wantCode(t, older.do(http.MethodDelete, "/api/v1/auth/me", nil), http.StatusForbidden, "second_factor_required")
	clk.Advance(16 * time.Minute) // past PRIVILEGED_WINDOW
	wantCode(t, c.do(http.MethodDelete, "/api/v1/auth/me", nil), http.StatusForbidden, "reauth_required")
	wantStatus(t, c.do(http.MethodGet, "/api/v1/auth/me", nil), http.StatusOK)
	wantStatus(t, ts.client().do(http.MethodDelete, "/api/v1/auth/me", nil), http.StatusUnauthorized)
}

// mailTo waits for the mail to an address whose subject has part, and
// returns the token of its link to path.
func mailTo(t *testing.T, address, subjectPart, path string) (testenv.SinkMessage, string) {
	t.Helper()
	m, err := testSink.WaitFor(address, subjectPart, mailWait)
	if err != nil {
		t.Fatal(err)
	}
	if path == "" {
		return m, ""
	}
	token, err := testenv.LinkToken(m.Text, path)
	if err != nil {
		t.Fatalf("%v in:\n%s", err, m.Text)
	}
	if !strings.Contains(m.Text, "https://app.example.test"+path+"?token=") {
		t.Errorf("the link is not under PUBLIC_URL:\n%s", m.Text)
	}
	return m, token
}

func changeEmail(c *client, email string) response {
	return c.do(http.MethodPut, "/api/v1/auth/settings", map[string]string{"method": "email", "email": email})
}

// TestEmailChange: the new address becomes the account's only once its
// link is used; until then the old one logs in. The old address is told,
// and its "this was not me" link undoes the change and ends every
// session.
func TestEmailChange(t *testing.T) {
	ts := newServer(t, serverOptions{})
	a := ts.client()
	cr := a.register(t)
	other := ts.client()
	wantStatus(t, other.do(http.MethodPost, "/api/v1/auth/login", cr), http.StatusOK)
	newAddress := newEmail("moved")

	r := changeEmail(a, newAddress)
	wantStatus(t, r, http.StatusAccepted)
	notice, cancelToken := mailTo(t, cr.Identifier, "about to change", "/email/cancel")
	if !strings.Contains(notice.Text, newAddress) {
		t.Errorf("the notice does not name the new address:\n%s", notice.Text)
	}
	_, confirmToken := mailTo(t, newAddress, "Confirm your new", "/verify")

	// Nothing changed yet.
	wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/login", cr), http.StatusOK)
	// A recovery link mailed to the old address before the change...
	oldRecovery := recoveryToken(t, ts, cr.Identifier)
	moved := credentials{Identifier: newAddress, Password: cr.Password}
	wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/login", moved), http.StatusUnauthorized)

	// The link to the new address makes it the account's, verified.
	r = ts.client().do(http.MethodPost, "/api/v1/auth/verify", map[string]string{"token": confirmToken})
	wantStatus(t, r, http.StatusOK)
	if p := r.profile(t); p.Email != newAddress || !p.EmailVerified {
		t.Errorf("after the confirmation: %s verified=%v, want %s verified", p.Email, p.EmailVerified, newAddress)
	}
	wantCode(t, ts.client().do(http.MethodPost, "/api/v1/auth/verify", map[string]string{"token": confirmToken}), http.StatusGone, "token_invalid")
	if p := a.do(http.MethodGet, "/api/v1/auth/me", nil).profile(t); p.Email != newAddress {
		t.Errorf("/me shows %s after the change, want %s", p.Email, newAddress)
	}
	wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/login", moved), http.StatusOK)
	wantCode(t, ts.client().do(http.MethodPost, "/api/v1/auth/login", cr), http.StatusUnauthorized, "invalid_credentials")
	// ...acts on the account no more.
	wantCode(t, ts.client().do(http.MethodPost, "/api/v1/auth/recovery/complete", map[string]string{"token": oldRecovery, "password": "taken over passphrase"}),
		http.StatusGone, "token_invalid")

	// "This was not me": the change is undone and every session ends.
	wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/email/cancel", map[string]string{"token": cancelToken}), http.StatusNoContent)
	for _, c := range []*client{a, other} {
		wantStatus(t, c.do(http.MethodGet, "/api/v1/auth/me", nil), http.StatusUnauthorized)
	}
	back := ts.client()
	r = back.do(http.MethodPost, "/api/v1/auth/login", cr)
	wantStatus(t, r, http.StatusOK)
	if p := back.do(http.MethodGet, "/api/v1/auth/me", nil).profile(t); p.Email != cr.Identifier || !p.EmailVerified {
		t.Errorf("after the cancel: %s verified=%v, want %s verified", p.Email, p.EmailVerified, cr.Identifier)
	}
	wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/login", moved), http.StatusUnauthorized)
	wantCode(t, ts.client().do(http.MethodPost, "/api/v1/auth/email/cancel", map[string]string{"token": cancelToken}), http.StatusGone, "token_invalid")
}

// TestEmailChangeCancelledBeforeItIsConfirmed: the cancel link voids the
// pending change, so its link no longer moves the account.
func TestEmailChangeCancelledBeforeItIsConfirmed(t *testing.T) {
	ts := newServer(t, serverOptions{})
	a := ts.client()
	cr := a.register(t)
	newAddress := newEmail("moved")
	wantStatus(t, changeEmail(a, newAddress), http.StatusAccepted)
	_, cancelToken := mailTo(t, cr.Identifier, "about to change", "/email/cancel")
	_, confirmToken := mailTo(t, newAddress, "Confirm your new", "/verify")
	wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/email/cancel", map[string]string{"token": cancelToken}), http.StatusNoContent)
	wantStatus(t, a.do(http.MethodGet, "/api/v1/auth/me", nil), http.StatusUnauthorized)
	wantCode(t, ts.client().do(http.MethodPost, "/api/v1/auth/verify", map[string]string{"token": confirmToken}), http.StatusGone, "token_invalid")
	wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/login", cr), http.StatusOK)
}

// TestEmailChangeRevealsNothing: a new address that has an account gets
// the same reply as one that has none; its owner is told by mail, and no
// change is pending.
func TestEmailChangeRevealsNothing(t *testing.T) {
	ts := newServer(t, serverOptions{})
	owner := ts.client()
	taken := owner.register(t)
	a := ts.client()
	cr := a.register(t)
	b := ts.client()
	b.register(t)

	toTaken := changeEmail(a, taken.Identifier)
	toFree := changeEmail(b, newEmail("free"))
	sameReply(t, toTaken, toFree)
	if _, err := testSink.WaitFor(taken.Identifier, "Someone tried to move", mailWait); err != nil {
		t.Error(err)
	}
	// The old address is told either way.
	mailTo(t, cr.Identifier, "about to change", "/email/cancel")
	if n := countSubject(taken.Identifier, "Confirm your new"); n != 0 {
		t.Errorf("the taken address got %d confirmation links", n)
	}
	if p := a.do(http.MethodGet, "/api/v1/auth/me", nil).profile(t); p.Email != cr.Identifier {
		t.Errorf("the account moved to %s", p.Email)
	}
	// Its own address is refused, naming the field.
	r := changeEmail(a, cr.Identifier)
	wantCode(t, r, http.StatusUnprocessableEntity, "invalid_input")
	if p := r.problem(t); len(p.Errors) != 1 || p.Errors[0].Field != "email" || p.Errors[0].Code != "unchanged" {
		t.Errorf("errors = %+v", p.Errors)
	}
	r = changeEmail(a, "not an address")
	if p := r.problem(t); r.StatusCode != http.StatusUnprocessableEntity || len(p.Errors) != 1 || p.Errors[0].Field != "email" {
		t.Errorf("a malformed address: %d %s", r.StatusCode, r.body)
	}
}

// TestEmailChangeIsPrivileged: moving the account needs a recent proof at
// the highest level the account has.
func TestEmailChangeIsPrivileged(t *testing.T) {
	clk := &clock{now: time.Now()}
	ts := newServer(t, serverOptions{now: clk.Now})
	c := ts.client()
	cr := c.register(t)
	clk.Advance(16 * time.Minute)
	wantCode(t, changeEmail(c, newEmail("late")), http.StatusForbidden, "reauth_required")
	fresh := ts.client()
	wantStatus(t, fresh.do(http.MethodPost, "/api/v1/auth/login", cr), http.StatusOK)
	wantStatus(t, changeEmail(fresh, newEmail("fresh")), http.StatusAccepted)
	wantStatus(t, ts.client().do(http.MethodPut, "/api/v1/auth/settings", map[string]string{"method": "email", "email": newEmail("x")}), http.StatusUnauthorized)
}
