package connlimit

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"
)

// server runs an HTTP server on loopback behind a Limiter.
func server(t *testing.T, l *Limiter) string {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler:   http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }),
		ConnState: l.ConnState,
	}
	go srv.Serve(l.Listener(raw))
	t.Cleanup(func() { srv.Close() })
	return raw.Addr().String()
}

// client is one keep-alive connection from a chosen loopback address.
type client struct {
	c net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, from, to string) *client {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", to)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{c: c, r: bufio.NewReader(c)}
}

// get sends one request on the connection and reports whether it was
// answered 200 (false when the server closed the connection instead).
func (c *client) get() bool {
	_ = c.c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprint(c.c, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return false
	}
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func TestPerClientCap(t *testing.T) {
	tests := []struct {
		name        string
		exempt      []*net.IPNet
		wantFifthOK bool
	}{
		{"over its share, a client's next connection is closed", nil, false},
		{"a trusted proxy is not capped", []*net.IPNet{{IP: net.IPv4(127, 0, 0, 2), Mask: net.CIDRMask(32, 32)}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := New(4, 100, tt.exempt)
			addr := server(t, l)
			for i := range 4 {
				if !dial(t, "127.0.0.2", addr).get() {
					t.Fatalf("connection %d within the share refused", i+1)
				}
			}
			if got := dial(t, "127.0.0.2", addr).get(); got != tt.wantFifthOK {
				t.Errorf("fifth connection answered = %v, want %v", got, tt.wantFifthOK)
			}
			if !dial(t, "127.0.0.3", addr).get() {
				t.Error("another client was refused")
			}
		})
	}
}

// TestIdleConnectionsYieldUnderPressure: connections that sit idle give
// their slots up once the server nears its cap, so a fresh client is
// served although every earlier client keeps its connection open.
func TestIdleConnectionsYieldUnderPressure(t *testing.T) {
	l := New(0, 8, nil) // pressure at 6 open connections
	addr := server(t, l)
	var idle []*client
	for i := range 5 {
		c := dial(t, fmt.Sprintf("127.0.0.%d", 10+i), addr)
		if !c.get() {
			t.Fatalf("client %d refused", i)
		}
		idle = append(idle, c)
	}
	// The server marks a connection idle just after it has answered: wait
	// until it has done so for all five.
	deadline := time.Now().Add(10 * time.Second)
	for l.idleCount() < len(idle) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d connections idle", l.idleCount(), len(idle))
		}
		time.Sleep(time.Millisecond)
	}
	fresh := dial(t, "127.0.0.20", addr)
	if !fresh.get() {
		t.Fatal("a fresh client near the cap was refused")
	}
	// The idle ones were closed: their next request finds the connection gone.
	closed := 0
	for _, c := range idle {
		if !c.get() {
			closed++
		}
	}
	if closed != len(idle) {
		t.Errorf("%d of %d idle connections closed under pressure, want all", closed, len(idle))
	}
}

func (l *Limiter) idleCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.idle)
}
