package httpapi_test

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authd/authd/internal/auth"
)

// holdingHasher holds password checks while armed, so a test can line up
// requests that are all inside a login at once, or make something happen
// while one is.
type holdingHasher struct {
	auth.PasswordHasher
	armed   atomic.Bool
	held    atomic.Int32 // checks that reached the hasher while armed
	release chan struct{}
}

func newHoldingHasher() *holdingHasher { return &holdingHasher{release: make(chan struct{})} }

func (h *holdingHasher) wrap(inner auth.PasswordHasher) auth.PasswordHasher {
	h.PasswordHasher = inner
	return h
}

func (h *holdingHasher) Verify(ctx context.Context, password, encoded string) (bool, bool, error) {
	if h.armed.Load() {
		h.held.Add(1)
		select {
		case <-h.release:
		case <-ctx.Done():
			return false, false, ctx.Err()
		}
	}
	return h.PasswordHasher.Verify(ctx, password, encoded)
}

// waitUntil polls cond until it holds, failing the test at the deadline.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestLockoutCannotBeRacedByConcurrentAttempts: 50 wrong passwords
// released at once against one account. Each attempt is reserved against
// the lock-out before its password is checked, so only the free attempts
// and the one that locks are checked, however many arrive together and
// however many hashes could run at once.
func TestLockoutCannotBeRacedByConcurrentAttempts(t *testing.T) {
	h := newHoldingHasher()
	ts := newServer(t, serverOptions{wrapHasher: h.wrap, env: map[string]string{
		"LOGIN_ACCOUNT_FREE_ATTEMPTS": "5", "LOGIN_ACCOUNT_TOTAL_FREE_ATTEMPTS": "100", "LOGIN_IP_FREE_ATTEMPTS": "1000",
		"HASH_POOL_SIZE": "16", "MAX_IN_FLIGHT": "512",
	}})
	cr := ts.client().register(t)
	wrong := credentials{Identifier: cr.Identifier, Password: "not the password at all"}

	const n = 50
	h.armed.Store(true)
	var (
		wg            sync.WaitGroup
		refused, fail atomic.Int32
		other         sync.Map
	)
	start := make(chan struct{})
	for range n {
		c := ts.client()
		wg.Go(func() {
			<-start
			switch r := c.do(http.MethodPost, "/api/v1/auth/login", wrong); r.StatusCode {
			case http.StatusTooManyRequests:
				refused.Add(1)
			case http.StatusUnauthorized:
				fail.Add(1)
			default:
				other.Store(r.StatusCode, true)
			}
		})
	}
	close(start)
	// Every attempt is either inside the hasher or already refused: none
	// of the checked ones has failed yet, so a lock counted only after a
	// failure would have let all 50 in.
	waitUntil(t, "every attempt is checked or refused", func() bool { return int(h.held.Load()+refused.Load()) == n })
	close(h.release)
	wg.Wait()
	other.Range(func(k, _ any) bool { t.Errorf("an attempt got status %v", k); return true })
	if got := h.held.Load(); got != 6 {
		t.Errorf("%d of %d concurrent attempts had their password checked, want 6 (5 free and the one that locks)", got, n)
	}
	if fail.Load() != 6 || refused.Load() != n-6 {
		t.Errorf("%d answered 401 and %d 429, want 6 and %d", fail.Load(), refused.Load(), n-6)
	}
	// And the account is locked now, for the right password too.
	wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/login", cr), http.StatusTooManyRequests)
}

// TestLoginInFlightDuringResetGetsNoSession: an attacker's login with the
// stolen password is still hashing when the owner changes or resets the
// password. The login must not come out with a session that outlives the
// reset.
func TestLoginInFlightDuringResetGetsNoSession(t *testing.T) {
	const newPassword = "a brand new passphrase"
	tests := []struct {
		name  string
		reset func(t *testing.T, ts *testServer, owner *client, cr credentials)
	}{
		{"a password change in settings", func(t *testing.T, ts *testServer, owner *client, cr credentials) {
			wantStatus(t, owner.do(http.MethodPut, "/api/v1/auth/settings", map[string]any{"method": "password", "password": newPassword}), http.StatusOK)
		}},
		{"a completed recovery", func(t *testing.T, ts *testServer, owner *client, cr credentials) {
			token := recoveryToken(t, ts, cr.Identifier)
			wantStatus(t, owner.do(http.MethodPost, "/api/v1/auth/recovery/complete", map[string]string{"token": token, "password": newPassword}), http.StatusNoContent)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHoldingHasher()
			ts := newServer(t, serverOptions{wrapHasher: h.wrap})
			owner := ts.client()
			cr := owner.register(t)

			attacker := ts.client()
			h.armed.Store(true)
			var login response
			var wg sync.WaitGroup
			wg.Go(func() { login = attacker.do(http.MethodPost, "/api/v1/auth/login", cr) })
			waitUntil(t, "the attacker's login is hashing", func() bool { return h.held.Load() == 1 })
			h.armed.Store(false) // the reset's own checks run freely
			tt.reset(t, ts, owner, cr)
			close(h.release)
			wg.Wait()

			if login.StatusCode != http.StatusUnauthorized {
				t.Errorf("the login with the old password answered %d, want 401", login.StatusCode)
			}
			wantStatus(t, attacker.do(http.MethodGet, "/api/v1/auth/me", nil), http.StatusUnauthorized)
			wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/login", credentials{Identifier: cr.Identifier, Password: newPassword}), http.StatusOK)
		})
	}
}

// TestStrictRegistrationRevealsNothingByUsername: in the strict mode a
// taken username gets the reply of every registration, whether the address
// is registered or not, and only the mailbox learns why.
func TestStrictRegistrationRevealsNothingByUsername(t *testing.T) {
	ts := newServer(t, serverOptions{env: map[string]string{"REGISTRATION_MODE": "strict"}})
	username := "taken" + strconv.FormatInt(time.Now().UnixNano()%1_000_000_000, 36)
	owner := map[string]string{"identifier": newEmail("owner"), "password": "correct horse battery staple", "username": username}
	wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/register", owner), http.StatusAccepted)

	register := func(email, name string) response {
		return ts.client().do(http.MethodPost, "/api/v1/auth/register",
			map[string]string{"identifier": email, "password": "correct horse battery staple", "username": name})
	}
	newAddress := newEmail("newcomer")
	fresh := register(newEmail("fresh"), "")
	takenName := register(newAddress, username)
	bothTaken := register(owner["identifier"], username)
	wantStatus(t, fresh, http.StatusAccepted)
	sameReply(t, fresh, takenName)
	sameReply(t, fresh, bothTaken)
	if _, err := testSink.WaitFor(newAddress, "not created", mailWait); err != nil {
		t.Errorf("the new address was not told that the username is taken: %v", err)
	}
	if _, err := testSink.WaitFor(owner["identifier"], "sign up", mailWait); err != nil {
		t.Errorf("the owner of the taken address was not told: %v", err)
	}
}

// TestOwnerBehindAnotherAddressGetsIn: guesses from one address lock that
// address out of the account, not its owner behind another; the account's
// total over all addresses still bounds guesses spread over many.
func TestOwnerBehindAnotherAddressGetsIn(t *testing.T) {
	ts := newServer(t, serverOptions{env: map[string]string{
		"TRUSTED_PROXIES": "127.0.0.1/32", "LOGIN_ACCOUNT_FREE_ATTEMPTS": "3", "LOGIN_ACCOUNT_TOTAL_FREE_ATTEMPTS": "8",
	}})
	cr := ts.client().register(t)
	wrong := credentials{Identifier: cr.Identifier, Password: "not the password at all"}
	from := func(ip string, c credentials) response {
		return ts.client().do(http.MethodPost, "/api/v1/auth/login", c, "X-Forwarded-For", ip)
	}
	for range 4 {
		wantStatus(t, from("203.0.113.66", wrong), http.StatusUnauthorized)
	}
	wantStatus(t, from("203.0.113.66", cr), http.StatusTooManyRequests)
	wantStatus(t, from("198.51.100.7", cr), http.StatusOK)
	wantStatus(t, from("203.0.113.66", cr), http.StatusTooManyRequests)

	// Nine guesses from nine addresses: the total's eight free ones and
	// one that locks the account for everyone.
	for i := range 9 {
		wantStatus(t, from("203.0.113."+strconv.Itoa(100+i), wrong), http.StatusUnauthorized)
	}
	wantStatus(t, from("198.51.100.7", cr), http.StatusTooManyRequests)
}
