package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

var emailChangeAccepted = map[string]string{"message": "Check the new address for a link that confirms the change."}

// deleteAccount deletes the caller's account and clears the cookie.
func (s *Server) deleteAccount(c echo.Context) error {
	sess, err := sessionOf(c)
	if err != nil {
		return err
	}
	if err := s.identities.DeleteAccount(c.Request().Context(), sess, clientOf(c)); err != nil {
		return err
	}
	s.clearSessionCookie(c)
	return c.NoContent(http.StatusNoContent)
}

// cancelEmailChange redeems the old address's "this was not me" link.
func (s *Server) cancelEmailChange(c echo.Context) error {
	var req tokenRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := s.identities.CancelEmailChange(c.Request().Context(), req.Token, clientOf(c)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
