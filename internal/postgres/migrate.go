package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// Migrator applies the embedded goose migrations. It takes a PostgreSQL
// session lock, so instances that start together migrate one at a time.
// After the migrations, Up fills in the data that authd computes and
// SQL cannot (backfill.go).
type Migrator struct {
	provider *goose.Provider
	sqlDB    *sql.DB
	db       *DB
	log      *slog.Logger
	batch    int // rows per backfill statement
}

// MigratorOption configures a Migrator.
type MigratorOption func(*Migrator)

// WithLogger sets where the backfill reports what it did and the rows it
// had to leave as they were; the default is slog.Default().
func WithLogger(log *slog.Logger) MigratorOption {
	return func(m *Migrator) { m.log = log }
}

// NewMigrator builds a goose provider over the pool and the migration files.
func NewMigrator(db *DB, migrations fs.FS, opts ...MigratorOption) (*Migrator, error) {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, fmt.Errorf("postgres: migration lock: %w", err)
	}
	sqlDB := stdlib.OpenDBFromPool(db.pool)
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, migrations,
		goose.WithSessionLocker(locker), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("postgres: migrations: %w", err)
	}
	m := &Migrator{provider: p, sqlDB: sqlDB, db: db, log: slog.Default(), batch: defaultBackfillBatch}
	for _, o := range opts {
		o(m)
	}
	return m, nil
}

// Up applies every pending migration, then runs the backfill (also when
// no migration was pending: it picks up rows that an older authd wrote
// during a rolling upgrade, and after a goose CLI run it does what the CLI
// cannot). It returns how many migrations it applied.
func (m *Migrator) Up(ctx context.Context) (int, error) {
	res, err := m.provider.Up(ctx)
	if err != nil {
		return len(res), fmt.Errorf("postgres: migrate up: %w", err)
	}
	if err := m.backfill(ctx); err != nil {
		return len(res), err
	}
	return len(res), nil
}

// Down rolls back the latest migration.
func (m *Migrator) Down(ctx context.Context) error {
	if _, err := m.provider.Down(ctx); err != nil {
		return fmt.Errorf("postgres: migrate down: %w", err)
	}
	return nil
}

// Version returns the current schema version.
func (m *Migrator) Version(ctx context.Context) (int64, error) {
	v, err := m.provider.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("postgres: schema version: %w", err)
	}
	return v, nil
}

// MigrationStatus is one migration and whether it is applied.
type MigrationStatus struct {
	Version int64
	Name    string
	Applied bool
}

// Status lists every migration with its state.
func (m *Migrator) Status(ctx context.Context) ([]MigrationStatus, error) {
	res, err := m.provider.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: migration status: %w", err)
	}
	out := make([]MigrationStatus, 0, len(res))
	for _, r := range res {
		out = append(out, MigrationStatus{Version: r.Source.Version, Name: r.Source.Path, Applied: r.State == goose.StateApplied})
	}
	return out, nil
}

// Close releases the database/sql handle; the pool stays open.
func (m *Migrator) Close() error { return m.sqlDB.Close() }
