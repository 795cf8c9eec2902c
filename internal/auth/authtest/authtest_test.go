package authtest_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/internal/auth"
	"github.com/authd/authd/internal/auth/authtest"
)

// The fakes pass the same contract as the real adapters.

func TestIdentitiesContract(t *testing.T) {
	authtest.TestIdentityStore(t, func(*testing.T) auth.IdentityStore { return authtest.NewIdentities() })
}

func TestTokensContract(t *testing.T) {
	authtest.TestTokenStore(t, func(*testing.T) (auth.IdentityStore, auth.TokenStore) {
		f := authtest.New()
		return f.Identities, f.Tokens
	})
}

func TestSessionsContract(t *testing.T) {
	authtest.TestSessions(t, func(*testing.T) auth.Sessions { return authtest.NewSessions(nil, 0) })
}

func TestLockoutsContract(t *testing.T) {
	authtest.TestLockouts(t, func(*testing.T) auth.Lockouts { return authtest.NewLockouts() })
}

func TestRateLimiterContract(t *testing.T) {
	authtest.TestRateLimiter(t, func(*testing.T) auth.RateLimiter { return authtest.NewRateLimiter() })
}

func TestProfileCacheContract(t *testing.T) {
	authtest.TestProfileCache(t, func(*testing.T) auth.ProfileCache { return authtest.NewProfileCache() })
}

func TestFakeFactorStore(t *testing.T) {
	authtest.TestFactorStore(t, func(*testing.T) (auth.IdentityStore, auth.FactorStore) {
		f := authtest.New()
		return f.Identities, f.Factors
	})
}

func TestFakeChallenges(t *testing.T) {
	authtest.TestChallenges(t, func(*testing.T) auth.Challenges { return authtest.NewChallenges(time.Now) })
}

func TestAuditLogContract(t *testing.T) {
	authtest.TestAuditLog(t, func(*testing.T) (auth.IdentityStore, auth.AuditLog) {
		return authtest.NewIdentities(), authtest.NewAuditLog()
	})
}

func TestIdentityQueriesContract(t *testing.T) {
	authtest.TestIdentityQueries(t, func(*testing.T) (auth.IdentityStore, auth.FactorStore, auth.IdentityQueries) {
		f := authtest.New()
		return f.Identities, f.Factors, f.Queries
	})
}

func TestAuditQueriesContract(t *testing.T) {
	authtest.TestAuditQueries(t, func(*testing.T) (auth.IdentityStore, auth.AuditLog, auth.AuditQueries) {
		f := authtest.New()
		return f.Identities, f.Audit, f.Audit
	})
}

func TestTransactorContract(t *testing.T) {
	authtest.TestTransactor(t, func(*testing.T) authtest.TxFixture {
		f := authtest.New()
		return authtest.TxFixture{Tx: f.Tx, Stores: f.Stores(), Mails: func(*testing.T) int { return f.Outbox.Len() }}
	})
}

// What the fakes add to the contract.

var errInjected = errors.New("injected")

func TestProbe(t *testing.T) {
	ctx := context.Background()
	ids := authtest.NewIdentities()
	email, _ := auth.ParseEmail("ann@example.com")
	if _, err := ids.IdentityByEmail(ctx, email); auth.ErrorKind(err) != auth.KindNotFound {
		t.Fatalf("IdentityByEmail = %v", err)
	}
	ids.FailOn("IdentityByEmail", errInjected)
	if _, err := ids.IdentityByEmail(ctx, email); !errors.Is(err, errInjected) {
		t.Errorf("FailOn: IdentityByEmail = %v", err)
	}
	if _, err := ids.IdentityByID(ctx, uuid.New()); auth.ErrorKind(err) != auth.KindNotFound {
		t.Errorf("FailOn of one method failed another: %v", err)
	}
	ids.FailOn("IdentityByEmail", nil)
	ids.SetErr(errInjected)
	if err := ids.MarkEmailVerified(ctx, uuid.New(), time.Now()); !errors.Is(err, errInjected) {
		t.Errorf("SetErr: MarkEmailVerified = %v", err)
	}
	ids.Heal()
	if _, err := ids.IdentityByEmail(ctx, email); auth.ErrorKind(err) != auth.KindNotFound {
		t.Errorf("after Heal: %v", err)
	}
	if got := ids.Calls("IdentityByEmail"); got != 3 {
		t.Errorf("Calls(IdentityByEmail) = %d, want 3 (failed calls count)", got)
	}
	if got := ids.CallCounts(); got["IdentityByID"] != 1 || got["MarkEmailVerified"] != 1 {
		t.Errorf("CallCounts = %v", got)
	}
	ids.ResetCalls()
	if got := ids.Calls("IdentityByEmail"); got != 0 {
		t.Errorf("after ResetCalls: %d", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("FailOn of a method the fake does not have did not panic")
		}
	}()
	ids.FailOn("IdentityByMail", errInjected)
}

func TestEveryFakeFailsOnSetErr(t *testing.T) {
	ctx := context.Background()
	f := authtest.New()
	id := uuid.New()
	now := authtest.Epoch
	key := auth.ThrottleKey{Scope: "s", Subject: "x"}
	p := auth.LockoutPolicy{Free: 1, Base: time.Second, Max: time.Minute, ResetAfter: time.Hour}
	calls := map[string]func() error{
		"Identities.CreateIdentity": func() error { return f.Identities.CreateIdentity(ctx, auth.Identity{ID: id}) },
		"Identities.UpdateProfile":  func() error { return f.Identities.UpdateProfile(ctx, id, "", "", now) },
		"Tokens.Issue":              func() error { return f.Tokens.Issue(ctx, auth.IssuedToken{ID: id}) },
		"Tokens.Lookup": func() error {
			_, err := f.Tokens.Lookup(ctx, auth.PurposeRecovery, nil, now)
			return err
		},
		"Tokens.Redeem": func() error {
			_, err := f.Tokens.Redeem(ctx, auth.PurposeRecovery, nil, now)
			return err
		},
		"Tokens.SubmitCode": func() error {
			_, _, err := f.Tokens.SubmitCode(ctx, id, nil, 3, now)
			return err
		},
		"Outbox.Queue": func() error { return f.Outbox.Queue(ctx, auth.Mail{}) },
		"Tx.InTx":      func() error { return f.Tx.InTx(ctx, func(auth.Stores) error { return nil }) },
		"Sessions.Start": func() error {
			_, err := f.Sessions.Start(ctx, auth.Session{IdentityID: id})
			return err
		},
		"Sessions.Renew": func() error {
			_, err := f.Sessions.Renew(ctx, auth.Session{Key: "k", IdentityID: id}, now)
			return err
		},
		"Sessions.Find": func() error {
			_, _, err := f.Sessions.Find(ctx, "t")
			return err
		},
		"Sessions.Seen": func() error { return f.Sessions.Seen(ctx, auth.Session{}, now) },
		"Sessions.End":  func() error { return f.Sessions.End(ctx, auth.Session{Key: "k", IdentityID: id}) },
		"Sessions.List": func() error {
			_, err := f.Sessions.List(ctx, id, now)
			return err
		},
		"Sessions.Revoke": func() error {
			_, err := f.Sessions.Revoke(ctx, id, "k")
			return err
		},
		"Sessions.RevokeAll": func() error {
			_, err := f.Sessions.RevokeAll(ctx, id)
			return err
		},
		"Sessions.Generation": func() error {
			_, err := f.Sessions.Generation(ctx, id)
			return err
		},
		"Sessions.EndGeneration": func() error {
			_, _, err := f.Sessions.EndGeneration(ctx, id)
			return err
		},
		"Lockouts.Reserve": func() error {
			_, err := f.Lockouts.Reserve(ctx, now, auth.Attempt{Key: key, Policy: p})
			return err
		},
		"Lockouts.Release": func() error { return f.Lockouts.Release(ctx, now, auth.Attempt{Key: key, Policy: p}) },
		"Lockouts.Reset":   func() error { return f.Lockouts.Reset(ctx, key) },
		"Limiter.Allow": func() error {
			_, _, err := f.Limiter.Allow(ctx, key, 1, time.Hour, now)
			return err
		},
		"Profiles.Get": func() error {
			_, _, err := f.Profiles.Get(ctx, id)
			return err
		},
		"Profiles.Put":        func() error { return f.Profiles.Put(ctx, auth.Profile{ID: id}) },
		"Profiles.Invalidate": func() error { return f.Profiles.Invalidate(ctx, id) },
		"Audit.Record":        func() error { return f.Audit.Record(ctx, auth.Event{}) },
		"Audit.Recent": func() error {
			_, err := f.Audit.Recent(ctx, id, 1)
			return err
		},
		"Hasher.Hash": func() error {
			_, err := f.Hasher.Hash(ctx, "pw")
			return err
		},
		"Hasher.Verify": func() error {
			_, _, err := f.Hasher.Verify(ctx, "pw", authtest.HashOf("pw"))
			return err
		},
	}
	for _, p := range []interface{ SetErr(error) }{f.Identities, f.Tokens, f.Outbox, f.Tx, f.Sessions, f.Lockouts,
		f.Limiter, f.Profiles, f.Audit, f.Hasher} {
		p.SetErr(errInjected)
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, errInjected) {
			t.Errorf("%s with SetErr = %v, want the injected error", name, err)
		}
	}
	f.Heal()
	if err := f.Outbox.Queue(ctx, auth.Mail{}); err != nil {
		t.Errorf("after Heal: %v", err)
	}
	counts := f.CallCounts()
	if counts["Outbox.Queue"] != 2 || counts["Hasher.Verify"] != 1 {
		t.Errorf("CallCounts = %v", counts)
	}
	f.ResetCalls()
	if len(f.CallCounts()) != 0 {
		t.Errorf("after ResetCalls: %v", f.CallCounts())
	}
}

func TestTransactorCommitFault(t *testing.T) {
	ctx := context.Background()
	f := authtest.New()
	f.Tx.FailOn("Commit", errInjected)
	ran := false
	err := f.Tx.InTx(ctx, func(st auth.Stores) error {
		ran = true
		return st.Outbox.Queue(ctx, auth.Mail{To: "a@example.com"})
	})
	if !errors.Is(err, errInjected) || !ran {
		t.Errorf("InTx with a failing commit = %v (fn ran: %v)", err, ran)
	}
	if f.Outbox.Len() != 0 {
		t.Error("a mail of a failed commit was kept")
	}
	if c, r := f.Tx.Ended(); c != 0 || r != 1 {
		t.Errorf("Ended = %d commits, %d rollbacks", c, r)
	}
	f.Tx.FailOn("Commit", nil)
	f.Tx.FailOn("InTx", errInjected)
	ran = false
	if err := f.Tx.InTx(ctx, func(auth.Stores) error { ran = true; return nil }); !errors.Is(err, errInjected) || ran {
		t.Errorf("InTx with a failing begin = %v (fn ran: %v)", err, ran)
	}
}

func TestSessionsFake(t *testing.T) {
	ctx := context.Background()
	clock := authtest.NewClock(authtest.Epoch)
	m := authtest.NewSessions(clock.Now, time.Hour)
	id := uuid.New()
	s, err := m.Start(ctx, auth.Session{IdentityID: id, CreatedAt: clock.Now(), IP: "192.0.2.1", UserAgent: "ua"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Key != authtest.SessionKey(s.Token) || len(s.Token) != 43 {
		t.Errorf("key %q of token %q: want the base64url SHA-256 of a 43-character token", s.Key, s.Token)
	}
	if !s.ExpiresAt.Equal(authtest.Epoch.Add(time.Hour)) {
		t.Errorf("ExpiresAt = %v", s.ExpiresAt)
	}
	found, ok, err := m.Find(ctx, s.Token)
	if err != nil || !ok || found.IP != "" || found.UserAgent != "" {
		t.Errorf("Find = %+v, %v, %v; want the session without client details, as the real store", found, ok, err)
	}
	if live := m.Live(id); len(live) != 1 || live[0].IP != "192.0.2.1" {
		t.Errorf("Live = %+v", live)
	}
	if _, err := m.Start(ctx, auth.Session{}); err == nil {
		t.Error("Start without an identity succeeded")
	}
	if err := m.End(ctx, auth.Session{}); err == nil {
		t.Error("End without a key succeeded")
	}
	if _, err := m.Renew(ctx, auth.Session{}, clock.Now()); err == nil {
		t.Error("Renew without a key succeeded")
	}
	// Expiry on the fake's clock.
	clock.Advance(time.Hour)
	if _, ok, _ := m.Find(ctx, s.Token); ok {
		t.Error("a session is found at its expiry")
	}
	s2, _ := m.Start(ctx, auth.Session{IdentityID: id})
	clock.Advance(2 * time.Hour)
	if ok, err := m.Revoke(ctx, id, s2.Key); ok || err != nil {
		t.Errorf("Revoke of an expired session = %v, %v; want false", ok, err)
	}
	s3, _ := m.Start(ctx, auth.Session{IdentityID: id})
	clock.Advance(2 * time.Hour)
	if n, err := m.RevokeAll(ctx, id); n != 0 || err != nil {
		t.Errorf("RevokeAll of expired sessions = %d, %v; want 0", n, err)
	}
	_ = s3
	if all := m.All(); len(all) != 0 {
		t.Errorf("All = %v", all)
	}
}

func TestLockoutsForgetOnTheCallersClock(t *testing.T) {
	ctx := context.Background()
	l := authtest.NewLockouts()
	k := auth.ThrottleKey{Scope: "login:account", Subject: "ann@example.com"}
	p := auth.LockoutPolicy{Free: 1, Base: time.Minute, Max: time.Hour, ResetAfter: 10 * time.Minute}
	t0 := authtest.Epoch
	// fail reserves one attempt, which counts as a failure, and returns
	// the lock it leaves.
	fail := func(p auth.LockoutPolicy, at time.Time) (time.Duration, error) {
		adm, err := l.Reserve(ctx, at, auth.Attempt{Key: k, Policy: p})
		if err != nil || !adm.Admitted() {
			return adm.Wait, err
		}
		return adm.Locks[0], nil
	}
	for i := range 2 {
		if _, err := fail(p, t0); err != nil {
			t.Fatal(i, err)
		}
	}
	if n := l.Failures(k, t0); n != 2 {
		t.Errorf("Failures = %d", n)
	}
	if n := l.Failures(k, t0.Add(10*time.Minute-time.Millisecond)); n != 2 {
		t.Errorf("Failures just before ResetAfter = %d", n)
	}
	if n := l.Failures(k, t0.Add(10*time.Minute)); n != 0 {
		t.Errorf("Failures at ResetAfter = %d, want 0", n)
	}
	if d, _ := fail(p, t0.Add(10*time.Minute)); d != 0 {
		t.Errorf("Fail after the count was forgotten = %v, want 0 (free again)", d)
	}
	// A lock longer than ResetAfter keeps the count until it ends.
	p.Max, p.Base = 2*time.Hour, 2*time.Hour
	if d, _ := fail(p, t0.Add(11*time.Minute)); d != 2*time.Hour {
		t.Fatalf("Fail = %v", d)
	}
	if n := l.Failures(k, t0.Add(2*time.Hour)); n != 2 {
		t.Errorf("Failures while locked = %d, want 2", n)
	}
	bad := []auth.LockoutPolicy{
		{Free: -1, Base: time.Second, Max: time.Second, ResetAfter: time.Second},
		{Base: 0, Max: time.Second, ResetAfter: time.Second},
		{Base: time.Second, Max: time.Millisecond, ResetAfter: time.Second},
		{Base: time.Second, Max: time.Second},
	}
	for _, p := range bad {
		if _, err := fail(p, t0); err == nil {
			t.Errorf("Reserve with policy %+v succeeded", p)
		}
	}
	if _, err := fail(p, time.Time{}); err == nil {
		t.Error("Reserve at the zero time succeeded")
	}
}

func TestRateLimiterRefusesBadInput(t *testing.T) {
	ctx := context.Background()
	r := authtest.NewRateLimiter()
	k := auth.ThrottleKey{Scope: "register:ip", Subject: "192.0.2.1"}
	for _, tt := range []struct {
		limit  int
		window time.Duration
		now    time.Time
	}{{0, time.Hour, authtest.Epoch}, {1, 0, authtest.Epoch}, {1, time.Hour, time.Time{}}} {
		if ok, _, err := r.Allow(ctx, k, tt.limit, tt.window, tt.now); ok || err == nil {
			t.Errorf("Allow(%d, %v, %v) = %v, %v; want an error", tt.limit, tt.window, tt.now, ok, err)
		}
	}
	if ok, _, _ := r.Allow(ctx, k, 2, time.Hour, authtest.Epoch); !ok || r.Count(k) != 1 {
		t.Errorf("Count = %d", r.Count(k))
	}
}

func TestHasher(t *testing.T) {
	ctx := context.Background()
	h := authtest.NewHasher()
	hash, err := h.Hash(ctx, "correct horse")
	if err != nil || hash != authtest.HashOf("correct horse") {
		t.Fatalf("Hash = %q, %v", hash, err)
	}
	tests := []struct {
		name, password, encoded string
		match, rehash           bool
		err                     error
	}{
		{"right", "correct horse", hash, true, false, nil},
		{"wrong", "wrong horse", hash, false, false, nil},
		{"stale, right", "correct horse", authtest.StaleHashOf("correct horse"), true, true, nil},
		{"stale, wrong", "wrong", authtest.StaleHashOf("correct horse"), false, false, nil},
		{"dummy", "", h.DummyHash(), false, false, nil},
		{"unreadable", "x", "$argon2id$garbage", false, false, authtest.ErrUnreadableHash},
	}
	for _, tt := range tests {
		match, rehash, err := h.Verify(ctx, tt.password, tt.encoded)
		if match != tt.match || rehash != tt.rehash || !errors.Is(err, tt.err) {
			t.Errorf("%s: Verify = %v, %v, %v; want %v, %v, %v", tt.name, match, rehash, err, tt.match, tt.rehash, tt.err)
		}
	}
	if h.Hashes() != 1 || h.Verifies() != len(tests) || h.Calls("DummyHash") != 1 {
		t.Errorf("counts: %v", h.CallCounts())
	}
	h.Overload(3 * time.Second)
	_, err = h.Hash(ctx, "x")
	var ae *auth.Error
	if !errors.As(err, &ae) || ae.Code != auth.CodeOverloaded || ae.RetryAfter != 3*time.Second {
		t.Errorf("overloaded Hash = %v", err)
	}
	if _, _, err := h.Verify(ctx, "x", hash); auth.ErrorKind(err) != auth.KindUnavailable {
		t.Errorf("overloaded Verify = %v", err)
	}
	h.Heal()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := h.Hash(cancelled, "x"); !errors.Is(err, context.Canceled) {
		t.Errorf("Hash of a cancelled request = %v", err)
	}
	if _, _, err := h.Verify(cancelled, "x", hash); !errors.Is(err, context.Canceled) {
		t.Errorf("Verify of a cancelled request = %v", err)
	}
	b := authtest.NewBlocklist("Password1")
	if !b.Contains("password1") || b.Contains("password2") {
		t.Error("Blocklist")
	}
}

func TestFakesAreSafeForConcurrentUse(t *testing.T) {
	ctx := context.Background()
	f := authtest.New()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			id := uuid.New()
			email, _ := auth.ParseEmail("user" + strings.Repeat("x", i) + "@example.com")
			_ = f.Tx.InTx(ctx, func(st auth.Stores) error {
				if err := st.Identities.CreateIdentity(ctx, auth.Identity{ID: id, Email: email}); err != nil {
					return err
				}
				return st.Outbox.Queue(ctx, auth.Mail{To: email.String()})
			})
			s, _ := f.Sessions.Start(ctx, auth.Session{IdentityID: id})
			_, _, _ = f.Sessions.Find(ctx, s.Token)
			_, _ = f.Lockouts.Reserve(ctx, f.Clock.Now(), auth.Attempt{Key: auth.ThrottleKey{Scope: "x"}, Policy: auth.LockoutPolicy{Free: 100, Base: time.Second, Max: time.Second, ResetAfter: time.Second}})
			_, _, _ = f.Limiter.Allow(ctx, auth.ThrottleKey{Scope: "x"}, 100, time.Hour, f.Clock.Now())
			_ = f.Audit.Record(ctx, auth.Event{IdentityID: &id})
			_ = f.Profiles.Put(ctx, auth.Profile{ID: id})
			f.Clock.Advance(time.Millisecond)
		})
	}
	wg.Wait()
	if f.Identities.Len() != 8 || f.Outbox.Len() != 8 || len(f.Audit.Events()) != 8 {
		t.Errorf("identities %d, mails %d, events %d; want 8 each", f.Identities.Len(), f.Outbox.Len(), len(f.Audit.Events()))
	}
	if got := f.Limiter.Count(auth.ThrottleKey{Scope: "x"}); got != 8 {
		t.Errorf("limiter count %d", got)
	}
}

func TestSmallHelpers(t *testing.T) {
	ids := authtest.NewIdentities()
	id := uuid.New()
	ids.Put(auth.Identity{ID: id})
	if _, ok := ids.Get(id); !ok || ids.Len() != 1 {
		t.Error("Put/Get")
	}
	if err := ids.CreateIdentity(context.Background(), auth.Identity{ID: id}); auth.ErrorKind(err) != auth.KindInternal {
		t.Errorf("CreateIdentity of a duplicate id = %v", err)
	}
	tokens := authtest.NewTokens()
	tok := auth.IssuedToken{ID: uuid.New(), IdentityID: id, Purpose: auth.PurposeRecovery, TokenHash: []byte("h"),
		ExpiresAt: authtest.Epoch.Add(time.Hour), CreatedAt: authtest.Epoch}
	if err := tokens.Issue(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	if err := tokens.Issue(context.Background(), tok); err == nil {
		t.Error("Issue of a duplicate id succeeded")
	}
	tok.ID = uuid.New()
	if err := tokens.Issue(context.Background(), tok); err == nil {
		t.Error("Issue of a duplicate hash succeeded")
	}
	if live := tokens.Live(id, auth.PurposeRecovery, authtest.Epoch); len(live) != 1 {
		t.Errorf("Live = %v", live)
	}
	o := authtest.NewOutbox()
	_ = o.Queue(context.Background(), auth.Mail{To: "a@example.com", Template: "recovery"})
	_ = o.Queue(context.Background(), auth.Mail{To: "a@example.com", Template: "verification"})
	if len(o.To("a@example.com", "")) != 2 || len(o.To("a@example.com", "recovery")) != 1 || len(o.To("b@example.com", "")) != 0 {
		t.Error("Outbox.To")
	}
	a := authtest.NewAuditLog()
	_ = a.Record(context.Background(), auth.Event{Type: auth.EventLogout, IdentityID: &id})
	if len(a.OfType(auth.EventLogout)) != 1 || len(a.Types()) != 1 {
		t.Error("AuditLog.OfType")
	}
	c := authtest.NewProfileCache()
	_ = c.Put(context.Background(), auth.Profile{ID: id})
	if _, ok := c.Cached(id); !ok {
		t.Error("ProfileCache.Cached")
	}
	clock := authtest.NewClock(authtest.Epoch)
	clock.Set(authtest.Epoch.Add(time.Hour))
	if !clock.Now().Equal(authtest.Epoch.Add(time.Hour)) {
		t.Error("Clock.Set")
	}
}
