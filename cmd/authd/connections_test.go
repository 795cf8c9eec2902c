package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"
)

// keepAlive is one keep-alive connection to authd from a chosen loopback
// address.
type keepAlive struct {
	c net.Conn
	r *bufio.Reader
}

func dialFrom(t *testing.T, from, to string) *keepAlive {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", to)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &keepAlive{c: c, r: bufio.NewReader(c)}
}

// get sends one request on the connection and returns the status, or 0
// when the server closed the connection instead of answering.
func (k *keepAlive) get(path string) int {
	_ = k.c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(k.c, "GET %s HTTP/1.1\r\nHost: authd\r\n\r\n", path); err != nil {
		return 0
	}
	resp, err := http.ReadResponse(k.r, nil)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestOneClientCannotTakeEveryConnection is the connection-exhaustion
// attack on a running authd, with a bounded number of sockets: one address
// opens three times its share of keep-alive connections and leaves each
// idle after one request. Past its share its connections are closed, and a
// fresh client from another address is still served, API and probe alike.
func TestOneClientCannotTakeEveryConnection(t *testing.T) {
	addr := freeAddr(t)
	start(t, env("HTTP_ADDR", addr, "PUBLIC_URL", "http://"+addr,
		"MAX_CONNECTIONS", "16", "MAX_CONNECTIONS_PER_CLIENT", "4"), addr)

	served := 0
	for range 12 {
		if dialFrom(t, "127.0.0.2", addr).get("/api/v1/auth/me") == http.StatusUnauthorized {
			served++
		}
	}
	if served != 4 {
		t.Errorf("one address was served on %d of 12 connections, want its share of 4", served)
	}
	fresh := dialFrom(t, "127.0.0.3", addr)
	if got := fresh.get("/health"); got != http.StatusOK {
		t.Errorf("a fresh client's /health = %d, want 200", got)
	}
	if got := fresh.get("/api/v1/auth/me"); got != http.StatusUnauthorized {
		t.Errorf("a fresh client's /api/v1/auth/me = %d, want 401", got)
	}
}
