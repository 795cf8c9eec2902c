package auth

import (
	"context"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"
	"golang.org/x/text/unicode/norm"
)

// The read side of the admin use cases: queries over every identity and
// over the whole audit trail, for operators. They are ports of their own,
// apart from the stores the other use cases write through, because they
// answer questions no user-facing use case asks (filters, pages).

// IdentityQuery filters identities for an operator. Zero fields do not
// filter; Limit and After page through the result in (CreatedAt, ID)
// order.
type IdentityQuery struct {
	Email           Email  // exactly this address
	EmailPrefix     string // addresses that start with this (in canonical form)
	Username        string // exactly this username, ignoring case
	State           State
	Verified        *bool
	CreatedFrom     time.Time // inclusive
	CreatedUntil    time.Time // exclusive
	HasSecondFactor *bool
	After           *IdentityCursor
	Limit           int
}

// IdentityCursor is where a page of identities ends: the next page starts
// after it. (CreatedAt, ID) is unique and never changes, so pages neither
// repeat nor skip an identity, whatever is added or removed meanwhile.
type IdentityCursor struct {
	CreatedAt time.Time
	ID        uuid.UUID
}

// ManagedIdentity is an identity as an operator sees it: everything but
// its credentials' secrets.
type ManagedIdentity struct {
	Identity
	Factors Factors
}

// HasPassword says whether the identity can log in with a password.
func (m ManagedIdentity) HasPassword() bool { return m.PasswordHash != "" }

// Cursor is where a page ending with m ends.
func (m ManagedIdentity) Cursor() IdentityCursor {
	return IdentityCursor{CreatedAt: m.CreatedAt, ID: m.ID}
}

// IdentityQueries finds identities for the admin API.
type IdentityQueries interface {
	// FindIdentities returns at most q.Limit identities that match q, in
	// (CreatedAt, ID) order, starting after q.After.
	FindIdentities(ctx context.Context, q IdentityQuery) ([]ManagedIdentity, error)
}

// IdentityPage is one page of identities; Next is nil on the last.
type IdentityPage struct {
	Identities []ManagedIdentity
	Next       *IdentityCursor
}

// AuditQuery filters the audit trail. Zero fields do not filter; pages run
// from the newest event back, Before being the ID the page starts below.
type AuditQuery struct {
	IdentityID *uuid.UUID
	Event      EventType
	IP         string
	From       time.Time // inclusive
	Until      time.Time // exclusive
	Before     int64
	Limit      int
}

// AuditQueries reads the whole trail for the admin API.
type AuditQueries interface {
	// FindEvents returns at most q.Limit events that match q, newest
	// (highest ID) first, below q.Before when it is set.
	FindEvents(ctx context.Context, q AuditQuery) ([]Event, error)
}

// AuditPage is one page of events; Next is 0 on the last.
type AuditPage struct {
	Events []Event
	Next   int64
}

// Page sizes of the admin queries.
const (
	DefaultPageSize = 100
	MaxPageSize     = 500
)

// pageSize is the size of a page asked for; 0 asks for the default.
func pageSize(n int) (int, error) {
	switch {
	case n == 0:
		return DefaultPageSize, nil
	case n < 1 || n > MaxPageSize:
		return 0, &RuleError{"out_of_range", "The page size must be between 1 and 500."}
	}
	return n, nil
}

// ListIdentities is the query behind GET /admin/v1/identities.
func (s *Service) ListIdentities(ctx context.Context, by Actor, q IdentityQuery) (IdentityPage, error) {
	var errs fieldErrors
	limit, err := pageSize(q.Limit)
	errs.add("page_size", err)
	if q.EmailPrefix != "" {
		q.EmailPrefix, err = emailPrefix(q.EmailPrefix)
		errs.add("email_prefix", err)
	}
	q.Username = strings.TrimSpace(q.Username)
	if q.State != "" && q.State != StateActive && q.State != StateInactive {
		errs.add("state", &RuleError{"invalid_choice", `The state must be "active" or "inactive".`})
	}
	if !q.CreatedFrom.IsZero() && !q.CreatedUntil.IsZero() && !q.CreatedFrom.Before(q.CreatedUntil) {
		errs.add("created_before", &RuleError{"out_of_range", "The end of the creation range must be after its start."})
	}
	if err := errs.err(); err != nil {
		return IdentityPage{}, err
	}
	q.Limit = limit + 1 // one more tells whether there is a next page
	found, err := s.identityQueries.FindIdentities(ctx, q)
	if err != nil {
		return IdentityPage{}, storeFailure("find identities", err)
	}
	page := IdentityPage{Identities: found}
	if len(found) > limit {
		page.Identities = found[:limit]
		next := found[limit-1].Cursor()
		page.Next = &next
	}
	s.auditBy(ctx, EventAdminIdentitiesListed, nil, by)
	return page, nil
}

// emailPrefix puts the start of an address in the canonical form the
// addresses are stored in (lower case, NFC). A domain part is compared
// as typed: punycode is for whole labels.
func emailPrefix(raw string) (string, error) {
	p := strings.ToLower(norm.NFC.String(strings.TrimSpace(raw)))
	if len(p) > MaxEmailLength {
		return "", &RuleError{"email_too_long", "The prefix is longer than any address."}
	}
	for _, r := range p {
		if unicode.IsSpace(r) || unicode.IsControl(r) || invisible(r) {
			return "", &RuleError{"email_invalid", "The prefix must not contain spaces, control or invisible characters."}
		}
	}
	return p, nil
}

// QueryAudit is the query behind GET /admin/v1/audit-events.
func (s *Service) QueryAudit(ctx context.Context, by Actor, q AuditQuery) (AuditPage, error) {
	var errs fieldErrors
	limit, err := pageSize(q.Limit)
	errs.add("page_size", err)
	if len(q.Event) > 64 {
		errs.add("event", &RuleError{"too_long", "No event is named that long."})
	}
	if len(q.IP) > 64 {
		errs.add("ip", &RuleError{"too_long", "No IP address is that long."})
	}
	if q.Before < 0 {
		errs.add("cursor", &RuleError{"invalid", "The cursor is not one this server gave."})
	}
	if !q.From.IsZero() && !q.Until.IsZero() && !q.From.Before(q.Until) {
		errs.add("until", &RuleError{"out_of_range", "The end of the time range must be after its start."})
	}
	if err := errs.err(); err != nil {
		return AuditPage{}, err
	}
	q.Limit = limit + 1
	found, err := s.auditQueries.FindEvents(ctx, q)
	if err != nil {
		return AuditPage{}, storeFailure("find audit events", err)
	}
	page := AuditPage{Events: found}
	if len(found) > limit {
		page.Events = found[:limit]
		page.Next = found[limit-1].ID
	}
	s.auditBy(ctx, EventAdminAuditQueried, q.IdentityID, by)
	return page, nil
}
