package httpapi_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	vw "github.com/descope/virtualwebauthn"
	"github.com/google/uuid"
	"github.com/pquerna/otp/totp"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"github.com/authd/authd/internal/app"
	"github.com/authd/authd/internal/auth"
	"github.com/authd/authd/internal/config"
	"github.com/authd/authd/internal/kratos"
	"github.com/authd/authd/internal/kratos/kratostest"
	"github.com/authd/authd/internal/testenv"
)

// kratosDB is a fresh Kratos v1.3 database of the test's own.
func kratosDB(t *testing.T) *kratostest.DB {
	t.Helper()
	url, drop, err := testenv.CreateDatabase(testenv.RandomName("authd_test_kratos_"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(drop)
	db, err := kratostest.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

func insertKratos(t *testing.T, db *kratostest.DB, ids ...kratostest.Identity) {
	t.Helper()
	for _, i := range ids {
		if err := db.Insert(context.Background(), i); err != nil {
			t.Fatalf("insert Kratos identity: %v", err)
		}
	}
}

func bcryptHash(t *testing.T, password string, cost int) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// kratosArgon2id is a hash as Kratos' Argon2 hasher writes it (its
// parameters, cheap here: the shape is what matters).
func kratosArgon2id(password string) string {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, 2, 1024, 2, 32)
	return fmt.Sprintf("$argon2id$v=19$m=1024,t=2,p=2$%s$%s",
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// runImport imports db into the test database as `authd import kratos`
// does.
func runImport(t *testing.T, db *kratostest.DB, opt auth.ImportOptions) (auth.ImportReport, error) {
	t.Helper()
	env := testEnv(testPrefix)
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	imp, err := app.NewImporter(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer imp.Close()
	src, err := kratos.Open(context.Background(), kratos.Config{URL: db.URL, RPID: imp.RPID})
	if err != nil {
		return auth.ImportReport{}, err
	}
	defer src.Close()
	return imp.Service.Import(context.Background(), src, opt)
}

func storedHash(t *testing.T, id uuid.UUID) string {
	t.Helper()
	var h string
	if err := testDB.Pool().QueryRow(context.Background(), `SELECT password_hash FROM identities WHERE id = $1`, id).Scan(&h); err != nil {
		t.Fatal(err)
	}
	return h
}

func TestKratosImport(t *testing.T) {
	db := kratosDB(t)
	verifiedAt := time.Date(2024, 2, 3, 4, 5, 6, 0, time.UTC)
	usedAt := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	key, err := totp.Generate(totp.GenerateOpts{Issuer: "Kratos", AccountName: "totp"})
	if err != nil {
		t.Fatal(err)
	}
	type user struct {
		kratostest.Identity
		email, password string
	}
	mk := func(name, password, hash string, mutate func(*kratostest.Identity)) user {
		email := newEmail(name)
		u := user{email: email, password: password, Identity: kratostest.Identity{
			ID: uuid.New(), Traits: map[string]any{"email": email, "username": strings.ReplaceAll(name, "-", "") + fmt.Sprint(userSeq%100000)},
			PasswordIdentifier: email, PasswordHash: hash, Addresses: map[string]*time.Time{email: &verifiedAt},
		}}
		if mutate != nil {
			mutate(&u.Identity)
		}
		return u
	}
	users := map[string]user{
		"bcrypt cost 8":  mk("bcrypt-eight", "bcrypt cost eight pw", bcryptHash(t, "bcrypt cost eight pw", 8), nil),
		"bcrypt cost 12": mk("bcrypt-twelve", "bcrypt cost twelve pw", bcryptHash(t, "bcrypt cost twelve pw", 12), nil),
		"argon2id":       mk("argon", "argon two id password", kratosArgon2id("argon two id password"), nil),
		"mixed-case e-mail": mk("mixed", "mixed case e-mail pw", bcryptHash(t, "mixed case e-mail pw", 8), func(i *kratostest.Identity) {
			i.PasswordIdentifier = strings.ToUpper(i.PasswordIdentifier[:1]) + i.PasswordIdentifier[1:]
			i.Traits["email"] = i.PasswordIdentifier
		}),
		"unverified": mk("unverified", "not verified yet pw", bcryptHash(t, "not verified yet pw", 8), func(i *kratostest.Identity) {
			for a := range i.Addresses {
				i.Addresses[a] = nil
			}
		}),
		"no username": mk("nousername", "no username here pw", bcryptHash(t, "no username here pw", 8), func(i *kratostest.Identity) {
			delete(i.Traits, "username")
			i.Traits["geo_location"] = "Lisbon"
		}),
		"totp": mk("totp", "totp and lookup pw", bcryptHash(t, "totp and lookup pw", 8), func(i *kratostest.Identity) {
			i.TOTPURL = key.URL()
			i.LookupCodes = map[string]*time.Time{"unusedcode1": nil, "usedcode22": &usedAt, "unusedcode3": nil}
		}),
	}
	social := mk("social", "", "", func(i *kratostest.Identity) { i.PasswordIdentifier = "" })
	for _, u := range users {
		insertKratos(t, db, u.Identity)
	}
	insertKratos(t, db, social.Identity)

	report, err := runImport(t, db, auth.ImportOptions{BatchSize: 3})
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	want := auth.ImportReport{Read: 8, Imported: 8, WithoutPassword: 1, TOTP: 1, RecoveryCodes: 2}
	if report.Read != want.Read || report.Imported != want.Imported || report.WithoutPassword != want.WithoutPassword ||
		report.TOTP != want.TOTP || report.RecoveryCodes != want.RecoveryCodes || report.Errors != 0 || report.Skipped != 0 {
		t.Fatalf("report = %+v, want %+v", report, want)
	}

	clk := &clock{now: time.Now()}
	ts := newServer(t, serverOptions{now: clk.Now})
	for name, u := range users {
		t.Run(name, func(t *testing.T) {
			if name != "totp" {
				wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/login", credentials{Identifier: u.email, Password: u.password + "x"}), http.StatusUnauthorized)
			}
			before := storedHash(t, u.ID)
			c := ts.client()
			r := c.do(http.MethodPost, "/api/v1/auth/login", credentials{Identifier: strings.ToUpper(u.email), Password: u.password})
			wantStatus(t, r, http.StatusOK)
			if name == "totp" {
				return // its own test below
			}
			m := r.me(t)
			if m.ID != u.ID || m.Email != strings.ToLower(u.email) {
				t.Errorf("logged in as %s (%s), want %s (%s)", m.ID, m.Email, u.ID, strings.ToLower(u.email))
			}
			if got, want := m.EmailVerified, name != "unverified"; got != want {
				t.Errorf("email_verified = %v, want %v", got, want)
			}
			if name == "no username" && (m.Username != nil || m.GeoLocation == nil || *m.GeoLocation != "Lisbon") {
				t.Errorf("traits: username %v, geo_location %v", m.Username, m.GeoLocation)
			}
			if name != "no username" && m.Username == nil {
				t.Error("the username trait was not imported")
			}
			after := storedHash(t, u.ID)
			if after == before || !strings.HasPrefix(after, "$argon2id$v=19$m=256,t=1,p=1$") {
				t.Errorf("after the first login the hash is %.30s…, want authd's Argon2id in place of %.10s…", after, before)
			}
			// The re-hashed password still works.
			wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/login", credentials{Identifier: u.email, Password: u.password}), http.StatusOK)
		})
	}

	t.Run("an identity without a password logs in only after recovery", func(t *testing.T) {
		wantCode(t, ts.client().do(http.MethodPost, "/api/v1/auth/login", credentials{Identifier: social.email, Password: ""}), http.StatusUnprocessableEntity, "invalid_input")
		wantCode(t, ts.client().do(http.MethodPost, "/api/v1/auth/login", credentials{Identifier: social.email, Password: "anything at all"}), http.StatusUnauthorized, "invalid_credentials")
		token := recoveryToken(t, ts, social.email)
		wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/recovery/complete", map[string]string{"token": token, "password": "a password at last"}), http.StatusNoContent)
		wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/login", credentials{Identifier: social.email, Password: "a password at last"}), http.StatusOK)
	})

	t.Run("the TOTP user needs the Kratos secret's code, and its unused lookup codes", func(t *testing.T) {
		u := users["totp"]
		cr := credentials{Identifier: u.email, Password: u.password}
		p := passwordLogin(t, ts, cr)
		wantStatus(t, secondStep(p, "totp", totpCode(t, key.Secret(), clk.Now())), http.StatusOK)
		wantStatus(t, secondStep(passwordLogin(t, ts, cr), "recovery_code", "unusedcode1"), http.StatusOK)
		wantStatus(t, secondStep(passwordLogin(t, ts, cr), "recovery_code", "unusedcode1"), http.StatusUnprocessableEntity)
		wantStatus(t, secondStep(passwordLogin(t, ts, cr), "recovery_code", "usedcode22"), http.StatusUnprocessableEntity)
	})

	t.Run("a second run changes nothing", func(t *testing.T) {
		hashes := map[uuid.UUID]string{}
		for _, u := range users {
			hashes[u.ID] = storedHash(t, u.ID)
		}
		again, err := runImport(t, db, auth.ImportOptions{BatchSize: 500})
		if err != nil {
			t.Fatal(err)
		}
		if again.Read != 8 || again.Skipped != 8 || again.Imported != 0 || again.Updated != 0 || again.Errors != 0 {
			t.Errorf("second run: %+v, want 8 read and skipped", again)
		}
		for id, h := range hashes {
			if storedHash(t, id) != h {
				t.Errorf("identity %s: the second run replaced authd's hash", id)
			}
		}
		var n int
		ids := []uuid.UUID{social.ID}
		for _, u := range users {
			ids = append(ids, u.ID)
		}
		if err := testDB.Pool().QueryRow(context.Background(), `SELECT count(*) FROM identities WHERE id = ANY($1)`, ids).Scan(&n); err != nil || n != 8 {
			t.Errorf("%d identities (%v), want 8: nothing duplicated", n, err)
		}
	})
}

func TestKratosImportDryRunWritesNothing(t *testing.T) {
	db := kratosDB(t)
	email := newEmail("dryrun")
	id := uuid.New()
	insertKratos(t, db, kratostest.Identity{ID: id, Traits: map[string]any{"email": email},
		PasswordIdentifier: email, PasswordHash: bcryptHash(t, "dry run password", 8),
		LookupCodes: map[string]*time.Time{"abc": nil}, TOTPURL: "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&issuer=x"})
	report, err := runImport(t, db, auth.ImportOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if report.Read != 1 || report.Imported != 1 || report.TOTP != 1 {
		t.Errorf("dry run report = %+v, want what a real run would do", report)
	}
	for _, table := range []string{"identities", "totp_factors", "recovery_codes"} {
		var n int
		col := "identity_id"
		if table == "identities" {
			col = "id"
		}
		if err := testDB.Pool().QueryRow(context.Background(), `SELECT count(*) FROM `+table+` WHERE `+col+` = $1`, id).Scan(&n); err != nil || n != 0 {
			t.Errorf("%s: %d rows (%v) after a dry run, want 0", table, n, err)
		}
	}
}

func TestKratosImportRefusesAnUnknownSchema(t *testing.T) {
	db := kratosDB(t)
	email := newEmail("schema")
	id := uuid.New()
	insertKratos(t, db, kratostest.Identity{ID: id, Traits: map[string]any{"email": email}, PasswordIdentifier: email, PasswordHash: bcryptHash(t, "schema password", 8)})
	if _, err := db.Pool.Exec(context.Background(), `ALTER TABLE identity_verifiable_addresses DROP COLUMN verified_at`); err != nil {
		t.Fatal(err)
	}
	_, err := runImport(t, db, auth.ImportOptions{})
	if !errors.Is(err, kratos.ErrUnknownSchema) || !strings.Contains(err.Error(), "identity_verifiable_addresses.verified_at") {
		t.Fatalf("import of an unknown schema = %v, want ErrUnknownSchema naming the column", err)
	}
	var n int
	if err := testDB.Pool().QueryRow(context.Background(), `SELECT count(*) FROM identities WHERE id = $1`, id).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d identities written (%v), want none", n, err)
	}
}

// TestKratosImportConflicts: an identity whose e-mail another authd
// identity has, or without an address, is counted as an error, and the
// rest of its batch goes in; a hash authd cannot verify leaves the
// identity without a password (recovery sets one), counted.
func TestKratosImportConflicts(t *testing.T) {
	ts := newServer(t, serverOptions{})
	taken := ts.client().register(t)
	db := kratosDB(t)
	ok, pbkdf2 := newEmail("fine"), newEmail("pbkdf2")
	insertKratos(t, db,
		kratostest.Identity{ID: uuid.New(), Traits: map[string]any{"email": taken.Identifier}, PasswordIdentifier: taken.Identifier, PasswordHash: bcryptHash(t, "whatever pw", 8)},
		kratostest.Identity{ID: uuid.New(), Traits: map[string]any{"email": ok}, PasswordIdentifier: ok, PasswordHash: bcryptHash(t, "fine password", 8)},
		kratostest.Identity{ID: uuid.New(), Traits: map[string]any{"email": "not an address"}},
		kratostest.Identity{ID: uuid.New(), Traits: map[string]any{"email": pbkdf2}, PasswordIdentifier: pbkdf2,
			PasswordHash: "$pbkdf2-sha256$i=100000,l=32$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA"},
	)
	report, err := runImport(t, db, auth.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if report.Read != 4 || report.Imported != 2 || report.Errors != 2 || report.WithoutPassword != 1 {
		t.Errorf("report = %+v, want 4 read, 2 imported (1 without password), 2 errors", report)
	}
	problems := strings.Join(report.ProblemList(), "; ")
	for _, want := range []string{"e-mail address already used", "no e-mail address", "password hash algorithm pbkdf2-sha256 not supported: imported without a password"} {
		if !strings.Contains(problems, want) {
			t.Errorf("problems %q lack %q", problems, want)
		}
	}
	if strings.Contains(problems, "@") {
		t.Errorf("the report names an address: %q", problems)
	}
	wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/login", credentials{Identifier: ok, Password: "fine password"}), http.StatusOK)
}

// TestKratosImportPasskeys: a Kratos WebAuthn credential made for authd's
// RP ID becomes a passkey that signs in without a password; one made for
// another RP ID is counted and skipped.
func TestKratosImportPasskeys(t *testing.T) {
	db := kratosDB(t)
	email := newEmail("passkey")
	handle := make([]byte, 32)
	_, _ = rand.Read(handle)
	good, other := newSoftCredential(t), newSoftCredential(t)
	credential := func(c vw.Credential, rpID string) map[string]any {
		rpHash := sha256.Sum256([]byte(rpID))
		authData := append(rpHash[:], 0x45, 0, 0, 0, 0) // UP, UV, AT; counter 0
		return map[string]any{
			"id": c.ID, "public_key": c.Key.AttestationData(), "attestation_type": "none", "display_name": "YubiKey 5",
			"added_at": "2024-01-02T03:04:05Z", "is_passwordless": true,
			"authenticator": map[string]any{"aaguid": make([]byte, 16), "sign_count": 0},
			"flags":         map[string]any{"user_present": true, "user_verified": true, "backup_eligible": false, "backup_state": false},
			"attestation":   map[string]any{"authenticator_data": authData},
		}
	}
	insertKratos(t, db, kratostest.Identity{ID: uuid.New(), Traits: map[string]any{"email": email},
		PasswordIdentifier: email, PasswordHash: bcryptHash(t, "passkey user pw", 8),
		WebAuthn: map[string]any{"user_handle": handle, "credentials": []any{credential(good, testRP.ID), credential(other, "kratos.other.example")}}})
	report, err := runImport(t, db, auth.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if report.Imported != 1 || report.Passkeys != 1 || report.Problems["passkey made for another RP ID than authd's: skipped"] != 1 {
		t.Fatalf("report = %+v, want one passkey imported and one skipped for its RP ID", report)
	}
	ts := newServer(t, serverOptions{})
	key := &softKey{auth: vw.NewAuthenticatorWithOptions(vw.AuthenticatorOptions{UserHandle: handle}), cred: good}
	key.auth.AddCredential(good)
	c := ts.client()
	r := finishLogin(c, key.sign(testRP, beginLogin(t, c)))
	wantStatus(t, r, http.StatusOK)
	if m := r.me(t); m.Email != strings.ToLower(email) || m.AAL != "aal2" || m.Factors.Passkeys != 1 {
		t.Errorf("passkey sign-in after import: %+v", m)
	}
	skipped := &softKey{auth: vw.NewAuthenticatorWithOptions(vw.AuthenticatorOptions{UserHandle: handle}), cred: other}
	c = ts.client()
	wantCode(t, finishLogin(c, skipped.sign(testRP, beginLogin(t, c))), http.StatusUnauthorized, "invalid_credentials")
}
