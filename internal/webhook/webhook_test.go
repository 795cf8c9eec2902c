package webhook

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/authd/authd/internal/auth"
	"github.com/authd/authd/internal/mailqueue"
	"github.com/authd/authd/internal/postgres"
	"github.com/authd/authd/internal/testenv"
	"github.com/authd/authd/migrations"
)

// TestSignMatchesTheSpecification: the signature of the Standard Webhooks
// specification's own example (its reference libraries test the same
// vector), and one signature per key during a rotation.
func TestSignMatchesTheSpecification(t *testing.T) {
	key, err := ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := Sign([][]byte{key}, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
	other := []byte(strings.Repeat("x", 32))
	two := strings.Fields(Sign([][]byte{key, other}, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`)))
	if len(two) != 2 || two[0] != got || !strings.HasPrefix(two[1], "v1,") || two[1] == got {
		t.Errorf("two keys sign as %v", two)
	}
	if Sign([][]byte{key}, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331, []byte(`{"test": 2432232314}`)) == got {
		t.Error("the timestamp is not signed")
	}
}

func TestParseSecret(t *testing.T) {
	b64 := func(n int) string { return base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", n))) }
	tests := []struct {
		in string
		ok bool
	}{
		{"whsec_" + b64(24), true},
		{"whsec_" + b64(64), true},
		{"whsec_" + b64(23), false},
		{"whsec_" + b64(65), false},
		{b64(32), false},
		{"whsec_not base64!", false},
		{"", false},
	}
	for _, tt := range tests {
		if _, err := ParseSecret(tt.in); (err == nil) != tt.ok {
			t.Errorf("ParseSecret(%q) = %v, want ok=%v", tt.in, err, tt.ok)
		}
	}
}

// TestAnEventWhoseJobWasLostIsStillDelivered: an event whose delivery job
// River dropped (discarded by a leader without webhooks, or cancelled by
// hand) is found by the sweep and delivered.
func TestAnEventWhoseJobWasLostIsStillDelivered(t *testing.T) {
	ctx := context.Background()
	dbURL, drop, err := testenv.CreateDatabase(testenv.RandomName("authd_test_webhook_"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(drop)
	db, err := postgres.Open(ctx, dbURL, postgres.PoolOptions{MaxConns: 8, QueryTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	m, err := postgres.NewMigrator(db, migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Up(ctx); err != nil {
		t.Fatal(err)
	}
	m.Close()

	var received atomic.Int64
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rcv.Close)
	log := slog.New(slog.DiscardHandler)
	w, err := New(db.Pool(), Config{URL: rcv.URL, Keys: [][]byte{[]byte(strings.Repeat("k", 32))}, Timeout: 2 * time.Second,
		Workers: 1, RetryBase: 20 * time.Millisecond, RetryMax: 100 * time.Millisecond, GiveUpAfter: time.Hour}, prometheus.NewRegistry(), log)
	if err != nil {
		t.Fatal(err)
	}
	// The event and its job, as the audit log writes them; then the job is
	// lost and the event ages past the sweep's threshold.
	id := uuid.New()
	err = pgx.BeginFunc(ctx, db.Pool(), func(tx pgx.Tx) error {
		return w.Publish(ctx, tx, auth.Event{ID: 1, Type: auth.EventLoginSucceeded, IdentityID: &id, CreatedAt: time.Now()})
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool().Exec(ctx, `DELETE FROM river_job WHERE kind = 'deliver_webhook'`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool().Exec(ctx, `UPDATE webhook_events SET created_at = now() - interval '2 minutes'`); err != nil {
		t.Fatal(err)
	}
	// A queue whose River client works the deliveries; the sweep runs at
	// its start.
	q, err := mailqueue.New(db.Pool(), nil, nil, mailqueue.Config{Secret: []byte(strings.Repeat("s", 32)), SendTimeout: time.Second,
		PollEvery: 50 * time.Millisecond, Jobs: []mailqueue.Jobs{w}}, prometheus.NewRegistry(), log)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_ = q.Stop(stopCtx)
	})
	deadline := time.Now().Add(30 * time.Second)
	for received.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the event whose job was lost was never delivered")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for {
		var left int
		if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM webhook_events`).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events left after their delivery", left)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDeliveryOutcomes: a 2xx is a delivery; any other status, a redirect
// included (never followed: events go to the configured receiver only),
// and a receiver that does not answer within the deadline are failures.
func TestDeliveryOutcomes(t *testing.T) {
	var redirectedTo atomic.Int64
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { redirectedTo.Add(1) }))
	t.Cleanup(elsewhere.Close)
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read first: the server notices a client that went away (and
		// ends r's context) only once the body is read.
		_, _ = io.Copy(io.Discard, r.Body)
		switch r.URL.Path {
		case "/ok":
			w.WriteHeader(http.StatusAccepted)
		case "/redirect":
			http.Redirect(w, r, elsewhere.URL, http.StatusTemporaryRedirect)
		case "/error":
			w.WriteHeader(http.StatusInternalServerError)
		case "/silent":
			select {
			case <-block:
			case <-r.Context().Done():
			}
		}
	}))
	t.Cleanup(rcv.Close)
	for _, tt := range []struct {
		path string
		ok   bool
	}{{"/ok", true}, {"/redirect", false}, {"/error", false}, {"/silent", false}} {
		w, err := New(nil, Config{URL: rcv.URL + tt.path, Keys: [][]byte{[]byte(strings.Repeat("k", 32))}, Timeout: 200 * time.Millisecond},
			prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		err = w.send(context.Background(), pending{messageID: "msg_1", body: []byte(`{}`)})
		if (err == nil) != tt.ok {
			t.Errorf("%s: send = %v, want ok=%v", tt.path, err, tt.ok)
		}
	}
	if redirectedTo.Load() != 0 {
		t.Error("a redirect was followed")
	}
}
