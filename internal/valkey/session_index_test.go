package valkey

import (
	"context"
	"strings"
	"testing"
	"time"
)

// fixture is one identity's sessions in a per-test key space, with the
// session keys written through SessionStore so both types must agree on
// the key layout.
type fixture struct {
	t     *testing.T
	p     string
	store *SessionStore
	idx   *sessionIndex
	now   time.Time
}

func newFixture(t *testing.T) *fixture {
	p := prefixFor(t)
	return &fixture{
		t:     t,
		p:     p,
		store: testStore(testClient, p, time.Second),
		idx:   testIndex(testClient, p, time.Second),
		now:   time.Now().Truncate(time.Millisecond),
	}
}

// login commits a session and indexes it, in the order the index requires.
func (f *fixture) login(identityID, token string, createdAgo, expiresIn time.Duration) sessionRecord {
	f.t.Helper()
	r := sessionRecord{
		HashedToken: token,
		CreatedAt:   f.now.Add(-createdAgo),
		LastSeenAt:  f.now.Add(-createdAgo),
		ExpiresAt:   f.now.Add(expiresIn),
		IP:          "192.0.2.1",
		UserAgent:   "test/" + token,
	}
	if err := f.store.CommitCtx(ctxT(f.t), token, []byte("data"), r.ExpiresAt); err != nil {
		f.t.Fatalf("CommitCtx: %v", err)
	}
	if err := f.idx.Add(ctxT(f.t), identityID, r); err != nil {
		f.t.Fatalf("Add: %v", err)
	}
	return r
}

func (f *fixture) indexKey(identityID string) string { return f.p + "user:" + identityID + ":sessions" }

func (f *fixture) hasField(identityID, token string) bool {
	f.t.Helper()
	ok, err := testClient.Do(ctxT(f.t), testClient.B().Hexists().Key(f.indexKey(identityID)).Field(token).Build()).AsBool()
	if err != nil {
		f.t.Fatalf("HEXISTS: %v", err)
	}
	return ok
}

func (f *fixture) list(identityID string) []sessionRecord {
	f.t.Helper()
	got, err := f.idx.List(ctxT(f.t), identityID, time.Now())
	if err != nil {
		f.t.Fatalf("List: %v", err)
	}
	return got
}

func tokens(rs []sessionRecord) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.HashedToken
	}
	return out
}

func sameRecord(a, b sessionRecord) bool {
	return a.HashedToken == b.HashedToken && a.CreatedAt.Equal(b.CreatedAt) && a.LastSeenAt.Equal(b.LastSeenAt) &&
		a.ExpiresAt.Equal(b.ExpiresAt) && a.IP == b.IP && a.UserAgent == b.UserAgent
}

func TestSessionIndexAddList(t *testing.T) {
	f := newFixture(t)
	newer := f.login("alice", "tokB", time.Hour, 2*time.Hour)
	older := f.login("alice", "tokA", 2*time.Hour, time.Hour)

	got := f.list("alice")
	if len(got) != 2 {
		t.Fatalf("List = %v, want 2 records", tokens(got))
	}
	for i, want := range []sessionRecord{older, newer} {
		if !sameRecord(got[i], want) {
			t.Errorf("record %d = %+v, want %+v", i, got[i], want)
		}
	}
	if got := f.list("bob"); len(got) != 0 {
		t.Errorf("List(bob) = %v, want none", tokens(got))
	}
}

func TestSessionIndexTTL(t *testing.T) {
	f := newFixture(t)
	key := f.indexKey("alice")
	steps := []struct {
		token     string
		expiresIn time.Duration
		wantIn    time.Duration // the index expiry after this Add
	}{
		{"tok1", time.Hour, time.Hour},            // NX: first TTL
		{"tok2", 2 * time.Hour, 2 * time.Hour},    // GT: pushed later
		{"tok3", 30 * time.Minute, 2 * time.Hour}, // never pulled earlier
	}
	for _, s := range steps {
		f.login("alice", s.token, 0, s.expiresIn)
		if ms := pttl(t, key); ms <= 0 {
			t.Fatalf("after adding %s: PTTL = %d, want > 0", s.token, ms)
		}
		if got, want := pexpiretime(t, key), f.now.Add(s.wantIn).UnixMilli(); got != want {
			t.Fatalf("after adding %s: index expires at %d, want %d", s.token, got, want)
		}
	}
}

func TestSessionIndexAddRejects(t *testing.T) {
	f := newFixture(t)
	future := time.Now().Add(time.Hour)
	tests := []struct {
		name     string
		identity string
		r        sessionRecord
		wantErr  bool
	}{
		{"no identity", "", sessionRecord{HashedToken: "t", ExpiresAt: future}, true},
		{"no token", "alice", sessionRecord{ExpiresAt: future}, true},
		{"no expiry", "alice", sessionRecord{HashedToken: "t"}, true},
		// Indexing a dead session would set a past PEXPIREAT and wipe the
		// identity's whole index, so it is skipped instead.
		{"already expired", "alice", sessionRecord{HashedToken: "t", ExpiresAt: time.Now().Add(-time.Second)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := f.idx.Add(ctxT(t), tt.identity, tt.r)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Add err = %v, wantErr %v", err, tt.wantErr)
			}
			if exists(t, f.indexKey(tt.identity)) {
				t.Fatal("index key created")
			}
		})
	}

	// An expired Add must not shorten the life of an existing index.
	f.login("alice", "live", 0, time.Hour)
	if err := f.idx.Add(ctxT(t), "alice", sessionRecord{HashedToken: "dead", ExpiresAt: time.Now().Add(-time.Second)}); err != nil {
		t.Fatalf("Add(expired): %v", err)
	}
	if got := tokens(f.list("alice")); len(got) != 1 || got[0] != "live" {
		t.Fatalf("List = %v, want [live]", got)
	}
}

func TestSessionIndexListPrunes(t *testing.T) {
	f := newFixture(t)
	f.login("alice", "kept", 3*time.Hour, time.Hour)
	f.login("alice", "deleted", 2*time.Hour, time.Hour)
	f.login("alice", "expired", time.Hour, time.Hour)
	// A record that cannot be decoded still names a session.
	if err := testClient.Do(ctxT(t), testClient.B().Hset().Key(f.indexKey("alice")).FieldValue().
		FieldValue("garbled", "{not json").FieldValue("garbled-dead", "{not json").Build()).Error(); err != nil {
		t.Fatalf("HSET: %v", err)
	}
	if err := f.store.CommitCtx(ctxT(t), "garbled", []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// Its record says it has ended even though the key is still there.
	if err := f.idx.Add(ctxT(t), "alice", sessionRecord{HashedToken: "expired", CreatedAt: f.now.Add(-time.Hour), ExpiresAt: time.Now().Add(300 * time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	if err := f.store.DeleteCtx(ctxT(t), "deleted"); err != nil {
		t.Fatal(err)
	}

	got, err := f.idx.List(ctxT(t), "alice", time.Now().Add(time.Second))
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	// The garbled record has a zero CreatedAt, so it sorts first.
	if want := []string{"garbled", "kept"}; strings.Join(tokens(got), ",") != strings.Join(want, ",") {
		t.Fatalf("List = %v, want %v", tokens(got), want)
	}
	for token, want := range map[string]bool{"kept": true, "garbled": true, "deleted": false, "expired": false, "garbled-dead": false} {
		if got := f.hasField("alice", token); got != want {
			t.Errorf("field %q present = %v, want %v", token, got, want)
		}
	}
}

func TestSessionIndexRevokeAll(t *testing.T) {
	f := newFixture(t)
	f.login("alice", "a1", 3*time.Hour, time.Hour)
	f.login("alice", "a2", 2*time.Hour, time.Hour)
	f.login("alice", "a3", time.Hour, time.Hour)
	f.login("bob", "b1", time.Hour, time.Hour)

	n, err := f.idx.RevokeAll(ctxT(t), "alice", "a2")
	if err != nil || n != 2 {
		t.Fatalf("RevokeAll(keep a2) = %d, %v; want 2, nil", n, err)
	}
	if got := tokens(f.list("alice")); len(got) != 1 || got[0] != "a2" {
		t.Fatalf("List after RevokeAll = %v, want [a2]", got)
	}
	for token, want := range map[string]bool{"a1": false, "a2": true, "a3": false, "b1": true} {
		if got := exists(t, f.store.Key(token)); got != want {
			t.Errorf("session %s exists = %v, want %v", token, got, want)
		}
	}
	if !f.hasField("bob", "b1") {
		t.Error("bob's index entry was touched")
	}

	n, err = f.idx.RevokeAll(ctxT(t), "alice")
	if err != nil || n != 1 {
		t.Fatalf("RevokeAll() = %d, %v; want 1, nil", n, err)
	}
	if exists(t, f.store.Key("a2")) || exists(t, f.indexKey("alice")) {
		t.Fatal("session or index left after revoking everything")
	}
	if n, err := f.idx.RevokeAll(ctxT(t), "nobody"); err != nil || n != 0 {
		t.Fatalf("RevokeAll(nobody) = %d, %v; want 0, nil", n, err)
	}
}

func TestSessionIndexRevoke(t *testing.T) {
	f := newFixture(t)
	f.login("alice", "a1", time.Hour, time.Hour)
	f.login("bob", "b1", time.Hour, time.Hour)

	tests := []struct {
		name     string
		identity string
		token    string
		want     bool
	}{
		{"someone else's session", "alice", "b1", false},
		{"unknown token", "alice", "zzz", false},
		{"empty token", "alice", "", false},
		{"own session", "bob", "b1", true},
		{"already revoked", "bob", "b1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.idx.Revoke(ctxT(t), tt.identity, tt.token)
			if err != nil || got != tt.want {
				t.Fatalf("Revoke = %v, %v; want %v, nil", got, err, tt.want)
			}
		})
		if t.Failed() {
			return
		}
		if tt.name == "someone else's session" && (!exists(t, f.store.Key("b1")) || !f.hasField("bob", "b1")) {
			t.Fatal("another identity's session was touched")
		}
	}
	if exists(t, f.store.Key("b1")) || f.hasField("bob", "b1") {
		t.Error("revoked session or its index entry remains")
	}
	if !exists(t, f.store.Key("a1")) || !f.hasField("alice", "a1") {
		t.Error("alice's session was touched")
	}
}

func TestSessionIndexEnd(t *testing.T) {
	f := newFixture(t)
	f.login("alice", "a1", time.Hour, time.Hour)
	if err := f.idx.End(ctxT(t), "alice", "a1"); err != nil {
		t.Fatalf("End: %v", err)
	}
	if f.hasField("alice", "a1") {
		t.Fatal("field remains after End")
	}
	if exists(t, f.store.Key("a1")) {
		t.Fatal("session remains after End")
	}
	if err := f.idx.End(ctxT(t), "alice", "a1"); err != nil {
		t.Fatalf("End of a missing session: %v", err)
	}
}

func TestSessionIndexTouch(t *testing.T) {
	f := newFixture(t)
	orig := f.login("alice", "a1", time.Hour, time.Hour)

	later := f.now.Add(time.Minute)
	tests := []struct {
		name string
		at   time.Time
		want time.Time
	}{
		{"moves forward", later, later},
		{"never backwards", f.now, later},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := f.idx.Touch(ctxT(t), "alice", "a1", tt.at); err != nil {
				t.Fatalf("Touch: %v", err)
			}
			got := f.list("alice")
			if len(got) != 1 {
				t.Fatalf("List = %v", tokens(got))
			}
			want := orig
			want.LastSeenAt = tt.want
			if !sameRecord(got[0], want) {
				t.Fatalf("record = %+v, want %+v", got[0], want)
			}
		})
	}

	// Touching a session that is gone must not bring its record back.
	if err := f.idx.Touch(ctxT(t), "alice", "gone", later); err != nil {
		t.Fatalf("Touch(gone): %v", err)
	}
	if f.hasField("alice", "gone") {
		t.Fatal("Touch created a record")
	}
	if err := f.idx.Touch(ctxT(t), "carol", "gone", later); err != nil {
		t.Fatalf("Touch(unknown identity): %v", err)
	}
	if exists(t, f.indexKey("carol")) {
		t.Fatal("Touch created an index")
	}
}

func TestSessionIndexErrors(t *testing.T) {
	const identity, token = "identity-secret-42", "token-secret-42"
	idx := testIndex(closedClient(t), prefixFor(t), 300*time.Millisecond)
	ctx := context.Background()
	rec := sessionRecord{HashedToken: token, ExpiresAt: time.Now().Add(time.Hour)}
	tests := []struct {
		op  string
		err func() error
	}{
		{"add", func() error { return idx.Add(ctx, identity, rec) }},
		{"end", func() error { return idx.End(ctx, identity, token) }},
		{"touch", func() error { return idx.Touch(ctx, identity, token, time.Now()) }},
		{"list", func() error { _, err := idx.List(ctx, identity, time.Now()); return err }},
		{"revoke all", func() error { _, err := idx.RevokeAll(ctx, identity); return err }},
		{"revoke", func() error { _, err := idx.Revoke(ctx, identity, token); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.op, func(t *testing.T) {
			err := tt.err()
			if err == nil {
				t.Fatal("got nil error from a closed client")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "valkey: session index "+tt.op+": ") {
				t.Errorf("error %q lacks the operation name", msg)
			}
			if strings.Contains(msg, "secret-42") {
				t.Errorf("error %q leaks the identity or token", msg)
			}
		})
	}
}

// The compare-and-set behind Touch is what stops a Touch that races a
// Revoke from resurrecting the record, or one racing an Add from
// overwriting it.
func TestTouchScript(t *testing.T) {
	key := prefixFor(t) + "hash"
	if err := testClient.Do(ctxT(t), testClient.B().Hset().Key(key).FieldValue().FieldValue("f", "old").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, field, expect string
		want                int64
		wantVal             string
	}{
		{"value changed", "f", "stale", -1, "old"},
		{"field gone", "g", "old", 0, ""},
		{"unchanged", "f", "old", 1, "new"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := touchScript.Exec(ctxT(t), testClient, []string{key}, []string{tt.field, tt.expect, "new"}).AsInt64()
			if err != nil || n != tt.want {
				t.Fatalf("script = %d, %v; want %d", n, err, tt.want)
			}
			v, err := testClient.Do(ctxT(t), testClient.B().Hget().Key(key).Field(tt.field).Build()).ToString()
			if tt.wantVal == "" {
				if err == nil {
					t.Fatalf("field %q = %q, want absent", tt.field, v)
				}
				return
			}
			if v != tt.wantVal {
				t.Fatalf("field %q = %q, want %q", tt.field, v, tt.wantVal)
			}
		})
	}
}
