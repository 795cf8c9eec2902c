package webhook

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes of a delivery attempt.
const (
	outcomeDelivered = "delivered"
	outcomeFailed    = "failed"
	outcomeGivenUp   = "given_up"
)

type metrics struct {
	deliveries *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, pool *pgxpool.Pool, log *slog.Logger) *metrics {
	m := &metrics{deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "authd_webhook_deliveries_total",
		Help: "Webhook delivery attempts by outcome: delivered, failed (retried), given_up (dropped after WEBHOOK_GIVE_UP_AFTER).",
	}, []string{"outcome"})}
	for _, o := range []string{outcomeDelivered, outcomeFailed, outcomeGivenUp} {
		m.deliveries.WithLabelValues(o)
	}
	reg.MustRegister(m.deliveries, backlog{pool: pool, log: log, timeout: time.Second})
	return m
}

// backlog reports, at each scrape, the events waiting for delivery and the
// age of the oldest: a backlog that grows, or an oldest event that ages,
// is a receiver that is down or refuses.
type backlog struct {
	pool    *pgxpool.Pool
	log     *slog.Logger
	timeout time.Duration
}

var (
	backlogDepth = prometheus.NewDesc("authd_webhook_backlog",
		"Audit events waiting for delivery to WEBHOOK_URL.", nil, nil)
	backlogAge = prometheus.NewDesc("authd_webhook_oldest_age_seconds",
		"Age of the oldest audit event waiting for delivery; 0 when none waits.", nil, nil)
)

func (b backlog) Describe(ch chan<- *prometheus.Desc) {
	ch <- backlogDepth
	ch <- backlogAge
}

// Collect leaves the series out of a scrape when PostgreSQL does not
// answer in time (and logs it), so that an alert sees no sample rather
// than a false zero.
func (b backlog) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	var (
		depth int64
		age   float64
	)
	err := b.pool.QueryRow(ctx, `SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 FROM webhook_events`).
		Scan(&depth, &age)
	if err != nil {
		b.log.Warn("webhook backlog not measured", "error", err)
		return
	}
	ch <- prometheus.MustNewConstMetric(backlogDepth, prometheus.GaugeValue, float64(depth))
	ch <- prometheus.MustNewConstMetric(backlogAge, prometheus.GaugeValue, max(age, 0))
}
