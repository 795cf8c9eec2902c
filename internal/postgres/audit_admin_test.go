package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/authd/authd/internal/auth"
	"github.com/authd/authd/internal/postgres"
)

// TestAuditTrailAllowsOnlyPseudonymisation: the one change the trigger
// lets through is blanking an event's IP and user agent; anything else,
// with it or without it, is refused.
func TestAuditTrailAllowsOnlyPseudonymisation(t *testing.T) {
	db := contractDB(t)
	ctx := context.Background()
	log := postgres.NewAuditLog(db, nil)
	id := uuid.New()
	if err := log.Record(ctx, auth.Event{Type: auth.EventLoginSucceeded, IdentityID: &id, IP: "192.0.2.7", UserAgent: "ua", RequestID: "r", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`UPDATE audit_events SET ip = '', user_agent = '', event = 'x' WHERE identity_id = $1`,
		`UPDATE audit_events SET ip = '', user_agent = '', identity_id = NULL WHERE identity_id = $1`,
		`UPDATE audit_events SET ip = '', user_agent = '', actor = 'admin:x' WHERE identity_id = $1`,
		`UPDATE audit_events SET ip = '10.0.0.1' WHERE identity_id = $1`,
		`UPDATE audit_events SET ip = '' WHERE identity_id = $1`, // the user agent stays: not a pseudonymisation
		`DELETE FROM audit_events WHERE identity_id = $1`,
	} {
		if _, err := db.Pool().Exec(ctx, q, id); err == nil {
			t.Errorf("%s succeeded", q)
		}
	}
	if err := log.Pseudonymise(ctx, id); err != nil {
		t.Fatalf("Pseudonymise: %v", err)
	}
	var ip, ua, req string
	if err := db.Pool().QueryRow(ctx, `SELECT ip, user_agent, request_id FROM audit_events WHERE identity_id = $1`, id).Scan(&ip, &ua, &req); err != nil {
		t.Fatal(err)
	}
	if ip != "" || ua != "" || req != "r" {
		t.Errorf("after Pseudonymise: ip %q ua %q request %q", ip, ua, req)
	}
}

type failingSink struct{ calls int }

func (s *failingSink) Publish(context.Context, pgx.Tx, auth.Event) error {
	s.calls++
	return errors.New("sink down")
}

type recordingSink struct{ got []auth.Event }

func (s *recordingSink) Publish(_ context.Context, tx pgx.Tx, e auth.Event) error {
	if tx == nil {
		return errors.New("no transaction")
	}
	s.got = append(s.got, e)
	return nil
}

// TestAuditEventAndItsPublicationCommitTogether: the sink (the webhooks)
// gets each event with its id inside the transaction that records it; if
// it fails, the event is not recorded either.
func TestAuditEventAndItsPublicationCommitTogether(t *testing.T) {
	db := contractDB(t)
	ctx := context.Background()
	id := uuid.New()
	count := func() int {
		var n int
		if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE identity_id = $1`, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	bad := &failingSink{}
	if err := postgres.NewAuditLog(db, bad).Record(ctx, auth.Event{Type: auth.EventLogout, IdentityID: &id, CreatedAt: time.Now()}); err == nil || bad.calls != 1 {
		t.Errorf("Record with a failing sink = %v after %d calls, want the failure", err, bad.calls)
	}
	if n := count(); n != 0 {
		t.Errorf("the event was recorded without its publication (%d rows)", n)
	}
	good := &recordingSink{}
	if err := postgres.NewAuditLog(db, good).Record(ctx, auth.Event{Type: auth.EventLogout, IdentityID: &id, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 1 || len(good.got) != 1 || good.got[0].ID == 0 {
		t.Errorf("%d rows, published %+v; want one event with its id", n, good.got)
	}
}
