package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/authd/authd/internal/config"
)

// healthcheck runs `authd healthcheck`: it asks the authd listening on
// HTTP_ADDR for /ready and exits 0 only on 200. The image's HEALTHCHECK
// runs it, as the distroless image has no shell or curl; it reads only
// HTTP_ADDR, so it works with whatever else the container is given.
func healthcheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		usage(stderr)
		return errUsage
	}
	cfg, err := config.LoadOnly(getenv, "HTTP_ADDR")
	if err != nil {
		return err
	}
	url := "http://" + probeAddr(cfg.HTTPAddr) + "/ready"
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %d: %s", url, resp.StatusCode, body)
	}
	fmt.Fprintf(stdout, "ready: %s\n", body)
	return nil
}

// probeAddr turns a listen address into one to connect to: a server that
// listens on every interface (":8080", "0.0.0.0:8080", "[::]:8080") is
// reached on loopback.
func probeAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}
