package mailqueue

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/authd/authd/internal/auth"
	"github.com/authd/authd/internal/postgres"
	"github.com/authd/authd/internal/testenv"
	"github.com/authd/authd/migrations"
)

// insertOnlyQueue is a queue without workers over db: what it queues stays
// in river_job to be looked at.
func insertOnlyQueue(t *testing.T, pool *pgxpool.Pool, secret []byte, previous ...[]byte) *Queue {
	t.Helper()
	q, err := New(pool, nil, noPurge{}, Config{Secret: secret, PreviousSecrets: previous}, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func migratedPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	dbURL, drop, err := testenv.CreateDatabase(testenv.RandomName("authd_test_mailqueue_"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(drop)
	ctx := context.Background()
	db, err := postgres.Open(ctx, dbURL, postgres.PoolOptions{MaxConns: 4, QueryTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	m, err := postgres.NewMigrator(db, migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.Up(ctx); err != nil {
		t.Fatal(err)
	}
	return db.Pool()
}

func waitingJobs(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE queue = 'mail' AND state = 'available'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestDiscardMailToDropsOnlyThatAddress: the mails and requests waiting
// for an address go, those of others stay; jobs tagged under a key that
// SECRET_KEY replaced are found too.
func TestDiscardMailToDropsOnlyThatAddress(t *testing.T) {
	ctx := context.Background()
	pool := migratedPool(t)
	oldKey := bytes.Repeat([]byte("o"), 32)
	before := insertOnlyQueue(t, pool, oldKey)
	q := insertOnlyQueue(t, pool, testSecret, oldKey)
	ann, _ := auth.ParseEmail("ann@example.test")
	bob, _ := auth.ParseEmail("bob@example.test")
	for _, o := range []auth.Outbox{before.Outbox(nil), q.Outbox(nil)} {
		for _, to := range []auth.Email{ann, bob} {
			if err := o.Queue(ctx, auth.Mail{To: to.String(), Template: "recovery", Data: map[string]string{"Link": "x"}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := q.Outbox(nil).QueueRequest(ctx, auth.MailRequest{Purpose: auth.PurposeRecovery, Email: ann, RequestedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if n := waitingJobs(t, pool); n != 5 {
		t.Fatalf("%d jobs waiting, want 5", n)
	}
	n, err := q.Outbox(nil).DiscardMailTo(ctx, ann)
	if err != nil || n != 3 {
		t.Fatalf("DiscardMailTo(ann) = %d, %v; want her 2 mails and 1 request", n, err)
	}
	if left := waitingJobs(t, pool); left != 2 {
		t.Errorf("%d jobs left, want bob's 2", left)
	}
	if n, err := q.Outbox(nil).DiscardMailTo(ctx, ann); err != nil || n != 0 {
		t.Errorf("a second DiscardMailTo(ann) = %d, %v", n, err)
	}
	// The tags name nobody: no job's metadata holds an address.
	var leaks int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE metadata::text LIKE '%@%' OR args::text LIKE '%@%'`).Scan(&leaks); err != nil {
		t.Fatal(err)
	}
	if leaks != 0 {
		t.Errorf("%d jobs hold an address in the clear", leaks)
	}
}
