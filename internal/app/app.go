// Package app is authd's composition root: the one place where the object
// graph is built from the configuration, for `authd serve` and for every
// test that runs the API, so that the tests run what ships.
package app

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	vk "github.com/valkey-io/valkey-go"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/net/netutil"

	"github.com/authd/authd/api"
	"github.com/authd/authd/internal/adminapi"
	"github.com/authd/authd/internal/argon2id"
	"github.com/authd/authd/internal/auth"
	"github.com/authd/authd/internal/blocklist"
	"github.com/authd/authd/internal/buildinfo"
	"github.com/authd/authd/internal/config"
	"github.com/authd/authd/internal/connlimit"
	"github.com/authd/authd/internal/hashpool"
	"github.com/authd/authd/internal/httpapi"
	"github.com/authd/authd/internal/mailqueue"
	"github.com/authd/authd/internal/postgres"
	"github.com/authd/authd/internal/seal"
	"github.com/authd/authd/internal/smtp"
	"github.com/authd/authd/internal/tracing"
	"github.com/authd/authd/internal/valkey"
	"github.com/authd/authd/internal/webauthn"
	"github.com/authd/authd/internal/webhook"
	"github.com/authd/authd/migrations"
	"github.com/authd/authd/web"
)

// Overrides replace or wrap parts of the graph. The zero value builds what
// `authd serve` runs; tests use the fields to share connections, to fake
// the clock, or to wrap a port (to count calls or inject a fault) while
// everything around it stays real.
type Overrides struct {
	// DB and Valkey are connections to use instead of opening
	// DATABASE_URL and VALKEY_URL; the caller keeps and closes them.
	DB     *postgres.DB
	Valkey vk.Client
	// Now is the clock of the use cases (time.Now when nil).
	Now func() time.Time
	// WrapHasher and WrapIdentities wrap the real hasher (the hash pool)
	// and the real identity store.
	WrapHasher     func(auth.PasswordHasher) auth.PasswordHasher
	WrapIdentities func(auth.IdentityStore) auth.IdentityStore
	// Checks replace the readiness probes.
	Checks map[string]httpapi.Check
	// Registry collects the metrics (a new registry when nil).
	Registry *prometheus.Registry
	// Resources replace what the process finds it may use (CPUs, memory
	// limit), to size the hash pool as on another machine.
	Resources *Resources
}

// App is a built authd: its handler, its background workers and what they
// hold open.
type App struct {
	Config   config.Config
	DB       *postgres.DB
	Valkey   vk.Client
	Service  *auth.Service
	Handler  *echo.Echo
	Registry *prometheus.Registry
	Log      *slog.Logger

	// AdminHandler is the admin API (nil when it is off), served on a
	// listener of its own; AdminTokens are its bearer tokens.
	AdminHandler http.Handler
	AdminTokens  *adminapi.Tokens

	// Resources are the CPUs and memory limit the hash pool was sized
	// from, and HashPool its size.
	Resources Resources
	HashPool  hashpool.Size

	queue   *mailqueue.Queue
	tracing *tracing.Provider
	// draining is set on SIGTERM: /ready answers 503 from then on.
	draining atomic.Bool
	closers  []func()

	// webhooks deliver every audit event to WEBHOOK_URL (nil: off).
	webhooks      *webhook.Webhooks
	adminListener net.Listener
}

// startupTimeout bounds connecting to the dependencies at start, so a
// missing database stops the process with a clear error instead of a hang.
const startupTimeout = 15 * time.Second

// New builds authd from cfg. It connects to PostgreSQL and Valkey (unless
// given them), applies migrations when AUTO_MIGRATE is set, and wires every
// adapter to the use cases. Call Start for the mail workers, Serve for
// HTTP, and Close at the end.
func New(ctx context.Context, cfg config.Config, log *slog.Logger, o Overrides) (a *App, err error) {
	a = &App{Config: cfg, Log: log, Registry: o.Registry}
	built := a // a is nil by the time a failure's deferred call runs
	defer func() {
		if err != nil {
			built.Close()
		}
	}()
	if a.Registry == nil {
		a.Registry = prometheus.NewRegistry()
		a.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	startCtx, cancel := context.WithTimeout(ctx, startupTimeout)
	defer cancel()

	build := buildinfo.Get()
	a.Registry.MustRegister(buildInfoMetric(build))
	a.tracing, err = tracing.New(startCtx, tracing.Config{Endpoint: cfg.OTLPEndpoint, ServiceName: cfg.OTelServiceName,
		Version: build.Version, SampleRatio: cfg.OTelSampleRatio})
	if err != nil {
		return nil, fmt.Errorf("config: OTEL_EXPORTER_OTLP_ENDPOINT: %w", err)
	}
	provider := a.tracing
	a.closers = append(a.closers, func() {
		flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := provider.Shutdown(flushCtx); err != nil {
			log.Warn("traces not flushed at shutdown", "error", err)
		}
	})
	var tp trace.TracerProvider // nil: the adapters make no spans
	if a.tracing.Enabled() {
		tp = a.tracing
		log.Info("tracing on", "otlp_endpoint", cfg.OTLPEndpoint, "sample_ratio", cfg.OTelSampleRatio)
	}

	a.DB = o.DB
	if a.DB == nil {
		a.DB, err = postgres.Open(startCtx, cfg.DatabaseURL, postgres.PoolOptions{
			MaxConns: cfg.DatabaseMaxConns, ConnectTimeout: cfg.DependencyTimeout, QueryTimeout: cfg.DependencyTimeout, Tracer: tp,
		})
		if err != nil {
			return nil, fmt.Errorf("cannot reach PostgreSQL (DATABASE_URL): %w", err)
		}
		a.closers = append(a.closers, a.DB.Close)
	}
	a.Registry.MustRegister(a.DB.PoolCollector())
	// Valkey is reached before any migration runs: an instance that could
	// not serve must not change the schema under the ones that do.
	a.Valkey = o.Valkey
	if a.Valkey == nil {
		conns := valkey.NewConnStats()
		a.Valkey, err = valkey.Open(startCtx, cfg.ValkeyURL, valkey.Options{DialTimeout: cfg.DependencyTimeout, CommandTimeout: cfg.DependencyTimeout,
			SentinelUsername: cfg.ValkeySentinelUsername, SentinelPassword: cfg.ValkeySentinelPassword,
			Conns: conns, Tracer: tp})
		if err != nil {
			return nil, fmt.Errorf("cannot reach Valkey (VALKEY_URL): %w", err)
		}
		a.closers = append(a.closers, a.Valkey.Close)
		a.Registry.MustRegister(conns)
	}
	if cfg.AutoMigrate {
		if err := MigrateUp(startCtx, a.DB, log); err != nil {
			return nil, err
		}
	}

	a.Resources = DetectResources()
	if o.Resources != nil {
		a.Resources = *o.Resources
	}
	hasher, err := a.hasher(tracerOf(tp, "github.com/authd/authd/internal/hashpool"))
	if err != nil {
		return nil, err
	}
	if o.WrapHasher != nil {
		hasher = o.WrapHasher(hasher)
	}
	mailer, err := smtp.New(smtp.Config{Host: cfg.SMTPHost, Port: cfg.SMTPPort, TLS: cfg.SMTPTLS,
		Username: cfg.SMTPUsername, Password: cfg.SMTPPassword, From: cfg.MailFrom, Timeout: cfg.MailSendTimeout,
		Tracer: tracerOf(tp, "github.com/authd/authd/internal/smtp")})
	if err != nil {
		return nil, fmt.Errorf("config: SMTP_*: %w", err)
	}
	if err := a.newWebhooks(); err != nil {
		return nil, err
	}
	a.queue, err = mailqueue.New(a.DB.Pool(), mailer, postgres.NewTokenStore(a.DB),
		mailqueue.Config{Secret: cfg.SecretKey, PreviousSecrets: cfg.PreviousSecretKeys, Workers: cfg.MailWorkers, SendTimeout: cfg.MailSendTimeout,
			RetryBase: cfg.MailRetryBase, RetryMax: cfg.MailRetryMax, GiveUpAfter: cfg.MailGiveUpAfter,
			PurgeEvery: cfg.PurgeInterval, PollEvery: time.Second, Jobs: a.queueJobs()}, a.Registry, log)
	if err != nil {
		return nil, err
	}

	stores := a.stores(a.DB)
	if o.WrapIdentities != nil {
		stores.Identities = o.WrapIdentities(stores.Identities)
	}
	vh := valkey.NewHandle(a.Valkey, cfg.ValkeyKeyPrefix, cfg.DependencyTimeout, derive(cfg.SecretKey, "authd valkey key subjects"))
	totpSecrets, err := seal.New("authd totp secret seal v1", cfg.SecretKey, cfg.PreviousSecretKeys...)
	if err != nil {
		return nil, fmt.Errorf("config: SECRET_KEY: %w", err)
	}
	ceremonies, err := webauthn.New(webauthn.Config{PublicURL: cfg.PublicURL, Origins: cfg.CSRFTrustedOrigins, DisplayName: cfg.ProductName})
	if err != nil {
		return nil, fmt.Errorf("config: PUBLIC_URL: %w", err)
	}
	a.Service = auth.NewService(auth.Deps{
		Challenges:               valkey.NewChallenges(vh),
		Ceremonies:               ceremonies,
		Secrets:                  totpSecrets,
		RecoveryCodeKey:          derive(cfg.SecretKey, "authd recovery codes"),
		PreviousRecoveryCodeKeys: deriveEach(cfg.PreviousSecretKeys, "authd recovery codes"),
		Stores:                   stores,
		Transactor:               transactor{a},
		Hasher:                   hasher,
		Sessions:                 countSessions(valkey.NewSessions(vh, cfg.SessionLifetime, cfg.SessionTouch, cfg.SessionsPerIdentity), a.Registry),
		Audit:                    a.auditLog(a.DB),
		IdentityQueries:          postgres.NewIdentityQueries(a.DB),
		AuditQueries:             a.auditLog(a.DB),
		HashFormats:              hashFormats{},
		Limiter:                  valkey.NewRateLimiter(vh),
		Lockouts:                 valkey.NewLockouts(vh),
		Limits: auth.Limits{
			LoginAccount:        lockoutPolicy(cfg.LoginAccountFree, cfg.LoginLockoutBase, cfg.LoginLockoutMax, 24*time.Hour),
			LoginAccountTotal:   lockoutPolicy(cfg.LoginAccountTotalFree, cfg.LoginLockoutBase, cfg.LoginLockoutMax, 24*time.Hour),
			LoginIP:             lockoutPolicy(cfg.LoginIPFree, cfg.LoginLockoutBase, cfg.LoginLockoutMax, time.Hour),
			RegisterPerIP:       cfg.RegisterLimitPerIP,
			MailRequestsIP:      cfg.MailRequestsPerIP,
			PasskeyCeremoniesIP: cfg.PasskeyCeremoniesPerIP,
		},
		StrictRegistration: cfg.StrictRegistration,
		Profiles:           valkey.NewProfileCache(vh, cfg.ProfileCacheTTL),
		Mail: auth.MailSettings{PublicURL: cfg.PublicURL, Product: cfg.ProductName,
			RecoveryTTL: cfg.RecoveryTTL, VerificationTTL: cfg.VerificationTTL, CodeTTL: cfg.VerificationCodeTTL,
			CodeAttempts: cfg.VerificationAttempts, PerAddressLimit: cfg.MailLimitPerHour, RequireVerified: cfg.RequireVerifiedEmail},
		Policy:           auth.PasswordPolicy{MinLength: cfg.PasswordMinLength, Blocklist: &blocklist.Common{}},
		PrivilegedWindow: cfg.PrivilegedWindow,
		CodeKey:          derive(cfg.SecretKey, "authd verification codes"),
		Now:              now,
		Log:              log,
	})
	// The queue answers recovery and verification requests with the
	// service that queued them.
	a.queue.AnswerRequestsWith(a.Service)

	checks := o.Checks
	if checks == nil {
		vc := a.Valkey
		checks = map[string]httpapi.Check{
			"postgres": a.DB.Ping,
			"valkey":   func(ctx context.Context) error { return valkey.Ping(ctx, vc) },
		}
	}
	var webFiles fs.FS
	switch {
	case cfg.WebUI && cfg.WebUIDir != "":
		webFiles = os.DirFS(cfg.WebUIDir)
	case cfg.WebUI:
		webFiles = web.Files
	}
	a.Handler, err = httpapi.New(a.Service, checks, httpapi.Config{
		Cookie:    httpapi.Cookie{Name: cfg.CookieName, Domain: cfg.CookieDomain, Secure: cfg.CookieSecure},
		BodyLimit: cfg.BodyLimitBytes, ReadyTimeout: cfg.DependencyTimeout, OpenAPI: api.OpenAPI,
		TrustedProxies: cfg.TrustedProxies, CORSOrigins: cfg.CORSOrigins, TrustedOrigins: cfg.CSRFTrustedOrigins,
		MaxInFlight: cfg.MaxInFlight, ShedDelay: cfg.ShedDelay, Web: webFiles,
		MetricsElsewhere: cfg.MetricsAddr != "", Tracer: tracerOf(tp, "github.com/authd/authd/internal/httpapi"),
		Draining: a.draining.Load,
	}, a.Registry, log)
	if err != nil {
		return nil, fmt.Errorf("config: CORS_ALLOWED_ORIGINS / CSRF_TRUSTED_ORIGINS / WEB_UI_DIR: %w", err)
	}
	a.buildAdmin()
	return a, nil
}

// hasher is Argon2id behind the hash pool: every hash waits for a slot in
// a pool sized to the CPUs and bounded by the memory limit, or is refused
// with 503 at once when the wait would pass the budget.
func (a *App) hasher(tracer trace.Tracer) (auth.PasswordHasher, error) {
	cfg := a.Config
	argon, err := argon2id.New(argon2id.Params{
		Memory: cfg.Argon2Memory, Iterations: cfg.Argon2Iterations, Parallelism: cfg.Argon2Parallelism,
		SaltLength: 16, KeyLength: 32,
	})
	if err != nil {
		return nil, fmt.Errorf("config: ARGON2_*: %w", err)
	}
	hashMemory := int64(cfg.Argon2Memory) * 1024
	a.HashPool = hashpool.Plan(
		hashpool.Machine{CPUs: a.Resources.CPUs, MemoryLimit: a.Resources.MemoryLimit},
		hashpool.Sizing{Requested: cfg.HashPoolSize, HashMemory: hashMemory, MemoryShare: float64(cfg.HashMemoryPercent) / 100},
	)
	a.logHashPool(hashMemory)
	a.registerHashPoolMetrics(hashMemory)
	pool := hashpool.New(argon, hashpool.Config{Size: a.HashPool.Slots, WaitBudget: cfg.HashWaitBudget,
		MaxQueue: cfg.HashMaxQueue, Nice: cfg.HashNice, Tracer: tracer}, a.Registry)
	// The dummy hash for unknown e-mails, made now rather than by the first
	// login, which would otherwise wait behind a busy pool for it.
	pool.DummyHash()
	return pool, nil
}

// stores are the durable stores on db, a pool or a transaction.
func (a *App) stores(db *postgres.DB) auth.Stores {
	return auth.Stores{
		Identities: postgres.NewIdentityStore(db),
		Tokens:     postgres.NewTokenStore(db),
		Outbox:     a.queue.Outbox(db.Tx()),
		Factors:    postgres.NewFactorStore(db),
		Audit:      a.auditLog(db),
	}
}

// transactor gives the use cases the stores inside one PostgreSQL
// transaction: tokens, identity rows and queued mail commit together.
type transactor struct{ a *App }

func (t transactor) InTx(ctx context.Context, fn func(auth.Stores) error) error {
	return t.a.DB.Transact(ctx, func(tx *postgres.DB) error { return fn(t.a.stores(tx)) })
}

var _ auth.Transactor = transactor{}

// Start runs the mail workers (none when MAIL_WORKERS is 0).
func (a *App) Start(ctx context.Context) error {
	if err := a.queue.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("mail queue: %w", err)
	}
	a.closers = append(a.closers, a.stopWorkers)
	return nil
}

// stopWorkers stops the mail and webhook workers from taking jobs and
// lets the running ones finish within MAIL_SEND_TIMEOUT. A second call
// waits for the first.
func (a *App) stopWorkers() {
	stopCtx, cancel := context.WithTimeout(context.Background(), a.Config.MailSendTimeout+time.Second)
	defer cancel()
	if err := a.queue.Stop(stopCtx); err != nil {
		a.Log.Warn("mail queue did not stop cleanly", "error", err)
	}
}

// Serve answers HTTP on ln until ctx is done, then finishes the requests
// in flight within SHUTDOWN_TIMEOUT. With METRICS_ADDR set it listens
// there for /metrics too.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	var metrics net.Listener
	if a.Config.MetricsAddr != "" {
		var err error
		if metrics, err = net.Listen("tcp", a.Config.MetricsAddr); err != nil {
			return fmt.Errorf("METRICS_ADDR: %w", err)
		}
	}
	if a.adminListener == nil {
		admin, err := ListenAdmin(a.Config)
		if err != nil {
			if metrics != nil {
				metrics.Close()
			}
			return err
		}
		a.adminListener = admin
	}
	return a.ServeWithMetrics(ctx, ln, metrics)
}

// ServeWithMetrics is Serve with the metrics listener already open (nil:
// none), so that `authd serve` can check both addresses before it
// migrates anything.
func (a *App) ServeWithMetrics(ctx context.Context, ln, metrics net.Listener) error {
	cfg := a.Config
	srv := &http.Server{
		Handler:           a.Handler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
	}
	// One client cannot hold every slot: its connections over its share are
	// closed at once, and near the cap idle keep-alive connections give up
	// theirs (refused ones never take a slot of the total).
	limiter := connlimit.New(cfg.MaxConnectionsPerClient, cfg.MaxConnections, cfg.TrustedProxies)
	srv.ConnState = limiter.ConnState
	ln = netutil.LimitListener(limiter.Listener(ln), cfg.MaxConnections)
	a.Log.Info("authd listening", "addr", ln.Addr().String(), "dev_mode", cfg.DevMode, "public_url", cfg.PublicURL)
	serveErr := make(chan error, 2)
	go func() { serveErr <- srv.Serve(ln) }()
	servers := []*http.Server{srv}
	if metrics != nil {
		// Outside the connection and in-flight caps: a scrape must get
		// through when the API is saturated, which is when it matters.
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(a.Registry, promhttp.HandlerOpts{}))
		msrv := &http.Server{Handler: mux, ReadHeaderTimeout: cfg.ReadHeaderTimeout, ReadTimeout: cfg.ReadTimeout,
			WriteTimeout: cfg.WriteTimeout, IdleTimeout: cfg.IdleTimeout, ErrorLog: srv.ErrorLog}
		servers = append(servers, msrv)
		a.Log.Info("metrics listening", "addr", metrics.Addr().String())
		go func() { serveErr <- msrv.Serve(metrics) }()
	}
	if a.adminListener != nil && a.AdminHandler != nil {
		// Its own server on its own listener: the public one never routes
		// /admin/v1, and the admin one is outside the public caps.
		asrv := a.adminServer(a.Log)
		servers = append(servers, asrv)
		a.Log.Info("admin API listening", "addr", a.adminListener.Addr().String())
		admin := a.adminListener
		go func() { serveErr <- asrv.Serve(admin) }()
	}
	select {
	case err := <-serveErr:
		for _, s := range servers {
			s.Close()
		}
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	workersStopped := a.drain(cfg.ShutdownDrain, servers)
	a.Log.Info("shutting down: finishing in-flight requests", "timeout", cfg.ShutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	var errs []error
	for _, s := range servers {
		if err := s.Shutdown(shutdownCtx); err != nil {
			errs = append(errs, fmt.Errorf("shutdown: %w", err))
		}
	}
	for range servers {
		if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, fmt.Errorf("http server: %w", err))
		}
	}
	<-workersStopped
	if err := errors.Join(errs...); err != nil {
		return err
	}
	a.Log.Info("stopped")
	return nil
}

// drain is the first step of a shutdown: /ready answers 503 at once, the
// workers stop taking jobs (so a queued mail goes to an instance that
// stays), and requests are still served for the drain time, long enough
// for a load balancer's health checks to stop sending here. Keep-alive is
// off meanwhile, so a client on a kept connection moves on after its next
// answer. The returned channel closes when the workers have stopped.
func (a *App) drain(d time.Duration, servers []*http.Server) <-chan struct{} {
	a.draining.Store(true)
	a.Log.Info("draining: /ready answers 503, requests are still served", "drain", d.String())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		if a.queue != nil {
			a.stopWorkers()
		}
	}()
	for _, s := range servers {
		s.SetKeepAlivesEnabled(false)
	}
	time.Sleep(d)
	return stopped
}

// Close stops the workers and closes what New opened, last opened first.
func (a *App) Close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
}

// MigrateUp applies the embedded migrations.
func MigrateUp(ctx context.Context, db *postgres.DB, log *slog.Logger) error {
	m, err := postgres.NewMigrator(db, migrations.FS, postgres.WithLogger(log))
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

// derive makes a key for one purpose from SECRET_KEY, so that no two uses
// share a key and none reveals the secret.
// deriveEach derives purpose's key from each secret (the previous
// SECRET_KEYs during a rotation).
func deriveEach(secrets [][]byte, purpose string) [][]byte {
	out := make([][]byte, len(secrets))
	for i, s := range secrets {
		out[i] = derive(s, purpose)
	}
	return out
}

func derive(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// Adapters that do not import the domain, checked where they are plugged in.
var (
	_ hashpool.Inner = (*argon2id.Hasher)(nil)
	_ auth.Blocklist = (*blocklist.Common)(nil)
)

// tracerOf is the named tracer of tp, or nil (no spans) when tracing is off.
func tracerOf(tp trace.TracerProvider, name string) trace.Tracer {
	if tp == nil {
		return nil
	}
	return tp.Tracer(name)
}
