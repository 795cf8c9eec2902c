package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a settable time source shared by a test server's use cases and sessions.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestChangePassword(t *testing.T) {
	tests := []struct {
		name        string
		after       time.Duration
		current     string
		wantStatus  int
		wantCode    string
		wantChanged bool
	}{
		{name: "with current password, long after login", after: 2 * time.Hour, current: "correct horse battery staple", wantStatus: 200, wantChanged: true},
		{name: "without current password inside the window", after: 10 * time.Minute, wantStatus: 200, wantChanged: true},
		{name: "without current password outside the window", after: 16 * time.Minute, wantStatus: 403, wantCode: "reauth_required"},
		{name: "wrong current password", after: time.Minute, current: "not my password at all", wantStatus: 422, wantCode: "invalid_input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &clock{now: time.Now()}
			ts := newServer(t, serverOptions{now: clk.Now})
			laptop := ts.client()
			cr := laptop.register(t)
			phone := ts.client()
			wantStatus(t, phone.do(http.MethodPost, "/api/v1/auth/login", cr), http.StatusOK)
			oldLaptopToken := laptop.sessionToken()
			clk.Advance(tt.after)

			body := map[string]any{"method": "password", "password": "a brand new passphrase"}
			if tt.current != "" {
				body["current_password"] = tt.current
			}
			r := laptop.do(http.MethodPut, "/api/v1/auth/settings", body)
			wantStatus(t, r, tt.wantStatus)
			if tt.wantCode != "" {
				if p := r.problem(t); p.Code != tt.wantCode {
					t.Errorf("code = %s, want %s", p.Code, tt.wantCode)
				}
			}

			newLogin := ts.client().do(http.MethodPost, "/api/v1/auth/login", credentials{Identifier: cr.Identifier, Password: "a brand new passphrase"})
			oldLogin := ts.client().do(http.MethodPost, "/api/v1/auth/login", cr)
			if !tt.wantChanged {
				wantStatus(t, oldLogin, http.StatusOK)
				wantStatus(t, newLogin, http.StatusUnauthorized)
				wantStatus(t, phone.do(http.MethodGet, "/api/v1/auth/me", nil), http.StatusOK)
				return
			}
			wantStatus(t, newLogin, http.StatusOK)
			wantStatus(t, oldLogin, http.StatusUnauthorized)
			// The other device is logged out; the caller stays logged in with a new session id.
			wantStatus(t, phone.do(http.MethodGet, "/api/v1/auth/me", nil), http.StatusUnauthorized)
			wantStatus(t, laptop.do(http.MethodGet, "/api/v1/auth/me", nil), http.StatusOK)
			if laptop.sessionToken() == oldLaptopToken {
				t.Error("the caller's session id was not renewed")
			}
			stale := ts.client()
			stale.setSessionToken(oldLaptopToken)
			wantStatus(t, stale.do(http.MethodGet, "/api/v1/auth/me", nil), http.StatusUnauthorized)
		})
	}
}

func TestChangePasswordNeedsSessionAndPolicy(t *testing.T) {
	ts := newServer(t, serverOptions{})
	wantStatus(t, ts.client().do(http.MethodPut, "/api/v1/auth/settings", map[string]any{"method": "password", "password": "whatever long"}), http.StatusUnauthorized)
	c := ts.client()
	c.register(t)
	for _, body := range []map[string]any{
		{"method": "password", "password": "password123"},
		{"method": "password", "password": "short"},
		{"method": "teleport"},
		{},
	} {
		r := c.do(http.MethodPut, "/api/v1/auth/settings", body)
		wantStatus(t, r, http.StatusUnprocessableEntity)
	}
}

func TestUpdateProfile(t *testing.T) {
	ts := newServer(t, serverOptions{})
	a, b := ts.client(), ts.client()
	a.register(t)
	b.register(t)
	name := "user" + strings.ReplaceAll(newEmail("x")[2:12], ".", "")

	r := a.do(http.MethodPut, "/api/v1/auth/settings", map[string]any{"method": "profile", "traits": map[string]any{"username": name, "geo_location": "Lisbon"}})
	wantStatus(t, r, http.StatusOK)
	me := a.do(http.MethodGet, "/api/v1/auth/me", nil).profile(t)
	if me.Username == nil || *me.Username != name || me.GeoLocation == nil || *me.GeoLocation != "Lisbon" {
		t.Errorf("me after profile change = %+v", me)
	}
	// Clearing one trait leaves the other.
	wantStatus(t, a.do(http.MethodPut, "/api/v1/auth/settings", map[string]any{"method": "profile", "traits": map[string]any{"geo_location": nil}}), http.StatusOK)
	me = a.do(http.MethodGet, "/api/v1/auth/me", nil).profile(t)
	if me.GeoLocation != nil || me.Username == nil {
		t.Errorf("me after clearing location = %+v", me)
	}

	dup := b.do(http.MethodPut, "/api/v1/auth/settings", map[string]any{"method": "profile", "traits": map[string]any{"username": strings.ToUpper(name)}})
	wantStatus(t, dup, http.StatusConflict)
	if p := dup.problem(t); p.Code != "username_taken" {
		t.Errorf("code = %s", p.Code)
	}
	bad := b.do(http.MethodPut, "/api/v1/auth/settings", map[string]any{"method": "profile", "traits": map[string]any{"username": 42}})
	wantStatus(t, bad, http.StatusUnprocessableEntity)
	if p := bad.problem(t); len(p.Errors) == 0 || p.Errors[0].Field != "traits.username" {
		t.Errorf("errors = %+v, want traits.username", p.Errors)
	}
	unknown := b.do(http.MethodPut, "/api/v1/auth/settings", map[string]any{"method": "profile", "traits": map[string]any{"email": "x@example.com"}})
	wantStatus(t, unknown, http.StatusUnprocessableEntity)
}

type sessionList struct {
	Sessions []struct {
		ID        string `json:"id"`
		UserAgent string `json:"user_agent"`
		IP        string `json:"ip"`
		Current   bool   `json:"current"`
	} `json:"sessions"`
}

func TestSessionsListAndRevoke(t *testing.T) {
	ts := newServer(t, serverOptions{})
	laptop, phone := ts.client(), ts.client()
	cr := credentials{Identifier: newEmail("sess"), Password: "correct horse battery staple"}
	wantStatus(t, laptop.do(http.MethodPost, "/api/v1/auth/register", cr, "User-Agent", "laptop-browser"), http.StatusCreated)
	wantStatus(t, phone.do(http.MethodPost, "/api/v1/auth/login", cr, "User-Agent", "phone-browser"), http.StatusOK)

	var list sessionList
	decode(t, laptop.do(http.MethodGet, "/api/v1/auth/sessions", nil), &list)
	if len(list.Sessions) != 2 {
		t.Fatalf("sessions = %+v, want 2", list.Sessions)
	}
	var phoneID string
	for _, s := range list.Sessions {
		if s.IP == "" || (s.UserAgent == "laptop-browser") != s.Current {
			t.Errorf("session %+v: current should be set for the laptop only", s)
		}
		if s.UserAgent == "phone-browser" {
			phoneID = s.ID
		}
		if strings.Contains(s.ID, laptop.sessionToken()) || strings.Contains(s.ID, phone.sessionToken()) {
			t.Error("a session id reveals the token")
		}
	}

	// A second user can neither see nor end the first user's sessions.
	other := ts.client()
	other.register(t)
	var otherList sessionList
	decode(t, other.do(http.MethodGet, "/api/v1/auth/sessions", nil), &otherList)
	if len(otherList.Sessions) != 1 || !otherList.Sessions[0].Current {
		t.Errorf("other user's sessions = %+v, want only its own", otherList.Sessions)
	}
	wantStatus(t, other.do(http.MethodDelete, "/api/v1/auth/sessions/"+phoneID, nil), http.StatusNotFound)
	wantStatus(t, phone.do(http.MethodGet, "/api/v1/auth/me", nil), http.StatusOK)

	// The laptop ends the phone's session.
	wantStatus(t, laptop.do(http.MethodDelete, "/api/v1/auth/sessions/"+phoneID, nil), http.StatusNoContent)
	wantStatus(t, phone.do(http.MethodGet, "/api/v1/auth/me", nil), http.StatusUnauthorized)
	wantStatus(t, laptop.do(http.MethodDelete, "/api/v1/auth/sessions/"+phoneID, nil), http.StatusNotFound)
	decode(t, laptop.do(http.MethodGet, "/api/v1/auth/sessions", nil), &list)
	if len(list.Sessions) != 1 || !list.Sessions[0].Current {
		t.Errorf("sessions after revoke = %+v", list.Sessions)
	}
}

func TestRevokeOtherSessions(t *testing.T) {
	ts := newServer(t, serverOptions{})
	a := ts.client()
	cr := a.register(t)
	others := []*client{ts.client(), ts.client()}
	for _, o := range others {
		wantStatus(t, o.do(http.MethodPost, "/api/v1/auth/login", cr), http.StatusOK)
	}
	wantStatus(t, a.do(http.MethodDelete, "/api/v1/auth/sessions", nil), http.StatusNoContent)
	for _, o := range others {
		wantStatus(t, o.do(http.MethodGet, "/api/v1/auth/me", nil), http.StatusUnauthorized)
	}
	wantStatus(t, a.do(http.MethodGet, "/api/v1/auth/me", nil), http.StatusOK)
}

func TestSessionExpiredInValkeyVanishesFromList(t *testing.T) {
	ts := newServer(t, serverOptions{})
	a, b := ts.client(), ts.client()
	cr := a.register(t)
	wantStatus(t, b.do(http.MethodPost, "/api/v1/auth/login", cr), http.StatusOK)
	// b's session expires in Valkey (PEXPIREAT in the past removes the key
	// at once, as expiry does), while its index entry stays behind.
	key := ts.sessionKey(b.sessionToken())
	if err := testValkey.Do(context.Background(), testValkey.B().Pexpireat().Key(key).MillisecondsTimestamp(1).Build()).Error(); err != nil {
		t.Fatal(err)
	}
	var list sessionList
	decode(t, a.do(http.MethodGet, "/api/v1/auth/sessions", nil), &list)
	if len(list.Sessions) != 1 || !list.Sessions[0].Current {
		t.Errorf("sessions = %+v, want only the live current one", list.Sessions)
	}
}

func TestAuditTrail(t *testing.T) {
	ts := newServer(t, serverOptions{})
	a := ts.client()
	cr := a.register(t)
	wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/login", credentials{Identifier: cr.Identifier, Password: "wrong password!"}), http.StatusUnauthorized)
	b := ts.client()
	wantStatus(t, b.do(http.MethodPost, "/api/v1/auth/login", cr), http.StatusOK)
	wantStatus(t, a.do(http.MethodPut, "/api/v1/auth/settings", map[string]any{"method": "profile", "traits": map[string]any{"geo_location": "Kyiv"}}), http.StatusOK)
	wantStatus(t, a.do(http.MethodPut, "/api/v1/auth/settings", map[string]any{"method": "password", "password": "another long passphrase", "current_password": cr.Password}), http.StatusOK)
	c := ts.client()
	wantStatus(t, c.do(http.MethodPost, "/api/v1/auth/login", credentials{Identifier: cr.Identifier, Password: "another long passphrase"}), http.StatusOK)
	var list sessionList
	decode(t, a.do(http.MethodGet, "/api/v1/auth/sessions", nil), &list)
	for _, s := range list.Sessions {
		if !s.Current {
			wantStatus(t, a.do(http.MethodDelete, "/api/v1/auth/sessions/"+s.ID, nil), http.StatusNoContent)
		}
	}
	wantStatus(t, a.do(http.MethodPost, "/api/v1/auth/logout", nil), http.StatusNoContent)
	d := ts.client()
	wantStatus(t, d.do(http.MethodPost, "/api/v1/auth/login", credentials{Identifier: cr.Identifier, Password: "another long passphrase"}), http.StatusOK)

	var act struct {
		Events []struct {
			Event string `json:"event"`
			IP    string `json:"ip"`
		} `json:"events"`
	}
	decode(t, d.do(http.MethodGet, "/api/v1/auth/activity", nil), &act)
	var got []string
	for _, e := range act.Events {
		got = append(got, e.Event)
		if e.IP == "" {
			t.Errorf("event %s has no IP", e.Event)
		}
	}
	want := []string{"login_succeeded", "logout", "session_revoked", "login_succeeded", "password_changed", "profile_updated", "login_succeeded", "login_failed", "registration"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("activity = %v\nwant       %v", got, want)
	}

	// No audit row holds a secret.
	rows, err := testDB.Pool().Query(context.Background(), `SELECT concat_ws('|', event, ip, user_agent, request_id) FROM audit_events`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	secrets := []string{cr.Password, "another long passphrase", "wrong password!", b.sessionToken(), c.sessionToken(), d.sessionToken(), hashOf(d.sessionToken())}
	for rows.Next() {
		var row string
		if err := rows.Scan(&row); err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			if s != "" && strings.Contains(row, s) {
				t.Errorf("audit row %q contains a secret", row)
			}
		}
	}
}

func decode(t *testing.T, r response, v any) {
	t.Helper()
	wantStatus(t, r, http.StatusOK)
	if err := jsonUnmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// TestPasswordChangeVoidsRecoveryLinksAndNotifies: a recovery link mailed
// before a password change would undo it; the change voids it, and the
// owner is told of the change.
func TestPasswordChangeVoidsRecoveryLinksAndNotifies(t *testing.T) {
	ts := newServer(t, serverOptions{})
	c := ts.client()
	cr := c.register(t)
	old := recoveryToken(t, ts, cr.Identifier)
	wantStatus(t, c.do(http.MethodPut, "/api/v1/auth/settings", map[string]string{
		"method": "password", "password": "another long passphrase", "current_password": cr.Password}), http.StatusOK)
	wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/recovery/complete", map[string]string{
		"token": old, "password": "the attacker's passphrase"}), http.StatusGone)
	if _, err := testSink.WaitFor(cr.Identifier, "password was changed", mailWait); err != nil {
		t.Error(err)
	}
	wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/login", credentials{Identifier: cr.Identifier, Password: "another long passphrase"}), http.StatusOK)
}

// TestSessionsPerIdentityAreCapped: logins beyond SESSIONS_PER_IDENTITY end
// the oldest sessions, so that a login loop cannot grow one identity's
// sessions without bound.
func TestSessionsPerIdentityAreCapped(t *testing.T) {
	ts := newServer(t, serverOptions{env: map[string]string{"SESSIONS_PER_IDENTITY": "3"}})
	first := ts.client()
	cr := first.register(t)
	clients := []*client{first}
	for range 4 {
		c := ts.client()
		wantStatus(t, c.do(http.MethodPost, "/api/v1/auth/login", cr), http.StatusOK)
		clients = append(clients, c)
	}
	var list sessionList
	decode(t, clients[4].do(http.MethodGet, "/api/v1/auth/sessions", nil), &list)
	if len(list.Sessions) != 3 {
		t.Errorf("%d live sessions, want the cap of 3", len(list.Sessions))
	}
	for i, c := range clients {
		want := http.StatusOK
		if i < 2 {
			want = http.StatusUnauthorized // the two oldest were ended
		}
		wantStatus(t, c.do(http.MethodGet, "/api/v1/auth/me", nil), want)
	}
}
