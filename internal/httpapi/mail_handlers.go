package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/authd/authd/internal/auth"
)

// accepted is the one reply to a request that may send mail. It is the
// same whether or not the address has an account, or was over its limit.
var accepted = map[string]string{"message": "If the address has an account, a message is on its way."}

type emailRequest struct {
	Email string `json:"email"`
}

// requestRecovery mails a password reset link (202 for every address).
func (s *Server) requestRecovery(c echo.Context) error {
	var req emailRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := s.identities.RequestRecovery(c.Request().Context(), auth.RequestRecovery{Email: req.Email, Client: clientOf(c)}); err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, accepted)
}

type completeRecoveryRequest struct {
	Token    string `json:"token"`
	Password string `json:"password"`
}

// completeRecovery sets the new password; every session of the user ends.
func (s *Server) completeRecovery(c echo.Context) error {
	var req completeRecoveryRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	err := s.identities.CompleteRecovery(c.Request().Context(), auth.CompleteRecovery{Token: req.Token, Password: req.Password, Client: clientOf(c)})
	if err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// resendVerification mails a new verification link (202 for every address).
func (s *Server) resendVerification(c echo.Context) error {
	var req emailRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := s.identities.ResendVerification(c.Request().Context(), auth.ResendVerification{Email: req.Email, Client: clientOf(c)}); err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, accepted)
}

type tokenRequest struct {
	Token string `json:"token"`
}

// verify redeems the token from a verification link. Opening the link
// itself changes nothing: the SPA posts the token here.
func (s *Server) verify(c echo.Context) error {
	var req tokenRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	identity, err := s.identities.VerifyEmail(c.Request().Context(), req.Token, clientOf(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, profileOf(identity.Profile()))
}

// sendVerificationCode mails a new 6-digit code to the logged-in user.
func (s *Server) sendVerificationCode(c echo.Context) error {
	sess, err := sessionOf(c)
	if err != nil {
		return err
	}
	id := sess.IdentityID
	if c.Request().ContentLength != 0 {
		// The body is optional; when sent it must still be well-formed.
		var req emailRequest
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
	}
	if err := s.identities.SendVerificationCode(c.Request().Context(), id); err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, accepted)
}

type codeRequest struct {
	Code string `json:"code"`
}

// submitVerificationCode verifies the address with the code from the mail.
func (s *Server) submitVerificationCode(c echo.Context) error {
	sess, err := sessionOf(c)
	if err != nil {
		return err
	}
	id := sess.IdentityID
	var req codeRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	identity, err := s.identities.SubmitVerificationCode(c.Request().Context(), id, req.Code, clientOf(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, profileOf(identity.Profile()))
}
