package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// listSessions shows the identity's live sessions; never their tokens.
func (s *Server) listSessions(c echo.Context) error {
	sess, err := sessionOf(c)
	if err != nil {
		return err
	}
	list, err := s.identities.ListSessions(c.Request().Context(), sess)
	if err != nil {
		return err
	}
	out := make([]sessionView, 0, len(list))
	for _, o := range list {
		out = append(out, sessionView{
			ID: o.ID(), CreatedAt: o.CreatedAt.UTC(), LastSeenAt: o.LastSeenAt.UTC(), ExpiresAt: o.ExpiresAt.UTC(),
			IP: o.IP, UserAgent: o.UserAgent, Current: o.Key == sess.Key,
		})
	}
	return c.JSON(http.StatusOK, map[string]any{"sessions": out})
}

// revokeSession ends one of the caller's sessions; an id that is not one
// of them is 404, whoever it belongs to.
func (s *Server) revokeSession(c echo.Context) error {
	sess, err := sessionOf(c)
	if err != nil {
		return err
	}
	if err := s.identities.RevokeSession(c.Request().Context(), sess, c.Param("id"), clientOf(c)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// revokeOtherSessions ends every session of the caller but this one.
func (s *Server) revokeOtherSessions(c echo.Context) error {
	sess, err := sessionOf(c)
	if err != nil {
		return err
	}
	if _, err := s.identities.RevokeOtherSessions(c.Request().Context(), sess, clientOf(c)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// activity lists the caller's recent audit events.
func (s *Server) activity(c echo.Context) error {
	sess, err := sessionOf(c)
	if err != nil {
		return err
	}
	events, err := s.identities.Activity(c.Request().Context(), sess.IdentityID)
	if err != nil {
		return err
	}
	out := make([]eventView, 0, len(events))
	for _, e := range events {
		out = append(out, eventView{Event: string(e.Type), IP: e.IP, UserAgent: e.UserAgent, CreatedAt: e.CreatedAt.UTC()})
	}
	return c.JSON(http.StatusOK, map[string]any{"events": out})
}
