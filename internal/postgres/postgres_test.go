package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/internal/auth"
	"github.com/authd/authd/internal/postgres"
	"github.com/authd/authd/internal/testenv"
	"github.com/authd/authd/migrations"
)

var testURL string

func TestMain(m *testing.M) {
	url, drop, err := testenv.CreateDatabase(testenv.RandomName("authd_test_postgres_"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testURL = url
	code := m.Run()
	drop()
	os.Exit(code)
}

func open(t *testing.T) *postgres.DB {
	t.Helper()
	return openURL(t, testURL)
}

func openURL(t *testing.T, url string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), url, postgres.PoolOptions{MaxConns: 4, QueryTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

func migrated(t *testing.T) *postgres.DB {
	t.Helper()
	return migrate(t, open(t))
}

func migrate(t *testing.T, db *postgres.DB) *postgres.DB {
	t.Helper()
	m, err := postgres.NewMigrator(db, migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.Up(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestMigrationsConcurrentAndReversible runs Up from several instances at
// once (the session lock makes one apply and the others wait), then
// Down and Up again.
func TestMigrationsConcurrentAndReversible(t *testing.T) {
	db := open(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	applied := make([]int, 3)
	errs := make([]error, 3)
	for i := range 3 {
		wg.Go(func() {
			m, err := postgres.NewMigrator(open(t), migrations.FS)
			if err != nil {
				errs[i] = err
				return
			}
			defer m.Close()
			applied[i], errs[i] = m.Up(ctx)
		})
	}
	wg.Wait()
	total := 0
	for i := range 3 {
		if errs[i] != nil {
			t.Fatalf("Up %d: %v", i, errs[i])
		}
		total += applied[i]
	}
	m, err := postgres.NewMigrator(db, migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	st, err := m.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if total != len(st) {
		t.Errorf("concurrent Up applied %d migrations in all, want each of the %d once", total, len(st))
	}
	v, err := m.Version(ctx)
	if err != nil || v != st[len(st)-1].Version {
		t.Errorf("Version = %d, %v; want %d", v, err, st[len(st)-1].Version)
	}
	if err := m.Down(ctx); err != nil {
		t.Fatalf("Down: %v", err)
	}
	if n, err := m.Up(ctx); err != nil || n != 1 {
		t.Errorf("Up after Down = %d, %v; want 1", n, err)
	}
}

func newIdentity(email, username string) auth.Identity {
	now := time.Now().UTC().Truncate(time.Microsecond)
	e, err := auth.ParseEmail(email)
	if err != nil {
		panic(err)
	}
	return auth.Identity{ID: uuid.Must(uuid.NewV7()), Email: e, Username: username, PasswordHash: "$argon2id$test", State: auth.StateActive, CreatedAt: now, UpdatedAt: now}
}

func TestIdentityStore(t *testing.T) {
	store := postgres.NewIdentityStore(migrated(t))
	ctx := context.Background()
	suffix := uuid.NewString()[:8]

	ann := newIdentity("ann."+suffix+"@example.com", "Ann"+suffix)
	ann.GeoLocation = "Oslo"
	if err := store.CreateIdentity(ctx, ann); err != nil {
		t.Fatalf("CreateIdentity: %v", err)
	}
	got, err := store.IdentityByEmail(ctx, ann.Email)
	if err != nil || got.ID != ann.ID || got.Username != ann.Username || got.GeoLocation != "Oslo" || !got.CreatedAt.Equal(ann.CreatedAt) || got.State != auth.StateActive {
		t.Errorf("IdentityByEmail = %+v, %v; want %+v", got, err, ann)
	}
	if got, err := store.IdentityByID(ctx, ann.ID); err != nil || got.Email != ann.Email {
		t.Errorf("IdentityByID = %+v, %v", got, err)
	}

	tests := []struct {
		name string
		i    auth.Identity
		want error
	}{
		{"same e-mail", newIdentity("ann."+suffix+"@example.com", ""), auth.ErrEmailTaken},
		{"same username other case", newIdentity("other."+suffix+"@example.com", "ANN"+suffix), auth.ErrUsernameTaken},
		{"no username twice is fine", newIdentity("nouser1."+suffix+"@example.com", ""), nil},
		{"no username twice is fine (2)", newIdentity("nouser2."+suffix+"@example.com", ""), nil},
	}
	for _, tt := range tests {
		if err := store.CreateIdentity(ctx, tt.i); !errors.Is(err, tt.want) {
			t.Errorf("%s: CreateIdentity = %v, want %v", tt.name, err, tt.want)
		}
	}

	at := time.Now().UTC().Truncate(time.Microsecond)
	if err := store.UpdatePasswordHash(ctx, ann.ID, "$argon2id$new", at); err != nil {
		t.Fatal(err)
	}
	if got, _ := store.IdentityByID(ctx, ann.ID); got.PasswordHash != "$argon2id$new" || !got.UpdatedAt.Equal(at) {
		t.Errorf("after UpdatePasswordHash: %q %v", got.PasswordHash, got.UpdatedAt)
	}

	missing := uuid.New()
	if _, err := store.IdentityByID(ctx, missing); auth.ErrorKind(err) != auth.KindNotFound {
		t.Errorf("IdentityByID(missing) = %v, want not found", err)
	}
	if err := store.UpdatePasswordHash(ctx, missing, "x", at); auth.ErrorKind(err) != auth.KindNotFound {
		t.Errorf("UpdatePasswordHash(missing) = %v, want not found", err)
	}
}

// TestUnreachableDatabaseIsUnavailable checks that a dead database gives
// KindUnavailable (503), not an internal error or a hang.
func TestUnreachableDatabaseIsUnavailable(t *testing.T) {
	db := migrated(t)
	store := postgres.NewIdentityStore(db)
	db.Close()
	_, err := store.IdentityByID(context.Background(), uuid.New())
	if auth.ErrorKind(err) != auth.KindUnavailable {
		t.Errorf("after Close: err = %v, want KindUnavailable", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := postgres.Open(ctx, "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=1", postgres.PoolOptions{}); err == nil {
		t.Error("Open of a closed port succeeded")
	}
}

func TestAuditLogIsAppendOnly(t *testing.T) {
	db := migrated(t)
	ctx := context.Background()
	store, log := postgres.NewIdentityStore(db), postgres.NewAuditLog(db, nil)
	id := newIdentity(uuid.NewString()[:8]+"@example.com", "")
	if err := store.CreateIdentity(ctx, id); err != nil {
		t.Fatal(err)
	}
	base := time.Now().UTC().Truncate(time.Microsecond)
	for i, typ := range []auth.EventType{auth.EventRegistered, auth.EventLoginFailed, auth.EventLoginSucceeded} {
		if err := log.Record(ctx, auth.Event{Type: typ, IdentityID: &id.ID, IP: "192.0.2.1", UserAgent: "test", RequestID: "r1", CreatedAt: base.Add(time.Duration(i) * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := log.Record(ctx, auth.Event{Type: auth.EventLoginFailed, CreatedAt: base}); err != nil {
		t.Fatalf("event without identity: %v", err)
	}
	got, err := log.Recent(ctx, id.ID, 2)
	if err != nil || len(got) != 2 || got[0].Type != auth.EventLoginSucceeded || got[1].Type != auth.EventLoginFailed || got[0].IP != "192.0.2.1" {
		t.Fatalf("Recent = %+v, %v", got, err)
	}
	for _, q := range []string{`UPDATE audit_events SET event = 'x'`, `DELETE FROM audit_events`} {
		if _, err := db.Pool().Exec(ctx, q); err == nil {
			t.Errorf("%s succeeded on the append-only table", q)
		}
	}
}
