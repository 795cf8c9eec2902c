package postgres

import (
	"context"

	"github.com/google/uuid"

	"github.com/authd/authd/internal/auth"
)

// AuditLog appends to and reads the audit_events table.
type AuditLog struct{ db *DB }

var _ auth.AuditLog = (*AuditLog)(nil)

// NewAuditLog returns an audit log over db.
func NewAuditLog(db *DB) *AuditLog { return &AuditLog{db: db} }

// Record appends one event.
func (a *AuditLog) Record(ctx context.Context, e auth.Event) error {
	ctx, cancel := a.db.deadline(ctx)
	defer cancel()
	_, err := a.db.q.Exec(ctx,
		`INSERT INTO audit_events (identity_id, event, ip, user_agent, request_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		e.IdentityID, string(e.Type), e.IP, e.UserAgent, e.RequestID, e.CreatedAt)
	if err != nil {
		return classify("postgres: record audit event", err)
	}
	return nil
}

// Recent returns the identity's latest events, newest first.
func (a *AuditLog) Recent(ctx context.Context, identityID uuid.UUID, limit int) ([]auth.Event, error) {
	ctx, cancel := a.db.deadline(ctx)
	defer cancel()
	rows, err := a.db.q.Query(ctx,
		`SELECT event, ip, user_agent, request_id, created_at FROM audit_events
		 WHERE identity_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`, identityID, limit)
	if err != nil {
		return nil, classify("postgres: recent audit events", err)
	}
	defer rows.Close()
	var out []auth.Event
	for rows.Next() {
		e := auth.Event{IdentityID: &identityID}
		var t string
		if err := rows.Scan(&t, &e.IP, &e.UserAgent, &e.RequestID, &e.CreatedAt); err != nil {
			return nil, classify("postgres: scan audit event", err)
		}
		e.Type = auth.EventType(t)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, classify("postgres: recent audit events", err)
	}
	return out, nil
}
