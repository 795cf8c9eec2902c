package auth_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/authd/authd/internal/auth"
)

// sliceSource is an ImportSource over identities sorted by id.
type sliceSource struct {
	ids   []auth.ImportedIdentity
	calls int
	stuck bool // answer every call with the first batch
}

func (s *sliceSource) Next(_ context.Context, after uuid.UUID, n int) ([]auth.ImportedIdentity, error) {
	s.calls++
	if s.calls > 100 {
		return nil, fmt.Errorf("read %d times: the import does not end", s.calls)
	}
	var out []auth.ImportedIdentity
	for _, i := range s.ids {
		if (s.stuck || strings.Compare(i.Identity.ID.String(), after.String()) > 0) && len(out) < n {
			out = append(out, i)
		}
	}
	return out, nil
}

func importedIdentity(t *testing.T, n int) auth.ImportedIdentity {
	t.Helper()
	email, err := auth.ParseEmail(fmt.Sprintf("imported%d@example.com", n))
	if err != nil {
		t.Fatal(err)
	}
	return auth.ImportedIdentity{Identity: auth.Identity{ID: uuid.Must(uuid.NewV7()), Email: email, State: auth.StateActive,
		PasswordHash: "$2a$08$abcdefghijklmnopqrstuuGIJy5EMfvHe7eZp7ndOxmL1EdO8ZVwS"}}
}

func TestImportBatches(t *testing.T) {
	tests := []struct {
		name       string
		n, batch   int
		reject     []int // indexes refused by the source
		wantErrors int
	}{
		{"one batch", 3, 10, nil, 0},
		{"batches of one", 3, 1, nil, 0},
		// The refused identity ends a batch: the import must read on
		// after it, not start again.
		{"a refused identity ends each batch", 4, 2, []int{1, 3}, 2},
		{"only refused identities", 2, 1, []int{0, 1}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			src := &sliceSource{}
			for i := range tt.n {
				in := importedIdentity(t, i)
				if slices.Contains(tt.reject, i) {
					in = auth.ImportedIdentity{Identity: auth.Identity{ID: in.Identity.ID}, Reject: "no e-mail address authd accepts"}
				}
				src.ids = append(src.ids, in)
			}
			slices.SortFunc(src.ids, func(a, b auth.ImportedIdentity) int {
				return strings.Compare(a.Identity.ID.String(), b.Identity.ID.String())
			})
			r, err := e.svc.Import(context.Background(), src, auth.ImportOptions{BatchSize: tt.batch})
			if err != nil {
				t.Fatal(err)
			}
			if r.Read != tt.n || r.Imported != tt.n-len(tt.reject) || r.Errors != tt.wantErrors {
				t.Errorf("report %+v, want %d read, %d imported, %d errors", r, tt.n, tt.n-len(tt.reject), tt.wantErrors)
			}
			if e.Identities.Len() != tt.n-len(tt.reject) {
				t.Errorf("%d identities stored", e.Identities.Len())
			}
		})
	}
	t.Run("a source that does not move forward is an error, not a loop", func(t *testing.T) {
		e := newEnv(t)
		src := &sliceSource{ids: []auth.ImportedIdentity{importedIdentity(t, 1)}, stuck: true}
		if _, err := e.svc.Import(context.Background(), src, auth.ImportOptions{BatchSize: 5}); err == nil || src.calls > 2 {
			t.Errorf("Import = %v after %d reads, want an error after 2", err, src.calls)
		}
	})
}
