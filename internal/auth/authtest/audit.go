package authtest

import (
	"cmp"
	"context"
	"slices"
	"sync"

	"github.com/google/uuid"

	"github.com/authd/authd/internal/auth"
)

// AuditLog is an in-memory, append-only auth.AuditLog and auth.AuditQueries.
// Recent returns the identity's latest events but the admin reads, newest
// first, like the SQL log; events get ascending IDs as they are recorded.
type AuditLog struct {
	Probe
	mu     sync.Mutex
	events []auth.Event
	lastID int64
}

var (
	_ auth.AuditLog     = (*AuditLog)(nil)
	_ auth.AuditQueries = (*AuditLog)(nil)
)

// NewAuditLog returns an empty log.
func NewAuditLog() *AuditLog {
	return &AuditLog{Probe: newProbe("Record", "Recent", "Pseudonymise", "FindEvents")}
}

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
	a.lastID++
	e.ID = a.lastID
	a.events = append(a.events, e)
	return nil
}

func (a *AuditLog) Recent(_ context.Context, identityID uuid.UUID, limit int) ([]auth.Event, error) {
	if err := a.enter("Recent"); err != nil {
		return nil, err
	}
	reads := auth.AdminReads()
	a.mu.Lock()
	var mine []auth.Event
	for _, e := range a.events {
		if e.IdentityID != nil && *e.IdentityID == identityID && !slices.Contains(reads, e.Type) {
			mine = append(mine, e)
		}
	}
	a.mu.Unlock()
	slices.SortFunc(mine, func(x, y auth.Event) int {
		return cmp.Or(y.CreatedAt.Compare(x.CreatedAt), cmp.Compare(y.ID, x.ID))
	})
	return slices.Clone(mine[:min(len(mine), max(limit, 0))]), nil
}

func (a *AuditLog) Pseudonymise(_ context.Context, identityID uuid.UUID) error {
	if err := a.enter("Pseudonymise"); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := range a.events {
		if e := &a.events[i]; e.IdentityID != nil && *e.IdentityID == identityID {
			e.IP, e.UserAgent = "", ""
		}
	}
	return nil
}

// FindEvents answers an admin query over every event, newest first.
func (a *AuditLog) FindEvents(_ context.Context, q auth.AuditQuery) ([]auth.Event, error) {
	if err := a.enter("FindEvents"); err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []auth.Event
	for i := len(a.events) - 1; i >= 0 && len(out) < q.Limit; i-- {
		e := a.events[i]
		switch {
		case q.Before > 0 && e.ID >= q.Before,
			q.IdentityID != nil && (e.IdentityID == nil || *e.IdentityID != *q.IdentityID),
			q.Event != "" && e.Type != q.Event,
			q.IP != "" && e.IP != q.IP,
			!q.From.IsZero() && e.CreatedAt.Before(q.From),
			!q.Until.IsZero() && !e.CreatedAt.Before(q.Until):
			continue
		}
		out = append(out, e)
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

func (a *AuditLog) snapshot() (restore func()) {
	a.mu.Lock()
	saved, lastID := slices.Clone(a.events), a.lastID
	a.mu.Unlock()
	return func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		a.events, a.lastID = saved, lastID
	}
}
