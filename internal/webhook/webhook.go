// Package webhook delivers authd's audit events to an HTTP receiver
// (WEBHOOK_URL), signed as the Standard Webhooks specification says
// (webhook-id, webhook-timestamp, webhook-signature), from the durable
// River queue in PostgreSQL.
//
// An event is written for delivery in the transaction of its audit event
// (Publish), so it exists exactly when the audit event does. Workers on
// every instance deliver it with a deadline and retry with exponential
// backoff while the receiver fails; the events of one identity go out one
// at a time and in the order they were recorded (a lease per identity in
// PostgreSQL), so a receiver that was down and came back gets each event
// of an identity once, in order. Delivery is at least once: a receiver
// that answers after the deadline, or an instance that dies between the
// receiver's 2xx and the row's deletion, sees the event again under the
// same webhook-id, by which receivers are told to deduplicate.
//
// A request never waits for a delivery: a receiver that never answers
// holds a worker for a deadline at a time and no database connection.
package webhook

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/authd/authd/internal/auth"
)

// Config is where and how events are delivered.
type Config struct {
	URL string
	// Keys sign every message, each giving one signature (more than one
	// during a rotation of WEBHOOK_SECRET).
	Keys        [][]byte
	Timeout     time.Duration // deadline of one delivery
	Workers     int           // concurrent deliveries per instance
	RetryBase   time.Duration // first retry delay, doubled each attempt
	RetryMax    time.Duration // longest delay between two attempts
	GiveUpAfter time.Duration // an event still undelivered this long after it happened is dropped
	// Client sends the requests; nil: one that follows no redirect.
	Client *http.Client
}

// queueName is the River queue of deliveries.
const queueName = "webhook"

// deliverArgs is a delivery job: the event to have delivered, and its
// stream. The job delivers every earlier event of the stream still
// waiting first.
type deliverArgs struct {
	EventID int64  `json:"event_id"`
	Stream  string `json:"stream"`
}

func (deliverArgs) Kind() string { return "deliver_webhook" }

// Webhooks writes events for delivery and delivers them.
type Webhooks struct {
	cfg      Config
	pool     *pgxpool.Pool
	inserter *river.Client[pgx.Tx] // insert-only: the mail queue's client works the jobs
	metrics  *metrics
	log      *slog.Logger
}

// New builds the webhooks over pool. Its jobs run on the mail queue's
// River client (see mailqueue.Jobs); New registers the metrics.
func New(pool *pgxpool.Pool, cfg Config, reg prometheus.Registerer, log *slog.Logger) (*Webhooks, error) {
	if cfg.URL == "" || len(cfg.Keys) == 0 {
		return nil, errors.New("webhook: a URL and a signing key are needed")
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{
			// A redirect is a failure, never followed: the events go to
			// the configured receiver only.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	// An insert-only client: no workers, no leader election; it only
	// writes jobs inside the audit event's transaction.
	inserter, err := river.NewClient(riverpgxv5.New(nil), &river.Config{Logger: log.With("component", "webhook")})
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	w := &Webhooks{cfg: cfg, pool: pool, inserter: inserter, metrics: newMetrics(reg, pool, log), log: log}
	return w, nil
}

// Queue, MaxWorkers and AddWorkers put the deliveries on the mail queue's
// River client.
func (w *Webhooks) Queue() string   { return queueName }
func (w *Webhooks) MaxWorkers() int { return w.cfg.Workers }
func (w *Webhooks) AddWorkers(ws *river.Workers) {
	river.AddWorker(ws, &deliverWorker{w: w})
	river.AddWorker(ws, &sweepWorker{w: w})
}

// payload is the body of a message: Standard Webhooks' type, timestamp
// and data. data holds what the audit trail holds, which is never a
// password, token, cookie, hash or e-mail address.
type payload struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      eventData `json:"data"`
}

type eventData struct {
	EventID    int64      `json:"event_id"`
	IdentityID *uuid.UUID `json:"identity_id"`
	Actor      string     `json:"actor"`
	IP         string     `json:"ip"`
	UserAgent  string     `json:"user_agent"`
	RequestID  string     `json:"request_id"`
}

// streamOf orders deliveries: an identity's events one after the other;
// an event about no identity on its own.
func streamOf(e auth.Event) string {
	if e.IdentityID != nil {
		return "identity:" + e.IdentityID.String()
	}
	return fmt.Sprintf("event:%d", e.ID)
}

// Publish writes e for delivery inside tx, the transaction that records
// it (postgres.EventSink).
func (w *Webhooks) Publish(ctx context.Context, tx pgx.Tx, e auth.Event) error {
	body, err := json.Marshal(payload{Type: string(e.Type), Timestamp: e.CreatedAt.UTC(), Data: eventData{
		EventID: e.ID, IdentityID: e.IdentityID, Actor: e.Actor, IP: e.IP, UserAgent: e.UserAgent, RequestID: e.RequestID,
	}})
	if err != nil {
		return fmt.Errorf("webhook: encode event: %w", err)
	}
	stream := streamOf(e)
	var id int64
	err = tx.QueryRow(ctx, `INSERT INTO webhook_events (message_id, stream, body, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
		messageID(), stream, body, e.CreatedAt).Scan(&id)
	if err != nil {
		return fmt.Errorf("webhook: write event: %w", err)
	}
	if _, err := w.inserter.InsertTx(ctx, tx, deliverArgs{EventID: id, Stream: stream}, &river.InsertOpts{Queue: queueName}); err != nil {
		return fmt.Errorf("webhook: queue delivery: %w", err)
	}
	return nil
}

// messageID is a message's webhook-id: unique, and the same on every
// attempt.
func messageID() string {
	return "msg_" + strings.ReplaceAll(uuid.Must(uuid.NewV7()).String(), "-", "")
}

// holderID names one run of a delivery job, the holder of a lease.
func holderID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
