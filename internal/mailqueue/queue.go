// Package mailqueue is authd's durable mail queue: a River job queue in
// PostgreSQL. A mail is queued in the same transaction as the rows it is
// about, sealed so its links never lie in the database in the clear, and
// sent by workers in every instance with deadlines and exponential
// backoff until it is delivered or given up visibly. A send cut short by
// its instance's death is taken up by another instance soon after its
// deadline, under the same Message-ID.
package mailqueue

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/authd/authd/internal/auth"
	"github.com/authd/authd/internal/seal"
	"github.com/authd/authd/internal/smtp"
	"github.com/authd/authd/templates"
)

// Sender delivers one rendered message.
type Sender interface {
	Send(ctx context.Context, msg smtp.Message) error
}

var _ Sender = (*smtp.Mailer)(nil)

// Purger deletes expired one-time tokens and returns how many; the queue
// runs it periodically, on one instance at a time.
type Purger interface {
	PurgeExpired(ctx context.Context, now time.Time) (int64, error)
}

// Config tunes delivery.
type Config struct {
	Secret []byte // seals queued mails; the same on every instance
	// PreviousSecrets still open mails sealed before a key rotation.
	PreviousSecrets [][]byte
	Workers         int           // concurrent sends per instance; 0 makes an insert-only queue
	SendTimeout     time.Duration // deadline of one SMTP delivery
	RetryBase       time.Duration // first retry delay, doubled each attempt
	RetryMax        time.Duration // longest delay between attempts
	GiveUpAfter     time.Duration // a mail still undelivered this long after queueing is dropped
	PurgeEvery      time.Duration // how often expired tokens and sent mails are removed
	PollEvery       time.Duration // fallback poll when LISTEN/NOTIFY misses a wakeup
	// Jobs are other adapters' jobs (webhook deliveries) worked by this
	// queue's River client.
	Jobs []Jobs
}

// sendMailArgs is the job: the sealed mail and nothing readable.
type sendMailArgs struct {
	Sealed []byte `json:"sealed"`
}

func (sendMailArgs) Kind() string { return "send_mail" }

type purgeArgs struct{}

func (purgeArgs) Kind() string { return "purge_expired" }

const queueName = "mail"

// Queue queues mails and, when it has workers, sends them.
type Queue struct {
	working  bool // false for an insert-only queue
	client   *river.Client[pgx.Tx]
	sealer   *seal.Box
	metrics  *metrics
	requests *requestWorker // answers mail requests; idle in an insert-only queue
	pool     *pgxpool.Pool
	tags     recipientTags // name the recipient of a waiting job (DiscardMailTo)
}

// New builds the queue over pool. Call Start to run the workers.
func New(pool *pgxpool.Pool, sender Sender, purge Purger, cfg Config, reg prometheus.Registerer, log *slog.Logger) (*Queue, error) {
	s, err := seal.New("authd mail queue seal v1", cfg.Secret, cfg.PreviousSecrets...)
	if err != nil {
		return nil, err
	}
	m := newMetrics(reg)
	reg.MustRegister(backlog{pool: pool, log: log, timeout: time.Second})
	rc := riverConfig(cfg, log)
	requests := &requestWorker{sealer: s, cfg: cfg, log: log, metrics: m}
	workers, queues := river.NewWorkers(), map[string]river.QueueConfig{}
	if cfg.Workers > 0 {
		river.AddWorker(workers, &sendWorker{sealer: s, sender: sender, cfg: cfg, log: log, metrics: m})
		river.AddWorker(workers, requests)
		river.AddWorker(workers, &purgeWorker{purge: purge, log: log})
		queues[queueName] = river.QueueConfig{MaxWorkers: cfg.Workers}
		queues[river.QueueDefault] = river.QueueConfig{MaxWorkers: 1}
		if cfg.PurgeEvery > 0 {
			rc.PeriodicJobs = []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(cfg.PurgeEvery),
				func() (river.JobArgs, *river.InsertOpts) { return purgeArgs{}, nil },
				&river.PeriodicJobOpts{RunOnStart: true})}
		}
	}
	for _, j := range cfg.Jobs {
		if n := j.MaxWorkers(); n > 0 {
			j.AddWorkers(workers)
			queues[j.Queue()] = river.QueueConfig{MaxWorkers: n}
			rc.PeriodicJobs = append(rc.PeriodicJobs, j.PeriodicJobs()...)
		}
	}
	if len(queues) > 0 {
		rc.Workers, rc.Queues = workers, queues
	}
	client, err := river.NewClient(riverpgxv5.New(pool), rc)
	if err != nil {
		return nil, fmt.Errorf("mailqueue: %w", err)
	}
	return &Queue{working: len(queues) > 0, client: client, sealer: s, metrics: m, requests: requests,
		pool: pool, tags: newRecipientTags(cfg)}, nil
}

// rescueMargin is how long past JobTimeout (the longest deadline of any
// job here; a send's own, SendTimeout, is 5 s shorter) a job may still be
// running before River's rescuer takes it for abandoned (its instance
// died) and schedules it again. A send on a live instance ends at its
// deadline (the SMTP adapter closes the connection then), but the instance
// still has to record the outcome, and the rescuer compares its own clock
// with the attempt time PostgreSQL recorded: the margin absorbs a slow
// database and some clock skew, so that a live but slow instance is not
// overtaken while it sends, which would send the mail twice.
const rescueMargin = 5 * time.Second

// riverConfig is the River configuration without workers.
//
// Rescue: River's rescuer runs on the leader only, every 30 s (an interval
// River v0.51 gives a client no way to change), and takes the jobs running
// longer than both RescueStuckJobsAfter and their own timeout. At River's
// default of an hour, a mail whose instance died mid-send waited that
// long, past the expiry of the link in it; here it waits for the send's
// deadline and the margin. From an instance's death D to the new attempt,
// at worst:
//   - rescue by D + RescueStuckJobsAfter + 30 s. If the dead instance was
//     the leader, a survivor takes over within 21 s (a 15 s lease, bids
//     every 5-6 s) and its rescuer runs at once, inside that bound;
//   - the rescued job is retryable at NextRetry (RetryBase after a first
//     attempt); the leader's scheduler, every 5 s with 5 s of look-ahead,
//     makes it available by max(RetryBase, 5 s), and a worker fetches it
//     within FetchPollInterval.
//
// With the defaults (MAIL_SEND_TIMEOUT 10s, MAIL_RETRY_BASE 2s, a 1 s poll)
// that is 20 + 30 + 5 + 1 = 56 s, then the send itself.
func riverConfig(cfg Config, log *slog.Logger) *river.Config {
	// JobTimeout bounds the jobs without a Timeout of their own (the
	// purge); a send has SendTimeout.
	jobTimeout := cfg.SendTimeout + 5*time.Second
	return &river.Config{
		Logger:                      log.With("component", "mailqueue"),
		MaxAttempts:                 math.MaxInt16, // the give-up time bounds retries, not a count
		CompletedJobRetentionPeriod: time.Hour,
		FetchPollInterval:           max(cfg.PollEvery, 100*time.Millisecond),
		JobTimeout:                  jobTimeout,
		RescueStuckJobsAfter:        jobTimeout + rescueMargin,
	}
}

// Start runs the workers until Stop; an insert-only queue has none.
func (q *Queue) Start(ctx context.Context) error {
	if !q.working {
		return nil
	}
	return q.client.Start(ctx)
}

// Stop lets running sends finish (within ctx) and stops the workers.
func (q *Queue) Stop(ctx context.Context) error {
	if !q.working {
		return nil
	}
	return q.client.Stop(ctx)
}

// Outbox is the domain's outbox on this queue: inside tx, so that a mail
// exists exactly if tx commits, or, with a nil tx, on its own.
func (q *Queue) Outbox(tx pgx.Tx) auth.Outbox { return outbox{q: q, tx: tx} }

type outbox struct {
	q  *Queue
	tx pgx.Tx
}

var _ auth.Outbox = outbox{}

// Queue seals m and inserts its job.
func (o outbox) Queue(ctx context.Context, m auth.Mail) error {
	plain, err := json.Marshal(mailRecord(m))
	if err != nil {
		return auth.Internal("mailqueue: encode", err)
	}
	args, opts := sendMailArgs{Sealed: o.q.sealer.Seal(plain)}, &river.InsertOpts{Queue: queueName, Metadata: o.q.tags.metadata(m.To)}
	if o.tx != nil {
		_, err = o.q.client.InsertTx(ctx, o.tx, args, opts)
	} else {
		_, err = o.q.client.Insert(ctx, args, opts)
	}
	if err != nil {
		return auth.Unavailable("mailqueue: queue mail", err)
	}
	o.q.metrics.queued.Inc()
	return nil
}

// mailRecord is a mail as the sealed job holds it: this adapter's wire
// format.
type mailRecord struct {
	To       string            `json:"To"`
	Template string            `json:"Template"`
	Data     map[string]string `json:"Data"`
}

type sendWorker struct {
	river.WorkerDefaults[sendMailArgs]
	sealer  *seal.Box
	sender  Sender
	cfg     Config
	log     *slog.Logger
	metrics *metrics
}

func (w *sendWorker) Timeout(*river.Job[sendMailArgs]) time.Duration { return w.cfg.SendTimeout }

// foreignRetry is how long a mail this instance cannot open waits before
// any instance tries it again.
func (w *sendWorker) foreignRetry() time.Duration {
	return min(max(w.cfg.RetryMax, time.Second), time.Minute)
}

// NextRetry doubles the delay from RetryBase up to RetryMax, so a short
// SMTP outage costs seconds and a long one does not hammer the server.
func (w *sendWorker) NextRetry(job *river.Job[sendMailArgs]) time.Time {
	d := w.cfg.RetryBase << min(job.Attempt-1, 30)
	if d <= 0 || d > w.cfg.RetryMax {
		d = w.cfg.RetryMax
	}
	return time.Now().Add(d)
}

func (w *sendWorker) Work(ctx context.Context, job *river.Job[sendMailArgs]) error {
	plain, err := w.sealer.Open(job.Args.Sealed)
	if err != nil {
		// Another instance may hold the key this one lacks (a replica with
		// a wrong SECRET_KEY, or one not yet given SECRET_KEY_PREVIOUS after
		// a rotation): leave the mail for it rather than destroy it.
		w.metrics.unsealable.Inc()
		w.log.ErrorContext(ctx, "mail cannot be unsealed with this instance's keys; left for another instance "+
			"(SECRET_KEY must be the same on every instance; after a rotation list the old key in SECRET_KEY_PREVIOUS)",
			"job_id", job.ID, "attempt", job.Attempt)
		return river.JobSnooze(w.foreignRetry())
	}
	var m mailRecord
	if err := json.Unmarshal(plain, &m); err != nil {
		w.giveUp(ctx, job, "cannot be decoded")
		return river.JobCancel(errors.New("mail cannot be decoded"))
	}
	data := make(map[string]any, len(m.Data))
	for k, v := range m.Data {
		data[k] = v
	}
	id := messageID(job.ID, job.Args.Sealed)
	err = w.sender.Send(ctx, smtp.Message{To: m.To, Template: m.Template, Data: data, MessageID: id})
	if err == nil {
		w.metrics.sent.WithLabelValues(m.Template).Inc()
		return nil
	}
	w.metrics.failedAttempts.Inc()
	if smtp.Permanent(err) {
		w.giveUp(ctx, job, "the server refused it permanently")
		return river.JobCancel(err)
	}
	if time.Since(job.CreatedAt) > w.cfg.GiveUpAfter {
		w.giveUp(ctx, job, "it could not be delivered in time")
		return river.JobCancel(err)
	}
	w.log.WarnContext(ctx, "mail delivery failed; will retry", "job_id", job.ID, "message_id", id, "attempt", job.Attempt, "template", m.Template, "error", err)
	return err
}

// messageID is the unique part of the mail's Message-ID, the same on every
// attempt and every instance for the job's whole life: if an instance
// dies after the relay accepted the mail but before the job was marked
// done, the copy sent again after the rescue carries the same Message-ID,
// and the relay and the recipient's mail client can tell it for a
// duplicate. It hashes what never changes in the job: its ID and its
// sealed arguments. The seal's random nonce makes it unguessable and
// unique even between two jobs with the same mail; the ciphertext tells
// nothing of the recipient; and, since no key is involved, a key rotation
// between two attempts leaves it as it was.
func messageID(jobID int64, sealed []byte) string {
	h := sha256.New()
	h.Write([]byte("authd mail message-id v1\x00"))
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(jobID)))
	h.Write(sealed)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// giveUp makes a lost mail visible: a log line, a metric, and the job's
// cancelled state in river_job.
func (w *sendWorker) giveUp(ctx context.Context, job *river.Job[sendMailArgs], why string) {
	w.metrics.givenUp.Inc()
	w.log.ErrorContext(ctx, "mail given up: "+why, "job_id", job.ID, "message_id", messageID(job.ID, job.Args.Sealed), "attempts", job.Attempt, "queued_at", job.CreatedAt)
}

type purgeWorker struct {
	river.WorkerDefaults[purgeArgs]
	purge Purger
	log   *slog.Logger
}

func (w *purgeWorker) Work(ctx context.Context, _ *river.Job[purgeArgs]) error {
	n, err := w.purge.PurgeExpired(ctx, time.Now())
	if err != nil {
		return err
	}
	w.log.InfoContext(ctx, "expired tokens purged", "count", n)
	return nil
}

type metrics struct {
	queued         prometheus.Counter
	sent           *prometheus.CounterVec
	failedAttempts prometheus.Counter
	givenUp        prometheus.Counter
	unsealable     prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		queued:         prometheus.NewCounter(prometheus.CounterOpts{Name: "authd_mail_queued_total", Help: "Mails queued."}),
		sent:           prometheus.NewCounterVec(prometheus.CounterOpts{Name: "authd_mail_sent_total", Help: "Mails delivered, by template."}, []string{"template"}),
		failedAttempts: prometheus.NewCounter(prometheus.CounterOpts{Name: "authd_mail_failed_attempts_total", Help: "Delivery attempts that failed and will be retried or given up."}),
		givenUp:        prometheus.NewCounter(prometheus.CounterOpts{Name: "authd_mail_given_up_total", Help: "Mails dropped after the give-up time or a permanent refusal."}),
		unsealable:     prometheus.NewCounter(prometheus.CounterOpts{Name: "authd_mail_unsealable_total", Help: "Attempts at mails this instance cannot unseal (a SECRET_KEY mismatch); the mails are left for other instances."}),
	}
	// Every template's series exists from the start at 0.
	names, _ := fs.Glob(templates.FS, "*.txt")
	for _, n := range names {
		m.sent.WithLabelValues(strings.TrimSuffix(n, ".txt"))
	}
	reg.MustRegister(m.queued, m.sent, m.failedAttempts, m.givenUp, m.unsealable)
	return m
}
