package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/authd/authd/internal/config"
	"github.com/authd/authd/internal/logging"
	"github.com/authd/authd/internal/postgres"
	"github.com/authd/authd/migrations"
)

// migrate runs `authd migrate up|down|status|version` against DATABASE_URL,
// which is all it needs: a migration job is given the database and nothing
// else of the server's settings.
func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) != 1 {
		usage(stderr)
		return errUsage
	}
	cfg, err := config.LoadOnly(getenv, "DATABASE_URL", "DEPENDENCY_TIMEOUT", "LOG_LEVEL")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	db, err := postgres.Open(ctx, cfg.DatabaseURL, postgres.PoolOptions{MaxConns: 2, ConnectTimeout: cfg.DependencyTimeout})
	if err != nil {
		return fmt.Errorf("cannot reach PostgreSQL (DATABASE_URL): %w", err)
	}
	defer db.Close()
	// The backfill after `up` logs the rows it had to leave as they were;
	// stdout keeps the one-line answer.
	m, err := postgres.NewMigrator(db, migrations.FS, postgres.WithLogger(logging.New(stderr, cfg.LogLevel)))
	if err != nil {
		return err
	}
	defer m.Close()

	switch args[0] {
	case "up":
		n, err := m.Up(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "applied %d migration(s)\n", n)
	case "down":
		if err := m.Down(ctx); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "rolled back one migration")
	case "status":
		st, err := m.Status(ctx)
		if err != nil {
			return err
		}
		for _, s := range st {
			state := "pending"
			if s.Applied {
				state = "applied"
			}
			fmt.Fprintf(stdout, "%05d  %-8s %s\n", s.Version, state, s.Name)
		}
	case "version":
		v, err := m.Version(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, v)
	default:
		usage(stderr)
		return errUsage
	}
	return nil
}
