package valkey

import (
	"context"
	"crypto/tls"
	"net"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// ConnStats counts a client's connections: valkey-go keeps a pipelined
// connection per node plus a pool for blocking commands, and opens more
// when they break. Dials that keep failing, or connections that keep
// growing, show a server or network in trouble before requests fail.
type ConnStats struct {
	open, dials, dialErrors atomic.Int64
}

// NewConnStats returns counters at zero; pass them in Options.Conns and
// register them with a Prometheus registry.
func NewConnStats() *ConnStats { return &ConnStats{} }

var (
	vkOpen       = prometheus.NewDesc("authd_valkey_connections", "Valkey connections open.", nil, nil)
	vkDials      = prometheus.NewDesc("authd_valkey_dials_total", "Valkey connections opened (or tried).", nil, nil)
	vkDialErrors = prometheus.NewDesc("authd_valkey_dial_errors_total", "Valkey connections that could not be opened.", nil, nil)
)

// Describe and Collect make ConnStats a prometheus.Collector.
func (s *ConnStats) Describe(ch chan<- *prometheus.Desc) {
	ch <- vkOpen
	ch <- vkDials
	ch <- vkDialErrors
}

// Collect reports the counters as they are now.
func (s *ConnStats) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(vkOpen, prometheus.GaugeValue, float64(s.open.Load()))
	ch <- prometheus.MustNewConstMetric(vkDials, prometheus.CounterValue, float64(s.dials.Load()))
	ch <- prometheus.MustNewConstMetric(vkDialErrors, prometheus.CounterValue, float64(s.dialErrors.Load()))
}

type dialFunc = func(context.Context, string, *net.Dialer, *tls.Config) (net.Conn, error)

// dial wraps the client's dialer (nil: a plain or TLS dial, as valkey-go's
// own) so that each connection counts while it is open.
func (s *ConnStats) dial(inner dialFunc) dialFunc {
	if inner == nil {
		inner = func(ctx context.Context, dst string, d *net.Dialer, cfg *tls.Config) (net.Conn, error) {
			if cfg != nil {
				td := tls.Dialer{NetDialer: d, Config: cfg}
				return td.DialContext(ctx, "tcp", dst)
			}
			return d.DialContext(ctx, "tcp", dst)
		}
	}
	return func(ctx context.Context, dst string, d *net.Dialer, cfg *tls.Config) (net.Conn, error) {
		s.dials.Add(1)
		c, err := inner(ctx, dst, d, cfg)
		if err != nil {
			s.dialErrors.Add(1)
			return nil, err
		}
		s.open.Add(1)
		return &countedConn{Conn: c, open: &s.open}, nil
	}
}

// countedConn leaves the open count once, however often it is closed.
type countedConn struct {
	net.Conn
	open   *atomic.Int64
	closed atomic.Bool
}

func (c *countedConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.open.Add(-1)
	}
	return c.Conn.Close()
}
