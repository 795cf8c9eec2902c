package httpapi_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	vw "github.com/descope/virtualwebauthn"
)

// The relying party of the test servers: PUBLIC_URL is
// https://app.example.test.
var testRP = vw.RelyingParty{ID: "app.example.test", Name: "authd", Origin: "https://app.example.test"}

// softKey is a software authenticator holding one passkey.
type softKey struct {
	auth vw.Authenticator
	cred vw.Credential
}

type passkeyBody struct {
	ID             string     `json:"id"`
	Name           string     `json:"name"`
	LastUsedAt     *time.Time `json:"last_used_at"`
	BackupEligible bool       `json:"backup_eligible"`
	BackupState    bool       `json:"backup_state"`
}

// registerPasskey adds a passkey to c's account with a new software
// authenticator and returns it.
func registerPasskey(t *testing.T, c *client, name string, opts vw.AuthenticatorOptions) (*softKey, passkeyBody) {
	t.Helper()
	r := c.do(http.MethodPost, "/api/v1/auth/passkeys/register/begin", nil)
	wantStatus(t, r, http.StatusOK)
	att, err := vw.ParseAttestationOptions(string(r.body))
	if err != nil {
		t.Fatalf("creation options %s: %v", r.body, err)
	}
	if att.RelyingPartyID != testRP.ID {
		t.Errorf("rp.id = %q, want %q", att.RelyingPartyID, testRP.ID)
	}
	var raw struct {
		PublicKey struct {
			User struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"user"`
			AuthenticatorSelection struct {
				ResidentKey string `json:"residentKey"`
			} `json:"authenticatorSelection"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(r.body, &raw); err != nil {
		t.Fatal(err)
	}
	if raw.PublicKey.AuthenticatorSelection.ResidentKey != "required" {
		t.Errorf("residentKey = %q, want required (a discoverable passkey)", raw.PublicKey.AuthenticatorSelection.ResidentKey)
	}
	if len(att.UserID) < 16 || strings.Contains(att.UserID, raw.PublicKey.User.Name) {
		t.Errorf("user handle %q is not a random handle", att.UserID)
	}
	opts.UserHandle = []byte(att.UserID)
	k := &softKey{auth: vw.NewAuthenticatorWithOptions(opts), cred: newSoftCredential(t)}
	k.auth.AddCredential(k.cred)
	resp := vw.CreateAttestationResponse(testRP, k.auth, k.cred, *att)
	r = c.do(http.MethodPost, "/api/v1/auth/passkeys/register/finish", map[string]any{"name": name, "credential": json.RawMessage(resp)})
	if r.StatusCode != http.StatusCreated {
		t.Logf("server log:\n%s", c.ts.logs.String())
	}
	wantStatus(t, r, http.StatusCreated)
	var p passkeyBody
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatal(err)
	}
	return k, p
}

// beginLogin starts a passkey sign-in for c (its session, if any, decides
// which kind) and returns the options as the authenticator reads them.
func beginLogin(t *testing.T, c *client) vw.AssertionOptions {
	t.Helper()
	r := c.do(http.MethodPost, "/api/v1/auth/passkeys/login/begin", nil)
	wantStatus(t, r, http.StatusOK)
	opts, err := vw.ParseAssertionOptions(string(r.body))
	if err != nil {
		t.Fatalf("request options %s: %v", r.body, err)
	}
	return *opts
}

// sign answers opts as the authenticator would, its counter one up, for
// the relying party rp.
func (k *softKey) sign(rp vw.RelyingParty, opts vw.AssertionOptions) string {
	k.cred.Counter++
	return vw.CreateAssertionResponse(rp, k.auth, k.cred, opts)
}

// newSoftCredential is a P-256 credential whose public key coordinates
// are 32 bytes each: virtualwebauthn writes them with big.Int.Bytes, which
// drops leading zero bytes (1 key in 128), and WebAuthn libraries rightly
// refuse such a key.
func newSoftCredential(t *testing.T) vw.Credential {
	t.Helper()
	for {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := k.PublicKey.Bytes() // 0x04 || X || Y
		if err != nil {
			t.Fatal(err)
		}
		if pub[1] == 0 || pub[33] == 0 {
			continue
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return vw.NewCredentialWithImportedKey(vw.KeyTypeEC2, der)
	}
}

func finishLogin(c *client, assertion string) response {
	return c.do(http.MethodPost, "/api/v1/auth/passkeys/login/finish", map[string]any{"credential": json.RawMessage(assertion)})
}

func TestPasskeyRegisterAndSignInWithoutPassword(t *testing.T) {
	clk := &clock{now: time.Now()}
	ts := newServer(t, serverOptions{now: clk.Now})
	c := ts.client()
	cr := c.register(t)
	key, pk := registerPasskey(t, c, "Laptop", vw.AuthenticatorOptions{BackupEligible: true})
	if pk.Name != "Laptop" || !pk.BackupEligible || pk.BackupState {
		t.Errorf("stored passkey %+v", pk)
	}
	if _, err := testSink.WaitFor(cr.Identifier, "sign-in factor was added", mailWait); err != nil {
		t.Errorf("no notice of the new passkey: %v", err)
	}
	m := c.do(http.MethodGet, "/api/v1/auth/me", nil).me(t)
	if m.AAL != "aal2" || m.Factors.Passkeys != 1 {
		t.Errorf("after registration: aal %s, factors %+v", m.AAL, m.Factors)
	}

	t.Run("passwordless sign-in is aal2", func(t *testing.T) {
		b := ts.client()
		opts := beginLogin(t, b)
		if len(opts.AllowCredentials) != 0 {
			t.Errorf("a passwordless sign-in lists credentials %v: it would name the account", opts.AllowCredentials)
		}
		r := finishLogin(b, key.sign(testRP, opts))
		wantStatus(t, r, http.StatusOK)
		if got := r.me(t); got.AAL != "aal2" || got.Email != strings.ToLower(cr.Identifier) {
			t.Errorf("signed in as %s at %s", got.Email, got.AAL)
		}
		wantStatus(t, b.do(http.MethodGet, "/api/v1/auth/me", nil), http.StatusOK)
	})

	t.Run("a synced passkey whose backup state changed keeps working", func(t *testing.T) {
		key.auth.Options.BackupState = true
		wantStatus(t, finishLogin(ts.client(), key.sign(testRP, beginLogin(t, ts.client()))), http.StatusOK)
		r := c.do(http.MethodGet, "/api/v1/auth/passkeys", nil)
		wantStatus(t, r, http.StatusOK)
		var list struct {
			Passkeys []passkeyBody `json:"passkeys"`
		}
		if err := json.Unmarshal(r.body, &list); err != nil || len(list.Passkeys) != 1 {
			t.Fatalf("list %s: %v", r.body, err)
		}
		if got := list.Passkeys[0]; !got.BackupState || got.LastUsedAt == nil {
			t.Errorf("after the synced use: %+v, want backup_state and last_used_at stored", got)
		}
	})

	t.Run("rename, and delete needs a privileged session", func(t *testing.T) {
		r := c.do(http.MethodPatch, "/api/v1/auth/passkeys/"+pk.ID, map[string]string{"name": "Work laptop"})
		wantStatus(t, r, http.StatusOK)
		if !strings.Contains(string(r.body), `"Work laptop"`) {
			t.Errorf("renamed: %s", r.body)
		}
		wantCode(t, c.do(http.MethodPatch, "/api/v1/auth/passkeys/"+pk.ID, map[string]string{"name": strings.Repeat("x", 65)}), http.StatusUnprocessableEntity, "invalid_input")
		other := ts.client()
		other.register(t)
		wantCode(t, other.do(http.MethodPatch, "/api/v1/auth/passkeys/"+pk.ID, map[string]string{"name": "mine now"}), http.StatusNotFound, "not_found")
		wantCode(t, other.do(http.MethodDelete, "/api/v1/auth/passkeys/"+pk.ID, nil), http.StatusNotFound, "not_found")

		clk.Advance(16 * time.Minute)
		wantCode(t, c.do(http.MethodDelete, "/api/v1/auth/passkeys/"+pk.ID, nil), http.StatusForbidden, "reauth_required")
		fresh := ts.client()
		wantStatus(t, finishLogin(fresh, key.sign(testRP, beginLogin(t, fresh))), http.StatusOK)
		wantStatus(t, fresh.do(http.MethodDelete, "/api/v1/auth/passkeys/"+pk.ID, nil), http.StatusNoContent)
		if _, err := testSink.WaitFor(cr.Identifier, "sign-in factor was removed", mailWait); err != nil {
			t.Errorf("no notice of the removal: %v", err)
		}
		wantCode(t, finishLogin(ts.client(), key.sign(testRP, beginLogin(t, ts.client()))), http.StatusUnauthorized, "invalid_credentials")
	})
}

// TestPasskeyAsSecondStep: an account whose only second factor is a
// passkey owes it after the password, and only its own passkeys answer.
func TestPasskeyAsSecondStep(t *testing.T) {
	clk := &clock{now: time.Now()}
	ts := newServer(t, serverOptions{now: clk.Now})
	alice := ts.client()
	aliceCr := alice.register(t)
	aliceKey, _ := registerPasskey(t, alice, "", vw.AuthenticatorOptions{})
	bob := ts.client()
	bob.register(t)
	bobKey, _ := registerPasskey(t, bob, "", vw.AuthenticatorOptions{})

	p := ts.client()
	r := p.do(http.MethodPost, "/api/v1/auth/login", aliceCr)
	wantStatus(t, r, http.StatusOK)
	if got := methodsOf(t, r); !slices.Equal(got, []string{"passkey"}) {
		t.Errorf("methods = %v, want [passkey]", got)
	}
	opts := beginLogin(t, p)
	if len(opts.AllowCredentials) != 1 {
		t.Fatalf("second step lists %d credentials, want alice's one", len(opts.AllowCredentials))
	}
	// Bob's passkey cannot be alice's second step.
	wantCode(t, finishLogin(p, bobKey.sign(testRP, opts)), http.StatusUnauthorized, "invalid_credentials")
	wantCode(t, p.do(http.MethodGet, "/api/v1/auth/me", nil), http.StatusForbidden, "second_factor_required")

	pending := p.sessionToken()
	r = finishLogin(p, aliceKey.sign(testRP, beginLogin(t, p)))
	wantStatus(t, r, http.StatusOK)
	if got := r.me(t); got.AAL != "aal2" || got.Email != strings.ToLower(aliceCr.Identifier) {
		t.Errorf("second step: %s at %s", got.Email, got.AAL)
	}
	if p.sessionToken() == pending {
		t.Error("the session kept its id across the second step")
	}
}

// TestPasskeyRefusals: every answer that does not check out is refused
// with the one reply, and nothing is signed in.
func TestPasskeyRefusals(t *testing.T) {
	clk := &clock{now: time.Now()}
	ts := newServer(t, serverOptions{now: clk.Now})
	owner := ts.client()
	ownerCr := owner.register(t)
	key, _ := registerPasskey(t, owner, "", vw.AuthenticatorOptions{BackupEligible: true})
	other := ts.client()
	other.register(t)
	otherKey, _ := registerPasskey(t, other, "", vw.AuthenticatorOptions{})

	refused := func(t *testing.T, c *client, assertion string) {
		t.Helper()
		wantCode(t, finishLogin(c, assertion), http.StatusUnauthorized, "invalid_credentials")
		wantStatus(t, c.do(http.MethodGet, "/api/v1/auth/me", nil), http.StatusUnauthorized)
	}

	t.Run("wrong origin", func(t *testing.T) {
		c := ts.client()
		evil := testRP
		evil.Origin = "https://app.example.test.evil.example"
		refused(t, c, key.sign(evil, beginLogin(t, c)))
	})
	t.Run("wrong RP ID", func(t *testing.T) {
		c := ts.client()
		evil := testRP
		evil.ID = "evil.example"
		refused(t, c, key.sign(evil, beginLogin(t, c)))
	})
	t.Run("a reused challenge", func(t *testing.T) {
		c := ts.client()
		opts := beginLogin(t, c)
		wantStatus(t, finishLogin(c, key.sign(testRP, opts)), http.StatusOK)
		refused(t, ts.client(), key.sign(testRP, opts))
	})
	t.Run("an expired challenge", func(t *testing.T) {
		c := ts.client()
		opts := beginLogin(t, c)
		clk.Advance(5*time.Minute + time.Second)
		refused(t, c, key.sign(testRP, opts))
	})
	t.Run("a challenge that was never issued", func(t *testing.T) {
		opts := vw.AssertionOptions{Challenge: []byte("0123456789abcdef0123456789abcdef"), RelyingPartyID: testRP.ID}
		refused(t, ts.client(), key.sign(testRP, opts))
	})
	t.Run("a registration challenge used to sign in", func(t *testing.T) {
		r := other.do(http.MethodPost, "/api/v1/auth/passkeys/register/begin", nil)
		wantStatus(t, r, http.StatusOK)
		att, err := vw.ParseAttestationOptions(string(r.body))
		if err != nil {
			t.Fatal(err)
		}
		refused(t, ts.client(), otherKey.sign(testRP, vw.AssertionOptions{Challenge: att.Challenge, RelyingPartyID: testRP.ID}))
	})
	t.Run("a counter that goes backwards", func(t *testing.T) {
		key.cred.Counter = 40
		wantStatus(t, finishLogin(ts.client(), key.sign(testRP, beginLogin(t, ts.client()))), http.StatusOK)
		key.cred.Counter = 20 // a clone that was copied earlier
		c := ts.client()
		refused(t, c, key.sign(testRP, beginLogin(t, c)))
		if !strings.Contains(ts.logs.String(), "passkey sign counter did not increase") {
			t.Error("the backwards counter was not logged")
		}
		key.cred.Counter = 100 // the genuine authenticator goes on
		wantStatus(t, finishLogin(ts.client(), key.sign(testRP, beginLogin(t, ts.client()))), http.StatusOK)
	})
	t.Run("another user's credential under this user's handle", func(t *testing.T) {
		forged := *otherKey
		forged.auth.Options.UserHandle = key.auth.Options.UserHandle
		c := ts.client()
		refused(t, c, forged.sign(testRP, beginLogin(t, c)))
	})
	t.Run("passwordless without user verification", func(t *testing.T) {
		lazy := *key
		lazy.auth.Options.UserNotVerified = true
		c := ts.client()
		refused(t, c, lazy.sign(testRP, beginLogin(t, c)))
	})
	t.Run("a registration answered for another origin", func(t *testing.T) {
		r := owner.do(http.MethodPost, "/api/v1/auth/passkeys/register/begin", nil)
		wantStatus(t, r, http.StatusOK)
		att, err := vw.ParseAttestationOptions(string(r.body))
		if err != nil {
			t.Fatal(err)
		}
		evil := testRP
		evil.Origin = "https://evil.example"
		k := vw.NewAuthenticatorWithOptions(vw.AuthenticatorOptions{UserHandle: []byte(att.UserID)})
		cred := newSoftCredential(t)
		resp := vw.CreateAttestationResponse(evil, k, cred, *att)
		r = owner.do(http.MethodPost, "/api/v1/auth/passkeys/register/finish", map[string]any{"credential": json.RawMessage(resp)})
		wantCode(t, r, http.StatusUnprocessableEntity, "invalid_input")
	})
	if n := len(ownerCr.Identifier); n == 0 {
		t.Fatal("no owner")
	}
}

func TestPasskeySignInsArePerIPLimited(t *testing.T) {
	ts := newServer(t, serverOptions{env: map[string]string{"PASSKEY_SIGNINS_PER_IP": "3"}})
	for range 3 {
		wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/passkeys/login/begin", nil), http.StatusOK)
	}
	r := ts.client().do(http.MethodPost, "/api/v1/auth/passkeys/login/begin", nil)
	wantCode(t, r, http.StatusTooManyRequests, "rate_limited")
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
}

// TestPasskeyRegisteredTwice: the same credential cannot be stored twice,
// for this account or another.
func TestPasskeyRegisteredTwice(t *testing.T) {
	ts := newServer(t, serverOptions{})
	c := ts.client()
	c.register(t)
	key, _ := registerPasskey(t, c, "", vw.AuthenticatorOptions{})
	r := c.do(http.MethodPost, "/api/v1/auth/passkeys/register/begin", nil)
	wantStatus(t, r, http.StatusOK)
	if !strings.Contains(string(r.body), `"excludeCredentials"`) {
		t.Errorf("the creation options do not exclude the registered passkey: %s", r.body)
	}
	att, err := vw.ParseAttestationOptions(string(r.body))
	if err != nil {
		t.Fatal(err)
	}
	resp := vw.CreateAttestationResponse(testRP, key.auth, key.cred, *att)
	wantCode(t, c.do(http.MethodPost, "/api/v1/auth/passkeys/register/finish", map[string]any{"credential": json.RawMessage(resp)}),
		http.StatusConflict, "passkey_exists")
}

// TestPasskeysOnAnIPAddress: WebAuthn has no relying party on an IP
// address, so with such a PUBLIC_URL authd still starts and serves, and
// its passkey ceremonies say why they cannot run.
func TestPasskeysOnAnIPAddress(t *testing.T) {
	ts := newServer(t, serverOptions{env: map[string]string{"PUBLIC_URL": "http://127.0.0.1:8080"}})
	c := ts.client()
	c.register(t)
	wantCode(t, c.do(http.MethodPost, "/api/v1/auth/passkeys/register/begin", nil), http.StatusConflict, "passkeys_unavailable")
	wantCode(t, ts.client().do(http.MethodPost, "/api/v1/auth/passkeys/login/begin", nil), http.StatusConflict, "passkeys_unavailable")
}
