package httpapi

import (
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/authd/authd/internal/auth"
)

// errOverloaded sheds a request at once when the server is full: a quick
// 503 the client can retry beats a queue that times everyone out.
var errOverloaded = auth.Overloaded(time.Second, nil)

// limitInFlight caps the API requests being served at once. Probes and
// metrics stay outside the cap, so an overloaded instance still reports.
func limitInFlight(n int) echo.MiddlewareFunc {
	slots := make(chan struct{}, n)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if !strings.HasPrefix(c.Path(), "/api/") {
				return next(c)
			}
			select {
			case slots <- struct{}{}:
				defer func() { <-slots }()
				return next(c)
			default:
				return errOverloaded
			}
		}
	}
}
