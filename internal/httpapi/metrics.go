package httpapi

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	rateLimited *prometheus.CounterVec
	shed        *prometheus.CounterVec
}

// newMetrics registers the HTTP metrics. Labels are the route pattern, not
// the URL, so tokens in paths never become label values.
func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authd_http_requests_total", Help: "HTTP requests by method, route and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "authd_http_request_duration_seconds",
			Help:    "HTTP request duration by method and route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"method", "route"}),
	}
	m.rateLimited = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "authd_rate_limited_total", Help: "Requests refused with 429 by a throttle, by route.",
	}, []string{"route"})
	m.shed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "authd_requests_shed_total", Help: "Requests refused with 503 overloaded (the hash pool or the in-flight cap was full), by route.",
	}, []string{"route"})
	reg.MustRegister(m.requests, m.duration, m.rateLimited, m.shed)
	return m
}

func (m *metrics) observe(method, route string, status int, d time.Duration) {
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(method, route).Observe(d.Seconds())
}
