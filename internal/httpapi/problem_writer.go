package httpapi

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
)

// What the admin API (package adminapi), a second HTTP adapter on its own
// listener, shares with this one: the one mapping of domain errors to
// statuses and problem documents, the strict JSON decoding, and the
// headers every response carries. Shared rather than copied, so that the
// two APIs cannot drift apart in how they refuse input.

// WriteProblem writes err as a problem+json document with the status its
// kind maps to, as the public API's error handler does, and returns the
// status and whether it is a server fault (for the caller's log).
func WriteProblem(c echo.Context, err error) (status int, fault bool) {
	p, retryAfter, fault := toProblem(err)
	h := c.Response().Header()
	if retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(retryAfter))
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(p.Status)
		return p.Status, fault
	}
	h.Set(echo.HeaderContentType, "application/problem+json")
	c.Response().WriteHeader(p.Status)
	_ = writeJSON(c.Response(), p)
	return p.Status, fault
}

// DecodeJSON reads the request body strictly into dst: a JSON media type,
// valid UTF-8, one object, no duplicate or unknown keys, bounded depth.
func DecodeJSON(c echo.Context, dst any) error { return decodeJSON(c, dst) }

// SecurityHeaders sets the headers every response of the API carries.
func SecurityHeaders(next echo.HandlerFunc) echo.HandlerFunc { return securityHeaders(next) }

// NoStore keeps a response out of every cache.
func NoStore(next echo.HandlerFunc) echo.HandlerFunc { return noStore(next) }
