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
// tune adjusts the process to the configuration first; tests pass a no-op,
// so that a test never re-tunes the process that runs it.
func serve(ctx context.Context, getenv func(string) string, stdout io.Writer, tune func(*config.Config)) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	tune(&cfg)
	log := logging.New(stdout, cfg.LogLevel)
	a, err := app.New(ctx, cfg, log, app.Overrides{})
	if err != nil {
		return err
	}
	defer a.Close()
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("HTTP_ADDR: %w", err)
	}
	if err := a.Start(ctx); err != nil {
		ln.Close()
		return err
	}
	return a.Serve(ctx, ln)
}
