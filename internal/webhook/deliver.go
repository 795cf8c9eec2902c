package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
)

type deliverWorker struct {
	river.WorkerDefaults[deliverArgs]
	w *Webhooks
}

// jobTimeout bounds one run of a delivery job, which may deliver a
// backlog of its stream: a few deliveries' deadlines, so that a run that
// makes progress is not cut short, and River's rescuer (which waits for
// this timeout) takes over a dead instance's run soon.
func (c Config) jobTimeout() time.Duration { return max(30*time.Second, 3*c.Timeout) }

// lease is how long a run holds its stream: past the run's timeout, so a
// live run never loses it; a dead one's lease runs out this long after
// its last renewal.
func (c Config) lease() time.Duration { return c.jobTimeout() + 10*time.Second }

func (d *deliverWorker) Timeout(*river.Job[deliverArgs]) time.Duration { return d.w.cfg.jobTimeout() }

// NextRetry doubles the delay from RetryBase up to RetryMax: a short
// outage of the receiver costs seconds, a long one does not hammer it.
func (d *deliverWorker) NextRetry(job *river.Job[deliverArgs]) time.Time {
	cfg := d.w.cfg
	delay := cfg.RetryBase << min(job.Attempt-1, 30)
	if delay <= 0 || delay > cfg.RetryMax {
		delay = cfg.RetryMax
	}
	return time.Now().Add(delay)
}

// pending is an event waiting for delivery.
type pending struct {
	id        int64
	messageID string
	body      []byte
	createdAt time.Time
}

// Work delivers, in order, the stream's waiting events up to the job's
// own, holding the stream's lease: one run per stream at a time, on any
// instance. A run that finds the stream held comes back shortly (the
// holder may be delivering this very event). A failed delivery stops the
// run with an error, and River retries it with backoff; the events after
// the failed one wait, so none overtakes another.
func (d *deliverWorker) Work(ctx context.Context, job *river.Job[deliverArgs]) error {
	w := d.w
	holder := holderID()
	ok, err := w.claim(ctx, job.Args.Stream, holder)
	if err != nil {
		return err
	}
	if !ok {
		return river.JobSnooze(min(max(w.cfg.RetryBase, 10*time.Millisecond), time.Second))
	}
	defer w.release(context.WithoutCancel(ctx), job.Args.Stream, holder)
	for {
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < w.cfg.Timeout+time.Second {
			return river.JobSnooze(0) // progress made; go on in a new run
		}
		ev, found, err := w.next(ctx, job.Args.Stream, job.Args.EventID)
		if err != nil || !found {
			return err
		}
		if err := w.send(ctx, ev); err != nil {
			w.metrics.deliveries.WithLabelValues(outcomeFailed).Inc()
			if time.Since(ev.createdAt) > w.cfg.GiveUpAfter {
				w.metrics.deliveries.WithLabelValues(outcomeGivenUp).Inc()
				w.log.ErrorContext(ctx, "webhook given up: it could not be delivered in time",
					"message_id", ev.messageID, "queued_at", ev.createdAt, "attempt", job.Attempt, "error", err)
				if err := w.done(ctx, ev.id); err != nil {
					return err
				}
				continue
			}
			w.log.WarnContext(ctx, "webhook delivery failed; will retry", "message_id", ev.messageID, "attempt", job.Attempt, "error", err)
			return err
		}
		w.metrics.deliveries.WithLabelValues(outcomeDelivered).Inc()
		if err := w.done(ctx, ev.id); err != nil {
			return err
		}
		if err := w.renew(ctx, job.Args.Stream, holder); err != nil {
			return err
		}
	}
}

// claim takes the stream's lease unless a live one is held.
func (w *Webhooks) claim(ctx context.Context, stream, holder string) (bool, error) {
	var got string
	err := w.pool.QueryRow(ctx, `INSERT INTO webhook_streams (stream, holder, lease_until) VALUES ($1, $2, now() + $3::float8 * interval '1 millisecond')
		ON CONFLICT (stream) DO UPDATE SET holder = EXCLUDED.holder, lease_until = EXCLUDED.lease_until
		WHERE webhook_streams.lease_until < now()
		RETURNING holder`, stream, holder, float64(w.cfg.lease().Milliseconds())).Scan(&got)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("webhook: claim stream: %w", err)
	}
	return got == holder, nil
}

// renew pushes the lease on after a delivery; a lease lost (which a live
// run cannot lose: it outlasts the run's timeout) stops the run.
func (w *Webhooks) renew(ctx context.Context, stream, holder string) error {
	tag, err := w.pool.Exec(ctx, `UPDATE webhook_streams SET lease_until = now() + $3::float8 * interval '1 millisecond' WHERE stream = $1 AND holder = $2`,
		stream, holder, float64(w.cfg.lease().Milliseconds()))
	if err != nil {
		return fmt.Errorf("webhook: renew lease: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return errors.New("webhook: the stream's lease was lost")
	}
	return nil
}

func (w *Webhooks) release(ctx context.Context, stream, holder string) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := w.pool.Exec(ctx, `DELETE FROM webhook_streams WHERE stream = $1 AND holder = $2`, stream, holder); err != nil {
		// The lease runs out by itself; until then the stream waits.
		w.log.WarnContext(ctx, "webhook stream lease not released", "error", err)
	}
}

// next is the stream's oldest waiting event up to upTo.
func (w *Webhooks) next(ctx context.Context, stream string, upTo int64) (pending, bool, error) {
	var p pending
	err := w.pool.QueryRow(ctx, `SELECT id, message_id, body, created_at FROM webhook_events
		WHERE stream = $1 AND id <= $2 ORDER BY id LIMIT 1`, stream, upTo).Scan(&p.id, &p.messageID, &p.body, &p.createdAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return pending{}, false, nil
	}
	if err != nil {
		return pending{}, false, fmt.Errorf("webhook: next event: %w", err)
	}
	return p, true, nil
}

// done removes a delivered (or given up) event.
func (w *Webhooks) done(ctx context.Context, id int64) error {
	if _, err := w.pool.Exec(ctx, `DELETE FROM webhook_events WHERE id = $1`, id); err != nil {
		return fmt.Errorf("webhook: remove delivered event: %w", err)
	}
	return nil
}

// send makes one delivery attempt: a 2xx is success, anything else (a
// redirect included) a failure.
func (w *Webhooks) send(ctx context.Context, p pending) error {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(p.body))
	if err != nil {
		return fmt.Errorf("webhook: request: %w", err)
	}
	ts := time.Now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "authd-webhooks/1")
	req.Header.Set("webhook-id", p.messageID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", Sign(w.cfg.Keys, p.messageID, ts, p.body))
	resp, err := w.cfg.Client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: post: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook: the receiver answered %d", resp.StatusCode)
	}
	return nil
}

// Sign is the webhook-signature header of a message, as Standard Webhooks
// defines it: for each key, "v1," and the base64 HMAC-SHA256 of
// "<webhook-id>.<webhook-timestamp>.<body>", separated by spaces.
func Sign(keys [][]byte, msgID string, timestamp int64, body []byte) string {
	sigs := make([]string, len(keys))
	for i, k := range keys {
		m := hmac.New(sha256.New, k)
		m.Write([]byte(msgID + "." + strconv.FormatInt(timestamp, 10) + "."))
		m.Write(body)
		sigs[i] = "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
	}
	return strings.Join(sigs, " ")
}

// ParseSecret reads a Standard Webhooks secret: "whsec_" and the base64
// of 24 to 64 random bytes.
func ParseSecret(s string) ([]byte, error) {
	raw, ok := strings.CutPrefix(strings.TrimSpace(s), "whsec_")
	if !ok {
		return nil, errors.New(`must start with "whsec_"`)
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return nil, errors.New(`must be "whsec_" and base64`)
	}
	if len(key) < 24 || len(key) > 64 {
		return nil, errors.New("must hold 24 to 64 bytes")
	}
	return key, nil
}
