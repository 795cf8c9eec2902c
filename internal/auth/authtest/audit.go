package authtest

import (
	"cmp"
	"context"
	"slices"
	"sync"

	"github.com/google/uuid"

	"github.com/authd/authd/internal/auth"
)

// AuditLog is an in-memory, append-only auth.AuditLog. Recent returns the
// identity's latest events, newest first, like the SQL log.
type AuditLog struct {
	Probe
	mu     sync.Mutex
	events []auth.Event
}

var _ auth.AuditLog = (*AuditLog)(nil)

// NewAuditLog returns an empty log.
func NewAuditLog() *AuditLog { return &AuditLog{Probe: newProbe("Record", "Recent")} }

func (a *AuditLog) Record(_ context.Context, e auth.Event) error {
	if err := a.enter("Record"); err != nil {
		return err
	}
	if e.IdentityID != nil {
		id := *e.IdentityID
		e.IdentityID = &id
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, e)
	return nil
}

func (a *AuditLog) Recent(_ context.Context, identityID uuid.UUID, limit int) ([]auth.Event, error) {
	if err := a.enter("Recent"); err != nil {
		return nil, err
	}
	type indexed struct {
		i int
		e auth.Event
	}
	a.mu.Lock()
	var mine []indexed
	for i, e := range a.events {
		if e.IdentityID != nil && *e.IdentityID == identityID {
			mine = append(mine, indexed{i, e})
		}
	}
	a.mu.Unlock()
	slices.SortFunc(mine, func(x, y indexed) int {
		return cmp.Or(y.e.CreatedAt.Compare(x.e.CreatedAt), cmp.Compare(y.i, x.i))
	})
	var out []auth.Event
	for _, m := range mine[:min(len(mine), max(limit, 0))] {
		out = append(out, m.e)
	}
	return out, nil
}

// Events returns every event recorded, in order, without counting a call.
func (a *AuditLog) Events() []auth.Event {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.events)
}

// Types returns the types of the events recorded, in order.
func (a *AuditLog) Types() []auth.EventType {
	var out []auth.EventType
	for _, e := range a.Events() {
		out = append(out, e.Type)
	}
	return out
}

// OfType returns the events of type t, in order.
func (a *AuditLog) OfType(t auth.EventType) []auth.Event {
	var out []auth.Event
	for _, e := range a.Events() {
		if e.Type == t {
			out = append(out, e)
		}
	}
	return out
}
