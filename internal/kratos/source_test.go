package kratos_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/authd/authd/internal/kratos"
	"github.com/authd/authd/internal/kratos/kratostest"
	"github.com/authd/authd/internal/testenv"
)

// TestRefusedIdentitiesKeepTheirID: the import reads on after the last id
// of a batch, so an identity the source refuses still carries its id (a
// refused identity that ended a batch made the import start over, for
// ever).
func TestRefusedIdentitiesKeepTheirID(t *testing.T) {
	url, drop, err := testenv.CreateDatabase(testenv.RandomName("authd_test_kratos_src_"))
	if err != nil {
		t.Fatal(err)
	}
	defer drop()
	ctx := context.Background()
	db, err := kratostest.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tests := []struct {
		name   string
		traits map[string]any
		reject bool
	}{
		{"no address", map[string]any{}, true},
		{"not an address", map[string]any{"email": "not an address"}, true},
		{"an address", map[string]any{"email": "fine@example.com"}, false},
	}
	ids := map[uuid.UUID]string{}
	for _, tt := range tests {
		id := uuid.New()
		ids[id] = tt.name
		if err := db.Insert(ctx, kratostest.Identity{ID: id, Traits: tt.traits}); err != nil {
			t.Fatal(err)
		}
	}
	src, err := kratos.Open(ctx, kratos.Config{URL: url, RPID: "app.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	batch, err := src.Next(ctx, uuid.Nil, 10)
	if err != nil || len(batch) != 3 {
		t.Fatalf("Next = %d identities, %v", len(batch), err)
	}
	for _, in := range batch {
		name, ok := ids[in.Identity.ID]
		if !ok {
			t.Errorf("an identity came back with id %s, not one inserted (refused: %q)", in.Identity.ID, in.Reject)
			continue
		}
		for _, tt := range tests {
			if tt.name == name && (in.Reject != "") != tt.reject {
				t.Errorf("%s: Reject = %q", name, in.Reject)
			}
		}
	}
}
