package httpapi

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

type sessionView struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	IP         string    `json:"ip"`
	UserAgent  string    `json:"user_agent"`
	Current    bool      `json:"current"`
}

// listSessions shows the identity's live sessions; never their tokens.
func (s *Server) listSessions(c echo.Context) error {
	id, err := s.identityOf(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	list, err := s.identities.Sessions(ctx, id)
	if err != nil {
		return err
	}
	current := s.sessions.HashedToken(ctx)
	out := make([]sessionView, 0, len(list))
	for _, sess := range list {
		out = append(out, sessionView{
			ID: sess.ID(), CreatedAt: sess.CreatedAt.UTC(), LastSeenAt: sess.LastSeenAt.UTC(), ExpiresAt: sess.ExpiresAt.UTC(),
			IP: sess.IP, UserAgent: sess.UserAgent, Current: sess.HashedToken == current,
		})
	}
	return c.JSON(http.StatusOK, map[string]any{"sessions": out})
}

// revokeSession ends one of the caller's sessions; an id that is not one
// of them is 404, whoever it belongs to.
func (s *Server) revokeSession(c echo.Context) error {
	id, err := s.identityOf(c)
	if err != nil {
		return err
	}
	if err := s.identities.RevokeSession(c.Request().Context(), id, c.Param("id"), clientOf(c)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// revokeOtherSessions ends every session of the caller but this one.
func (s *Server) revokeOtherSessions(c echo.Context) error {
	id, err := s.identityOf(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if _, err := s.identities.RevokeOtherSessions(ctx, id, s.sessions.HashedToken(ctx), clientOf(c)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

type eventView struct {
	Event     string    `json:"event"`
	IP        string    `json:"ip"`
	UserAgent string    `json:"user_agent"`
	CreatedAt time.Time `json:"created_at"`
}

// activity lists the caller's recent audit events.
func (s *Server) activity(c echo.Context) error {
	id, err := s.identityOf(c)
	if err != nil {
		return err
	}
	events, err := s.identities.Activity(c.Request().Context(), id)
	if err != nil {
		return err
	}
	out := make([]eventView, 0, len(events))
	for _, e := range events {
		out = append(out, eventView{Event: string(e.Type), IP: e.IP, UserAgent: e.UserAgent, CreatedAt: e.CreatedAt.UTC()})
	}
	return c.JSON(http.StatusOK, map[string]any{"events": out})
}
