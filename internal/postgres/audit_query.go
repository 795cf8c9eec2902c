package postgres

import (
	"context"
	"strconv"
	"strings"

	"github.com/authd/authd/internal/auth"
)

// FindEvents answers the admin API's audit query, newest first: every
// filter is a condition on an indexed column, and the page starts below
// the cursor's id (keyset pagination: no event is shown twice or skipped,
// whatever is recorded meanwhile).
func (a *AuditLog) FindEvents(ctx context.Context, q auth.AuditQuery) ([]auth.Event, error) {
	var (
		where []string
		args  []any
	)
	arg := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if q.IdentityID != nil {
		arg("identity_id = ?", *q.IdentityID)
	}
	if q.Event != "" {
		arg("event = ?", string(q.Event))
	}
	if q.IP != "" {
		arg("ip = ?", q.IP)
	}
	if !q.From.IsZero() {
		arg("created_at >= ?", q.From)
	}
	if !q.Until.IsZero() {
		arg("created_at < ?", q.Until)
	}
	if q.Before > 0 {
		arg("id < ?", q.Before)
	}
	sql := `SELECT ` + auditColumns + ` FROM audit_events`
	if len(where) > 0 {
		sql += ` WHERE ` + strings.Join(where, " AND ")
	}
	args = append(args, q.Limit)
	sql += ` ORDER BY id DESC LIMIT $` + strconv.Itoa(len(args))
	ctx, cancel := a.db.deadline(ctx)
	defer cancel()
	rows, err := a.db.q.Query(ctx, sql, args...)
	if err != nil {
		return nil, classify("postgres: find audit events", err)
	}
	return scanEvents(rows, "postgres: find audit events")
}
