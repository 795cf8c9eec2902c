package mailqueue

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"

	"github.com/authd/authd/internal/auth"
	"github.com/authd/authd/internal/seal"
)

// RequestAnswerer answers queued mail requests: the domain's
// auth.Service.AnswerMailRequest.
type RequestAnswerer interface {
	AnswerMailRequest(ctx context.Context, r auth.MailRequest) error
}

// mailRequestArgs is the job of a queued mail request: sealed, since the
// address in it is personal data, like a mail's.
type mailRequestArgs struct {
	Sealed []byte `json:"sealed"`
}

func (mailRequestArgs) Kind() string { return "answer_mail_request" }

// mailRequestRecord is a mail request as the sealed job holds it: this
// adapter's wire format.
type mailRequestRecord struct {
	Purpose     string    `json:"purpose"`
	Email       string    `json:"email"`
	IP          string    `json:"ip"`
	UserAgent   string    `json:"user_agent"`
	RequestID   string    `json:"request_id"`
	RequestedAt time.Time `json:"requested_at"`
}

// QueueRequest queues a mail request, answered by a worker of any
// instance.
func (o outbox) QueueRequest(ctx context.Context, r auth.MailRequest) error {
	plain, err := json.Marshal(mailRequestRecord{Purpose: string(r.Purpose), Email: r.Email.String(),
		IP: r.Client.IP, UserAgent: r.Client.UserAgent, RequestID: r.Client.RequestID, RequestedAt: r.RequestedAt})
	if err != nil {
		return auth.Internal("mailqueue: encode request", err)
	}
	args, opts := mailRequestArgs{Sealed: o.q.sealer.Seal(plain)}, &river.InsertOpts{Queue: queueName, Metadata: o.q.tags.metadata(r.Email.String())}
	if o.tx != nil {
		_, err = o.q.client.InsertTx(ctx, o.tx, args, opts)
	} else {
		_, err = o.q.client.Insert(ctx, args, opts)
	}
	if err != nil {
		return auth.Unavailable("mailqueue: queue mail request", err)
	}
	return nil
}

// AnswerRequestsWith sets who answers mail requests; call it before
// Start. Until it is called, requests wait.
func (q *Queue) AnswerRequestsWith(a RequestAnswerer) { q.requests.answerer.Store(&a) }

type requestWorker struct {
	river.WorkerDefaults[mailRequestArgs]
	answerer atomic.Pointer[RequestAnswerer]
	sealer   *seal.Box
	cfg      Config
	log      *slog.Logger
	metrics  *metrics
}

// Timeout bounds one answer: a look-up, a token and a queued mail.
func (w *requestWorker) Timeout(*river.Job[mailRequestArgs]) time.Duration { return w.cfg.SendTimeout }

// NextRetry backs off as mail delivery does.
func (w *requestWorker) NextRetry(job *river.Job[mailRequestArgs]) time.Time {
	d := w.cfg.RetryBase << min(job.Attempt-1, 30)
	if d <= 0 || d > w.cfg.RetryMax {
		d = w.cfg.RetryMax
	}
	return time.Now().Add(d)
}

func (w *requestWorker) Work(ctx context.Context, job *river.Job[mailRequestArgs]) error {
	plain, err := w.sealer.Open(job.Args.Sealed)
	if err != nil {
		// As for a mail: another instance may hold the key.
		w.metrics.unsealable.Inc()
		w.log.ErrorContext(ctx, "mail request cannot be unsealed with this instance's keys; left for another instance "+
			"(SECRET_KEY must be the same on every instance; after a rotation list the old key in SECRET_KEY_PREVIOUS)",
			"job_id", job.ID, "attempt", job.Attempt)
		return river.JobSnooze(min(max(w.cfg.RetryMax, time.Second), time.Minute))
	}
	var rec mailRequestRecord
	if err := json.Unmarshal(plain, &rec); err != nil {
		w.log.ErrorContext(ctx, "mail request given up: cannot be decoded", "job_id", job.ID)
		return river.JobCancel(errors.New("mail request cannot be decoded"))
	}
	a := w.answerer.Load()
	if a == nil {
		return errors.New("mail requests are not answered by this instance yet")
	}
	r := auth.MailRequest{Purpose: auth.Purpose(rec.Purpose), Email: auth.EmailFromStore(rec.Email),
		Client: auth.Client{IP: rec.IP, UserAgent: rec.UserAgent, RequestID: rec.RequestID}, RequestedAt: rec.RequestedAt}
	err = (*a).AnswerMailRequest(ctx, r)
	if err == nil {
		return nil
	}
	if time.Since(job.CreatedAt) > w.cfg.GiveUpAfter {
		w.metrics.givenUp.Inc()
		w.log.ErrorContext(ctx, "mail request given up: it could not be answered in time", "job_id", job.ID, "attempts", job.Attempt, "error", err)
		return river.JobCancel(err)
	}
	w.log.WarnContext(ctx, "mail request failed; will retry", "job_id", job.ID, "attempt", job.Attempt, "error", err)
	return err
}
