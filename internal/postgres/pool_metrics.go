package postgres

import (
	"github.com/prometheus/client_golang/prometheus"
)

// PoolCollector exposes the pgx pool's statistics at each scrape: how many
// connections are held, idle and open against the maximum, and how often
// and how long requests waited for one. A pool that is always empty on
// acquire is the first sign DATABASE_MAX_CONNS is too small.
func (db *DB) PoolCollector() prometheus.Collector { return poolCollector{db} }

type poolCollector struct{ db *DB }

var (
	pgAcquired = prometheus.NewDesc("authd_postgres_pool_acquired_connections", "PostgreSQL connections in use.", nil, nil)
	pgIdle     = prometheus.NewDesc("authd_postgres_pool_idle_connections", "PostgreSQL connections open and idle.", nil, nil)
	pgTotal    = prometheus.NewDesc("authd_postgres_pool_total_connections", "PostgreSQL connections open (in use, idle or being opened).", nil, nil)
	pgMax      = prometheus.NewDesc("authd_postgres_pool_max_connections", "Most PostgreSQL connections the pool opens (DATABASE_MAX_CONNS).", nil, nil)
	pgAcquires = prometheus.NewDesc("authd_postgres_pool_acquires_total", "Connections taken from the pool.", nil, nil)
	pgEmpty    = prometheus.NewDesc("authd_postgres_pool_empty_acquires_total", "Connections taken after waiting, because none was idle.", nil, nil)
	pgCanceled = prometheus.NewDesc("authd_postgres_pool_canceled_acquires_total", "Waits for a connection given up (deadline or cancel).", nil, nil)
	pgWait     = prometheus.NewDesc("authd_postgres_pool_acquire_seconds_total", "Time spent taking connections from the pool.", nil, nil)
)

func (poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{pgAcquired, pgIdle, pgTotal, pgMax, pgAcquires, pgEmpty, pgCanceled, pgWait} {
		ch <- d
	}
}

func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.db.pool.Stat()
	ch <- prometheus.MustNewConstMetric(pgAcquired, prometheus.GaugeValue, float64(st.AcquiredConns()))
	ch <- prometheus.MustNewConstMetric(pgIdle, prometheus.GaugeValue, float64(st.IdleConns()))
	ch <- prometheus.MustNewConstMetric(pgTotal, prometheus.GaugeValue, float64(st.TotalConns()))
	ch <- prometheus.MustNewConstMetric(pgMax, prometheus.GaugeValue, float64(st.MaxConns()))
	ch <- prometheus.MustNewConstMetric(pgAcquires, prometheus.CounterValue, float64(st.AcquireCount()))
	ch <- prometheus.MustNewConstMetric(pgEmpty, prometheus.CounterValue, float64(st.EmptyAcquireCount()))
	ch <- prometheus.MustNewConstMetric(pgCanceled, prometheus.CounterValue, float64(st.CanceledAcquireCount()))
	ch <- prometheus.MustNewConstMetric(pgWait, prometheus.CounterValue, st.AcquireDuration().Seconds())
}
