package postgres_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authd/authd/internal/auth"
	"github.com/authd/authd/internal/auth/authtest"
	"github.com/authd/authd/internal/mailqueue"
	"github.com/authd/authd/internal/postgres"
	"github.com/authd/authd/internal/testenv"
)

// The PostgreSQL stores pass the domain's shared contract (package
// authtest). The contract writes unique addresses, usernames and token
// hashes, so its subtests share one database.

// contractDB is a migrated database of the test's own. Not this package's
// shared one (migrated): TestMigrationsConcurrentAndReversible needs that
// one fresh, and this file's tests would run first.
func contractDB(t *testing.T) *postgres.DB {
	t.Helper()
	url, drop, err := testenv.CreateDatabase(testenv.RandomName("authd_test_contract_"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(drop)
	return migrate(t, openURL(t, url)) // the pool closes before the drop
}

func TestContractIdentityStore(t *testing.T) {
	db := contractDB(t)
	authtest.TestIdentityStore(t, func(*testing.T) auth.IdentityStore { return postgres.NewIdentityStore(db) })
}

func TestContractTokenStore(t *testing.T) {
	db := contractDB(t)
	authtest.TestTokenStore(t, func(*testing.T) (auth.IdentityStore, auth.TokenStore) {
		return postgres.NewIdentityStore(db), postgres.NewTokenStore(db)
	})
}

func TestContractFactorStore(t *testing.T) {
	db := contractDB(t)
	authtest.TestFactorStore(t, func(*testing.T) (auth.IdentityStore, auth.FactorStore) {
		return postgres.NewIdentityStore(db), postgres.NewFactorStore(db)
	})
}

func TestContractAuditLog(t *testing.T) {
	db := contractDB(t)
	authtest.TestAuditLog(t, func(*testing.T) (auth.IdentityStore, auth.AuditLog) {
		return postgres.NewIdentityStore(db), postgres.NewAuditLog(db, nil)
	})
}

func TestContractIdentityQueries(t *testing.T) {
	db := contractDB(t)
	authtest.TestIdentityQueries(t, func(*testing.T) (auth.IdentityStore, auth.FactorStore, auth.IdentityQueries) {
		return postgres.NewIdentityStore(db), postgres.NewFactorStore(db), postgres.NewIdentityQueries(db)
	})
}

func TestContractAuditQueries(t *testing.T) {
	db := contractDB(t)
	authtest.TestAuditQueries(t, func(*testing.T) (auth.IdentityStore, auth.AuditLog, auth.AuditQueries) {
		log := postgres.NewAuditLog(db, nil)
		return postgres.NewIdentityStore(db), log, log
	})
}

// transactor is internal/app's transactor: the stores on one PostgreSQL
// transaction, with the real (insert-only) mail queue's outbox on it.
type transactor struct {
	db    *postgres.DB
	queue *mailqueue.Queue
}

func (t transactor) stores(db *postgres.DB) auth.Stores {
	return auth.Stores{
		Identities: postgres.NewIdentityStore(db),
		Tokens:     postgres.NewTokenStore(db),
		Outbox:     t.queue.Outbox(db.Tx()),
		Factors:    postgres.NewFactorStore(db),
	}
}

func (t transactor) InTx(ctx context.Context, fn func(auth.Stores) error) error {
	return t.db.Transact(ctx, func(tx *postgres.DB) error { return fn(t.stores(tx)) })
}

var _ auth.Transactor = transactor{}

func TestContractTransactor(t *testing.T) {
	db := contractDB(t)
	// No workers: the queue only inserts, so what it queued stays in
	// river_job to be counted.
	queue, err := mailqueue.New(db.Pool(), nil, postgres.NewTokenStore(db),
		mailqueue.Config{Secret: []byte("authtest contract secret, 32 bytes or more")},
		prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	tx := transactor{db: db, queue: queue}
	mails := func(t *testing.T) int {
		t.Helper()
		var n int
		if err := db.Pool().QueryRow(t.Context(), `SELECT count(*) FROM river_job WHERE kind = 'send_mail'`).Scan(&n); err != nil {
			t.Fatalf("count queued mails: %v", err)
		}
		return n
	}
	authtest.TestTransactor(t, func(*testing.T) authtest.TxFixture {
		return authtest.TxFixture{Tx: tx, Stores: tx.stores(db), Mails: mails}
	})
}
