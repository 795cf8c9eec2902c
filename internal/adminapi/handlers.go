package adminapi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/authd/authd/internal/auth"
	"github.com/authd/authd/internal/httpapi"
)

// query reads a request's query parameters strictly: every one must be
// known (a misspelt filter must not quietly list everyone), none given
// twice, and each refusal names the parameter.
type query struct {
	values url.Values
	errs   []auth.FieldError
}

func newQuery(c echo.Context, known ...string) *query {
	q := &query{values: c.QueryParams()}
	allowed := map[string]bool{}
	for _, k := range known {
		allowed[k] = true
	}
	for k, v := range q.values {
		switch {
		case !allowed[k]:
			q.fail(k, "unknown_parameter", "This query parameter is not known here.")
		case len(v) > 1:
			q.fail(k, "repeated_parameter", "Give this query parameter once.")
		}
	}
	return q
}

func (q *query) fail(field, code, message string) {
	q.errs = append(q.errs, auth.FieldError{Field: field, Code: code, Message: message})
}

func (q *query) text(k string) string { return q.values.Get(k) }

func (q *query) boolean(k string) *bool {
	v := q.values.Get(k)
	if v == "" {
		return nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		q.fail(k, "invalid_boolean", "Give true or false.")
		return nil
	}
	return &b
}

func (q *query) time(k string) time.Time {
	v := q.values.Get(k)
	if v == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		q.fail(k, "invalid_time", "Give an RFC 3339 time, such as 2026-01-02T15:04:05Z.")
	}
	return t
}

// pageSize reads a page size; one given as 0 is refused like any other
// size out of range (0 stands for "the default" in the use case).
func (q *query) pageSize(k string) int {
	v := q.values.Get(k)
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		q.fail(k, "invalid_integer", "Give a whole number.")
		return 0
	}
	if n == 0 {
		return -1
	}
	return n
}

func (q *query) err() error {
	if len(q.errs) == 0 {
		return nil
	}
	return auth.Invalid(q.errs...)
}

// identityID reads the {id} of a path; a malformed one names no identity.
func identityID(c echo.Context) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return uuid.Nil, auth.ErrIdentityNotFound
	}
	return id, nil
}

func (s *Server) listIdentities(c echo.Context) error {
	q := newQuery(c, "email", "email_prefix", "username", "state", "verified", "created_after", "created_before",
		"has_second_factor", "page_size", "cursor")
	f := auth.IdentityQuery{
		EmailPrefix: q.text("email_prefix"), Username: q.text("username"), State: auth.State(q.text("state")),
		Verified: q.boolean("verified"), CreatedFrom: q.time("created_after"), CreatedUntil: q.time("created_before"),
		HasSecondFactor: q.boolean("has_second_factor"), Limit: q.pageSize("page_size"),
	}
	if v := q.text("email"); v != "" {
		email, err := auth.ParseEmail(v)
		if err != nil {
			q.fail("email", "email_invalid", "Give a whole address, or use email_prefix.")
		}
		f.Email = email
	}
	if v := q.text("cursor"); v != "" {
		cur, ok := DecodeIdentityCursor(v)
		if !ok {
			q.fail("cursor", "invalid", "The cursor is not one this server gave.")
		}
		f.After = cur
	}
	if err := q.err(); err != nil {
		return err
	}
	page, err := s.admin.ListIdentities(c.Request().Context(), actorOf(c), f)
	if err != nil {
		return err
	}
	out := identityPageView{Identities: make([]IdentityView, 0, len(page.Identities))}
	for _, m := range page.Identities {
		out.Identities = append(out.Identities, IdentityOf(m))
	}
	if page.Next != nil {
		next := EncodeIdentityCursor(*page.Next)
		out.NextCursor = &next
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) getIdentity(c echo.Context) error {
	id, err := identityID(c)
	if err != nil {
		return err
	}
	m, err := s.admin.GetIdentity(c.Request().Context(), actorOf(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, IdentityOf(m))
}

type createRequest struct {
	Email         string `json:"email"`
	Password      string `json:"password"`
	PasswordHash  string `json:"password_hash"`
	Username      string `json:"username"`
	GeoLocation   string `json:"geo_location"`
	EmailVerified bool   `json:"email_verified"`
	State         string `json:"state"`
}

func (s *Server) createIdentity(c echo.Context) error {
	var req createRequest
	if err := httpapi.DecodeJSON(c, &req); err != nil {
		return err
	}
	m, err := s.admin.CreateIdentity(c.Request().Context(), actorOf(c), auth.NewIdentity{
		Email: req.Email, Password: req.Password, PasswordHash: req.PasswordHash, Username: req.Username,
		GeoLocation: req.GeoLocation, EmailVerified: req.EmailVerified, State: auth.State(req.State),
	})
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/admin/v1/identities/"+m.ID.String())
	return c.JSON(http.StatusCreated, IdentityOf(m))
}

// optional tells an absent field (unchanged) from null or "" (cleared).
type optional[T any] struct {
	set   bool
	null  bool
	value T
}

func (o *optional[T]) UnmarshalJSON(b []byte) error {
	o.set = true
	if string(b) == "null" {
		o.null = true
		return nil
	}
	return json.Unmarshal(b, &o.value)
}

type updateRequest struct {
	Email         optional[string] `json:"email"`
	EmailVerified optional[bool]   `json:"email_verified"`
	Username      optional[string] `json:"username"`
	GeoLocation   optional[string] `json:"geo_location"`
	State         optional[string] `json:"state"`
}

func (s *Server) updateIdentity(c echo.Context) error {
	id, err := identityID(c)
	if err != nil {
		return err
	}
	var req updateRequest
	if err := httpapi.DecodeJSON(c, &req); err != nil {
		return err
	}
	cmd := auth.IdentityChange{ID: id}
	var errs []auth.FieldError
	for name, o := range map[string]*optional[string]{"email": &req.Email, "state": &req.State} {
		if o.set && o.null {
			errs = append(errs, auth.FieldError{Field: name, Code: "required", Message: "This field cannot be cleared."})
		}
	}
	if req.EmailVerified.set && req.EmailVerified.null {
		errs = append(errs, auth.FieldError{Field: "email_verified", Code: "required", Message: "Give true or false."})
	}
	if len(errs) > 0 {
		return auth.Invalid(errs...)
	}
	if req.Email.set {
		cmd.Email = &req.Email.value
	}
	if req.EmailVerified.set {
		cmd.EmailVerified = &req.EmailVerified.value
	}
	if req.Username.set {
		cmd.Username = &req.Username.value
	}
	if req.GeoLocation.set {
		cmd.GeoLocation = &req.GeoLocation.value
	}
	if req.State.set {
		st := auth.State(req.State.value)
		cmd.State = &st
	}
	m, err := s.admin.UpdateIdentity(c.Request().Context(), actorOf(c), cmd)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, IdentityOf(m))
}

func (s *Server) deleteIdentity(c echo.Context) error {
	id, err := identityID(c)
	if err != nil {
		return err
	}
	if err := s.admin.DeleteIdentity(c.Request().Context(), actorOf(c), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) listSessions(c echo.Context) error {
	id, err := identityID(c)
	if err != nil {
		return err
	}
	list, err := s.admin.IdentitySessions(c.Request().Context(), actorOf(c), id)
	if err != nil {
		return err
	}
	out := make([]SessionView, 0, len(list))
	for _, o := range list {
		out = append(out, SessionOf(o))
	}
	return c.JSON(http.StatusOK, map[string]any{"sessions": out})
}

func (s *Server) endSessions(c echo.Context) error {
	id, err := identityID(c)
	if err != nil {
		return err
	}
	n, err := s.admin.EndIdentitySessions(c.Request().Context(), actorOf(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]int{"ended": n})
}

func (s *Server) endSession(c echo.Context) error {
	id, err := identityID(c)
	if err != nil {
		return err
	}
	if err := s.admin.EndIdentitySession(c.Request().Context(), actorOf(c), id, c.Param("session_id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

type recoveryLinkRequest struct {
	SendMail bool `json:"send_mail"`
}

// recoveryLink answers 201 with the link, or 202 when it was mailed. The
// body is optional: none returns the link.
func (s *Server) recoveryLink(c echo.Context) error {
	id, err := identityID(c)
	if err != nil {
		return err
	}
	var req recoveryLinkRequest
	if c.Request().ContentLength != 0 {
		if err := httpapi.DecodeJSON(c, &req); err != nil {
			return err
		}
	}
	link, err := s.admin.IssueRecoveryLink(c.Request().Context(), actorOf(c), id, req.SendMail)
	if err != nil {
		return err
	}
	if link.Mailed {
		return c.JSON(http.StatusAccepted, map[string]any{"mailed": true, "expires_at": link.ExpiresAt.UTC()})
	}
	return c.JSON(http.StatusCreated, map[string]any{"link": link.Link, "expires_at": link.ExpiresAt.UTC()})
}

func (s *Server) removeSecondFactors(c echo.Context) error {
	id, err := identityID(c)
	if err != nil {
		return err
	}
	removed, err := s.admin.RemoveSecondFactors(c.Request().Context(), actorOf(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"removed": FactorsOf(removed)})
}

func (s *Server) auditEvents(c echo.Context) error {
	q := newQuery(c, "identity_id", "event", "ip", "from", "until", "page_size", "cursor")
	f := auth.AuditQuery{Event: auth.EventType(q.text("event")), IP: q.text("ip"), From: q.time("from"), Until: q.time("until"),
		Limit: q.pageSize("page_size")}
	if v := q.text("identity_id"); v != "" {
		id, err := uuid.Parse(v)
		if err != nil {
			q.fail("identity_id", "invalid_uuid", "Give an identity id.")
		}
		f.IdentityID = &id
	}
	if v := q.text("cursor"); v != "" {
		before, ok := parseEventCursor(v)
		if !ok {
			q.fail("cursor", "invalid", "The cursor is not one this server gave.")
		}
		f.Before = before
	}
	if err := q.err(); err != nil {
		return err
	}
	page, err := s.admin.QueryAudit(c.Request().Context(), actorOf(c), f)
	if err != nil {
		return err
	}
	out := eventPageView{Events: make([]eventView, 0, len(page.Events))}
	for _, e := range page.Events {
		out.Events = append(out.Events, eventView{ID: e.ID, Event: string(e.Type), IdentityID: e.IdentityID, Actor: e.Actor,
			IP: e.IP, UserAgent: e.UserAgent, RequestID: e.RequestID, CreatedAt: e.CreatedAt.UTC()})
	}
	if page.Next != 0 {
		next := eventCursor(page.Next)
		out.NextCursor = &next
	}
	return c.JSON(http.StatusOK, out)
}
