package httpapi

import (
	"net/http"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/authd/authd/internal/auth"
	"github.com/authd/authd/internal/logging"
)

type registerRequest struct {
	Identifier  string `json:"identifier"`
	Email       string `json:"email"`
	Password    string `json:"password"`
	Username    string `json:"username"`
	GeoLocation string `json:"geo_location"`
}

// register creates the identity and logs it in (201 + session cookie).
func (s *Server) register(c echo.Context) error {
	var req registerRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	cmd := auth.Register{Email: req.Identifier, Password: req.Password, Username: req.Username, GeoLocation: req.GeoLocation, EmailField: "identifier", Client: clientOf(c)}
	if req.Identifier == "" && req.Email != "" {
		cmd.Email, cmd.EmailField = req.Email, "email"
	}
	ctx := c.Request().Context()
	reg, err := s.identities.Register(ctx, cmd)
	if err != nil {
		return err
	}
	if !reg.LogIn {
		// Strict mode: the same reply for a new and a taken address.
		return c.JSON(http.StatusAccepted, registrationAccepted)
	}
	if err := s.sessions.Start(ctx, reg.Identity.ID, clientOf(c)); err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, reg.Identity.Profile())
}

var registrationAccepted = map[string]string{"message": "Check your inbox to finish signing up."}

type loginRequest struct {
	Identifier string `json:"identifier"`
	Password   string `json:"password"`
}

// login checks the credentials and starts a new session; a session the
// client already had is replaced, never reused.
func (s *Server) login(c echo.Context) error {
	var req loginRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	ctx := c.Request().Context()
	identity, err := s.identities.Login(ctx, auth.Login{Identifier: req.Identifier, Password: req.Password, Client: clientOf(c)})
	if err != nil {
		return err
	}
	if err := s.sessions.Start(ctx, identity.ID, clientOf(c)); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, identity.Profile())
}

// logout ends the session on the server and clears the cookie.
func (s *Server) logout(c echo.Context) error {
	ctx := c.Request().Context()
	id, ok := s.sessions.IdentityID(ctx)
	if !ok {
		return auth.ErrUnauthenticated
	}
	if err := s.sessions.End(ctx); err != nil {
		return err
	}
	s.identities.Logout(ctx, id, clientOf(c))
	return c.NoContent(http.StatusNoContent)
}

// me returns the profile of the session's identity.
func (s *Server) me(c echo.Context) error {
	ctx := c.Request().Context()
	id, err := s.identityOf(c)
	if err != nil {
		return err
	}
	profile, err := s.identities.CurrentProfile(ctx, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, profile)
}

// identityOf is the identity of the request's session, or 401.
func (s *Server) identityOf(c echo.Context) (uuid.UUID, error) {
	id, ok := s.sessions.IdentityID(c.Request().Context())
	if !ok {
		return uuid.UUID{}, auth.ErrUnauthenticated
	}
	return id, nil
}

func clientOf(c echo.Context) auth.Client {
	return auth.NewClient(c.RealIP(), c.Request().UserAgent(), logging.RequestID(c.Request().Context()))
}
