package httpapi

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/authd/authd/internal/auth"
)

const sessionKey = "authd.session"

// loadSession finds the live session among the cookies of the session's
// name (a client may send stale duplicates) and keeps it for the handler.
// A store failure is a 503, never "logged out".
func (s *Server) loadSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Add("Vary", "Cookie")
		var tokens []string
		for _, ck := range c.Request().Cookies() {
			if ck.Name == s.cfg.Cookie.Name { // the domain bounds how many it tries
				tokens = append(tokens, ck.Value)
			}
		}
		if len(tokens) > 0 {
			sess, ok, err := s.identities.Authenticate(c.Request().Context(), tokens)
			if err != nil {
				return err
			}
			if ok {
				c.Set(sessionKey, sess)
			}
		}
		return next(c)
	}
}

// completeSession answers 403 second_factor_required to a session that
// still owes its second factor: of a half-finished login, only the second
// step, /me and logout may be used.
func (s *Server) completeSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := s.identities.RequireCompleteSession(c.Request().Context(), currentSession(c)); err != nil {
			return err
		}
		return next(c)
	}
}

// currentSession is the request's session, or the zero Session.
func currentSession(c echo.Context) auth.Session {
	sess, _ := c.Get(sessionKey).(auth.Session)
	return sess
}

// sessionOf is the request's session, or 401.
func sessionOf(c echo.Context) (auth.Session, error) {
	sess := currentSession(c)
	if !sess.Live() {
		return auth.Session{}, auth.ErrUnauthenticated
	}
	return sess, nil
}

// setSessionCookie hands the client the token of a started session.
func (s *Server) setSessionCookie(c echo.Context, started auth.StartedSession) {
	c.SetCookie(s.cookie(started.Token, started.ExpiresAt))
}

// clearSessionCookie tells the client to forget its session cookie.
func (s *Server) clearSessionCookie(c echo.Context) {
	c.SetCookie(s.cookie("", time.Unix(1, 0)))
}

func (s *Server) cookie(value string, expires time.Time) *http.Cookie {
	ck := &http.Cookie{
		Name: s.cfg.Cookie.Name, Value: value, Path: "/", Domain: s.cfg.Cookie.Domain,
		Expires: expires.UTC(), HttpOnly: true, Secure: s.cfg.Cookie.Secure, SameSite: http.SameSiteLaxMode,
	}
	if value == "" {
		ck.MaxAge = -1
	} else {
		ck.MaxAge = max(int(time.Until(expires).Seconds()), 1)
	}
	return ck
}
