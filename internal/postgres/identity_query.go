package postgres

import (
	"context"
	"strconv"
	"strings"

	"github.com/authd/authd/internal/auth"
)

// IdentityQueries answers the admin API's identity list over the
// identities and second-factor tables.
type IdentityQueries struct{ db *DB }

var _ auth.IdentityQueries = (*IdentityQueries)(nil)

// NewIdentityQueries returns the queries over db.
func NewIdentityQueries(db *DB) *IdentityQueries { return &IdentityQueries{db: db} }

// secondFactor is the SQL condition "the identity has a second factor",
// as auth.Factors.HasSecondFactor says it: a confirmed TOTP or a passkey.
const secondFactor = `(EXISTS (SELECT 1 FROM totp_factors t WHERE t.identity_id = i.id AND t.confirmed_at IS NOT NULL)
	OR EXISTS (SELECT 1 FROM passkeys p WHERE p.identity_id = i.id))`

// FindIdentities pages through the identities in (created_at, id) order,
// the key of an index, starting after the cursor (keyset pagination: an
// identity added or removed meanwhile neither repeats nor hides another).
func (q *IdentityQueries) FindIdentities(ctx context.Context, f auth.IdentityQuery) ([]auth.ManagedIdentity, error) {
	var (
		where []string
		args  []any
	)
	arg := func(cond string, v ...any) {
		for _, x := range v {
			args = append(args, x)
			cond = strings.Replace(cond, "?", "$"+strconv.Itoa(len(args)), 1)
		}
		where = append(where, cond)
	}
	if a := f.After; a != nil {
		arg("(i.created_at, i.id) > (?, ?)", a.CreatedAt, a.ID)
	}
	if !f.Email.IsZero() {
		arg("lower(i.email) = ?", f.Email.String())
	}
	if f.EmailPrefix != "" {
		arg(`lower(i.email) LIKE ? ESCAPE '\'`, likePrefix(f.EmailPrefix))
	}
	if f.Username != "" {
		arg("lower(i.username) = lower(?)", f.Username)
	}
	if f.State != "" {
		arg("i.state = ?", string(f.State))
	}
	if f.Verified != nil {
		if *f.Verified {
			where = append(where, "i.email_verified_at IS NOT NULL")
		} else {
			where = append(where, "i.email_verified_at IS NULL")
		}
	}
	if !f.CreatedFrom.IsZero() {
		arg("i.created_at >= ?", f.CreatedFrom)
	}
	if !f.CreatedUntil.IsZero() {
		arg("i.created_at < ?", f.CreatedUntil)
	}
	if f.HasSecondFactor != nil {
		if *f.HasSecondFactor {
			where = append(where, secondFactor)
		} else {
			where = append(where, "NOT "+secondFactor)
		}
	}
	sql := `SELECT i.id, i.email, i.email_verified_at, i.username, i.geo_location, i.password_hash, i.state, i.created_at, i.updated_at,
		EXISTS (SELECT 1 FROM totp_factors t WHERE t.identity_id = i.id AND t.confirmed_at IS NOT NULL),
		(SELECT count(*) FROM passkeys p WHERE p.identity_id = i.id),
		(SELECT count(*) FROM recovery_codes r WHERE r.identity_id = i.id AND r.used_at IS NULL)
		FROM identities i`
	if len(where) > 0 {
		sql += ` WHERE ` + strings.Join(where, " AND ")
	}
	args = append(args, f.Limit)
	sql += ` ORDER BY i.created_at, i.id LIMIT $` + strconv.Itoa(len(args))
	ctx, cancel := q.db.deadline(ctx)
	defer cancel()
	rows, err := q.db.q.Query(ctx, sql, args...)
	if err != nil {
		return nil, classify("postgres: find identities", err)
	}
	defer rows.Close()
	var out []auth.ManagedIdentity
	for rows.Next() {
		var (
			m                     auth.ManagedIdentity
			email, state          string
			username, geoLocation *string
			passkeys, codes       int64
		)
		if err := rows.Scan(&m.ID, &email, &m.EmailVerifiedAt, &username, &geoLocation, &m.PasswordHash, &state, &m.CreatedAt, &m.UpdatedAt,
			&m.Factors.TOTP, &passkeys, &codes); err != nil {
			return nil, classify("postgres: scan identity", err)
		}
		m.Email, m.State = auth.EmailFromStore(email), auth.State(state)
		if username != nil {
			m.Username = *username
		}
		if geoLocation != nil {
			m.GeoLocation = *geoLocation
		}
		m.Factors.Passkeys, m.Factors.RecoveryCodesLeft = int(passkeys), int(codes)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, classify("postgres: find identities", err)
	}
	return out, nil
}

// likePrefix is a LIKE pattern for the strings that start with p: its own
// wildcards and escape character match only themselves.
func likePrefix(p string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(p) + "%"
}
