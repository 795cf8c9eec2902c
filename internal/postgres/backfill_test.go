package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/internal/auth"
	"github.com/authd/authd/internal/postgres"
	"github.com/authd/authd/internal/testenv"
	"github.com/authd/authd/migrations"
)

// legacyRow is an identity as an authd before migration 00012 wrote it:
// no username key, the domain as typed.
type legacyRow struct {
	name     string
	email    string
	username string
}

// TestBackfill gives rows written before the look-alike rules their keys,
// oldest first, moves U-label domains to A-labels, and leaves (and logs)
// what it cannot fix. The batch is 2 rows, so collisions cross batches.
func TestBackfill(t *testing.T) {
	db := contractDB(t)
	ctx := context.Background()
	legacy := []legacyRow{
		{"admin", "j\u00f6rg@b\u00fccher.example", "admin"},
		{"solo", "x@m\u00fcnchen.example", "solo"},
		{"fullwidth admin", "fw@example.com", "\uff41\uff44\uff4d\uff49\uff4e"}, // after admin, in the next batch
		{"Cyrillic chaos", "cy@example.com", "\u0441\u04bb\u0430\u043e\u0455"},
		{"Latin chaos", "x@xn--mnchen-3ya.example", "chaos"},      // the A-label form of solo's address
		{"fillers", "zw@exa\u200bmple.com", "\u3164\u3164\u3164"}, // Hangul fillers: letters to the old rules, yet invisible
		{"bob", "bob@example.com", "bob"},
		{"b0b", "b0b@example.com", "b0b"}, // same batch as bob
		{"no username", "nouser@example.com", ""},
	}
	ids := map[string]uuid.UUID{}
	base := time.Date(2020, time.January, 1, 0, 0, 0, 0, time.UTC)
	for i, r := range legacy {
		id := uuid.Must(uuid.NewV7())
		ids[r.name] = id
		var username *string
		if r.username != "" {
			username = &r.username
		}
		at := base.Add(time.Duration(i) * time.Hour)
		if _, err := db.Pool().Exec(ctx, `INSERT INTO identities (id, email, username, password_hash, state, created_at, updated_at)
			VALUES ($1, $2, $3, '$argon2id$legacy', 'active', $4, $4)`, id, r.email, username, at); err != nil {
			t.Fatalf("insert %s: %v", r.name, err)
		}
	}
	// A verification token mailed to the U-label address, and a used one.
	for i, used := range []*time.Time{nil, &base} {
		if _, err := db.Pool().Exec(ctx, `INSERT INTO one_time_tokens (id, identity_id, purpose, email, token_hash, expires_at, used_at, created_at)
			VALUES ($1, $2, 'verification', $3, $4, $5, $6, $5)`, uuid.New(), ids["admin"], legacy[0].email, sha32(i), base, used); err != nil {
			t.Fatal(err)
		}
	}
	// An identity the current store wrote, with its key.
	store := postgres.NewIdentityStore(db)
	current := newIdentity("current@example.com", "current")
	if err := store.CreateIdentity(ctx, current); err != nil {
		t.Fatal(err)
	}

	logs := &testenv.LogBuffer{}
	up := func() {
		t.Helper()
		m, err := postgres.NewMigrator(db, migrations.FS, postgres.WithLogger(slog.New(slog.NewJSONHandler(logs, nil))))
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		m.SetBackfillBatch(2)
		if _, err := m.Up(ctx); err != nil {
			t.Fatalf("Up: %v", err)
		}
	}
	up()

	wantKeys := map[string]*string{
		"admin":           ptr(auth.UsernameKey("admin")),
		"solo":            ptr(auth.UsernameKey("solo")),
		"fullwidth admin": nil, // admin is older
		"Cyrillic chaos":  ptr("chaos"),
		"Latin chaos":     nil, // the Cyrillic one is older
		"fillers":         nil, // no key at all
		"bob":             ptr(auth.UsernameKey("bob")),
		"b0b":             nil, // bob is older
		"no username":     nil,
	}
	wantEmails := map[string]string{
		"admin": "j\u00f6rg@xn--bcher-kva.example",
		"solo":  "x@m\u00fcnchen.example", // its A-label form is Latin chaos's
		// not valid any more: left as it was
		"fillers": "zw@exa\u200bmple.com",
	}
	check := func(when string) {
		t.Helper()
		for _, r := range legacy {
			var (
				key   *string
				email string
			)
			if err := db.Pool().QueryRow(ctx, `SELECT username_key, email FROM identities WHERE id = $1`, ids[r.name]).Scan(&key, &email); err != nil {
				t.Fatal(err)
			}
			if want := wantKeys[r.name]; (key == nil) != (want == nil) || (key != nil && *key != *want) {
				t.Errorf("%s: %s: username_key = %v, want %v", when, r.name, deref(key), deref(want))
			}
			want, ok := wantEmails[r.name]
			if !ok {
				want = r.email
			}
			if email != want {
				t.Errorf("%s: %s: email = %+q, want %+q", when, r.name, email, want)
			}
		}
		var unused, used string
		if err := db.Pool().QueryRow(ctx, `SELECT max(email) FILTER (WHERE used_at IS NULL), max(email) FILTER (WHERE used_at IS NOT NULL)
			FROM one_time_tokens WHERE identity_id = $1`, ids["admin"]).Scan(&unused, &used); err != nil {
			t.Fatal(err)
		}
		if unused != wantEmails["admin"] || used != legacy[0].email {
			t.Errorf("%s: token addresses = %q (unused), %q (used); want the unused one moved to %q", when, unused, used, wantEmails["admin"])
		}
		var key string
		if err := db.Pool().QueryRow(ctx, `SELECT username_key FROM identities WHERE id = $1`, current.ID).Scan(&key); err != nil || key != auth.UsernameKey("current") {
			t.Errorf("%s: the current store's row has key %q, %v", when, key, err)
		}
	}
	check("after the backfill")

	// Every row left as it was is logged with the identity that has what it lacks.
	wantWarnings := []struct{ row, other, otherAttr string }{
		{"fullwidth admin", "admin", "key_owner_id"},
		{"Latin chaos", "Cyrillic chaos", "key_owner_id"},
		{"b0b", "bob", "older_identity_id"},
		{"fillers", "", ""},
		{"solo", "Latin chaos", "owner_id"},
	}
	lines := logLines(t, logs.String())
	for _, w := range wantWarnings {
		if !hasWarning(lines, ids[w.row], w.otherAttr, ids[w.other]) {
			t.Errorf("no warning about %s (with %s %s) in:\n%s", w.row, w.otherAttr, w.other, logs.String())
		}
	}

	// Idempotent: a second run changes nothing.
	up()
	check("after a second backfill")

	// The keys now guard the old rows as well.
	taken := newIdentity("adrnin@example.com", "adrnin") // rn looks like m: admin's key
	if err := store.CreateIdentity(ctx, taken); !errors.Is(err, auth.ErrUsernameTaken) {
		t.Errorf("CreateIdentity(a look-alike of a backfilled username) = %v, want ErrUsernameTaken", err)
	}
	// A row left without its key can still change its location.
	if err := store.UpdateProfile(ctx, ids["Latin chaos"], "chaos", "Oslo", time.Now()); err != nil {
		t.Errorf("UpdateProfile of a row without its key, username unchanged = %v, want success", err)
	}
	// The rewritten address is found by every spelling of it.
	for _, typed := range []string{"j\u00f6rg@b\u00fccher.example", "J\u00d6RG@xn--bcher-kva.example"} {
		e, err := auth.ParseEmail(typed)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := store.IdentityByEmail(ctx, e); err != nil || got.ID != ids["admin"] {
			t.Errorf("IdentityByEmail(%q) = %v, %v; want %v", typed, got.ID, err, ids["admin"])
		}
	}
}

func sha32(i int) []byte {
	b := make([]byte, 32)
	b[0] = byte(i + 1)
	copy(b[1:], uuid.New().String())
	return b
}

func ptr(s string) *string { return &s }

func deref(s *string) string {
	if s == nil {
		return "NULL"
	}
	return *s
}

func logLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// hasWarning reports a WARN line about identity id that names other under
// attr (or names nothing else, when attr is "").
func hasWarning(lines []map[string]any, id uuid.UUID, attr string, other uuid.UUID) bool {
	for _, l := range lines {
		if l["level"] != "WARN" || l["identity_id"] != id.String() {
			continue
		}
		if attr == "" || l[attr] == other.String() {
			return true
		}
	}
	return false
}
