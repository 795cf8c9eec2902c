package authtest

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"github.com/authd/authd/internal/auth"
)

// IdentityQueries is auth.IdentityQueries over the fake identities and
// factors, with the SQL query's order and filters.
type IdentityQueries struct {
	Probe
	ids     *Identities
	factors *Factors
}

var _ auth.IdentityQueries = (*IdentityQueries)(nil)

// NewIdentityQueries queries ids, reading second factors from factors.
func NewIdentityQueries(ids *Identities, factors *Factors) *IdentityQueries {
	return &IdentityQueries{Probe: newProbe("FindIdentities"), ids: ids, factors: factors}
}

func (q *IdentityQueries) FindIdentities(ctx context.Context, f auth.IdentityQuery) ([]auth.ManagedIdentity, error) {
	if err := q.enter("FindIdentities"); err != nil {
		return nil, err
	}
	q.ids.mu.Lock()
	all := make([]auth.Identity, 0, len(q.ids.ids))
	for _, i := range q.ids.ids {
		all = append(all, i)
	}
	q.ids.mu.Unlock()
	slices.SortFunc(all, func(a, b auth.Identity) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID.String(), b.ID.String()))
	})
	var out []auth.ManagedIdentity
	for _, i := range all {
		if len(out) == f.Limit {
			break
		}
		if !matches(i, f) {
			continue
		}
		factors, err := q.factors.Factors(ctx, i.ID)
		if err != nil {
			return nil, err
		}
		if f.HasSecondFactor != nil && factors.HasSecondFactor() != *f.HasSecondFactor {
			continue
		}
		out = append(out, auth.ManagedIdentity{Identity: i, Factors: factors})
	}
	return out, nil
}

// matches applies every filter but the second factor's.
func matches(i auth.Identity, f auth.IdentityQuery) bool {
	if a := f.After; a != nil {
		if c := cmp.Or(i.CreatedAt.Compare(a.CreatedAt), strings.Compare(i.ID.String(), a.ID.String())); c <= 0 {
			return false
		}
	}
	switch {
	case !f.Email.IsZero() && !sameLower(i.Email.String(), f.Email.String()),
		f.EmailPrefix != "" && !strings.HasPrefix(strings.ToLower(i.Email.String()), f.EmailPrefix),
		f.Username != "" && !sameLower(i.Username, f.Username),
		f.State != "" && i.State != f.State,
		f.Verified != nil && (i.EmailVerifiedAt != nil) != *f.Verified,
		!f.CreatedFrom.IsZero() && i.CreatedAt.Before(f.CreatedFrom),
		!f.CreatedUntil.IsZero() && !i.CreatedAt.Before(f.CreatedUntil):
		return false
	}
	return true
}
