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
	if !s.cfg.MetricsElsewhere {
		e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
	}
	e.GET("/api/v1/openapi.yaml", s.openAPI)
	e.GET("/api/v1/docs", s.docsPage)
	e.GET("/api/v1/docs/:name", s.docsAsset)

	// Middleware goes on each route rather than on the group: a group with
	// middleware adds a catch-all route that turns 405s into 404s.
	a := e.Group("/api/v1/auth")
	// withSession refuses a session that still owes its second factor;
	// only the routes that finish or abandon a login take one.
	withSession := []echo.MiddlewareFunc{noStore, s.loadSession, s.completeSession}
	pendingAllowed := []echo.MiddlewareFunc{noStore, s.loadSession}
	a.POST("/register", s.register, withSession...)
	a.POST("/login", s.login, pendingAllowed...)
	a.POST("/login/second-factor", s.loginSecondFactor, pendingAllowed...)
	a.POST("/passkeys/login/begin", s.beginPasskeyLogin, pendingAllowed...)
	a.POST("/passkeys/login/finish", s.finishPasskeyLogin, pendingAllowed...)
	a.POST("/logout", s.logout, pendingAllowed...)
	a.GET("/me", s.me, pendingAllowed...)
	a.DELETE("/me", s.deleteAccount, withSession...)
	a.POST("/mfa/totp/setup", s.setUpTOTP, withSession...)
	a.POST("/mfa/totp/confirm", s.confirmTOTP, withSession...)
	a.DELETE("/mfa/totp", s.removeTOTP, withSession...)
	a.POST("/mfa/recovery-codes", s.regenerateRecoveryCodes, withSession...)
	a.POST("/passkeys/register/begin", s.beginPasskeyRegistration, withSession...)
	a.POST("/passkeys/register/finish", s.finishPasskeyRegistration, withSession...)
	a.GET("/passkeys", s.listPasskeys, withSession...)
	a.PATCH("/passkeys/:id", s.renamePasskey, withSession...)
	a.DELETE("/passkeys/:id", s.deletePasskey, withSession...)
	a.PUT("/settings", s.settings, withSession...)
	a.GET("/sessions", s.listSessions, withSession...)
	a.DELETE("/sessions", s.revokeOtherSessions, withSession...)
	a.DELETE("/sessions/:id", s.revokeSession, withSession...)
	a.GET("/activity", s.activity, withSession...)
	a.POST("/recovery", s.requestRecovery, withSession...)
	a.POST("/recovery/complete", s.completeRecovery, withSession...)
	a.POST("/verify", s.verify, withSession...)
	a.POST("/email/cancel", s.cancelEmailChange, withSession...)
	a.POST("/verify/link", s.resendVerification, withSession...)
	a.POST("/verify/code/send", s.sendVerificationCode, withSession...)
	a.POST("/verify/code/submit", s.submitVerificationCode, withSession...)
}

func (s *Server) openAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, "application/yaml", s.cfg.OpenAPI)
}
