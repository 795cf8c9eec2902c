package httpapi_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/internal/testenv"
)

// webhookSecret is the test servers' WEBHOOK_SECRET: whsec_ and 32 bytes.
const webhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYo="

// delivery is one message the receiver accepted.
type delivery struct {
	id        string
	eventType string
	eventID   int64
	identity  *uuid.UUID
	body      string
}

// receiver is a webhook receiver on a loopback port of its own: it checks
// every message with the Standard Webhooks algorithm, written here from
// the specification and not taken from authd, and records those it
// accepts. It can be stopped and started again on the same port (a
// receiver that is down), and made to hold requests without answering.
type receiver struct {
	t    *testing.T
	addr string
	key  []byte

	mu       sync.Mutex
	srv      *http.Server
	got      []delivery
	bad      []string      // why a message was refused
	attempts int           // every request that reached it
	hold     chan struct{} // non-nil: requests wait for it to close
	held     int           // requests waiting now
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(webhookSecret, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{t: t, addr: "127.0.0.1:" + strconv.Itoa(port), key: key}
	t.Cleanup(func() {
		r.release()
		r.stop()
	})
	return r
}

func (r *receiver) url() string { return "http://" + r.addr + "/hooks/authd" }

func (r *receiver) env() map[string]string {
	return map[string]string{"WEBHOOK_URL": r.url(), "WEBHOOK_SECRET": webhookSecret, "WEBHOOK_TIMEOUT": "2s",
		"WEBHOOK_RETRY_BASE": "20ms", "WEBHOOK_RETRY_MAX": "200ms", "WEBHOOK_WORKERS": "4"}
}

func (r *receiver) start() {
	r.t.Helper()
	ln, err := net.Listen("tcp", r.addr)
	if err != nil {
		r.t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(r.serve), ReadHeaderTimeout: 5 * time.Second}
	r.mu.Lock()
	r.srv = srv
	r.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// stop takes the receiver down: nothing listens at its address any more.
func (r *receiver) stop() {
	r.mu.Lock()
	srv := r.srv
	r.srv = nil
	r.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// holdRequests makes every request wait, unanswered, until release.
func (r *receiver) holdRequests() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hold = make(chan struct{})
}

func (r *receiver) release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.hold != nil {
		close(r.hold)
		r.hold = nil
	}
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	r.mu.Lock()
	r.attempts++
	hold := r.hold
	if hold != nil {
		r.held++
	}
	r.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-req.Context().Done():
		}
		r.mu.Lock()
		r.held--
		r.mu.Unlock()
		return // never answered
	}
	if err != nil {
		http.Error(w, "read", http.StatusBadRequest)
		return
	}
	d, err := r.verify(req, body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.bad = append(r.bad, err.Error())
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.got = append(r.got, d)
	w.WriteHeader(http.StatusNoContent)
}

// verify checks a message as the Standard Webhooks specification says: the
// signed content is "<webhook-id>.<webhook-timestamp>.<body>", signed with
// HMAC-SHA256 under the base64 key after "whsec_"; the header holds
// space-separated "v1,<base64>" signatures, one of which must match; the
// timestamp must be within five minutes of now.
func (r *receiver) verify(req *http.Request, body []byte) (delivery, error) {
	id, ts, sigs := req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp"), req.Header.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return delivery{}, errors.New("missing webhook-id, webhook-timestamp or webhook-signature")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return delivery{}, fmt.Errorf("timestamp %q is not within 5 minutes", ts)
	}
	mac := hmac.New(sha256.New, r.key)
	mac.Write([]byte(id + "." + ts + "." + string(body)))
	want := mac.Sum(nil)
	ok := false
	for _, s := range strings.Fields(sigs) {
		version, sig, _ := strings.Cut(s, ",")
		got, err := base64.StdEncoding.DecodeString(sig)
		if version == "v1" && err == nil && hmac.Equal(got, want) {
			ok = true
		}
	}
	if !ok {
		return delivery{}, errors.New("no signature matches")
	}
	var p struct {
		Type      string    `json:"type"`
		Timestamp time.Time `json:"timestamp"`
		Data      struct {
			EventID    int64      `json:"event_id"`
			IdentityID *uuid.UUID `json:"identity_id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &p); err != nil || p.Type == "" || p.Timestamp.IsZero() || p.Data.EventID == 0 {
		return delivery{}, fmt.Errorf("payload %s: %v", body, err)
	}
	if req.Header.Get("Content-Type") != "application/json" {
		return delivery{}, errors.New("not application/json")
	}
	return delivery{id: id, eventType: p.Type, eventID: p.Data.EventID, identity: p.Data.IdentityID, body: string(body)}, nil
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// auditedEvents are the audit events of the identities, in id order.
func auditedEvents(t *testing.T, ids ...uuid.UUID) map[int64]string {
	t.Helper()
	rows, err := testDB.Pool().Query(context.Background(), `SELECT id, event FROM audit_events WHERE identity_id = ANY($1)`, ids)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var (
			id    int64
			event string
		)
		if err := rows.Scan(&id, &event); err != nil {
			t.Fatal(err)
		}
		out[id] = event
	}
	return out
}

// waitDelivered polls until every one of the events has been delivered,
// then checks that none came twice.
func (r *receiver) waitDelivered(t *testing.T, want map[int64]string) []delivery {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := r.deliveries()
		seen := map[int64]bool{}
		for _, d := range got {
			seen[d.eventID] = true
		}
		missing := 0
		for id := range want {
			if !seen[id] {
				missing++
			}
		}
		if missing == 0 {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events not delivered after 30s (refused: %v)", missing, len(want), r.bad)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// onceEach fails unless every delivery has its own webhook-id and event.
func onceEach(t *testing.T, got []delivery, want map[int64]string) {
	t.Helper()
	ids, events := map[string]int{}, map[int64]int{}
	for _, d := range got {
		ids[d.id]++
		events[d.eventID]++
		if typ, ok := want[d.eventID]; ok && typ != d.eventType {
			t.Errorf("event %d arrived as %s, recorded as %s", d.eventID, d.eventType, typ)
		}
	}
	for id, n := range ids {
		if n > 1 {
			t.Errorf("webhook-id %s arrived %d times", id, n)
		}
	}
	for id := range want {
		if events[id] != 1 {
			t.Errorf("event %d (%s) arrived %d times, want once", id, want[id], events[id])
		}
	}
}

// TestWebhooksDeliverEveryEventSigned: every audit event of the flows an
// account goes through, its owner's and an operator's, arrives once,
// signed as Standard Webhooks says, with nothing secret in it.
func TestWebhooksDeliverEveryEventSigned(t *testing.T) {
	rcv := newReceiver(t)
	rcv.start()
	ts := newServer(t, serverOptions{env: rcv.env()})
	a := ts.client()
	cr := a.register(t)
	id := idOf(t, a)
	unknown := credentials{Identifier: newEmail("nobody"), Password: "some password!"}
	wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/login", unknown), http.StatusUnauthorized)
	wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/login", credentials{Identifier: cr.Identifier, Password: "wrong password!"}), http.StatusUnauthorized)
	b := ts.client()
	wantStatus(t, b.do(http.MethodPost, "/api/v1/auth/login", cr), http.StatusOK)
	wantStatus(t, a.do(http.MethodPut, "/api/v1/auth/settings", map[string]any{"method": "profile", "traits": map[string]any{"geo_location": "Oslo"}}), http.StatusOK)
	newPassword := "another long passphrase"
	wantStatus(t, a.do(http.MethodPut, "/api/v1/auth/settings", map[string]any{"method": "password", "password": newPassword, "current_password": cr.Password}), http.StatusOK)
	wantStatus(t, b.do(http.MethodPost, "/api/v1/auth/login", credentials{Identifier: cr.Identifier, Password: newPassword}), http.StatusOK)
	wantStatus(t, a.do(http.MethodDelete, "/api/v1/auth/sessions", nil), http.StatusNoContent)
	token := recoveryToken(t, ts, cr.Identifier)
	wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/recovery/complete", map[string]string{"token": token, "password": "a third long passphrase"}), http.StatusNoContent)
	c := ts.client()
	wantStatus(t, c.do(http.MethodPost, "/api/v1/auth/login", credentials{Identifier: cr.Identifier, Password: "a third long passphrase"}), http.StatusOK)
	wantStatus(t, changeEmail(c, newEmail("moved")), http.StatusAccepted)
	wantStatus(t, c.do(http.MethodPost, "/api/v1/auth/logout", nil), http.StatusNoContent)
	d := ts.client()
	wantStatus(t, d.do(http.MethodPost, "/api/v1/auth/login", credentials{Identifier: cr.Identifier, Password: "a third long passphrase"}), http.StatusOK)
	wantStatus(t, d.do(http.MethodDelete, "/api/v1/auth/me", nil), http.StatusNoContent)

	want := auditedEvents(t, id)
	types := map[string]bool{}
	for _, typ := range want {
		types[typ] = true
	}
	for _, typ := range []string{"registration", "login_failed", "login_succeeded", "logout", "profile_updated", "password_changed",
		"session_revoked", "recovery_requested", "recovery_completed", "email_change_requested", "account_deleted"} {
		if !types[typ] {
			t.Errorf("the flows recorded no %s event: %v", typ, want)
		}
	}
	got := rcv.waitDelivered(t, want)
	onceEach(t, got, want)
	// The failed login of an unknown address, about no identity, goes too.
	anonymous := 0
	for _, dl := range got {
		if dl.identity == nil && dl.eventType == "login_failed" {
			anonymous++
		}
		for _, secret := range []string{cr.Password, newPassword, "a third long passphrase", unknown.Password, token, a.sessionToken(), b.sessionToken(), "$argon2", "sha256:"} {
			if secret != "" && strings.Contains(dl.body, secret) {
				t.Errorf("webhook %s holds a secret: %s", dl.eventType, dl.body)
			}
		}
		if strings.Contains(dl.body, cr.Identifier) {
			t.Errorf("webhook %s holds the e-mail address: %s", dl.eventType, dl.body)
		}
	}
	if anonymous == 0 {
		t.Error("the failed login of an unknown address was not delivered")
	}
	if len(rcv.bad) > 0 {
		t.Errorf("messages refused by the receiver: %v", rcv.bad)
	}
	waitBacklogEmpty(t, ts)
	if v := metricValue(t, ts, `authd_webhook_deliveries_total{outcome="delivered"}`); v < float64(len(want)) {
		t.Errorf("authd_webhook_deliveries_total{delivered} = %v, want at least %d", v, len(want))
	}
}

// waitBacklogEmpty polls authd_webhook_backlog until it is 0.
func waitBacklogEmpty(t *testing.T, ts *testServer) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for metricValue(t, ts, "authd_webhook_backlog") != 0 {
		if time.Now().After(deadline) {
			t.Fatal("authd_webhook_backlog did not come down to 0")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWebhooksReachAReceiverThatWasDown: while the receiver is down the
// events wait in PostgreSQL and the attempts back off; once it is up it
// gets every event exactly once, and each identity's in the order they
// happened.
func TestWebhooksReachAReceiverThatWasDown(t *testing.T) {
	rcv := newReceiver(t) // not started: nothing listens at its address
	ts := newServer(t, serverOptions{env: rcv.env()})
	var ids []uuid.UUID
	for range 3 {
		c := ts.client()
		cr := c.register(t)
		ids = append(ids, idOf(t, c))
		for range 3 {
			wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/login", credentials{Identifier: cr.Identifier, Password: "wrong password!"}), http.StatusUnauthorized)
			wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/login", cr), http.StatusOK)
		}
		wantStatus(t, c.do(http.MethodPost, "/api/v1/auth/logout", nil), http.StatusNoContent)
	}
	want := auditedEvents(t, ids...)
	// Down: deliveries fail and are retried; the events wait.
	deadline := time.Now().Add(30 * time.Second)
	for metricValue(t, ts, `authd_webhook_deliveries_total{outcome="failed"}`) < 3 {
		if time.Now().After(deadline) {
			t.Fatal("no failed delivery counted while the receiver was down")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := metricValue(t, ts, "authd_webhook_backlog"); n < float64(len(want)) {
		t.Errorf("backlog while the receiver is down = %v, want at least %d", n, len(want))
	}
	rcv.start()
	got := rcv.waitDelivered(t, want)
	onceEach(t, got, want)
	for _, id := range ids {
		var order []int64
		for _, d := range got {
			if d.identity != nil && *d.identity == id {
				order = append(order, d.eventID)
			}
		}
		if !slices.IsSorted(order) || len(order) != 8 {
			t.Errorf("identity %s: events arrived in the order %v, want its 8 events in the order they happened", id, order)
		}
	}
	waitBacklogEmpty(t, ts)
}

// TestWebhookReceiverThatNeverAnswersDoesNotSlowLogins: deliveries run
// apart from the requests, holding no request and no database connection
// while they wait, so logins are answered while every delivery worker
// waits on a receiver that never answers.
func TestWebhookReceiverThatNeverAnswersDoesNotSlowLogins(t *testing.T) {
	rcv := newReceiver(t)
	rcv.holdRequests()
	rcv.start()
	env := rcv.env()
	env["WEBHOOK_TIMEOUT"] = "1m" // longer than the whole test: the deliveries stay held
	ts := newServer(t, serverOptions{env: env})
	var creds []credentials
	for range 4 {
		creds = append(creds, ts.client().register(t))
	}
	// Every worker is held by the receiver.
	deadline := time.Now().Add(30 * time.Second)
	for {
		rcv.mu.Lock()
		held := rcv.held
		rcv.mu.Unlock()
		if held == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d deliveries held by the receiver, want all 4 workers", held)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Logins go on, each answered while the deliveries are still held.
	for i := range 20 {
		wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/login", creds[i%len(creds)]), http.StatusOK)
	}
	rcv.mu.Lock()
	held, delivered := rcv.held, len(rcv.got)
	rcv.mu.Unlock()
	if held != 4 || delivered != 0 {
		t.Errorf("after the logins: %d deliveries held, %d delivered; want the 4 still held", held, delivered)
	}
}
