package httpapi

import (
	"net/http"

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
		s.metrics.registration(false, err)
		return err
	}
	cmd := auth.Register{Email: req.Identifier, Password: req.Password, Username: req.Username, GeoLocation: req.GeoLocation,
		EmailField: "identifier", Client: clientOf(c), Current: currentSession(c)}
	if req.Identifier == "" && req.Email != "" {
		cmd.Email, cmd.EmailField = req.Email, "email"
	}
	reg, err := s.identities.Register(c.Request().Context(), cmd)
	s.metrics.registration(err == nil && !reg.LoggedIn, err)
	if err != nil {
		return err
	}
	if !reg.LoggedIn {
		// Strict mode: the same reply for a new and a taken address.
		return c.JSON(http.StatusAccepted, registrationAccepted)
	}
	s.setSessionCookie(c, reg.Session)
	return c.JSON(http.StatusCreated, meOf(reg.Identity.Profile(), reg.Session.Session))
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
		s.metrics.login("password", false, err)
		return err
	}
	in, err := s.identities.Login(c.Request().Context(), auth.Login{
		Identifier: req.Identifier, Password: req.Password, Client: clientOf(c), Current: currentSession(c),
	})
	s.metrics.login("password", err == nil && in.Session.SecondFactorPending, err)
	if err != nil {
		return err
	}
	s.setSessionCookie(c, in.Session)
	if in.Session.SecondFactorPending {
		return c.JSON(http.StatusOK, secondFactorView{SecondFactorRequired: true, Methods: methodNames(in.Factors.SecondSteps())})
	}
	return c.JSON(http.StatusOK, loggedInView(in))
}

// logout ends the session on the server and clears the cookie.
func (s *Server) logout(c echo.Context) error {
	sess, err := sessionOf(c)
	if err != nil {
		return err
	}
	if err := s.identities.Logout(c.Request().Context(), sess, clientOf(c)); err != nil {
		return err
	}
	s.clearSessionCookie(c)
	return c.NoContent(http.StatusNoContent)
}

// me returns the profile of the session's identity, its level and its
// factors; a session that owes its second factor gets 403 with the
// methods that can pay it.
func (s *Server) me(c echo.Context) error {
	sess, err := sessionOf(c)
	if err != nil {
		return err
	}
	if err := s.identities.RequireCompleteSession(c.Request().Context(), sess); err != nil {
		return err
	}
	profile, err := s.identities.CurrentProfile(c.Request().Context(), sess.IdentityID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, meOf(profile, sess))
}

func clientOf(c echo.Context) auth.Client {
	return auth.NewClient(c.RealIP(), c.Request().UserAgent(), logging.RequestID(c.Request().Context()))
}
