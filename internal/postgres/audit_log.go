package postgres

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/authd/authd/internal/auth"
)

// EventSink gets every audit event, with its id, inside the transaction
// that records it: what it writes (a webhook delivery) exists exactly when
// the event does.
type EventSink interface {
	Publish(ctx context.Context, tx pgx.Tx, e auth.Event) error
}

// AuditLog appends to and reads the audit_events table.
type AuditLog struct {
	db   *DB
	sink EventSink // nil: events go nowhere else
}

var (
	_ auth.AuditLog     = (*AuditLog)(nil)
	_ auth.AuditQueries = (*AuditLog)(nil)
)

// NewAuditLog returns an audit log over db; sink, when not nil, gets
// every event recorded, in the same transaction.
func NewAuditLog(db *DB, sink EventSink) *AuditLog { return &AuditLog{db: db, sink: sink} }

const auditColumns = `id, event, identity_id, actor, ip, user_agent, request_id, created_at`

// Record appends one event (and hands it to the sink in the same
// transaction).
func (a *AuditLog) Record(ctx context.Context, e auth.Event) error {
	if a.sink == nil {
		return a.insert(ctx, a.db, &e)
	}
	return a.db.Transact(ctx, func(tx *DB) error {
		if err := a.insert(ctx, tx, &e); err != nil {
			return err
		}
		if err := a.sink.Publish(ctx, tx.Tx(), e); err != nil {
			return classify("postgres: publish audit event", err)
		}
		return nil
	})
}

func (a *AuditLog) insert(ctx context.Context, db *DB, e *auth.Event) error {
	ctx, cancel := db.deadline(ctx)
	defer cancel()
	err := db.q.QueryRow(ctx,
		`INSERT INTO audit_events (identity_id, event, actor, ip, user_agent, request_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		e.IdentityID, string(e.Type), e.Actor, e.IP, e.UserAgent, e.RequestID, e.CreatedAt).Scan(&e.ID)
	if err != nil {
		return classify("postgres: record audit event", err)
	}
	return nil
}

// Recent returns the identity's latest events, newest first, but the
// admin reads.
func (a *AuditLog) Recent(ctx context.Context, identityID uuid.UUID, limit int) ([]auth.Event, error) {
	ctx, cancel := a.db.deadline(ctx)
	defer cancel()
	rows, err := a.db.q.Query(ctx,
		`SELECT `+auditColumns+` FROM audit_events
		 WHERE identity_id = $1 AND event <> ALL($3) ORDER BY created_at DESC, id DESC LIMIT $2`, identityID, limit, eventNames(auth.AdminReads()))
	if err != nil {
		return nil, classify("postgres: recent audit events", err)
	}
	return scanEvents(rows, "postgres: recent audit events")
}

// Pseudonymise blanks the IP and user agent of the identity's events, the
// one change the table's trigger lets through.
func (a *AuditLog) Pseudonymise(ctx context.Context, identityID uuid.UUID) error {
	ctx, cancel := a.db.deadline(ctx)
	defer cancel()
	if _, err := a.db.q.Exec(ctx, `UPDATE audit_events SET ip = '', user_agent = ''
		WHERE identity_id = $1 AND (ip <> '' OR user_agent <> '')`, identityID); err != nil {
		return classify("postgres: pseudonymise audit events", err)
	}
	return nil
}

func eventNames(types []auth.EventType) []string {
	out := make([]string, len(types))
	for i, t := range types {
		out[i] = string(t)
	}
	return out
}

func scanEvents(rows pgx.Rows, op string) ([]auth.Event, error) {
	defer rows.Close()
	var out []auth.Event
	for rows.Next() {
		var (
			e  auth.Event
			t  string
			id *uuid.UUID
		)
		if err := rows.Scan(&e.ID, &t, &id, &e.Actor, &e.IP, &e.UserAgent, &e.RequestID, &e.CreatedAt); err != nil {
			return nil, classify(op, err)
		}
		e.Type, e.IdentityID = auth.EventType(t), id
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, classify(op, err)
	}
	return out, nil
}
