package valkey

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	vk "github.com/valkey-io/valkey-go"
)

func TestSessionStoreKey(t *testing.T) {
	s := testStore(testClient, "p:", 0)
	if got, want := s.Key("abc"), "p:session:abc"; got != want {
		t.Fatalf("Key = %q, want %q", got, want)
	}
}

func TestSessionStoreRoundTrip(t *testing.T) {
	p := prefixFor(t)
	s := testStore(testClient, p, time.Second)
	ctx := ctxT(t)
	data := []byte("session\x00data\xff")

	if err := s.CommitCtx(ctx, "tok", data, time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("CommitCtx: %v", err)
	}
	got, found, err := s.FindCtx(ctx, "tok")
	if err != nil || !found || !bytes.Equal(got, data) {
		t.Fatalf("FindCtx = %q, %v, %v; want %q, true, nil", got, found, err, data)
	}
	if !exists(t, p+"session:tok") {
		t.Fatalf("key %q missing", p+"session:tok")
	}

	// The context-free scs.Store methods go through the same code.
	if err := s.Commit("tok2", data, time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if got, found, err := s.Find("tok2"); err != nil || !found || !bytes.Equal(got, data) {
		t.Fatalf("Find = %q, %v, %v", got, found, err)
	}
	if err := s.Delete("tok2"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, found, err := s.Find("tok2"); err != nil || found {
		t.Fatalf("Find after Delete: found=%v err=%v", found, err)
	}
}

func TestSessionStoreFindMissing(t *testing.T) {
	s := testStore(testClient, prefixFor(t), time.Second)
	b, found, err := s.FindCtx(ctxT(t), "nope")
	if err != nil || found || b != nil {
		t.Fatalf("FindCtx(missing) = %q, %v, %v; want nil, false, nil", b, found, err)
	}
}

func TestSessionStoreExpiry(t *testing.T) {
	p := prefixFor(t)
	s := testStore(testClient, p, time.Second)
	expiry := time.Now().Add(1500 * time.Millisecond)
	if err := s.CommitCtx(ctxT(t), "tok", []byte("x"), expiry); err != nil {
		t.Fatalf("CommitCtx: %v", err)
	}
	if ms := pttl(t, p+"session:tok"); ms <= 0 || ms > 1500 {
		t.Fatalf("PTTL = %dms, want (0, 1500]", ms)
	}
	if got, want := pexpiretime(t, p+"session:tok"), expiry.UnixMilli(); got != want {
		t.Fatalf("PEXPIRETIME = %d, want %d (absolute expiry)", got, want)
	}
}

func TestSessionStoreCommitPastExpiryRemoves(t *testing.T) {
	p := prefixFor(t)
	s := testStore(testClient, p, time.Second)
	ctx := ctxT(t)
	if err := s.CommitCtx(ctx, "tok", []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("CommitCtx: %v", err)
	}
	for _, past := range []time.Time{time.Now().Add(-time.Second), {}} {
		if err := s.CommitCtx(ctx, "tok", []byte("y"), past); err != nil {
			t.Fatalf("CommitCtx(past %v): %v", past, err)
		}
		if exists(t, p+"session:tok") {
			t.Fatalf("key still there after commit with expiry %v", past)
		}
	}
	if _, found, err := s.FindCtx(ctx, "tok"); err != nil || found {
		t.Fatalf("FindCtx: found=%v err=%v", found, err)
	}
}

func TestSessionStoreDelete(t *testing.T) {
	p := prefixFor(t)
	s := testStore(testClient, p, time.Second)
	ctx := ctxT(t)
	if err := s.CommitCtx(ctx, "tok", []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("CommitCtx: %v", err)
	}
	if err := s.DeleteCtx(ctx, "tok"); err != nil {
		t.Fatalf("DeleteCtx: %v", err)
	}
	if exists(t, p+"session:tok") {
		t.Fatal("key still there after DeleteCtx")
	}
	if err := s.DeleteCtx(ctx, "tok"); err != nil {
		t.Fatalf("DeleteCtx of a missing session: %v", err)
	}
}

// An outage must surface as an error: reporting it as "not found" would
// make scs start a fresh, logged-out session.
func TestSessionStoreErrorsAreNotNotFound(t *testing.T) {
	tests := []struct {
		name   string
		client func(t *testing.T, prefix string) vk.Client
		check  func(t *testing.T, err error)
	}{
		{
			name:   "closed client",
			client: func(t *testing.T, _ string) vk.Client { return closedClient(t) },
			check: func(t *testing.T, err error) {
				if !errors.Is(err, vk.ErrClosing) {
					t.Errorf("error = %v, want ErrClosing", err)
				}
			},
		},
		{
			name: "server gone",
			client: func(t *testing.T, prefix string) vk.Client {
				px := newProxy(t)
				c := openVia(t, px)
				seed(t, c, prefix)
				px.Close()
				return c
			},
		},
		{
			name: "server hangs",
			client: func(t *testing.T, prefix string) vk.Client {
				px := newProxy(t)
				c := openVia(t, px)
				seed(t, c, prefix)
				px.Freeze()
				return c
			},
			check: func(t *testing.T, err error) {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("error = %v, want the per-call deadline", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := prefixFor(t)
			s := testStore(tt.client(t, p), p, 300*time.Millisecond)

			start := time.Now()
			b, found, err := s.FindCtx(context.Background(), "tok")
			if err == nil || found || b != nil {
				t.Fatalf("FindCtx = %q, %v, %v; want nil, false, an error", b, found, err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("FindCtx took %v despite a 300ms timeout", d)
			}
			if !strings.HasPrefix(err.Error(), "valkey: session store find: ") || strings.Contains(err.Error(), "tok") {
				t.Errorf("error %q: want operation name and no token", err)
			}
			if tt.check != nil {
				tt.check(t, err)
			}
			if err := s.CommitCtx(context.Background(), "tok", []byte("x"), time.Now().Add(time.Hour)); err == nil {
				t.Error("CommitCtx: got nil error")
			}
			if err := s.DeleteCtx(context.Background(), "tok"); err == nil {
				t.Error("DeleteCtx: got nil error")
			}
		})
	}
}

// seed stores a session through c, so a later failure cannot be blamed on
// the key simply not existing.
func seed(t *testing.T, c vk.Client, prefix string) {
	t.Helper()
	if err := testStore(c, prefix, time.Second).CommitCtx(ctxT(t), "tok", []byte("x"), time.Now().Add(time.Minute)); err != nil {
		t.Fatalf("seed: %v", err)
	}
}

func TestSessionStoreWithSCS(t *testing.T) {
	p := prefixFor(t)
	sm := scs.New()
	sm.Store = testStore(testClient, p, time.Second)
	sm.HashTokenInStore = true

	ctx, err := sm.Load(ctxT(t), "")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	sm.Put(ctx, "identity", "id-123")
	token, expiry, err := sm.Commit(ctx)
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}

	sum := sha256.Sum256([]byte(token))
	wantKey := p + "session:" + base64.RawURLEncoding.EncodeToString(sum[:])
	keys, err := scanUnder(ctxT(t), testClient, p)
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	if len(keys) != 1 || keys[0] != wantKey {
		t.Fatalf("keys under prefix = %q, want [%q]", keys, wantKey)
	}
	for _, k := range keys {
		if strings.Contains(k, token) {
			t.Errorf("key %q contains the raw token", k)
		}
	}
	val, err := testClient.Do(ctxT(t), testClient.B().Get().Key(wantKey).Build()).ToString()
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	if strings.Contains(val, token) {
		t.Error("stored value contains the raw token")
	}
	if got := pexpiretime(t, wantKey); got != expiry.UnixMilli() {
		t.Errorf("PEXPIRETIME = %d, want session expiry %d", got, expiry.UnixMilli())
	}

	ctx2, err := sm.Load(ctxT(t), token)
	if err != nil {
		t.Fatalf("Load(token): %v", err)
	}
	if got := sm.GetString(ctx2, "identity"); got != "id-123" {
		t.Fatalf("identity = %q after reload, want id-123", got)
	}
	if err := sm.Destroy(ctx2); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	if exists(t, wantKey) {
		t.Fatal("session key survives Destroy")
	}
}
