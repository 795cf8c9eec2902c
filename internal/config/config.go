// Package config reads authd's settings from environment variables,
// validates them once at start-up and documents them for --help.
package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config is every setting of authd.
type Config struct {
	DevMode     bool
	HTTPAddr    string
	MetricsAddr string
	PublicURL   string
	AutoMigrate bool
	LogLevel    string

	DatabaseURL      string
	DatabaseMaxConns int32
	ValkeyURL        string
	ValkeyKeyPrefix  string
	// ValkeySentinelUsername and ValkeySentinelPassword are the
	// sentinels' own credentials (those in ValkeyURL are the data nodes').
	ValkeySentinelUsername string
	ValkeySentinelPassword string
	DependencyTimeout      time.Duration

	CookieName      string
	CookieSecure    bool
	CookieDomain    string
	SessionLifetime time.Duration
	SessionTouch    time.Duration
	// SessionsPerIdentity caps one identity's live sessions (0: no cap).
	SessionsPerIdentity int
	PrivilegedWindow    time.Duration

	Argon2Memory      uint32
	Argon2Iterations  uint32
	Argon2Parallelism uint8
	PasswordMinLength int

	SecretKey          []byte
	PreviousSecretKeys [][]byte

	SMTPHost     string
	SMTPPort     int
	SMTPTLS      string
	SMTPUsername string
	SMTPPassword string
	MailFrom     string
	ProductName  string

	RecoveryTTL          time.Duration
	VerificationTTL      time.Duration
	VerificationCodeTTL  time.Duration
	VerificationAttempts int
	MailLimitPerHour     int
	RequireVerifiedEmail bool

	MailWorkers     int
	MailSendTimeout time.Duration
	MailRetryBase   time.Duration
	MailRetryMax    time.Duration
	MailGiveUpAfter time.Duration
	PurgeInterval   time.Duration

	TrustedProxies         []*net.IPNet
	CORSOrigins            []string
	CSRFTrustedOrigins     []string
	StrictRegistration     bool
	LoginAccountFree       int
	LoginAccountTotalFree  int
	LoginIPFree            int
	LoginLockoutBase       time.Duration
	LoginLockoutMax        time.Duration
	RegisterLimitPerIP     int
	MailRequestsPerIP      int
	PasskeyCeremoniesPerIP int

	ProfileCacheTTL time.Duration
	MaxInFlight     int
	WebUI           bool
	WebUIDir        string
	MaxConnections  int
	// MaxConnectionsPerClient caps one client IP's share of MaxConnections.
	MaxConnectionsPerClient int
	HashPoolSize            int
	HashMemoryPercent       int
	HashWaitBudget          time.Duration
	ShedDelay               time.Duration
	HashMaxQueue            int
	HashNice                int

	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	ShutdownTimeout   time.Duration
	// ShutdownDrain is how long an instance keeps serving after SIGTERM
	// with /ready at 503, before it stops accepting connections.
	ShutdownDrain  time.Duration
	BodyLimitBytes int64

	// OTLPEndpoint is where traces go; "" turns tracing off.
	OTLPEndpoint    string
	OTelServiceName string
	OTelSampleRatio float64

	// AdminAddr is the admin API's own listener ("" turns it off); the
	// API runs when AdminTokensFile names its bearer tokens.
	AdminAddr        string
	AdminTokensFile  string
	AdminTLSCert     string
	AdminTLSKey      string
	AdminTLSClientCA string

	// WebhookURL receives every audit event ("" turns webhooks off),
	// signed with each of WebhookKeys (WEBHOOK_SECRET).
	WebhookURL         string
	WebhookKeys        [][]byte
	WebhookTimeout     time.Duration
	WebhookWorkers     int
	WebhookRetryBase   time.Duration
	WebhookRetryMax    time.Duration
	WebhookGiveUpAfter time.Duration
}

// setting is one environment variable: its name, default, help and how it
// lands in Config. A default of "" with required set means it must be given.
type setting struct {
	name string
	def  func(c *Config) string // defaults may depend on DEV_MODE
	help string
	// valid is the range a number or duration must be in, "lo–hi", as the
	// parser enforces it (a test holds the two together) and README.md
	// documents it; empty for other kinds.
	valid    string
	required bool
	parse    func(c *Config, v string) error
}

func fixed(s string) func(*Config) string { return func(*Config) string { return s } }

func settings() []setting {
	return []setting{
		{name: "DEV_MODE", def: fixed("false"), help: "Development mode: cookies without Secure, migrations at start, readable defaults.",
			parse: func(c *Config, v string) (err error) { c.DevMode, err = parseBool(v); return }},
		{name: "HTTP_ADDR", def: devDefault("127.0.0.1:8080", ":8080"), help: "Address the HTTP server listens on (host:port; an empty host is every interface). In DEV_MODE only loopback unless set.",
			parse: func(c *Config, v string) error { c.HTTPAddr = v; return listenAddr(v) }},
		{name: "METRICS_ADDR", def: fixed(""), help: "Serve /metrics on this address (host:port) instead of HTTP_ADDR, so that what faces clients never shows it; empty: on HTTP_ADDR.",
			parse: func(c *Config, v string) error {
				c.MetricsAddr = v
				if v == "" {
					return nil
				}
				if err := listenAddr(v); err != nil {
					return err
				}
				if v == c.HTTPAddr {
					return errors.New("must differ from HTTP_ADDR")
				}
				return nil
			}},
		{name: "ADMIN_ADDR", def: fixed("127.0.0.1:8081"), help: "Address of the admin API's own listener (host:port), never HTTP_ADDR; it runs when ADMIN_TOKENS_FILE is set. Empty turns it off.",
			parse: func(c *Config, v string) error {
				c.AdminAddr = v
				if v == "" {
					return nil
				}
				if err := listenAddr(v); err != nil {
					return err
				}
				if v == c.HTTPAddr || v == c.MetricsAddr {
					return errors.New("must differ from HTTP_ADDR and METRICS_ADDR")
				}
				return nil
			}},
		{name: "ADMIN_TOKENS_FILE", def: fixed(""), help: "File of the admin API's bearer tokens, one SHA-256 hash and name a line (authd admin tokens create NAME adds one); read again when it changes. Empty: no admin API.",
			parse: func(c *Config, v string) error {
				c.AdminTokensFile = v
				if st, err := os.Stat(v); v != "" && err == nil && !st.Mode().IsRegular() {
					return errors.New("must be a file")
				}
				return nil
			}},
		{name: "ADMIN_TLS_CERT", def: fixed(""), help: "PEM certificate (chain) of the admin listener; with ADMIN_TLS_KEY it serves HTTPS. Empty: plain HTTP.",
			parse: func(c *Config, v string) error { c.AdminTLSCert = v; return readableFile(v) }},
		{name: "ADMIN_TLS_KEY", def: fixed(""), help: "PEM private key of ADMIN_TLS_CERT.",
			parse: func(c *Config, v string) error {
				c.AdminTLSKey = v
				if (v == "") != (c.AdminTLSCert == "") {
					return errors.New("ADMIN_TLS_CERT and ADMIN_TLS_KEY go together")
				}
				return readableFile(v)
			}},
		{name: "ADMIN_TLS_CLIENT_CA", def: fixed(""), help: "PEM CA certificates: the admin listener then requires a client certificate they signed (mTLS), besides the bearer token.",
			parse: func(c *Config, v string) error {
				c.AdminTLSClientCA = v
				if v != "" && c.AdminTLSCert == "" {
					return errors.New("needs ADMIN_TLS_CERT and ADMIN_TLS_KEY")
				}
				return readableFile(v)
			}},
		{name: "PUBLIC_URL", def: devDefault("http://localhost:8080", ""), required: true,
			help:  "Public base URL of the app, used to build links in e-mails (e.g. https://auth.example.com).",
			parse: func(c *Config, v string) error { c.PublicURL = strings.TrimRight(v, "/"); return absoluteURL(v) }},
		{name: "AUTO_MIGRATE", def: devDefault("true", "false"), help: "Apply pending database migrations when serve starts.",
			parse: func(c *Config, v string) (err error) { c.AutoMigrate, err = parseBool(v); return }},
		{name: "LOG_LEVEL", def: fixed("info"), help: "debug, info, warn or error.",
			parse: func(c *Config, v string) error {
				c.LogLevel = strings.ToLower(v)
				switch c.LogLevel {
				case "debug", "info", "warn", "error":
					return nil
				}
				return errors.New("must be debug, info, warn or error")
			}},
		{name: "DATABASE_URL", def: devDefault("postgres://postgres@127.0.0.1:5432/authd?sslmode=disable", ""), required: true,
			help:  "PostgreSQL connection string.",
			parse: func(c *Config, v string) error { c.DatabaseURL = v; return postgresURL(v) }},
		{name: "DATABASE_MAX_CONNS", valid: "1–1000", def: fixed("10"), help: "Largest number of PostgreSQL connections per instance.",
			parse: func(c *Config, v string) error {
				n, err := parseInt(v, 1, 1000)
				c.DatabaseMaxConns = int32(n)
				return err
			}},
		{name: "VALKEY_URL", def: fixed("redis://127.0.0.1:6379/0"), help: "Valkey (or Redis 7) URL: redis://, rediss:// or unix://; more cluster seeds or sentinels as addr=host:port, the sentinels' master set as master_set=NAME.",
			parse: func(c *Config, v string) error { c.ValkeyURL = v; return valkeyURL(v) }},
		{name: "VALKEY_SENTINEL_USERNAME", def: fixed(""), help: "User of the sentinels (master_set in VALKEY_URL), when they require one of their own.",
			parse: func(c *Config, v string) error { c.ValkeySentinelUsername = v; return sentinelCredential(c, v) }},
		{name: "VALKEY_SENTINEL_PASSWORD", def: fixed(""), help: "Password of the sentinels (their requirepass); the one in VALKEY_URL is the data nodes'.",
			parse: func(c *Config, v string) error { c.ValkeySentinelPassword = v; return sentinelCredential(c, v) }},
		{name: "VALKEY_KEY_PREFIX", def: fixed("authd:"), help: "Prefix of every key authd writes to Valkey.",
			parse: func(c *Config, v string) error { c.ValkeyKeyPrefix = v; return nil }},
		{name: "DEPENDENCY_TIMEOUT", valid: "10ms–1m", def: fixed("2s"), help: "Deadline of each PostgreSQL and Valkey call.",
			parse: func(c *Config, v string) (err error) {
				c.DependencyTimeout, err = parseDuration(v, 10*time.Millisecond, time.Minute)
				return
			}},
		{name: "COOKIE_SECURE", def: devDefault("false", "true"), help: "Mark the session cookie Secure (HTTPS only). Only DEV_MODE may turn it off.",
			parse: func(c *Config, v string) (err error) {
				if c.CookieSecure, err = parseBool(v); err == nil && !c.CookieSecure && !c.DevMode {
					return errors.New("may be false only with DEV_MODE=true")
				}
				return err
			}},
		{name: "COOKIE_DOMAIN", def: fixed(""), help: "Domain attribute of the session cookie; empty means this host only.",
			parse: func(c *Config, v string) error { c.CookieDomain = v; return nil }},
		{name: "COOKIE_NAME", def: func(c *Config) string {
			if c.CookieSecure {
				return "__Host-authd_session"
			}
			return "authd_session"
		}, help: "Session cookie name. The __Host- prefix (default when Secure) pins it to this host.",
			parse: func(c *Config, v string) error { c.CookieName = v; return cookieName(v, c) }},
		{name: "SESSION_LIFETIME", valid: "1m–2160h (90 days)", def: fixed("24h"), help: "Absolute lifetime of a session.",
			parse: func(c *Config, v string) (err error) {
				c.SessionLifetime, err = parseDuration(v, time.Minute, 90*24*time.Hour)
				return
			}},
		{name: "SESSION_TOUCH_INTERVAL", valid: "0–24h", def: fixed("5m"), help: "How often a session's last-seen time is written (0 turns it off).",
			parse: func(c *Config, v string) (err error) { c.SessionTouch, err = parseDuration(v, 0, 24*time.Hour); return }},
		{name: "SESSIONS_PER_IDENTITY", valid: "0–100000", def: fixed("32"), help: "Most live sessions of one identity; a login beyond it ends the oldest (0: no cap).",
			parse: func(c *Config, v string) (err error) { c.SessionsPerIdentity, err = parseInt(v, 0, 100000); return }},
		{name: "PRIVILEGED_WINDOW", valid: "0–24h", def: fixed("15m"), help: "How long after a login the password may be changed without the current one.",
			parse: func(c *Config, v string) (err error) {
				c.PrivilegedWindow, err = parseDuration(v, 0, 24*time.Hour)
				return
			}},
		{name: "ARGON2_MEMORY_KIB", valid: "64–4194304", def: fixed("19456"), help: "Argon2id memory per hash, in KiB (OWASP: 19456).",
			parse: func(c *Config, v string) error {
				n, err := parseInt(v, 64, 4<<20)
				c.Argon2Memory = uint32(n)
				return err
			}},
		{name: "ARGON2_ITERATIONS", valid: "1–100", def: fixed("2"), help: "Argon2id passes over memory.",
			parse: func(c *Config, v string) error {
				n, err := parseInt(v, 1, 100)
				c.Argon2Iterations = uint32(n)
				return err
			}},
		{name: "ARGON2_PARALLELISM", valid: "1–64", def: fixed("1"), help: "Argon2id lanes per hash.",
			parse: func(c *Config, v string) error {
				n, err := parseInt(v, 1, 64)
				c.Argon2Parallelism = uint8(n)
				return err
			}},
		{name: "PASSWORD_MIN_LENGTH", valid: "1–64", def: fixed("8"), help: "Shortest password accepted, in characters (at most 64).",
			parse: func(c *Config, v string) (err error) { c.PasswordMinLength, err = parseInt(v, 1, 64); return }},
		{name: "SECRET_KEY", def: devDefault(devSecret, ""), required: true,
			help: "At least 32 random bytes, base64 (openssl rand -base64 32); the same on every instance. Seals queued mails and keys the hashes of addresses and IPs in Valkey keys.",
			parse: func(c *Config, v string) (err error) {
				c.SecretKey, err = base64.StdEncoding.DecodeString(v)
				if err != nil || len(c.SecretKey) < 32 {
					return errors.New("must be at least 32 bytes, base64-encoded")
				}
				if !c.DevMode && v == devSecret {
					return errors.New("the development key may only be used with DEV_MODE=true")
				}
				return nil
			}},
		{name: "SECRET_KEY_PREVIOUS", def: fixed(""), help: "Keys SECRET_KEY replaced, comma-separated, same form: mails queued under them are still opened and sent.",
			parse: func(c *Config, v string) error {
				c.PreviousSecretKeys = nil
				for _, part := range strings.Split(v, ",") {
					if part = strings.TrimSpace(part); part == "" {
						continue
					}
					k, err := base64.StdEncoding.DecodeString(part)
					if err != nil || len(k) < 32 {
						return errors.New("each key must be at least 32 bytes, base64-encoded")
					}
					c.PreviousSecretKeys = append(c.PreviousSecretKeys, k)
				}
				return nil
			}},
		{name: "SMTP_HOST", def: fixed("127.0.0.1"), help: "SMTP server host (MailHog/Mailpit locally).",
			parse: func(c *Config, v string) error { c.SMTPHost = v; return nonEmpty(v) }},
		{name: "SMTP_TLS", def: devDefault("none", "starttls"), help: "none, starttls (mandatory STARTTLS) or tls (implicit TLS).",
			parse: func(c *Config, v string) error {
				c.SMTPTLS = strings.ToLower(v)
				switch c.SMTPTLS {
				case "none", "starttls", "tls":
					return nil
				}
				return errors.New("must be none, starttls or tls")
			}},
		{name: "SMTP_PORT", valid: "1–65535", def: func(c *Config) string {
			switch c.SMTPTLS {
			case "starttls":
				return "587"
			case "tls":
				return "465"
			}
			return "1025"
		}, help: "SMTP server port; defaults by SMTP_TLS: 1025, 587 or 465.",
			parse: func(c *Config, v string) (err error) { c.SMTPPort, err = parseInt(v, 1, 65535); return }},
		{name: "SMTP_USERNAME", def: fixed(""), help: "SMTP user; empty sends without AUTH.",
			parse: func(c *Config, v string) error { c.SMTPUsername = v; return nil }},
		{name: "SMTP_PASSWORD", def: fixed(""), help: "SMTP password (AUTH PLAIN).",
			parse: func(c *Config, v string) error { c.SMTPPassword = v; return nil }},
		{name: "MAIL_FROM", def: fixed("authd <no-reply@localhost>"), help: "Sender of authd's mails.",
			parse: func(c *Config, v string) error { c.MailFrom = v; return nil }},
		{name: "PRODUCT_NAME", def: fixed("authd"), help: "Product name in mails.",
			parse: func(c *Config, v string) error { c.ProductName = v; return nonEmpty(v) }},
		{name: "RECOVERY_TOKEN_TTL", valid: "1m–24h", def: fixed("1h"), help: "Lifetime of a password recovery link.",
			parse: func(c *Config, v string) (err error) {
				c.RecoveryTTL, err = parseDuration(v, time.Minute, 24*time.Hour)
				return
			}},
		{name: "VERIFICATION_TOKEN_TTL", valid: "1m–168h (7 days)", def: fixed("24h"), help: "Lifetime of an e-mail verification link.",
			parse: func(c *Config, v string) (err error) {
				c.VerificationTTL, err = parseDuration(v, time.Minute, 7*24*time.Hour)
				return
			}},
		{name: "VERIFICATION_CODE_TTL", valid: "1m–1h", def: fixed("15m"), help: "Lifetime of a 6-digit verification code.",
			parse: func(c *Config, v string) (err error) {
				c.VerificationCodeTTL, err = parseDuration(v, time.Minute, time.Hour)
				return
			}},
		{name: "VERIFICATION_CODE_ATTEMPTS", valid: "1–10", def: fixed("5"), help: "Wrong codes allowed before a code is void.",
			parse: func(c *Config, v string) (err error) { c.VerificationAttempts, err = parseInt(v, 1, 10); return }},
		{name: "MAIL_LIMIT_PER_HOUR", valid: "1–1000", def: fixed("3"), help: "Recovery and verification mails per address per hour; over it the reply is the same and no mail goes out.",
			parse: func(c *Config, v string) (err error) { c.MailLimitPerHour, err = parseInt(v, 1, 1000); return }},
		{name: "REQUIRE_VERIFIED_EMAIL", def: fixed("false"), help: "Refuse logins until the e-mail address is verified.",
			parse: func(c *Config, v string) (err error) { c.RequireVerifiedEmail, err = parseBool(v); return }},
		{name: "MAIL_WORKERS", valid: "0–100", def: fixed("4"), help: "Concurrent mail sends per instance (0: this instance only queues).",
			parse: func(c *Config, v string) (err error) { c.MailWorkers, err = parseInt(v, 0, 100); return }},
		{name: "MAIL_SEND_TIMEOUT", valid: "100ms–5m", def: fixed("10s"), help: "Deadline of one SMTP delivery.",
			parse: func(c *Config, v string) (err error) {
				c.MailSendTimeout, err = parseDuration(v, 100*time.Millisecond, 5*time.Minute)
				return
			}},
		{name: "MAIL_RETRY_BASE", valid: "10ms–1h", def: fixed("2s"), help: "First retry delay of a failed mail; doubled each attempt.",
			parse: func(c *Config, v string) (err error) {
				c.MailRetryBase, err = parseDuration(v, 10*time.Millisecond, time.Hour)
				return
			}},
		{name: "MAIL_RETRY_MAX", valid: "10ms–24h", def: fixed("10m"), help: "Longest delay between two delivery attempts.",
			parse: func(c *Config, v string) (err error) {
				c.MailRetryMax, err = parseDuration(v, 10*time.Millisecond, 24*time.Hour)
				return
			}},
		{name: "MAIL_GIVE_UP_AFTER", valid: "1s–720h (30 days)", def: fixed("24h"), help: "A mail undelivered this long after it was queued is given up (logged, counted, state cancelled).",
			parse: func(c *Config, v string) (err error) {
				c.MailGiveUpAfter, err = parseDuration(v, time.Second, 30*24*time.Hour)
				return
			}},
		{name: "PURGE_INTERVAL", valid: "1s–24h", def: fixed("1h"), help: "How often expired tokens and sent mails are purged.",
			parse: func(c *Config, v string) (err error) {
				c.PurgeInterval, err = parseDuration(v, time.Second, 24*time.Hour)
				return
			}},
		{name: "WEBHOOK_URL", def: fixed(""), help: "Receiver of every audit event as a signed Standard Webhooks message (https; http only to loopback or in DEV_MODE). Empty: no webhooks.",
			parse: func(c *Config, v string) error {
				c.WebhookURL = v
				if v == "" {
					return nil
				}
				if err := absoluteURL(v); err != nil {
					return err
				}
				u, _ := url.Parse(v)
				if ip := net.ParseIP(u.Hostname()); u.Scheme == "http" && !c.DevMode && (ip == nil || !ip.IsLoopback()) && u.Hostname() != "localhost" {
					return errors.New("must be https (http only to a loopback address, or with DEV_MODE=true)")
				}
				return nil
			}},
		{name: "WEBHOOK_SECRET", def: fixed(""), help: "Signing secret of the webhooks: whsec_ and the base64 of 24 to 64 random bytes; several, comma-separated, during a rotation (each signs). Required with WEBHOOK_URL.",
			parse: func(c *Config, v string) error {
				c.WebhookKeys = nil
				for _, part := range strings.Split(v, ",") {
					if part = strings.TrimSpace(part); part == "" {
						continue
					}
					raw, ok := strings.CutPrefix(part, "whsec_")
					key, err := base64.StdEncoding.DecodeString(raw)
					if !ok || err != nil || len(key) < 24 || len(key) > 64 {
						return errors.New("each secret must be whsec_ and the base64 of 24 to 64 bytes")
					}
					c.WebhookKeys = append(c.WebhookKeys, key)
				}
				if c.WebhookURL != "" && len(c.WebhookKeys) == 0 {
					return errors.New("is required with WEBHOOK_URL")
				}
				return nil
			}},
		{name: "WEBHOOK_TIMEOUT", valid: "100ms–1m", def: fixed("5s"), help: "Deadline of one webhook delivery.",
			parse: func(c *Config, v string) (err error) {
				c.WebhookTimeout, err = parseDuration(v, 100*time.Millisecond, time.Minute)
				return
			}},
		{name: "WEBHOOK_WORKERS", valid: "1–100", def: fixed("2"), help: "Concurrent webhook deliveries per instance.",
			parse: func(c *Config, v string) (err error) { c.WebhookWorkers, err = parseInt(v, 1, 100); return }},
		{name: "WEBHOOK_RETRY_BASE", valid: "10ms–1h", def: fixed("2s"), help: "First retry delay of a failed webhook delivery; doubled each attempt.",
			parse: func(c *Config, v string) (err error) {
				c.WebhookRetryBase, err = parseDuration(v, 10*time.Millisecond, time.Hour)
				return
			}},
		{name: "WEBHOOK_RETRY_MAX", valid: "10ms–24h", def: fixed("10m"), help: "Longest delay between two webhook delivery attempts.",
			parse: func(c *Config, v string) (err error) {
				c.WebhookRetryMax, err = parseDuration(v, 10*time.Millisecond, 24*time.Hour)
				return
			}},
		{name: "WEBHOOK_GIVE_UP_AFTER", valid: "1m–720h (30 days)", def: fixed("72h"), help: "An audit event still undelivered this long after it happened is given up (logged, counted).",
			parse: func(c *Config, v string) (err error) {
				c.WebhookGiveUpAfter, err = parseDuration(v, time.Minute, 30*24*time.Hour)
				return
			}},
		{name: "TRUSTED_PROXIES", def: fixed(""), help: "Comma-separated CIDRs of reverse proxies whose X-Forwarded-For gives the client IP; empty: the socket address.",
			parse: func(c *Config, v string) (err error) { c.TrustedProxies, err = parseCIDRs(v); return }},
		{name: "CORS_ALLOWED_ORIGINS", def: fixed(""), help: "Comma-separated origins (https://app.example.com) that may call the API from a browser with credentials. Never *.",
			parse: func(c *Config, v string) (err error) { c.CORSOrigins, err = parseOrigins(v); return }},
		{name: "CSRF_TRUSTED_ORIGINS", def: fixed(""), help: "Comma-separated extra origins allowed to send state-changing requests (e.g. an SPA dev server on another port).",
			parse: func(c *Config, v string) (err error) { c.CSRFTrustedOrigins, err = parseOrigins(v); return }},
		{name: "WEB_UI", def: fixed("true"), help: "Serve the bundled web app at / (sign in, sign up, recovery, settings); false for an API-only deployment.",
			parse: func(c *Config, v string) (err error) { c.WebUI, err = parseBool(v); return }},
		{name: "WEB_UI_DIR", def: fixed(""), help: "Serve the web app from this directory instead of the copy in the binary (for working on web/); empty: the binary's.",
			parse: func(c *Config, v string) error {
				if v == "" {
					return nil
				}
				if st, err := os.Stat(v); err != nil || !st.IsDir() {
					return errors.New("must be a directory")
				}
				c.WebUIDir = v
				return nil
			}},
		{name: "REGISTRATION_MODE", def: fixed("open"), help: "open: register logs in and a taken e-mail is 409; strict: 202 for every registration, login only after verification.",
			parse: func(c *Config, v string) error {
				switch strings.ToLower(v) {
				case "open":
					return nil
				case "strict":
					c.StrictRegistration = true
					return nil
				}
				return errors.New("must be open or strict")
			}},
		{name: "LOGIN_ACCOUNT_FREE_ATTEMPTS", valid: "0–100", def: fixed("5"), help: "Failed logins per account from one client IP before that IP's lock-outs on the account start (0: none).",
			parse: func(c *Config, v string) (err error) { c.LoginAccountFree, err = parseInt(v, 0, 100); return }},
		{name: "LOGIN_ACCOUNT_TOTAL_FREE_ATTEMPTS", valid: "0–100", def: fixed("100"), help: "Failed logins per account from all client IPs together before the account's lock-outs start (0: none; NIST SP 800-63B allows at most 100).",
			parse: func(c *Config, v string) (err error) { c.LoginAccountTotalFree, err = parseInt(v, 0, 100); return }},
		{name: "LOGIN_IP_FREE_ATTEMPTS", valid: "0–100000", def: fixed("50"), help: "Failed logins per client IP before lock-outs start (0: no IP lock-out).",
			parse: func(c *Config, v string) (err error) { c.LoginIPFree, err = parseInt(v, 0, 100000); return }},
		{name: "LOGIN_LOCKOUT_BASE", valid: "1s–24h", def: fixed("1m"), help: "First lock-out after the free attempts; doubled with each further failure.",
			parse: func(c *Config, v string) (err error) {
				c.LoginLockoutBase, err = parseDuration(v, time.Second, 24*time.Hour)
				return
			}},
		{name: "LOGIN_LOCKOUT_MAX", valid: "1s–168h (7 days)", def: fixed("15m"), help: "Longest lock-out.",
			parse: func(c *Config, v string) (err error) {
				c.LoginLockoutMax, err = parseDuration(v, time.Second, 7*24*time.Hour)
				return
			}},
		{name: "REGISTER_LIMIT_PER_IP", valid: "0–10000000", def: fixed("20"), help: "Registrations per client IP per hour (0: no limit).",
			parse: func(c *Config, v string) (err error) { c.RegisterLimitPerIP, err = parseInt(v, 0, 10000000); return }},
		{name: "MAIL_REQUESTS_PER_IP", valid: "0–10000000", def: fixed("30"), help: "Recovery and verification-mail requests per client IP per hour (0: no limit).",
			parse: func(c *Config, v string) (err error) { c.MailRequestsPerIP, err = parseInt(v, 0, 10000000); return }},
		{name: "PASSKEY_SIGNINS_PER_IP", valid: "0–10000000", def: fixed("600"), help: "Passkey sign-ins a client IP may start per hour; each keeps a challenge in Valkey for 5 minutes (0: no limit).",
			parse: func(c *Config, v string) (err error) {
				c.PasskeyCeremoniesPerIP, err = parseInt(v, 0, 10000000)
				return
			}},
		{name: "PROFILE_CACHE_TTL", valid: "1s–24h", def: fixed("10m"), help: "How long GET /auth/me may serve a profile from Valkey (changes invalidate it at once).",
			parse: func(c *Config, v string) (err error) {
				c.ProfileCacheTTL, err = parseDuration(v, time.Second, 24*time.Hour)
				return
			}},
		{name: "MAX_IN_FLIGHT", valid: "1–1000000", def: fixed("512"), help: "API requests served at once; more are answered 503 overloaded at once.",
			parse: func(c *Config, v string) (err error) { c.MaxInFlight, err = parseInt(v, 1, 1000000); return }},
		{name: "MAX_CONNECTIONS", valid: "1–1000000", def: fixed("4096"), help: "Open client connections; more wait in the listen backlog.",
			parse: func(c *Config, v string) (err error) { c.MaxConnections, err = parseInt(v, 1, 1000000); return }},
		{name: "MAX_CONNECTIONS_PER_CLIENT", valid: "0–1000000", def: fixed("256"), help: "Open connections per client IP (0: no cap); trusted proxies are exempt. Near MAX_CONNECTIONS idle keep-alive connections are closed.",
			parse: func(c *Config, v string) (err error) {
				c.MaxConnectionsPerClient, err = parseInt(v, 0, 1000000)
				return
			}},
		{name: "HASH_POOL_SIZE", valid: "0–1024", def: fixed("0"), help: "Concurrent Argon2id hashes (memory: size × ARGON2_MEMORY_KIB); 0 means one per usable CPU.",
			parse: func(c *Config, v string) (err error) { c.HashPoolSize, err = parseInt(v, 0, 1024); return }},
		{name: "HASH_MEMORY_PERCENT", valid: "10–90", def: fixed("50"), help: "Share of the memory limit (GOMEMLIMIT or the cgroup's) that concurrent hashes may hold: the pool is clamped to it whatever the CPU count.",
			parse: func(c *Config, v string) (err error) { c.HashMemoryPercent, err = parseInt(v, 10, 90); return }},
		{name: "HASH_WAIT_BUDGET", valid: "1ms–1m", def: fixed("600ms"), help: "When the predicted wait for a hash passes this, register/login/password answer 503 with Retry-After at once.",
			parse: func(c *Config, v string) (err error) {
				c.HashWaitBudget, err = parseDuration(v, time.Millisecond, time.Minute)
				return
			}},
		{name: "HASH_MAX_QUEUE", valid: "0–1000000", def: fixed("0"), help: "Most requests waiting for a hash whatever the prediction; 0 means 64 per pool slot.",
			parse: func(c *Config, v string) (err error) { c.HashMaxQueue, err = parseInt(v, 0, 1000000); return }},
		{name: "SHED_DELAY", valid: "0–10s", def: fixed("250ms"), help: "How long a request refused with 503 overloaded waits before its reply (holding no CPU), so clients that retry at once cannot turn refusals into a storm; 0: none.",
			parse: func(c *Config, v string) (err error) {
				if v == "0" {
					v = "0s"
				}
				c.ShedDelay, err = parseDuration(v, 0, 10*time.Second)
				return
			}},
		{name: "HASH_NICE", valid: "0–19", def: fixed("0"), help: "Scheduling niceness of the hashing threads (0-19, Linux); above 0 cheap requests run ahead of Argon2 on busy CPUs, at a cost in logins served.",
			parse: func(c *Config, v string) (err error) { c.HashNice, err = parseInt(v, 0, 19); return }},
		{name: "HTTP_READ_HEADER_TIMEOUT", valid: "1ms–1h", def: fixed("5s"), help: "Time a client has to send the request headers.",
			parse: func(c *Config, v string) (err error) {
				c.ReadHeaderTimeout, err = parseDuration(v, time.Millisecond, time.Hour)
				return
			}},
		{name: "HTTP_READ_TIMEOUT", valid: "1ms–1h", def: fixed("10s"), help: "Time a client has to send the whole request.",
			parse: func(c *Config, v string) (err error) {
				c.ReadTimeout, err = parseDuration(v, time.Millisecond, time.Hour)
				return
			}},
		{name: "HTTP_WRITE_TIMEOUT", valid: "1ms–1h", def: fixed("15s"), help: "Time to write a response.",
			parse: func(c *Config, v string) (err error) {
				c.WriteTimeout, err = parseDuration(v, time.Millisecond, time.Hour)
				return
			}},
		{name: "HTTP_IDLE_TIMEOUT", valid: "1ms–1h", def: fixed("60s"), help: "Keep-alive time of an idle connection.",
			parse: func(c *Config, v string) (err error) {
				c.IdleTimeout, err = parseDuration(v, time.Millisecond, time.Hour)
				return
			}},
		{name: "SHUTDOWN_DRAIN", valid: "0–10m", def: fixed("5s"), help: "After SIGTERM, time /ready answers 503 while requests are still served, so load balancers stop sending.",
			parse: func(c *Config, v string) (err error) {
				c.ShutdownDrain, err = parseDuration(v, 0, 10*time.Minute)
				return
			}},
		{name: "SHUTDOWN_TIMEOUT", valid: "0–1h", def: fixed("20s"), help: "Time in-flight requests get to finish once the drain is over.",
			parse: func(c *Config, v string) (err error) { c.ShutdownTimeout, err = parseDuration(v, 0, time.Hour); return }},
		{name: "HTTP_BODY_LIMIT", valid: "1024–16777216", def: fixed("65536"), help: "Largest request body in bytes; larger gets 413.",
			parse: func(c *Config, v string) error {
				n, err := parseInt(v, 1024, 1<<24)
				c.BodyLimitBytes = int64(n)
				return err
			}},
		{name: "OTEL_EXPORTER_OTLP_ENDPOINT", def: fixed(""), help: "Base URL of an OTLP/HTTP receiver (http://collector:4318): traces of requests, PostgreSQL, Valkey, SMTP and hash waits are sent to its /v1/traces; empty: no tracing.",
			parse: func(c *Config, v string) error {
				c.OTLPEndpoint = strings.TrimRight(v, "/")
				if v == "" {
					return nil
				}
				return absoluteURL(v)
			}},
		{name: "OTEL_SERVICE_NAME", def: fixed("authd"), help: "service.name of the traces.",
			parse: func(c *Config, v string) error { c.OTelServiceName = v; return nonEmpty(v) }},
		{name: "OTEL_TRACES_SAMPLER_ARG", valid: "0–1", def: fixed("1"), help: "Share of new traces recorded (a request with a sampled traceparent is always recorded).",
			parse: func(c *Config, v string) error {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil || f < 0 || f > 1 {
					return errors.New("must be a number between 0 and 1")
				}
				c.OTelSampleRatio = f
				return nil
			}},
	}
}

// devSecret is the well-known development key; production refuses it.
const devSecret = "ZGV2LW9ubHktc2VjcmV0LWtleS1kby1ub3QtdXNlLWluLXByb2Q="

// devDefault picks a default by DEV_MODE, which is always parsed first.
func devDefault(dev, prod string) func(*Config) string {
	return func(c *Config) string {
		if c.DevMode {
			return dev
		}
		return prod
	}
}

// Load reads and validates the configuration. Every wrong variable is
// reported, one line each, so that a broken deployment is fixed in one
// round; no line echoes a value, which may be a secret.
func Load(getenv func(string) string) (Config, error) {
	return load(getenv, settings())
}

// LoadOnly reads DEV_MODE and the named settings alone, for the commands
// that need no more (`authd migrate` needs only DATABASE_URL): a setting
// they do not use, unset or wrong, must not stop them.
func LoadOnly(getenv func(string) string, names ...string) (Config, error) {
	var only []setting
	for _, s := range settings() {
		if s.name == "DEV_MODE" || slices.Contains(names, s.name) {
			only = append(only, s)
		}
	}
	if len(only) != len(names)+1 {
		return Config{}, fmt.Errorf("config: LoadOnly(%v) names an unknown setting", names)
	}
	return load(getenv, only)
}

func load(getenv func(string) string, list []setting) (Config, error) {
	var (
		c    Config
		errs Errors
	)
	for _, s := range list {
		v, given := strings.TrimSpace(getenv(s.name)), true
		if v == "" {
			v, given = s.def(&c), false
		}
		if v == "" && s.required {
			errs = append(errs, fmt.Errorf("config: %s is required (%s)", s.name, s.help))
			continue
		}
		if err := s.parse(&c, v); err != nil {
			where := "default"
			if given {
				where = "value"
			}
			errs = append(errs, fmt.Errorf("config: %s: invalid %s: %v", s.name, where, err))
		}
	}
	if len(errs) > 0 {
		return Config{}, errs
	}
	return c, nil
}

// Errors are every invalid setting of one Load, one line each.
type Errors []error

func (e Errors) Error() string {
	lines := make([]string, len(e))
	for i, err := range e {
		lines[i] = err.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.Is and errors.As see each setting's error.
func (e Errors) Unwrap() []error { return e }

// Names are the variables authd reads, for checks that a deployment sets
// no variable authd would ignore.
func Names() []string {
	var out []string
	for _, s := range settings() {
		out = append(out, s.name)
	}
	return out
}

// WriteHelp lists every variable with its default, for `authd --help`.
func WriteHelp(w io.Writer) {
	var dev, prod Config
	dev.DevMode, dev.CookieSecure = true, false
	prod.CookieSecure = true
	for _, s := range settings() {
		d, pd := s.def(&dev), s.def(&prod)
		def := pd
		switch {
		case d != pd && pd == "":
			def = fmt.Sprintf("required; DEV_MODE: %s", d)
		case d != pd:
			def = fmt.Sprintf("%s; DEV_MODE: %s", pd, d)
		case def == "":
			def = "empty"
		}
		if s.valid != "" {
			def += "; range: " + s.valid
		}
		fmt.Fprintf(w, "  %-26s %s\n  %-26s default: %s\n", s.name, s.help, "", def)
	}
}

func parseBool(v string) (bool, error) {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, errors.New("must be true or false")
	}
	return b, nil
}

func parseInt(v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, errors.New("must be a whole number")
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("must be between %d and %d", lo, hi)
	}
	return n, nil
}

func parseDuration(v string, lo, hi time.Duration) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, errors.New("must be a duration such as 500ms, 10s or 24h")
	}
	if d < lo || d > hi {
		return 0, fmt.Errorf("must be between %s and %s", lo, hi)
	}
	return d, nil
}

// listenAddr checks a host:port to listen on; the host may be empty (every
// interface) and the port 0 (any free one, for tests).
func listenAddr(v string) error {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return errors.New("must be host:port, e.g. :8080 or 127.0.0.1:8080")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return errors.New("must end in a port number (0-65535)")
	}
	if host != "" && net.ParseIP(host) == nil && strings.ContainsAny(host, "/ ") {
		return errors.New("has an invalid host")
	}
	return nil
}

// readableFile checks that a configured file can be opened; empty is
// allowed (the setting is off).
func readableFile(v string) error {
	if v == "" {
		return nil
	}
	f, err := os.Open(v)
	if err != nil {
		return errors.New("cannot be read")
	}
	return f.Close()
}

func nonEmpty(v string) error {
	if v == "" {
		return errors.New("must not be empty")
	}
	return nil
}

func absoluteURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("must be an absolute http(s) URL")
	}
	return nil
}

// postgresURL checks the shape only; the error never repeats the URL,
// which may hold a password.
func postgresURL(v string) error {
	if strings.HasPrefix(v, "postgres://") || strings.HasPrefix(v, "postgresql://") {
		if _, err := url.Parse(v); err != nil {
			return errors.New("is not a valid URL")
		}
		return nil
	}
	if strings.Contains(v, "=") { // key=value DSN
		return nil
	}
	return errors.New("must be a postgres:// URL or a key=value connection string")
}

func valkeyURL(v string) error {
	u, err := url.Parse(v)
	if err != nil {
		return errors.New("is not a valid URL")
	}
	switch u.Scheme {
	case "redis", "rediss", "valkey", "valkeys", "unix":
		return nil
	}
	return errors.New("must start with redis://, rediss://, valkey:// or unix://")
}

// sentinelCredential refuses a sentinel credential for a VALKEY_URL that
// names no sentinels, where it would silently do nothing.
func sentinelCredential(c *Config, v string) error {
	if v == "" {
		return nil
	}
	if u, err := url.Parse(c.ValkeyURL); err != nil || u.Query().Get("master_set") == "" {
		return errors.New("is for sentinels: VALKEY_URL has no master_set")
	}
	return nil
}

func parseCIDRs(v string) ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			if strings.Contains(f, ":") {
				f += "/128"
			} else {
				f += "/32"
			}
		}
		_, n, err := net.ParseCIDR(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not an IP or CIDR", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func parseOrigins(v string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		u, err := url.Parse(f)
		if f == "*" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return nil, fmt.Errorf("%q is not an origin like https://app.example.com (no wildcard, no path)", f)
		}
		out = append(out, u.Scheme+"://"+u.Host)
	}
	return out, nil
}

func cookieName(v string, c *Config) error {
	if v == "" || strings.ContainsAny(v, " \t\r\n;,=\"") {
		return errors.New("must be a non-empty token without spaces, ';', ',', '=' or quotes")
	}
	if strings.HasPrefix(v, "__Host-") && (!c.CookieSecure || c.CookieDomain != "") {
		return errors.New("a __Host- cookie needs COOKIE_SECURE=true and no COOKIE_DOMAIN")
	}
	if strings.HasPrefix(v, "__Secure-") && !c.CookieSecure {
		return errors.New("a __Secure- cookie needs COOKIE_SECURE=true")
	}
	return nil
}
