package app

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/authd/authd/internal/auth"
)

// countedSessions counts what the session store does for the use cases:
// sessions started, renewed and ended, by why they ended. Sessions that
// expire, or that a login past SESSIONS_PER_IDENTITY pushes out, leave
// Valkey on their own and are not counted.
type countedSessions struct {
	auth.Sessions
	created prometheus.Counter
	renewed prometheus.Counter
	ended   *prometheus.CounterVec
}

// Reasons a session ends, each series present from the start.
const (
	endedLogout  = "logout"
	endedRevoked = "revoked"
	endedChanged = "credentials_changed"
)

func countSessions(s auth.Sessions, reg prometheus.Registerer) auth.Sessions {
	c := &countedSessions{
		Sessions: s,
		created:  prometheus.NewCounter(prometheus.CounterOpts{Name: "authd_sessions_created_total", Help: "Sessions started (logins, registrations that log in)."}),
		renewed:  prometheus.NewCounter(prometheus.CounterOpts{Name: "authd_sessions_renewed_total", Help: "Sessions given a new token after a privilege change."}),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authd_sessions_ended_total",
			Help: "Sessions ended: logout, revoked (one or all others, by the owner), credentials_changed (a password change or recovery). Expiry is not counted.",
		}, []string{"reason"}),
	}
	for _, r := range []string{endedLogout, endedRevoked, endedChanged} {
		c.ended.WithLabelValues(r)
	}
	reg.MustRegister(c.created, c.renewed, c.ended)
	return c
}

func (c *countedSessions) Start(ctx context.Context, s auth.Session) (auth.StartedSession, error) {
	started, err := c.Sessions.Start(ctx, s)
	if err == nil {
		c.created.Inc()
	}
	return started, err
}

func (c *countedSessions) Renew(ctx context.Context, s auth.Session, authAt time.Time) (auth.StartedSession, error) {
	started, err := c.Sessions.Renew(ctx, s, authAt)
	if err == nil {
		c.renewed.Inc()
	}
	return started, err
}

func (c *countedSessions) End(ctx context.Context, s auth.Session) error {
	err := c.Sessions.End(ctx, s)
	if err == nil {
		c.ended.WithLabelValues(endedLogout).Inc()
	}
	return err
}

func (c *countedSessions) Revoke(ctx context.Context, identityID uuid.UUID, key string) (bool, error) {
	ok, err := c.Sessions.Revoke(ctx, identityID, key)
	if ok {
		c.ended.WithLabelValues(endedRevoked).Inc()
	}
	return ok, err
}

func (c *countedSessions) RevokeAll(ctx context.Context, identityID uuid.UUID, keep ...string) (int, error) {
	n, err := c.Sessions.RevokeAll(ctx, identityID, keep...)
	c.ended.WithLabelValues(endedRevoked).Add(float64(n))
	return n, err
}

func (c *countedSessions) EndGeneration(ctx context.Context, identityID uuid.UUID, keep ...string) (int64, int, error) {
	gen, n, err := c.Sessions.EndGeneration(ctx, identityID, keep...)
	c.ended.WithLabelValues(endedChanged).Add(float64(n))
	return gen, n, err
}

var _ auth.Sessions = (*countedSessions)(nil)
