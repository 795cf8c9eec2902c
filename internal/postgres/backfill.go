package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/authd/authd/internal/auth"
)

// The backfill brings rows written before migration 00012 (or since, by an
// older authd during a rolling upgrade) to the rules the store now keeps:
//
//   - a username gets its look-alike key (auth.UsernameKey), oldest
//     identity first. Where an older identity already has the key, the
//     later one keeps its username but no key (it stays unique by
//     lower(username)), and the backfill logs both ids: an operator
//     decides whether to rename it. Its next rename gives it a key;
//   - an address stored with a U-label domain is rewritten to its
//     canonical A-label form (auth.ParseEmail), with its pending tokens,
//     so that the lookup by the canonical form finds it. Where that form
//     is already another identity's (the look-alike accounts of issue 10),
//     or the stored address is no longer valid, the row is left as it is
//     and logged.
//
// It runs in Go because only Go has the confusables table and the IDNA
// mapping; it runs in Migrator.Up rather than as a goose Go migration so
// that migrations/ stays plain SQL for the goose CLI. It is idempotent and
// reads only the rows that still need it (two small partial indexes), so
// every Up runs it; instances serialise on an advisory lock. Progress is
// committed batch by batch: a backfill cut short by its deadline goes on
// where it stopped at the next Up.

const (
	defaultBackfillBatch = 1000
	// backfillLock is the advisory lock of the backfill ("authd-bf").
	backfillLock int64 = 0x61757468642d6266
	// backfillLogLimit caps the lines about rows left as they were, per
	// run; the summary line counts them all.
	backfillLogLimit = 50
	// backfillRetries bounds the retries of a batch that met a key written
	// meanwhile by a live instance.
	backfillRetries = 3
)

type backfillStats struct {
	keyed, unkeyed     int // usernames given a key, and left without one
	rewritten, skipped int // addresses moved to A-labels, and left as they were
	logged             int
}

func (m *Migrator) backfill(ctx context.Context) (err error) {
	conn, err := m.db.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: backfill: %w", err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, backfillLock); err != nil {
		conn.Release()
		return fmt.Errorf("postgres: backfill lock: %w", err)
	}
	defer func() {
		unlockCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, uerr := conn.Exec(unlockCtx, `SELECT pg_advisory_unlock($1)`, backfillLock); uerr != nil {
			// A pooled connection must not keep the lock: closing it frees it.
			_ = conn.Conn().Close(unlockCtx)
		}
		conn.Release()
	}()

	var st backfillStats
	if err := m.backfillUsernameKeys(ctx, conn, &st); err != nil {
		return fmt.Errorf("postgres: backfill username keys (`authd migrate up` goes on where it stopped): %w", err)
	}
	if err := m.backfillEmailDomains(ctx, conn, &st); err != nil {
		return fmt.Errorf("postgres: backfill e-mail domains (`authd migrate up` goes on where it stopped): %w", err)
	}
	if st != (backfillStats{}) {
		m.log.InfoContext(ctx, "backfill done", "usernames_keyed", st.keyed, "usernames_left_without_key", st.unkeyed,
			"emails_moved_to_a_labels", st.rewritten, "emails_left_as_they_were", st.skipped)
	}
	return nil
}

// leftAsItWas logs a row the backfill could not bring to the rules, up to
// backfillLogLimit lines per run.
func (m *Migrator) leftAsItWas(ctx context.Context, st *backfillStats, msg string, args ...any) {
	st.logged++
	if st.logged <= backfillLogLimit {
		m.log.WarnContext(ctx, msg, args...)
	}
}

type pendingUsername struct {
	id        uuid.UUID
	username  string
	createdAt time.Time
}

func (m *Migrator) backfillUsernameKeys(ctx context.Context, conn *pgxpool.Conn, st *backfillStats) error {
	var after *pendingUsername
	for {
		batch, err := pendingUsernames(ctx, conn, after, m.batch)
		if err != nil {
			return err
		}
		if len(batch) == 0 {
			return nil
		}
		if err := m.keyUsernames(ctx, conn, batch, st); err != nil {
			return err
		}
		if len(batch) < m.batch {
			return nil
		}
		after = &batch[len(batch)-1]
	}
}

// pendingUsernames reads the next batch of usernames without a key, oldest
// first, after the cursor: rows left without a key stay behind it.
func pendingUsernames(ctx context.Context, conn *pgxpool.Conn, after *pendingUsername, limit int) ([]pendingUsername, error) {
	const q = `SELECT id, username, created_at FROM identities WHERE username IS NOT NULL AND username_key IS NULL`
	var (
		rows pgx.Rows
		err  error
	)
	if after == nil {
		rows, err = conn.Query(ctx, q+` ORDER BY created_at, id LIMIT $1`, limit)
	} else {
		rows, err = conn.Query(ctx, q+` AND (created_at, id) > ($1, $2) ORDER BY created_at, id LIMIT $3`, after.createdAt, after.id, limit)
	}
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (pendingUsername, error) {
		var p pendingUsername
		err := r.Scan(&p.id, &p.username, &p.createdAt)
		return p, err
	})
}

// keyUsernames writes the keys of one batch in one statement. Within the
// batch the first (oldest) row of a key gets it; a key that a row outside
// the batch already has is not written.
func (m *Migrator) keyUsernames(ctx context.Context, conn *pgxpool.Conn, batch []pendingUsername, st *backfillStats) error {
	var (
		ids       []uuid.UUID
		usernames []string
		keys      []string
		firstOf   = map[string]uuid.UUID{}
	)
	for _, p := range batch {
		key := auth.UsernameKey(p.username)
		if key == "" {
			st.unkeyed++
			m.leftAsItWas(ctx, st, "backfill: username has no look-alike key (only invisible characters); left without one", "identity_id", p.id)
			continue
		}
		if first, ok := firstOf[key]; ok {
			st.unkeyed++
			m.leftAsItWas(ctx, st, "backfill: username is a look-alike of an older identity's; left without a key", "identity_id", p.id, "older_identity_id", first)
			continue
		}
		firstOf[key] = p.id
		ids, usernames, keys = append(ids, p.id), append(usernames, p.username), append(keys, key)
	}
	if len(ids) == 0 {
		return nil
	}
	var done []uuid.UUID
	for attempt := 1; ; attempt++ {
		// The username must still be the one read: an older authd may have
		// renamed the row meanwhile (a newer one sets the key itself).
		rows, err := conn.Query(ctx, `UPDATE identities AS i SET username_key = v.key
			FROM unnest($1::uuid[], $2::text[], $3::text[]) AS v(id, username, key)
			WHERE i.id = v.id AND i.username = v.username AND i.username_key IS NULL
			  AND NOT EXISTS (SELECT 1 FROM identities o WHERE o.username_key = v.key)
			RETURNING i.id`, ids, usernames, keys)
		if err == nil {
			done, err = pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		}
		if err == nil {
			break
		}
		// A live instance wrote one of the keys after NOT EXISTS looked; the
		// statement wrote nothing, and its retry sees that key.
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "23505" || attempt == backfillRetries {
			return err
		}
	}
	keyed := make(map[uuid.UUID]bool, len(done))
	for _, id := range done {
		keyed[id] = true
	}
	st.keyed += len(keyed)
	if len(keyed) == len(ids) {
		return nil
	}
	// Name the identity that has the key, for the operator.
	rows, err := conn.Query(ctx, `SELECT v.id, o.id FROM unnest($1::uuid[], $2::text[]) AS v(id, key)
		LEFT JOIN identities o ON o.username_key = v.key AND o.id <> v.id`, ids, keys)
	if err != nil {
		return err
	}
	owners, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]*uuid.UUID, error) {
		var pair [2]*uuid.UUID
		err := r.Scan(&pair[0], &pair[1])
		return pair, err
	})
	if err != nil {
		return err
	}
	for _, pair := range owners {
		id := *pair[0]
		if keyed[id] {
			continue
		}
		st.unkeyed++
		if pair[1] == nil { // renamed or deleted meanwhile: the next run sees it again
			continue
		}
		m.leftAsItWas(ctx, st, "backfill: username is a look-alike of another identity's; left without a key", "identity_id", id, "key_owner_id", *pair[1])
	}
	return nil
}

type storedEmail struct {
	id        uuid.UUID
	email     string
	createdAt time.Time
}

func (m *Migrator) backfillEmailDomains(ctx context.Context, conn *pgxpool.Conn, st *backfillStats) error {
	const q = `SELECT id, email, created_at FROM identities
		WHERE octet_length(split_part(email, '@', 2)) <> char_length(split_part(email, '@', 2))`
	var after *storedEmail
	for {
		var (
			rows pgx.Rows
			err  error
		)
		if after == nil {
			rows, err = conn.Query(ctx, q+` ORDER BY created_at, id LIMIT $1`, m.batch)
		} else {
			rows, err = conn.Query(ctx, q+` AND (created_at, id) > ($1, $2) ORDER BY created_at, id LIMIT $3`, after.createdAt, after.id, m.batch)
		}
		if err != nil {
			return err
		}
		batch, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storedEmail, error) {
			var e storedEmail
			err := r.Scan(&e.id, &e.email, &e.createdAt)
			return e, err
		})
		if err != nil {
			return err
		}
		for _, e := range batch {
			if err := m.moveToALabels(ctx, conn, e, st); err != nil {
				return err
			}
		}
		if len(batch) < m.batch {
			return nil
		}
		after = &batch[len(batch)-1]
	}
}

// moveToALabels rewrites one stored address to its canonical form, with the
// unused tokens that were issued for it (a verification token is bound to
// the address it was mailed to).
func (m *Migrator) moveToALabels(ctx context.Context, conn *pgxpool.Conn, e storedEmail, st *backfillStats) error {
	canonical, err := auth.ParseEmail(e.email)
	if err != nil {
		st.skipped++
		m.leftAsItWas(ctx, st, "backfill: stored e-mail address is not valid under the current rules; left as it was", "identity_id", e.id, "reason", err.Error())
		return nil
	}
	if canonical.String() == e.email {
		return nil
	}
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE identities SET email = $2 WHERE id = $1 AND email = $3`, e.id, canonical.String(), e.email)
		if err != nil || tag.RowsAffected() == 0 {
			return err // changed meanwhile: nothing to do
		}
		_, err = tx.Exec(ctx, `UPDATE one_time_tokens SET email = $2 WHERE identity_id = $1 AND email = $3 AND used_at IS NULL`,
			e.id, canonical.String(), e.email)
		return err
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "identities_email_key" {
		var owner uuid.UUID
		if err := conn.QueryRow(ctx, `SELECT id FROM identities WHERE lower(email) = $1`, canonical.String()).Scan(&owner); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		st.skipped++
		m.leftAsItWas(ctx, st, "backfill: e-mail address is, in A-labels, another identity's; left as it was", "identity_id", e.id, "owner_id", owner)
		return nil
	}
	if err != nil {
		return err
	}
	st.rewritten++
	return nil
}
