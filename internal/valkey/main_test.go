package valkey

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	vk "github.com/valkey-io/valkey-go"
)

// The tests talk to a real server, shared with other work, so everything
// they write lives under a per-run prefix and only that prefix is cleaned.
var (
	testURL    string
	testClient vk.Client
	testPrefix string
)

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	testURL = os.Getenv("VALKEY_URL")
	if testURL == "" {
		testURL = "redis://127.0.0.1:6379"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Open(ctx, testURL, Options{})
	if err != nil {
		shown := testURL
		if u, perr := url.Parse(testURL); perr == nil {
			shown = u.Redacted()
		}
		fmt.Fprintf(os.Stderr, "FAIL: internal/valkey tests need a Valkey/Redis server at %s "+
			"(set VALKEY_URL, or run `make test`, which starts one): %v\n", shown, err)
		return 1
	}
	testClient = c
	defer c.Close()

	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: random prefix:", err)
		return 1
	}
	testPrefix = "authd-test-" + hex.EncodeToString(b[:]) + ":"

	code := m.Run()

	cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer ccancel()
	if err := deleteUnder(cctx, c, testPrefix); err != nil {
		fmt.Fprintf(os.Stderr, "cleanup of %s*: %v\n", testPrefix, err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// prefixFor gives each test its own key space, so tests cannot see each
// other's keys, and removes it when the test ends (even on panic, which
// would skip TestMain's cleanup).
func prefixFor(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, r := range t.Name() {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	p := testPrefix + b.String() + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := deleteUnder(ctx, testClient, p); err != nil {
			t.Errorf("cleanup of %s*: %v", p, err)
		}
	})
	return p
}

// globEscape keeps a prefix from being read as a pattern by SCAN MATCH.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// scanUnder lists keys under prefix on every node, never with KEYS, which
// would block a shared server.
func scanUnder(ctx context.Context, c vk.Client, prefix string) ([]string, error) {
	var keys []string
	for _, node := range c.Nodes() {
		var cursor uint64
		for {
			e, err := node.Do(ctx, node.B().Scan().Cursor(cursor).Match(globEscape(prefix)+"*").Count(500).Build()).AsScanEntry()
			if err != nil {
				return nil, err
			}
			keys = append(keys, e.Elements...)
			if cursor = e.Cursor; cursor == 0 {
				break
			}
		}
	}
	return keys, nil
}

// deleteUnder removes only keys under prefix, one DEL each so that it also
// works across cluster slots; never FLUSHDB on a shared server.
func deleteUnder(ctx context.Context, c vk.Client, prefix string) error {
	keys, err := scanUnder(ctx, c, prefix)
	if err != nil || len(keys) == 0 {
		return err
	}
	cmds := make(vk.Commands, len(keys))
	for i, k := range keys {
		cmds[i] = c.B().Del().Key(k).Build()
	}
	for _, r := range c.DoMulti(ctx, cmds...) {
		if err := r.Error(); err != nil {
			return err
		}
	}
	return nil
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func exists(t *testing.T, key string) bool {
	t.Helper()
	n, err := testClient.Do(ctxT(t), testClient.B().Exists().Key(key).Build()).AsInt64()
	if err != nil {
		t.Fatalf("EXISTS: %v", err)
	}
	return n == 1
}

func pttl(t *testing.T, key string) int64 {
	t.Helper()
	n, err := testClient.Do(ctxT(t), testClient.B().Pttl().Key(key).Build()).AsInt64()
	if err != nil {
		t.Fatalf("PTTL: %v", err)
	}
	return n
}

func pexpiretime(t *testing.T, key string) int64 {
	t.Helper()
	n, err := testClient.Do(ctxT(t), testClient.B().Pexpiretime().Key(key).Build()).AsInt64()
	if err != nil {
		t.Fatalf("PEXPIRETIME: %v", err)
	}
	return n
}

// closedClient returns a client that has been connected and then closed,
// the simplest way to make every command fail.
func closedClient(t *testing.T) vk.Client {
	t.Helper()
	c, err := Open(ctxT(t), testURL, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	c.Close()
	return c
}

// proxy sits between a client and the real server so tests can cut the
// connection or make the server look unresponsive.
type proxy struct {
	ln      net.Listener
	network string
	target  string
	frozen  atomic.Bool
	mu      sync.Mutex
	conns   []net.Conn
	closed  bool
}

func newProxy(t *testing.T) *proxy {
	t.Helper()
	opt, err := vk.ParseURL(testURL)
	if err != nil {
		t.Fatalf("ParseURL: %v", err)
	}
	if opt.TLSConfig != nil {
		t.Skip("proxy tests need a plain-text VALKEY_URL")
	}
	network := "tcp"
	if strings.HasPrefix(testURL, "unix:") {
		network = "unix"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	p := &proxy{ln: ln, network: network, target: opt.InitAddress[0]}
	go p.serve()
	t.Cleanup(p.Close)
	return p
}

// URL is VALKEY_URL (credentials, database) pointed at the proxy.
func (p *proxy) URL(t *testing.T) string {
	t.Helper()
	u, err := url.Parse(testURL)
	if err != nil {
		t.Fatalf("parse VALKEY_URL: %v", err)
	}
	if u.Scheme == "unix" {
		u = &url.URL{Scheme: "redis", User: u.User, RawQuery: u.RawQuery}
	}
	u.Host = p.ln.Addr().String()
	return u.String()
}

func (p *proxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial(p.network, p.target)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			in.Close()
			out.Close()
			return
		}
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		go p.forward(out, in, true)
		go p.forward(in, out, false)
	}
}

func (p *proxy) forward(dst, src net.Conn, upstream bool) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !(upstream && p.frozen.Load()) {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Freeze swallows everything the client sends from now on, so commands
// never get a reply: a server that hangs rather than refuses.
func (p *proxy) Freeze() { p.frozen.Store(true) }

// Close drops the listener and every connection: the server is gone.
func (p *proxy) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	p.ln.Close()
	for _, c := range p.conns {
		c.Close()
	}
}

func openVia(t *testing.T, p *proxy) vk.Client {
	t.Helper()
	c, err := Open(ctxT(t), p.URL(t), Options{})
	if err != nil {
		t.Fatalf("Open via proxy: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// testSubjectKey keys the hashes of personal data in the tests' keys.
var testSubjectKey = []byte("authd-test-subject-key")

func testHandle(c vk.Client, prefix string, timeout time.Duration) Handle {
	return NewHandle(c, prefix, timeout, testSubjectKey)
}

func testIndex(c vk.Client, p string, d time.Duration) *sessionIndex {
	return newSessionIndex(testHandle(c, p, d))
}
func testStore(c vk.Client, p string, d time.Duration) *SessionStore {
	return NewSessionStore(testHandle(c, p, d))
}
func testLockout(c vk.Client, p string, d time.Duration) *lockout {
	return newLockout(testHandle(c, p, d))
}
func testWindow(c vk.Client, p string, d time.Duration) *window {
	return newWindow(testHandle(c, p, d))
}
