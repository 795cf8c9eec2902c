package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/authd/authd/internal/auth"
)

// problem is an RFC 9457 problem document. It never carries the request id
// or anything else that differs between two equal failures, so replies can
// be compared byte for byte (no account enumeration through the body).
type problem struct {
	Type   string           `json:"type"`
	Title  string           `json:"title"`
	Status int              `json:"status"`
	Detail string           `json:"detail"`
	Code   string           `json:"code"`
	Errors []fieldErrorView `json:"errors,omitempty"`
	// Methods are the second-step methods of a second_factor_required.
	Methods []string `json:"methods,omitempty"`
}

// Codes the HTTP layer adds to the domain's; stable like those.
const (
	codeMalformedJSON    = "malformed_json"
	codeUnsupportedMedia = "unsupported_media_type"
	codeBodyTooLarge     = "body_too_large"
	codeMethodNotAllowed = "method_not_allowed"
	codeCrossOrigin      = "cross_origin_refused"
)

// statusOf is the one place where a domain error kind becomes an HTTP status.
var statusOf = map[auth.Kind]int{
	auth.KindInvalid:         http.StatusUnprocessableEntity,
	auth.KindUnauthenticated: http.StatusUnauthorized,
	auth.KindForbidden:       http.StatusForbidden,
	auth.KindNotFound:        http.StatusNotFound,
	auth.KindConflict:        http.StatusConflict,
	auth.KindGone:            http.StatusGone,
	auth.KindRateLimited:     http.StatusTooManyRequests,
	auth.KindUnavailable:     http.StatusServiceUnavailable,
	auth.KindInternal:        http.StatusInternalServerError,
}

// requestError is an error of the HTTP exchange itself (bad JSON, wrong
// content type), as opposed to a domain rule.
type requestError struct {
	status int
	code   string
	detail string
	fields []auth.FieldError
}

func (e *requestError) Error() string { return e.code + ": " + e.detail }

// toProblem converts any error into the status and problem to send, and
// says whether it should be logged as a server fault.
func toProblem(err error) (p problem, retryAfter int, serverFault bool) {
	var (
		de *auth.Error
		re *requestError
		he *echo.HTTPError
	)
	switch {
	case errors.As(err, &re):
		p = newProblem(re.status, re.code, re.detail)
		p.Errors = fieldErrorsOf(re.fields)
	case errors.As(err, &de):
		status, ok := statusOf[de.Kind]
		if !ok {
			status = http.StatusInternalServerError
		}
		detail := de.Message
		if status == http.StatusInternalServerError {
			detail = "Internal error."
		}
		p = newProblem(status, de.Code, detail)
		p.Errors = fieldErrorsOf(de.Fields)
		p.Methods = methodNames(de.Methods)
		retryAfter = retrySeconds(de)
	case errors.As(err, &he):
		p = echoProblem(he)
	default:
		p = newProblem(http.StatusInternalServerError, auth.CodeInternal, "Internal error.")
	}
	if p.Status == http.StatusServiceUnavailable && retryAfter == 0 {
		retryAfter = 1
	}
	return p, retryAfter, p.Status >= 500
}

func retrySeconds(e *auth.Error) int {
	if e.RetryAfter <= 0 {
		return 0
	}
	s := int(e.RetryAfter.Seconds())
	if float64(s) < e.RetryAfter.Seconds() {
		s++
	}
	return s
}

// echoProblem covers what Echo itself rejects: unknown routes, wrong
// methods, oversized bodies.
func echoProblem(he *echo.HTTPError) problem {
	switch he.Code {
	case http.StatusNotFound:
		return newProblem(he.Code, auth.CodeNotFound, "No such resource.")
	case http.StatusMethodNotAllowed:
		return newProblem(he.Code, codeMethodNotAllowed, "This method is not allowed on this resource.")
	case http.StatusRequestEntityTooLarge:
		return newProblem(he.Code, codeBodyTooLarge, "The request body is too large.")
	case http.StatusUnsupportedMediaType:
		return newProblem(he.Code, codeUnsupportedMedia, "Send the body as application/json.")
	case http.StatusServiceUnavailable:
		return newProblem(he.Code, auth.CodeUnavailable, "The service is temporarily unavailable. Try again shortly.")
	}
	if he.Code >= 400 && he.Code < 500 {
		return newProblem(he.Code, auth.CodeInvalidInput, http.StatusText(he.Code)+".")
	}
	return newProblem(http.StatusInternalServerError, auth.CodeInternal, "Internal error.")
}

func newProblem(status int, code, detail string) problem {
	return problem{
		Type:   "urn:authd:problem:" + code,
		Title:  http.StatusText(status),
		Status: status,
		Detail: detail,
		Code:   code,
	}
}

// delayShed waits ShedDelay before a 503 overloaded is written, or until
// the client goes away.
func (s *Server) delayShed(ctx context.Context) {
	if s.cfg.ShedDelay <= 0 {
		return
	}
	t := time.NewTimer(s.cfg.ShedDelay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// errorHandler writes every error as problem+json. Server faults are logged
// with their cause; the client sees only the generic detail.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	p, retryAfter, fault := toProblem(err)
	ctx := c.Request().Context()
	switch {
	case p.Code == auth.CodeOverloaded:
		// Shedding is the server working as designed under load, not a
		// fault: counted, and logged only at debug level (one line per
		// refusal at ERROR drowned the logs in a benchmark). The reply waits
		// a little, holding no CPU, so that clients retrying a 503 at once
		// cannot turn refusals into a storm that takes the CPUs from the
		// hashes being served.
		s.metrics.shed.WithLabelValues(c.Path()).Inc()
		s.log.DebugContext(ctx, "request shed", "route", c.Path(), "error", err)
		s.delayShed(ctx)
	case fault:
		s.log.ErrorContext(ctx, "request failed", "status", p.Status, "code", p.Code, "route", c.Path(), "error", err)
	}
	if p.Status == http.StatusTooManyRequests {
		s.metrics.rateLimited.WithLabelValues(c.Path()).Inc()
	}
	h := c.Response().Header()
	if retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(retryAfter))
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(p.Status)
		return
	}
	h.Set(echo.HeaderContentType, "application/problem+json")
	c.Response().WriteHeader(p.Status)
	_ = writeJSON(c.Response(), p)
}
