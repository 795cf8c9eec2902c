package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/net/netutil"

	"github.com/authd/authd/api"
	"github.com/authd/authd/internal/argon2id"
	"github.com/authd/authd/internal/auth"
	"github.com/authd/authd/internal/blocklist"
	"github.com/authd/authd/internal/config"
	"github.com/authd/authd/internal/hashpool"
	"github.com/authd/authd/internal/httpapi"
	"github.com/authd/authd/internal/logging"
	"github.com/authd/authd/internal/mailqueue"
	"github.com/authd/authd/internal/postgres"
	"github.com/authd/authd/internal/session"
	"github.com/authd/authd/internal/smtp"
	"github.com/authd/authd/internal/valkey"
	"github.com/authd/authd/migrations"
)

// usableCPUs is the Go runtime's own count (container limits included),
// read before serve raises GOMAXPROCS.
var usableCPUs = runtime.GOMAXPROCS(0)

// startupTimeout bounds connecting to the dependencies at start, so a
// missing database stops the process with a clear error instead of a hang.
const startupTimeout = 15 * time.Second

func serve(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	log := logging.New(stdout, cfg.LogLevel)

	startCtx, cancel := context.WithTimeout(ctx, startupTimeout)
	defer cancel()
	db, err := postgres.Open(startCtx, cfg.DatabaseURL, postgres.PoolOptions{
		MaxConns: cfg.DatabaseMaxConns, ConnectTimeout: cfg.DependencyTimeout, QueryTimeout: cfg.DependencyTimeout,
	})
	if err != nil {
		return fmt.Errorf("cannot reach PostgreSQL (DATABASE_URL): %w", err)
	}
	defer db.Close()
	if cfg.AutoMigrate {
		if err := migrateUp(startCtx, db, log); err != nil {
			return err
		}
	}
	vc, err := valkey.Open(startCtx, cfg.ValkeyURL, valkey.Options{DialTimeout: cfg.DependencyTimeout, CommandTimeout: cfg.DependencyTimeout})
	if err != nil {
		return fmt.Errorf("cannot reach Valkey (VALKEY_URL): %w", err)
	}
	defer vc.Close()

	argon, err := argon2id.New(argon2id.Params{
		Memory: cfg.Argon2Memory, Iterations: cfg.Argon2Iterations, Parallelism: cfg.Argon2Parallelism,
		SaltLength: 16, KeyLength: 32,
	})
	if err != nil {
		return fmt.Errorf("config: ARGON2_*: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Every hash waits for a slot in a pool sized to the CPUs, or is refused
	// with 503 at once when the wait would pass the budget.
	poolSize := cfg.HashPoolSize
	if poolSize == 0 {
		poolSize = usableCPUs
	}
	if getenv("GOMAXPROCS") == "" {
		// One spare Go processor per hash slot: a CPU-bound hash then never
		// holds the processor a cheap request needs, and the kernel (with
		// HASH_NICE) shares the cores (GOMAXPROCS=CPUs made /auth/me wait
		// 235 ms at p99 behind hashes in make bench).
		runtime.GOMAXPROCS(usableCPUs + poolSize)
	}
	if getenv("GOGC") == "" {
		// Each hash leaves its Argon2 memory (19 MiB) as garbage; at the
		// default GOGC that is ~20 collections a second under login load,
		// which made the /auth/me tail. The live heap is small, so a
		// larger target costs little memory (RSS stays far below 512 MiB).
		debug.SetGCPercent(400)
	}
	hasher := hashpool.New(argon, hashpool.Config{Size: poolSize, WaitBudget: cfg.HashWaitBudget,
		MaxQueue: cfg.HashMaxQueue, Nice: cfg.HashNice}, reg)
	// The dummy hash for unknown e-mails, made now rather than by the
	// first login, which would otherwise wait behind a busy pool for it.
	hasher.DummyHash()

	mailer, err := smtp.New(smtp.Config{Host: cfg.SMTPHost, Port: cfg.SMTPPort, TLS: cfg.SMTPTLS,
		Username: cfg.SMTPUsername, Password: cfg.SMTPPassword, From: cfg.MailFrom, Timeout: cfg.MailSendTimeout})
	if err != nil {
		return fmt.Errorf("config: SMTP_*: %w", err)
	}
	var tokens *postgres.TokenStore
	queue, err := mailqueue.New(db.Pool, mailer,
		func(ctx context.Context, now time.Time) (int64, error) { return tokens.PurgeExpired(ctx, now) },
		mailqueue.Config{Secret: cfg.SecretKey, Workers: cfg.MailWorkers, SendTimeout: cfg.MailSendTimeout,
			RetryBase: cfg.MailRetryBase, RetryMax: cfg.MailRetryMax, GiveUpAfter: cfg.MailGiveUpAfter,
			PurgeEvery: cfg.PurgeInterval, PollEvery: time.Second}, reg, log)
	if err != nil {
		return err
	}
	tokens = postgres.NewTokenStore(db, queue)

	sessionIndex := valkey.NewSessionIndex(vc, cfg.ValkeyKeyPrefix, cfg.DependencyTimeout)
	identities := auth.NewService(auth.Deps{
		Store:    postgres.NewIdentityStore(db),
		Hasher:   hasher,
		Sessions: sessionIndex,
		Audit:    postgres.NewAuditLog(db),
		Tokens:   tokens,
		Limiter:  valkey.NewWindow(vc, cfg.ValkeyKeyPrefix, cfg.DependencyTimeout),
		Lockouts: valkey.NewLockout(vc, cfg.ValkeyKeyPrefix, cfg.DependencyTimeout),
		Limits: auth.Limits{
			LoginAccount:   lockoutPolicy(cfg.LoginAccountFree, cfg.LoginLockoutBase, cfg.LoginLockoutMax, 24*time.Hour),
			LoginIP:        lockoutPolicy(cfg.LoginIPFree, cfg.LoginLockoutBase, cfg.LoginLockoutMax, time.Hour),
			RegisterPerIP:  cfg.RegisterLimitPerIP,
			MailRequestsIP: cfg.MailRequestsPerIP,
		},
		StrictRegistration: cfg.StrictRegistration,
		Profiles:           valkey.NewProfileCache(vc, cfg.ValkeyKeyPrefix, cfg.ProfileCacheTTL, cfg.DependencyTimeout),
		Mail: auth.MailSettings{PublicURL: cfg.PublicURL, Product: cfg.ProductName,
			RecoveryTTL: cfg.RecoveryTTL, VerificationTTL: cfg.VerificationTTL, CodeTTL: cfg.VerificationCodeTTL,
			CodeAttempts: cfg.VerificationAttempts, PerAddressLimit: cfg.MailLimitPerHour, RequireVerified: cfg.RequireVerifiedEmail},
		Policy:           auth.PasswordPolicy{MinLength: cfg.PasswordMinLength, Blocklist: &blocklist.Common{}},
		PrivilegedWindow: cfg.PrivilegedWindow,
		Now:              time.Now,
		Log:              log,
	})
	sessions := session.NewManager(
		valkey.NewSessionStore(vc, cfg.ValkeyKeyPrefix, cfg.DependencyTimeout), sessionIndex,
		session.Cookie{Name: cfg.CookieName, Domain: cfg.CookieDomain, Secure: cfg.CookieSecure, Lifetime: cfg.SessionLifetime},
		cfg.SessionTouch, time.Now, log)

	checks := map[string]httpapi.Check{
		"postgres": db.Ping,
		"valkey":   func(ctx context.Context) error { return valkey.Ping(ctx, vc) },
	}
	handler, err := httpapi.New(identities, sessions, checks, httpapi.Config{
		BodyLimit: cfg.BodyLimitBytes, ReadyTimeout: cfg.DependencyTimeout, OpenAPI: api.OpenAPI,
		TrustedProxies: cfg.TrustedProxies, CORSOrigins: cfg.CORSOrigins, TrustedOrigins: cfg.CSRFTrustedOrigins,
		MaxInFlight: cfg.MaxInFlight,
	}, reg, log)
	if err != nil {
		return fmt.Errorf("config: CORS_ALLOWED_ORIGINS / CSRF_TRUSTED_ORIGINS: %w", err)
	}

	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("HTTP_ADDR: %w", err)
	}
	ln = netutil.LimitListener(ln, cfg.MaxConnections)
	log.Info("authd listening", "addr", ln.Addr().String(), "dev_mode", cfg.DevMode, "public_url", cfg.PublicURL)

	if err := queue.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("mail queue: %w", err)
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.MailSendTimeout+time.Second)
		defer cancel()
		if err := queue.Stop(stopCtx); err != nil {
			log.Warn("mail queue did not stop cleanly", "error", err)
		}
	}()

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case err := <-serveErr:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests", "timeout", cfg.ShutdownTimeout.String())
	shutdownCtx, cancelShutdown := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancelShutdown()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server: %w", err)
	}
	log.Info("stopped")
	return nil
}

func migrateUp(ctx context.Context, db *postgres.DB, log *slog.Logger) error {
	m, err := postgres.NewMigrator(db, migrations.FS)
	if err != nil {
		return err
	}
	defer m.Close()
	n, err := m.Up(ctx)
	if err != nil {
		return err
	}
	log.Info("migrations applied", "count", n)
	return nil
}

// lockoutPolicy turns the settings into a policy; free == 0 turns it off.
func lockoutPolicy(free int, base, maxLock, resetAfter time.Duration) auth.LockoutPolicy {
	if free == 0 {
		return auth.LockoutPolicy{}
	}
	return auth.LockoutPolicy{Free: free, Base: base, Max: max(maxLock, base), ResetAfter: resetAfter}
}
