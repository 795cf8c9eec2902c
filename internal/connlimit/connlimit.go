// Package connlimit keeps one client from taking every connection of the
// server: it caps open connections per client address, and when the server
// nears its total cap it closes idle keep-alive connections, so that a
// fresh client (a probe, another user) still gets a slot.
package connlimit

import (
	"net"
	"net/http"
	"sync"
)

// Limiter counts connections. Use its Listener around the server's
// listener and its ConnState as the http.Server's ConnState.
type Limiter struct {
	perClient int
	pressure  int // open connections at which idle ones are closed
	exempt    []*net.IPNet

	mu      sync.Mutex
	open    int
	byAddr  map[string]int
	idle    map[net.Conn]struct{}
	refused int
}

// New caps connections at perClient per client IP (0: no per-client cap),
// except from the exempt networks (trusted proxies, through which many
// clients come). Idle connections are closed once total connections reach
// three quarters of total.
func New(perClient, total int, exempt []*net.IPNet) *Limiter {
	return &Limiter{perClient: perClient, pressure: max(total*3/4, 1), exempt: exempt,
		byAddr: map[string]int{}, idle: map[net.Conn]struct{}{}}
}

// Listener wraps ln: a connection over its client's cap is closed at once,
// before a byte is read, and Accept goes on with the next.
func (l *Limiter) Listener(ln net.Listener) net.Listener { return &listener{Listener: ln, l: l} }

type listener struct {
	net.Listener
	l *Limiter
}

func (ln *listener) Accept() (net.Conn, error) {
	for {
		c, err := ln.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr := clientIP(c)
		ok, idle := ln.l.admit(addr)
		// Closed outside the lock: closing a connection releases its count.
		for _, ic := range idle {
			ic.Close()
		}
		if ok {
			return &conn{Conn: c, l: ln.l, addr: addr}, nil
		}
		c.Close()
	}
}

func clientIP(c net.Conn) string {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	host, _, err := net.SplitHostPort(c.RemoteAddr().String())
	if err != nil {
		return c.RemoteAddr().String()
	}
	return host
}

// admit counts a new connection of addr, or refuses it; near the total
// cap it also hands back the idle connections to close, which give their
// slots up.
func (l *Limiter) admit(addr string) (bool, []net.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perClient > 0 && l.byAddr[addr] >= l.perClient && !l.isExempt(addr) {
		l.refused++
		return false, nil
	}
	l.byAddr[addr]++
	l.open++
	var idle []net.Conn
	if l.open >= l.pressure {
		for c := range l.idle {
			idle = append(idle, c)
			delete(l.idle, c)
		}
	}
	return true, idle
}

func (l *Limiter) isExempt(addr string) bool {
	ip := net.ParseIP(addr)
	for _, n := range l.exempt {
		if ip != nil && n.Contains(ip) {
			return true
		}
	}
	return false
}

func (l *Limiter) release(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.byAddr[addr]--; l.byAddr[addr] <= 0 {
		delete(l.byAddr, addr)
	}
}

// ConnState tracks idle connections, and closes one that turns idle while
// the server is near its cap.
func (l *Limiter) ConnState(c net.Conn, s http.ConnState) {
	l.mu.Lock()
	closeNow := false
	switch s {
	case http.StateIdle:
		if l.open >= l.pressure {
			closeNow = true
		} else {
			l.idle[c] = struct{}{}
		}
	default:
		delete(l.idle, c)
	}
	l.mu.Unlock()
	if closeNow {
		c.Close()
	}
}

// Refused is how many connections were closed for their client's cap.
func (l *Limiter) Refused() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.refused
}

type conn struct {
	net.Conn
	l    *Limiter
	addr string
	once sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.addr) })
	return err
}
