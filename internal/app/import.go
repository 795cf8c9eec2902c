package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/authd/authd/internal/auth"
	"github.com/authd/authd/internal/config"
	"github.com/authd/authd/internal/postgres"
	"github.com/authd/authd/internal/seal"
)

// Importer is authd as `authd import` needs it: the identity and factor
// stores on PostgreSQL and the service's import use case, sealing TOTP
// secrets with SECRET_KEY as `authd serve` does. No Valkey, no mail: an
// import starts no session and sends nothing.
type Importer struct {
	Service *auth.Service
	// RPID is authd's WebAuthn RP ID, the host of PUBLIC_URL.
	RPID string
	db   *postgres.DB
}

// NewImporter connects to DATABASE_URL, which must be migrated.
func NewImporter(ctx context.Context, cfg config.Config, log *slog.Logger) (*Importer, error) {
	u, err := url.Parse(cfg.PublicURL)
	if err != nil || u.Hostname() == "" {
		return nil, fmt.Errorf("config: PUBLIC_URL has no host")
	}
	secrets, err := seal.New("authd totp secret seal v1", cfg.SecretKey, cfg.PreviousSecretKeys...)
	if err != nil {
		return nil, fmt.Errorf("config: SECRET_KEY: %w", err)
	}
	startCtx, cancel := context.WithTimeout(ctx, startupTimeout)
	defer cancel()
	db, err := postgres.Open(startCtx, cfg.DatabaseURL, postgres.PoolOptions{
		MaxConns: 4, ConnectTimeout: cfg.DependencyTimeout, QueryTimeout: time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("cannot reach PostgreSQL (DATABASE_URL): %w", err)
	}
	svc := auth.NewService(auth.Deps{
		Stores: importStores(db), Transactor: importTransactor{db}, Secrets: secrets,
		RecoveryCodeKey: derive(cfg.SecretKey, "authd recovery codes"), Log: log,
		PreviousRecoveryCodeKeys: deriveEach(cfg.PreviousSecretKeys, "authd recovery codes"),
	})
	return &Importer{Service: svc, RPID: u.Hostname(), db: db}, nil
}

// Close closes the database pool.
func (i *Importer) Close() { i.db.Close() }

func importStores(db *postgres.DB) auth.Stores {
	return auth.Stores{Identities: postgres.NewIdentityStore(db), Tokens: postgres.NewTokenStore(db), Factors: postgres.NewFactorStore(db)}
}

type importTransactor struct{ db *postgres.DB }

func (t importTransactor) InTx(ctx context.Context, fn func(auth.Stores) error) error {
	return t.db.Transact(ctx, func(tx *postgres.DB) error { return fn(importStores(tx)) })
}
