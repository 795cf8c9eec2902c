package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/authd/authd/internal/auth"
)

type settingsRequest struct {
	Method          string          `json:"method"`
	Email           string          `json:"email"`
	Password        string          `json:"password"`
	CurrentPassword string          `json:"current_password"`
	Traits          json.RawMessage `json:"traits"`
}

// traits distinguishes an absent field (unchanged) from null or "" (cleared).
type traits struct {
	Username    optionalString `json:"username"`
	GeoLocation optionalString `json:"geo_location"`
}

type optionalString struct {
	set   bool
	value string
}

func (o *optionalString) UnmarshalJSON(b []byte) error {
	o.set = true
	if string(b) == "null" {
		return nil
	}
	return json.Unmarshal(b, &o.value)
}

func (o optionalString) ptr() *string {
	if !o.set {
		return nil
	}
	return &o.value
}

// settings changes the password or the profile of the session's identity.
func (s *Server) settings(c echo.Context) error {
	sess, err := sessionOf(c)
	if err != nil {
		return err
	}
	var req settingsRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	ctx := c.Request().Context()
	switch req.Method {
	case "password":
		if req.Email != "" {
			return invalidFields(auth.FieldError{Field: "email", Code: "unknown_field", Message: "The address is changed with method \"email\"."})
		}
		if len(req.Traits) > 0 {
			return invalidFields(auth.FieldError{Field: "traits", Code: "unknown_field", Message: "Traits are changed with method \"profile\"."})
		}
		changed, err := s.identities.ChangePassword(ctx, auth.ChangePassword{
			Session: sess, Password: req.Password, CurrentPassword: req.CurrentPassword, Client: clientOf(c),
		})
		if err != nil {
			return err
		}
		// A privilege change: the caller's session has a new token.
		s.setSessionCookie(c, changed.Session)
		return c.JSON(http.StatusOK, profileOf(changed.Identity.Profile()))
	case "profile":
		if req.Email != "" {
			return invalidFields(auth.FieldError{Field: "email", Code: "unknown_field", Message: "The address is changed with method \"email\"."})
		}
		if req.Password != "" || req.CurrentPassword != "" {
			return invalidFields(auth.FieldError{Field: "password", Code: "unknown_field", Message: "The password is changed with method \"password\"."})
		}
		var t traits
		if len(req.Traits) == 0 || string(req.Traits) == "null" {
			return invalidFields(auth.FieldError{Field: "traits", Code: "required", Message: "Send the traits to change."})
		}
		if err := decodeBody(req.Traits, &t); err != nil {
			return prefixFields(err, "traits.")
		}
		identity, err := s.identities.UpdateProfile(ctx, auth.UpdateProfile{IdentityID: sess.IdentityID, Username: t.Username.ptr(), GeoLocation: t.GeoLocation.ptr(), Client: clientOf(c)})
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, profileOf(identity.Profile()))
	case "email":
		if req.Password != "" || req.CurrentPassword != "" || len(req.Traits) > 0 {
			return invalidFields(auth.FieldError{Field: "method", Code: "unknown_field", Message: "Method \"email\" takes the new address in \"email\" only."})
		}
		if err := s.identities.RequestEmailChange(ctx, auth.ChangeEmail{Session: sess, Email: req.Email, Client: clientOf(c)}); err != nil {
			return err
		}
		// The same reply whether or not the address has an account.
		return c.JSON(http.StatusAccepted, emailChangeAccepted)
	case "":
		return invalidFields(auth.FieldError{Field: "method", Code: "required", Message: "Choose method \"password\", \"profile\" or \"email\"."})
	default:
		return invalidFields(auth.FieldError{Field: "method", Code: "invalid_choice", Message: "Method must be \"password\", \"profile\" or \"email\"."})
	}
}

// prefixFields points field errors of a nested object at its full path.
func prefixFields(err error, prefix string) error {
	var re *requestError
	if !errors.As(err, &re) {
		return err
	}
	for i := range re.fields {
		re.fields[i].Field = prefix + re.fields[i].Field
	}
	return re
}
