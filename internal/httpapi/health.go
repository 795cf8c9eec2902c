package httpapi

import (
	"context"
	"net/http"
	"sync"

	"github.com/labstack/echo/v4"
)

func (s *Server) health(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

type readiness struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

// ready checks every dependency in parallel, each within the ready timeout,
// unless the instance is draining.
// Failures are logged with their cause; the reply only names the dependency.
func (s *Server) ready(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	if s.cfg.Draining != nil && s.cfg.Draining() {
		// No check runs: the answer is "send elsewhere", whatever the
		// dependencies say, while every other route is still served.
		return c.JSON(http.StatusServiceUnavailable, readiness{Status: "draining", Checks: map[string]string{}})
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), s.cfg.ReadyTimeout)
	defer cancel()
	res := readiness{Status: "ok", Checks: make(map[string]string, len(s.checks))}
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for name, check := range s.checks {
		wg.Go(func() {
			err := check(ctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				s.log.WarnContext(ctx, "readiness check failed", "dependency", name, "error", err)
				res.Checks[name], res.Status = "unavailable", "unavailable"
				return
			}
			res.Checks[name] = "ok"
		})
	}
	wg.Wait()
	status := http.StatusOK
	if res.Status != "ok" {
		status = http.StatusServiceUnavailable
		c.Response().Header().Set("Retry-After", "1")
	}
	return c.JSON(status, res)
}
