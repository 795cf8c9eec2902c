package app

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"

	"github.com/authd/authd/api"
	"github.com/authd/authd/internal/adminapi"
	"github.com/authd/authd/internal/argon2id"
	"github.com/authd/authd/internal/config"
)

// adminEnabled says whether this instance serves the admin API: it has an
// address, and a token file to authorise calls with.
func adminEnabled(cfg config.Config) bool { return cfg.AdminAddr != "" && cfg.AdminTokensFile != "" }

// buildAdmin builds the admin API's handler, when it is on.
func (a *App) buildAdmin() {
	if !adminEnabled(a.Config) {
		a.Log.Info("admin API off (it needs ADMIN_ADDR and ADMIN_TOKENS_FILE)")
		return
	}
	a.AdminTokens = adminapi.OpenTokens(a.Config.AdminTokensFile, a.Log)
	a.AdminHandler = adminapi.New(a.Service, a.AdminTokens,
		adminapi.Config{BodyLimit: a.Config.BodyLimitBytes, OpenAPI: api.AdminOpenAPI}, a.Registry, a.Log)
}

// ListenAdmin opens the admin API's listener, with TLS (and client
// certificates) when configured, or returns nil when the API is off. It
// is called before anything else, as the other listeners are: an
// instance that cannot listen fails before it changes anything.
func ListenAdmin(cfg config.Config) (net.Listener, error) {
	if !adminEnabled(cfg) {
		return nil, nil
	}
	tlsConfig, err := adminTLS(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.AdminAddr)
	if err != nil {
		return nil, fmt.Errorf("ADMIN_ADDR: %w", err)
	}
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	return ln, nil
}

// adminTLS is the admin listener's TLS: HTTPS with ADMIN_TLS_CERT and
// ADMIN_TLS_KEY, and a client certificate signed by ADMIN_TLS_CLIENT_CA
// required when that is set. nil: plain HTTP.
func adminTLS(cfg config.Config) (*tls.Config, error) {
	if cfg.AdminTLSCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.AdminTLSCert, cfg.AdminTLSKey)
	if err != nil {
		return nil, fmt.Errorf("ADMIN_TLS_CERT / ADMIN_TLS_KEY: %w", err)
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if cfg.AdminTLSClientCA != "" {
		pem, err := os.ReadFile(cfg.AdminTLSClientCA)
		if err != nil {
			return nil, fmt.Errorf("ADMIN_TLS_CLIENT_CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("ADMIN_TLS_CLIENT_CA: no PEM certificate in the file")
		}
		c.ClientCAs, c.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return c, nil
}

// UseAdminListener makes Serve answer the admin API on ln as well (from
// ListenAdmin).
func (a *App) UseAdminListener(ln net.Listener) { a.adminListener = ln }

// adminServer is the admin API's HTTP server: the timeouts of the public
// one, none of its connection caps (operators are few, and must get in
// when the public API is saturated).
func (a *App) adminServer(errorLog *slog.Logger) *http.Server {
	cfg := a.Config
	return &http.Server{Handler: a.AdminHandler, ReadHeaderTimeout: cfg.ReadHeaderTimeout, ReadTimeout: cfg.ReadTimeout,
		WriteTimeout: cfg.WriteTimeout, IdleTimeout: cfg.IdleTimeout, MaxHeaderBytes: 16 << 10,
		ErrorLog: slog.NewLogLogger(errorLog.Handler(), slog.LevelWarn)}
}

// hashFormats tells which imported password hashes authd verifies.
type hashFormats struct{}

func (hashFormats) CheckHash(encoded string) error { return argon2id.CheckEncoded(encoded) }
