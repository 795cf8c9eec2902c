package valkey

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

func TestOpenAndPing(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{"defaults", Options{}},
		{"no cache, explicit timeouts", Options{DialTimeout: time.Second, CommandTimeout: 2 * time.Second, DisableCache: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Open(ctxT(t), testURL, tt.opts)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer c.Close()
			if err := Ping(ctxT(t), c); err != nil {
				t.Fatalf("Ping: %v", err)
			}
		})
	}
}

func TestPingClosedClient(t *testing.T) {
	if err := Ping(ctxT(t), closedClient(t)); err == nil {
		t.Fatal("Ping on a closed client: got nil error")
	}
}

// freeAddr returns an address nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name string
		url  string
	}{
		{"bad scheme", "http://127.0.0.1:6379"},
		{"bad url keeps password out", "redis://user:s3cret-pw@127.0.0.1:6379/%zz"},
		{"bad db", "redis://user:s3cret-pw@127.0.0.1:6379/x"},
		{"nothing listening", "redis://" + freeAddr(t)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Open(ctxT(t), tt.url, Options{DialTimeout: time.Second})
			if err == nil {
				c.Close()
				t.Fatal("Open: got nil error")
			}
			if !strings.HasPrefix(err.Error(), "valkey: open: ") {
				t.Errorf("error %q lacks the operation name", err)
			}
			if strings.Contains(err.Error(), "s3cret-pw") {
				t.Errorf("error %q leaks the password", err)
			}
		})
	}
}

// A server that accepts but never answers must not hold Open past ctx.
func TestOpenHonoursDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	c, err := Open(ctx, "redis://"+ln.Addr().String(), Options{})
	if err == nil {
		c.Close()
		t.Fatal("Open against a silent server: got nil error")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Open took %v with a 300ms deadline", d)
	}
	t.Logf("error: %v", err)
}

func TestOpenExpiredContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), -time.Second)
	defer cancel()
	if _, err := Open(ctx, testURL, Options{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Open with expired ctx: got %v, want DeadlineExceeded", err)
	}
}
