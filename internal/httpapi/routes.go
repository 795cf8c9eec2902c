package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// routes lists every endpoint in one place.
func (s *Server) routes(e *echo.Echo, reg *prometheus.Registry) {
	e.GET("/health", s.health)
	e.GET("/ready", s.ready)
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
	e.GET("/api/v1/openapi.yaml", s.openAPI)

	// Middleware goes on each route rather than on the group: a group with
	// middleware adds a catch-all route that turns 405s into 404s.
	a := e.Group("/api/v1/auth")
	withSession := []echo.MiddlewareFunc{noStore, s.loadSession}
	a.POST("/register", s.register, withSession...)
	a.POST("/login", s.login, withSession...)
	a.POST("/logout", s.logout, withSession...)
	a.GET("/me", s.me, withSession...)
	a.PUT("/settings", s.settings, withSession...)
	a.GET("/sessions", s.listSessions, withSession...)
	a.DELETE("/sessions", s.revokeOtherSessions, withSession...)
	a.DELETE("/sessions/:id", s.revokeSession, withSession...)
	a.GET("/activity", s.activity, withSession...)
	a.POST("/recovery", s.requestRecovery, withSession...)
	a.POST("/recovery/complete", s.completeRecovery, withSession...)
	a.POST("/verify", s.verify, withSession...)
	a.POST("/verify/link", s.resendVerification, withSession...)
	a.POST("/verify/code/send", s.sendVerificationCode, withSession...)
	a.POST("/verify/code/submit", s.submitVerificationCode, withSession...)
}

func (s *Server) openAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, "application/yaml", s.cfg.OpenAPI)
}
