// Package postgres is the PostgreSQL adapter of authd: the identity, token
// and audit stores and the goose migrations, over a pgx connection pool.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"

	"github.com/authd/authd/internal/auth"
)

// PoolOptions size the pool and bound every call.
type PoolOptions struct {
	MaxConns       int32
	ConnectTimeout time.Duration
	// QueryTimeout is the deadline of each call, so a hung database gives a
	// quick error instead of a pile of waiting requests.
	QueryTimeout time.Duration
	// Tracer, when set, makes each query of a traced request a span
	// (otelpgx) with its SQL text but never its parameters, which hold
	// e-mail addresses and token hashes. Queries outside a trace (the mail
	// queue's polling) make none.
	Tracer trace.TracerProvider
}

// DB is the one handle of the stores: the pool, or a transaction on it,
// plus the per-call deadline. Stores built on a transaction's DB compose:
// what they write commits or rolls back together.
type DB struct {
	q       querier
	pool    *pgxpool.Pool
	tx      pgx.Tx // nil outside a transaction
	timeout time.Duration
}

// querier is what a pool and a transaction have in common.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Pool is the connection pool, for what runs beside the stores (the mail
// queue, migrations).
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Tx is the transaction of a handle made by Transact, or nil.
func (db *DB) Tx() pgx.Tx { return db.tx }

// Transact runs fn with a handle on a transaction, under the call deadline,
// and commits when fn returns nil. Inside a transaction it nests with a
// savepoint. fn's error is returned as it is (after the rollback); a
// failure to begin or commit is classified.
func (db *DB) Transact(ctx context.Context, fn func(tx *DB) error) error {
	ctx, cancel := db.deadline(ctx)
	defer cancel()
	var fnErr error
	err := pgx.BeginFunc(ctx, db.q, func(tx pgx.Tx) error {
		fnErr = fn(&DB{q: tx, pool: db.pool, tx: tx, timeout: db.timeout})
		return fnErr
	})
	switch {
	case err == nil:
		return nil
	case fnErr != nil:
		return fnErr // rolled back; fn's error as it is
	}
	return classify("postgres: transaction", err) // begin or commit failed
}

// Open connects to PostgreSQL and checks the connection.
func Open(ctx context.Context, url string, o PoolOptions) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parse error may echo the URL, password included.
		return nil, errors.New("postgres: DATABASE_URL is not a valid connection string")
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	if o.ConnectTimeout > 0 {
		cfg.ConnConfig.ConnectTimeout = o.ConnectTimeout
	}
	if o.Tracer != nil {
		cfg.ConnConfig.Tracer = otelpgx.NewTracer(otelpgx.WithTracerProvider(o.Tracer),
			otelpgx.WithMeterProvider(metricnoop.NewMeterProvider()), otelpgx.WithDisableAcquireTracer())
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open pool: %w", err)
	}
	db := &DB{q: pool, pool: pool, timeout: o.QueryTimeout}
	if err := db.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// Close releases every connection.
func (db *DB) Close() { db.pool.Close() }

// Ping checks that a connection can be had and answers.
func (db *DB) Ping(ctx context.Context) error {
	ctx, cancel := db.deadline(ctx)
	defer cancel()
	if err := db.pool.Ping(ctx); err != nil {
		return auth.Unavailable("postgres: ping", err)
	}
	return nil
}

func (db *DB) deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if db.timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, db.timeout)
}

// classify turns a driver error into a domain error. An error the server
// sent is internal (a bug or a broken invariant), except for connection and
// shutdown classes; anything else (refused connection, timeout, closed
// pool, broken socket) means the database cannot be reached: 503.
func classify(op string, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"), // connection exception
			strings.HasPrefix(pgErr.Code, "57P"), // admin shutdown, crash shutdown, cannot connect now
			pgErr.Code == "53300":                // too many connections
			return auth.Unavailable(op, err)
		}
		return auth.Internal(op, err)
	}
	return auth.Unavailable(op, err)
}
