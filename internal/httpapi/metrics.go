package httpapi

import (
	"errors"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authd/authd/internal/auth"
)

type metrics struct {
	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	rateLimited   *prometheus.CounterVec
	shed          *prometheus.CounterVec
	logins        *prometheus.CounterVec
	registrations *prometheus.CounterVec
}

// Login methods and the outcomes of logins and registrations. The sets are
// closed, so label values never come from a client, and every series
// exists from the start at 0: a rate() over a fresh instance and an
// absent() in an alert rule both see it.
var (
	loginMethods  = []string{"password", "second_factor", "passkey"}
	loginOutcomes = []string{"success", "second_factor_required", "invalid_credentials", "invalid_input",
		"rate_limited", "email_not_verified", "overloaded", "error"}
	registrationOutcomes = []string{"created", "accepted", "email_taken", "username_taken", "invalid_input",
		"rate_limited", "overloaded", "error"}
)

// newMetrics registers the HTTP metrics. Labels are the route pattern, not
// the URL, so tokens in paths never become label values.
func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authd_http_requests_total", Help: "HTTP requests by method, route and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "authd_http_request_duration_seconds",
			Help:    "HTTP request duration by method and route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"method", "route"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authd_rate_limited_total", Help: "Requests refused with 429 by a throttle, by route.",
		}, []string{"route"}),
		shed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authd_requests_shed_total", Help: "Requests refused with 503 overloaded (the hash pool or the in-flight cap was full), by route.",
		}, []string{"route"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authd_logins_total", Help: "Login attempts by method (password, second_factor, passkey) and outcome.",
		}, []string{"method", "outcome"}),
		registrations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authd_registrations_total", Help: "Registrations by outcome (created; accepted: the strict mode's 202).",
		}, []string{"outcome"}),
	}
	for _, method := range loginMethods {
		for _, o := range loginOutcomes {
			m.logins.WithLabelValues(method, o)
		}
	}
	for _, o := range registrationOutcomes {
		m.registrations.WithLabelValues(o)
	}
	for _, route := range []string{"/api/v1/auth/login", "/api/v1/auth/register"} {
		m.rateLimited.WithLabelValues(route)
		m.shed.WithLabelValues(route)
	}
	reg.MustRegister(m.requests, m.duration, m.rateLimited, m.shed, m.logins, m.registrations)
	return m
}

func (m *metrics) observe(method, route string, status int, d time.Duration) {
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(method, route).Observe(d.Seconds())
}

// login counts one login attempt; pending says a password was right but a
// second factor is owed.
func (m *metrics) login(method string, pending bool, err error) {
	outcome := "success"
	switch {
	case err != nil:
		outcome = outcomeOf(err, loginOutcomes)
	case pending:
		outcome = "second_factor_required"
	}
	m.logins.WithLabelValues(method, outcome).Inc()
}

// registration counts one registration; accepted is the strict mode's
// reply, which says nothing about whether the account was new.
func (m *metrics) registration(accepted bool, err error) {
	outcome := "created"
	switch {
	case err != nil:
		outcome = outcomeOf(err, registrationOutcomes)
	case accepted:
		outcome = "accepted"
	}
	m.registrations.WithLabelValues(outcome).Inc()
}

// outcomeOf is the error's stable code when it is one of the outcomes,
// "invalid_input" for a request the HTTP layer refused, else "error".
func outcomeOf(err error, outcomes []string) string {
	var de *auth.Error
	var re *requestError
	switch {
	case errors.As(err, &de):
		for _, o := range outcomes {
			if o == de.Code {
				return o
			}
		}
		if de.Kind == auth.KindInvalid {
			return "invalid_input"
		}
	case errors.As(err, &re):
		return "invalid_input"
	}
	return "error"
}
