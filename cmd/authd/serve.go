package main

import (
	"context"
	"fmt"
	"io"
	"net"

	"github.com/authd/authd/internal/app"
	"github.com/authd/authd/internal/config"
	"github.com/authd/authd/internal/logging"
)

// serve builds authd from the environment and runs it until ctx is done.
// tune adjusts the process to the built app (the hash pool's size, the
// memory limit); tests pass a no-op, so that a test never re-tunes the
// process that runs it.
func serve(ctx context.Context, getenv func(string) string, stdout io.Writer, tune func(*app.App)) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	log := logging.New(stdout, cfg.LogLevel)
	// The addresses are taken before anything else, migrations included:
	// an instance that cannot listen must fail before it changes anything.
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("HTTP_ADDR: %w", err)
	}
	var metrics net.Listener
	if cfg.MetricsAddr != "" {
		if metrics, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			ln.Close()
			return fmt.Errorf("METRICS_ADDR: %w", err)
		}
	}
	admin, err := app.ListenAdmin(cfg)
	if err != nil {
		ln.Close()
		if metrics != nil {
			metrics.Close()
		}
		return err
	}
	closeListeners := func() {
		ln.Close()
		if metrics != nil {
			metrics.Close()
		}
		if admin != nil {
			admin.Close()
		}
	}
	a, err := app.New(ctx, cfg, log, app.Overrides{})
	if err != nil {
		closeListeners()
		return err
	}
	defer a.Close()
	tune(a)
	if err := a.Start(ctx); err != nil {
		closeListeners()
		return err
	}
	if admin != nil {
		a.UseAdminListener(admin)
	}
	return a.ServeWithMetrics(ctx, ln, metrics)
}
