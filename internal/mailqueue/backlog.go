package mailqueue

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// backlog reports, at each scrape, the mails not yet delivered and the age
// of the oldest: a queue that only grows, or a first mail that only ages,
// is an SMTP relay that refuses or cannot be reached, long before the
// give-up time turns it into lost mail.
type backlog struct {
	pool    *pgxpool.Pool
	log     *slog.Logger
	timeout time.Duration
}

var (
	backlogDepth = prometheus.NewDesc("authd_mail_queue_depth",
		"Mails queued and not yet delivered or given up (waiting, retrying or being sent).", nil, nil)
	backlogAge = prometheus.NewDesc("authd_mail_queue_oldest_age_seconds",
		"Age of the oldest mail not yet delivered or given up; 0 when none is waiting.", nil, nil)
)

func (b backlog) Describe(ch chan<- *prometheus.Desc) {
	ch <- backlogDepth
	ch <- backlogAge
}

// Collect asks PostgreSQL within a short deadline; when it cannot answer,
// the two series are left out of this scrape (and the failure logged), so
// that an alert on them sees no sample rather than a false zero.
func (b backlog) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	var (
		depth int64
		age   float64
	)
	err := b.pool.QueryRow(ctx, `
		SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8
		FROM river_job
		WHERE queue = $1 AND state IN ('available', 'pending', 'retryable', 'running', 'scheduled')`, queueName).Scan(&depth, &age)
	if err != nil {
		b.log.Warn("mail queue backlog not measured", "error", err)
		return
	}
	ch <- prometheus.MustNewConstMetric(backlogDepth, prometheus.GaugeValue, float64(depth))
	ch <- prometheus.MustNewConstMetric(backlogAge, prometheus.GaugeValue, max(age, 0))
}
