package webhook

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
)

// A delivery job can be lost without its event being delivered: River
// discards a job it cannot rescue (an instance without webhooks became
// the leader while a delivery ran), and an operator may cancel one. Its
// event would then wait until a later event of the same identity is
// delivered, which may never come. The sweep, a periodic job of the
// leader, queues a delivery for every stream whose events have waited
// a while with no job left to deliver them.

// sweepEvery is how often the sweep runs, and how long an event waits
// without a job before it counts as orphaned (a job of its own is queued
// in its transaction, so a fresh event always has one).
const sweepEvery = time.Minute

type sweepArgs struct{}

func (sweepArgs) Kind() string { return "sweep_webhooks" }

// PeriodicJobs are the sweep, run by the leader alone.
func (w *Webhooks) PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(sweepEvery),
		func() (river.JobArgs, *river.InsertOpts) { return sweepArgs{}, &river.InsertOpts{Queue: queueName} },
		&river.PeriodicJobOpts{RunOnStart: true})}
}

type sweepWorker struct {
	river.WorkerDefaults[sweepArgs]
	w *Webhooks
}

func (s *sweepWorker) Work(ctx context.Context, _ *river.Job[sweepArgs]) error {
	n, err := s.w.requeueOrphans(ctx, sweepEvery, river.ClientFromContext[pgx.Tx](ctx))
	if err != nil {
		return err
	}
	if n > 0 {
		s.w.log.WarnContext(ctx, "webhook deliveries queued again for events whose job was lost", "streams", n)
	}
	return nil
}

// requeueOrphans queues a delivery for each stream with an event older
// than age and no delivery job waiting or running, and says how many.
func (w *Webhooks) requeueOrphans(ctx context.Context, age time.Duration, client *river.Client[pgx.Tx]) (int, error) {
	rows, err := w.pool.Query(ctx, `SELECT e.stream, max(e.id) FROM webhook_events e
		WHERE e.created_at < now() - $1::float8 * interval '1 millisecond'
		AND NOT EXISTS (SELECT 1 FROM river_job j WHERE j.kind = 'deliver_webhook'
			AND j.state IN ('available', 'pending', 'retryable', 'running', 'scheduled')
			AND j.args @> jsonb_build_object('stream', e.stream))
		GROUP BY e.stream LIMIT 1000`, float64(age.Milliseconds()))
	if err != nil {
		return 0, fmt.Errorf("webhook: find orphaned events: %w", err)
	}
	var jobs []river.InsertManyParams
	for rows.Next() {
		var a deliverArgs
		if err := rows.Scan(&a.Stream, &a.EventID); err != nil {
			rows.Close()
			return 0, fmt.Errorf("webhook: find orphaned events: %w", err)
		}
		jobs = append(jobs, river.InsertManyParams{Args: a, InsertOpts: &river.InsertOpts{Queue: queueName}})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("webhook: find orphaned events: %w", err)
	}
	if len(jobs) == 0 {
		return 0, nil
	}
	if _, err := client.InsertMany(ctx, jobs); err != nil {
		return 0, fmt.Errorf("webhook: queue deliveries again: %w", err)
	}
	return len(jobs), nil
}
