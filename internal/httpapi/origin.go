package httpapi

import (
	"net"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// ipExtractor takes the client IP from the socket, and from
// X-Forwarded-For only when the request came through a trusted proxy:
// otherwise any client could pick its own rate-limit bucket.
func ipExtractor(trusted []*net.IPNet) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range trusted {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// newCSRF refuses state-changing browser requests from other origins,
// using the Sec-Fetch-Site and Origin headers the way Go's
// CrossOriginProtection does. Requests without either header (curl, k6,
// server-to-server) pass: they carry no ambient browser credentials.
func newCSRF(trustedOrigins []string) (echo.MiddlewareFunc, error) {
	cop := http.NewCrossOriginProtection()
	for _, o := range trustedOrigins {
		if err := cop.AddTrustedOrigin(o); err != nil {
			return nil, err
		}
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := cop.Check(c.Request()); err != nil {
				return &requestError{status: http.StatusForbidden, code: codeCrossOrigin,
					detail: "Cross-origin requests that change state are refused."}
			}
			return next(c)
		}
	}, nil
}

// cors lets the configured origins call the API with credentials. It never
// answers with a wildcard.
func cors(origins []string) echo.MiddlewareFunc {
	return middleware.CORSWithConfig(middleware.CORSConfig{
		AllowOrigins:     origins,
		AllowCredentials: true,
		AllowMethods:     []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete},
		AllowHeaders:     []string{echo.HeaderContentType, echo.HeaderXRequestID},
		ExposeHeaders:    []string{echo.HeaderXRequestID, "Retry-After"},
		MaxAge:           600,
	})
}
