package authtest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/internal/auth"
)

// contractTime is the base of the explicit times the contract passes; it
// has whole microseconds (what PostgreSQL keeps) and whole milliseconds
// (what the throttle scripts count in).
var contractTime = time.Date(2031, time.March, 4, 5, 6, 7, 123_000_000, time.UTC)

// unique returns a short random string, so that contract data written to a
// shared database or server never collides with another run's.
func unique() string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func sha(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}

// contractIdentity is a new active identity with a unique address (and
// username, when user is not empty) for the contract.
func contractIdentity(t *testing.T, local, user string) auth.Identity {
	t.Helper()
	u := unique()
	email, err := auth.ParseEmail(local + "-" + u + "@example.com")
	if err != nil {
		t.Fatal(err)
	}
	username := ""
	if user != "" {
		username = user + "_" + u
	}
	return auth.Identity{
		ID: uuid.Must(uuid.NewV7()), Email: email, Username: username, PasswordHash: "$fake$" + u,
		State: auth.StateActive, CreatedAt: contractTime, UpdatedAt: contractTime,
	}
}

func createIdentity(t *testing.T, s auth.IdentityStore, i auth.Identity) auth.Identity {
	t.Helper()
	if err := s.CreateIdentity(t.Context(), i); err != nil {
		t.Fatalf("CreateIdentity(%s): %v", i.Email, err)
	}
	return i
}

func check(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// wantKind fails unless err has that kind.
func wantKind(t *testing.T, what string, err error, k auth.Kind) {
	t.Helper()
	if err == nil || auth.ErrorKind(err) != k {
		t.Errorf("%s = %v, want an error of kind %d", what, err, k)
	}
}

// wantIs fails unless err is target.
func wantIs(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s = %v, want %v", what, err, target)
	}
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

// diffIdentity describes how got differs from want, or is "".
func diffIdentity(got, want auth.Identity) string {
	switch {
	case got.ID != want.ID:
		return "ID " + got.ID.String() + ", want " + want.ID.String()
	case got.Email != want.Email:
		return "Email " + got.Email.String() + ", want " + want.Email.String()
	case got.Username != want.Username:
		return "Username " + got.Username + ", want " + want.Username
	case got.GeoLocation != want.GeoLocation:
		return "GeoLocation " + got.GeoLocation + ", want " + want.GeoLocation
	case got.PasswordHash != want.PasswordHash:
		return "PasswordHash " + got.PasswordHash + ", want " + want.PasswordHash
	case got.State != want.State:
		return "State " + string(got.State) + ", want " + string(want.State)
	case !got.CreatedAt.Equal(want.CreatedAt):
		return "CreatedAt " + got.CreatedAt.String() + ", want " + want.CreatedAt.String()
	case !got.UpdatedAt.Equal(want.UpdatedAt):
		return "UpdatedAt " + got.UpdatedAt.String() + ", want " + want.UpdatedAt.String()
	case !sameTime(got.EmailVerifiedAt, want.EmailVerifiedAt):
		return "EmailVerifiedAt differs"
	}
	return ""
}

func wantIdentity(t *testing.T, what string, s auth.IdentityStore, want auth.Identity) {
	t.Helper()
	got, err := s.IdentityByID(t.Context(), want.ID)
	if err != nil {
		t.Fatalf("%s: IdentityByID: %v", what, err)
	}
	if d := diffIdentity(got, want); d != "" {
		t.Errorf("%s: stored identity has %s", what, d)
	}
}
