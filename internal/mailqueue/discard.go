package mailqueue

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/authd/authd/internal/auth"
)

// recipientTags name a waiting job's recipient without the address: a
// keyed hash of it, under a key derived from each of the mail seal's keys
// (the current one tags new jobs; the previous ones still find the jobs
// tagged before a rotation). Without the key a tag does not give the
// address back by guessing.
type recipientTags struct{ keys [][]byte }

func newRecipientTags(cfg Config) recipientTags {
	var t recipientTags
	for _, secret := range append([][]byte{cfg.Secret}, cfg.PreviousSecrets...) {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte("authd mail recipient tag v1"))
		t.keys = append(t.keys, m.Sum(nil))
	}
	return t
}

func (t recipientTags) tag(key []byte, address string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(strings.ToLower(address)))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// metadata is a new job's River metadata: its recipient's tag.
func (t recipientTags) metadata(address string) []byte {
	b, _ := json.Marshal(map[string]string{"recipient": t.tag(t.keys[0], address)})
	return b
}

// all are the metadata documents a job to the address may carry, one per
// key.
func (t recipientTags) all(address string) []string {
	out := make([]string, len(t.keys))
	for i, k := range t.keys {
		b, _ := json.Marshal(map[string]string{"recipient": t.tag(k, address)})
		out[i] = string(b)
	}
	return out
}

// DiscardMailTo deletes the mails and mail requests to the address that
// wait for a worker (available, scheduled for a retry, or pending), inside
// the outbox's transaction. One being sent at this moment is left to
// finish. Jobs queued before jobs carried tags (authd before the admin
// API) are not found.
func (o outbox) DiscardMailTo(ctx context.Context, address auth.Email) (int, error) {
	docs := o.q.tags.all(address.String())
	conds := make([]string, len(docs))
	args := []any{queueName}
	for i, d := range docs {
		args = append(args, d)
		conds[i] = "metadata @> $" + strconv.Itoa(len(args)) + "::jsonb"
	}
	sql := `DELETE FROM river_job WHERE queue = $1 AND state IN ('available', 'scheduled', 'retryable', 'pending') AND (` +
		strings.Join(conds, " OR ") + `)`
	var (
		n   int64
		err error
	)
	if o.tx != nil {
		tag, e := o.tx.Exec(ctx, sql, args...)
		n, err = tag.RowsAffected(), e
	} else {
		tag, e := o.q.pool.Exec(ctx, sql, args...)
		n, err = tag.RowsAffected(), e
	}
	if err != nil {
		return 0, auth.Unavailable("mailqueue: discard mail", err)
	}
	return int(n), nil
}
