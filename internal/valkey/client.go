// Package valkey holds authd's Valkey (and wire-compatible Redis) plumbing:
// opening the shared client, the scs session store, and the per-user index
// of live sessions that makes "log out everywhere" work across instances.
//
// Every operation runs under its own deadline so that a slow or unreachable
// server turns into an error quickly instead of stalling request handlers,
// and errors are never mistaken for "not found": a session lookup that fails
// must not look like a logged-out user, nor a failed revocation like success.
package valkey

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	vk "github.com/valkey-io/valkey-go"
	"github.com/valkey-io/valkey-go/valkeyotel"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
)

// Options tunes the client built by Open. Zero values keep valkey-go's
// defaults.
type Options struct {
	// DialTimeout bounds establishing each connection (TCP, TLS and the
	// HELLO/AUTH handshake). It overrides a dial_timeout in the URL.
	DialTimeout time.Duration
	// CommandTimeout bounds how long a connection may wait for replies before
	// it is considered dead (valkey-go's ConnWriteTimeout). Per-call
	// deadlines still come from each caller's context.
	CommandTimeout time.Duration
	// SentinelUsername and SentinelPassword authenticate to the sentinels
	// of a URL with master_set, when they require it; the URL's own
	// credentials are the data nodes'.
	SentinelUsername, SentinelPassword string
	// DisableCache turns off client-side caching, which is needed for
	// servers without RESP3 or CLIENT TRACKING.
	DisableCache bool
	// Conns, when set, counts the client's connections (a Prometheus
	// collector).
	Conns *ConnStats
	// Tracer, when set, makes each command of a traced request a span
	// (valkeyotel) that names the command, never its keys or values.
	Tracer trace.TracerProvider
}

// Open connects to Valkey/Redis from a URL (redis://, rediss://, valkey://,
// valkeys://, unix://) and checks it with PING within ctx's deadline.
func Open(ctx context.Context, rawURL string, opts Options) (vk.Client, error) {
	opt, err := vk.ParseURL(rawURL)
	if err != nil {
		// url.Parse errors quote the whole URL, password included.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, fmt.Errorf("valkey: open: parse url: %w", err)
	}
	if opts.DialTimeout > 0 {
		opt.Dialer.Timeout = opts.DialTimeout
	}
	if opts.CommandTimeout > 0 {
		opt.ConnWriteTimeout = opts.CommandTimeout
	}
	if opts.DisableCache {
		opt.DisableCache = true
	}
	if opts.SentinelUsername != "" || opts.SentinelPassword != "" {
		if opt.Sentinel.MasterSet == "" {
			return nil, errors.New("valkey: open: sentinel credentials without master_set in the URL")
		}
		opt.Sentinel.Username, opt.Sentinel.Password = opts.SentinelUsername, opts.SentinelPassword
	}
	if opts.Conns != nil {
		opt.DialCtxFn = opts.Conns.dial(opt.DialCtxFn)
	}
	// NewClient takes no context; shrinking the dial timeout to the
	// remaining deadline keeps the background attempt from outliving ctx
	// by much once we have given up on it below.
	if deadline, ok := ctx.Deadline(); ok {
		remaining := time.Until(deadline)
		if remaining <= 0 {
			return nil, fmt.Errorf("valkey: open: %w", context.DeadlineExceeded)
		}
		if opt.Dialer.Timeout == 0 || opt.Dialer.Timeout > remaining {
			opt.Dialer.Timeout = remaining
		}
	}

	type result struct {
		c   vk.Client
		err error
	}
	done := make(chan result, 1)
	newClient := vk.NewClient
	if opts.Tracer != nil {
		newClient = func(opt vk.ClientOption) (vk.Client, error) {
			return valkeyotel.NewClient(opt, valkeyotel.WithTracerProvider(opts.Tracer), valkeyotel.WithMeterProvider(metricnoop.NewMeterProvider()))
		}
	}
	go func() {
		c, err := newClient(opt)
		done <- result{c, err}
	}()
	var c vk.Client
	select {
	case r := <-done:
		if r.err != nil {
			return nil, fmt.Errorf("valkey: open: %w", r.err)
		}
		c = r.c
	case <-ctx.Done():
		go func() {
			if r := <-done; r.c != nil {
				r.c.Close()
			}
		}()
		return nil, fmt.Errorf("valkey: open: %w", ctx.Err())
	}

	if err := ping(ctx, c); err != nil {
		c.Close()
		return nil, fmt.Errorf("valkey: open: ping: %w", err)
	}
	return c, nil
}

// Ping checks that the server answers, for start-up and readiness probes.
func Ping(ctx context.Context, c vk.Client) error {
	if err := ping(ctx, c); err != nil {
		return fmt.Errorf("valkey: ping: %w", err)
	}
	return nil
}

func ping(ctx context.Context, c vk.Client) error {
	return c.Do(ctx, c.B().Ping().Build()).Error()
}
