package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image/png"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/pquerna/otp"

	"github.com/authd/authd/internal/auth"
)

type factorsView struct {
	TOTP              bool `json:"totp"`
	Passkeys          int  `json:"passkeys"`
	RecoveryCodesLeft int  `json:"recovery_codes_left"`
}

// meView is the profile with the session's level and the identity's
// factors: the body of /me and of every reply that logs in.
type meView struct {
	profileView
	AAL     string      `json:"aal"`
	Factors factorsView `json:"factors"`
}

func meOf(p auth.Profile, sess auth.Session) meView {
	return meView{profileView: profileOf(p), AAL: sess.Level().String(), Factors: factorsView(p.Factors)}
}

func loggedInView(in auth.LoggedIn) meView {
	p := in.Identity.Profile()
	p.Factors = in.Factors
	return meOf(p, in.Session.Session)
}

func methodNames(ms []auth.Method) []string {
	if len(ms) == 0 {
		return nil
	}
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = string(m)
	}
	return out
}

// secondFactorView answers a right password on an account with a second
// factor: the session it starts can only take the second step.
type secondFactorView struct {
	SecondFactorRequired bool     `json:"second_factor_required"`
	Methods              []string `json:"methods"`
}

type secondFactorRequest struct {
	Method string `json:"method"`
	Code   string `json:"code"`
}

// loginSecondFactor completes a login with a TOTP or recovery code.
func (s *Server) loginSecondFactor(c echo.Context) error {
	sess, err := sessionOf(c)
	if err != nil {
		return err
	}
	var req secondFactorRequest
	if err := decodeJSON(c, &req); err != nil {
		s.metrics.login("second_factor", false, err)
		return err
	}
	in, err := s.identities.LoginSecondFactor(c.Request().Context(), auth.SecondFactorLogin{
		Session: sess, Method: auth.Method(req.Method), Code: req.Code, Client: clientOf(c)})
	s.metrics.login("second_factor", false, err)
	if err != nil {
		return err
	}
	s.setSessionCookie(c, in.Session)
	return c.JSON(http.StatusOK, loggedInView(in))
}

type totpSetupView struct {
	Secret     string `json:"secret"`
	OTPAuthURL string `json:"otpauth_url"`
	QRCode     string `json:"qr_code"`
}

// setUpTOTP starts a TOTP enrolment: the secret as text, URL and QR code.
func (s *Server) setUpTOTP(c echo.Context) error {
	sess, err := sessionOf(c)
	if err != nil {
		return err
	}
	setup, err := s.identities.SetUpTOTP(c.Request().Context(), sess)
	if err != nil {
		return err
	}
	qr, err := qrDataURL(setup.URL)
	if err != nil {
		return auth.Internal("TOTP QR code", err)
	}
	return c.JSON(http.StatusOK, totpSetupView{Secret: setup.Secret, OTPAuthURL: setup.URL, QRCode: qr})
}

// qrDataURL draws the otpauth URL as a PNG QR code in a data URL, so the
// page shows it without another request (and the secret never sits in a
// URL that a log or a cache could keep).
func qrDataURL(otpauth string) (string, error) {
	key, err := otp.NewKeyFromURL(otpauth)
	if err != nil {
		return "", err
	}
	img, err := key.Image(240, 240)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return "", err
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(b.Bytes()), nil
}

type recoveryCodesView struct {
	RecoveryCodes []string `json:"recovery_codes"`
}

// confirmTOTP enables TOTP with a first code and shows the recovery codes.
func (s *Server) confirmTOTP(c echo.Context) error {
	sess, err := sessionOf(c)
	if err != nil {
		return err
	}
	var req codeRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	out, err := s.identities.ConfirmTOTP(c.Request().Context(), sess, req.Code, clientOf(c))
	if err != nil {
		return err
	}
	s.setSessionCookie(c, out.Session)
	return c.JSON(http.StatusOK, recoveryCodesView{RecoveryCodes: out.RecoveryCodes})
}

// removeTOTP turns TOTP off.
func (s *Server) removeTOTP(c echo.Context) error {
	sess, err := sessionOf(c)
	if err != nil {
		return err
	}
	if err := s.identities.RemoveTOTP(c.Request().Context(), sess, clientOf(c)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// regenerateRecoveryCodes replaces the recovery codes.
func (s *Server) regenerateRecoveryCodes(c echo.Context) error {
	sess, err := sessionOf(c)
	if err != nil {
		return err
	}
	out, err := s.identities.RegenerateRecoveryCodes(c.Request().Context(), sess, clientOf(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, recoveryCodesView{RecoveryCodes: out.Codes})
}

type passkeyView struct {
	ID             uuid.UUID  `json:"id"`
	Name           string     `json:"name"`
	CreatedAt      time.Time  `json:"created_at"`
	LastUsedAt     *time.Time `json:"last_used_at"`
	BackupEligible bool       `json:"backup_eligible"`
	BackupState    bool       `json:"backup_state"`
}

func passkeyOf(p auth.Passkey) passkeyView {
	v := passkeyView{ID: p.ID, Name: p.Name, CreatedAt: p.CreatedAt.UTC(), BackupEligible: p.BackupEligible, BackupState: p.BackupState}
	if p.LastUsedAt != nil {
		t := p.LastUsedAt.UTC()
		v.LastUsedAt = &t
	}
	return v
}

// beginPasskeyRegistration answers with the options for
// navigator.credentials.create.
func (s *Server) beginPasskeyRegistration(c echo.Context) error {
	sess, err := sessionOf(c)
	if err != nil {
		return err
	}
	cer, err := s.identities.BeginPasskeyRegistration(c.Request().Context(), sess)
	if err != nil {
		return err
	}
	return c.JSONBlob(http.StatusOK, cer.Options)
}

type passkeyRegistrationRequest struct {
	Name       string          `json:"name"`
	Credential json.RawMessage `json:"credential"`
}

// finishPasskeyRegistration stores the new passkey.
func (s *Server) finishPasskeyRegistration(c echo.Context) error {
	sess, err := sessionOf(c)
	if err != nil {
		return err
	}
	var req passkeyRegistrationRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if len(req.Credential) == 0 {
		return invalidFields(auth.FieldError{Field: "credential", Code: "required", Message: "The credential is required."})
	}
	out, err := s.identities.FinishPasskeyRegistration(c.Request().Context(), auth.RegisterPasskey{
		Session: sess, Name: req.Name, Response: req.Credential, Client: clientOf(c)})
	if err != nil {
		return err
	}
	s.setSessionCookie(c, out.Session)
	return c.JSON(http.StatusCreated, passkeyOf(out.Passkey))
}

// listPasskeys shows the caller's passkeys.
func (s *Server) listPasskeys(c echo.Context) error {
	sess, err := sessionOf(c)
	if err != nil {
		return err
	}
	list, err := s.identities.ListPasskeys(c.Request().Context(), sess)
	if err != nil {
		return err
	}
	out := make([]passkeyView, 0, len(list))
	for _, p := range list {
		out = append(out, passkeyOf(p))
	}
	return c.JSON(http.StatusOK, map[string]any{"passkeys": out})
}

type renamePasskeyRequest struct {
	Name string `json:"name"`
}

// passkeyID is the id in the path; one that is not a UUID names nothing.
func passkeyID(c echo.Context) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return uuid.Nil, auth.ErrPasskeyNotFound
	}
	return id, nil
}

// renamePasskey gives one of the caller's passkeys a new name.
func (s *Server) renamePasskey(c echo.Context) error {
	sess, err := sessionOf(c)
	if err != nil {
		return err
	}
	var req renamePasskeyRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	id, err := passkeyID(c)
	if err != nil {
		return err
	}
	if req.Name == "" {
		return invalidFields(auth.FieldError{Field: "name", Code: "required", Message: "A name is required."})
	}
	p, err := s.identities.RenamePasskey(c.Request().Context(), sess, id, req.Name, clientOf(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, passkeyOf(p))
}

// deletePasskey removes one of the caller's passkeys.
func (s *Server) deletePasskey(c echo.Context) error {
	sess, err := sessionOf(c)
	if err != nil {
		return err
	}
	id, err := passkeyID(c)
	if err != nil {
		return err
	}
	if err := s.identities.DeletePasskey(c.Request().Context(), sess, id, clientOf(c)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// beginPasskeyLogin answers with the options for navigator.credentials.get:
// a passwordless sign-in, or the second step of the caller's session.
func (s *Server) beginPasskeyLogin(c echo.Context) error {
	if c.Request().ContentLength > 0 {
		var none struct{}
		if err := decodeJSON(c, &none); err != nil {
			return err
		}
	}
	cer, err := s.identities.BeginPasskeyLogin(c.Request().Context(), currentSession(c), clientOf(c))
	if err != nil {
		return err
	}
	return c.JSONBlob(http.StatusOK, cer.Options)
}

type passkeyLoginRequest struct {
	Credential json.RawMessage `json:"credential"`
}

// finishPasskeyLogin signs in with the passkey's assertion.
func (s *Server) finishPasskeyLogin(c echo.Context) error {
	var req passkeyLoginRequest
	if err := decodeJSON(c, &req); err != nil {
		s.metrics.login("passkey", false, err)
		return err
	}
	if len(req.Credential) == 0 {
		err := invalidFields(auth.FieldError{Field: "credential", Code: "required", Message: "The credential is required."})
		s.metrics.login("passkey", false, err)
		return err
	}
	in, err := s.identities.FinishPasskeyLogin(c.Request().Context(), auth.PasskeyLogin{
		Response: req.Credential, Client: clientOf(c), Current: currentSession(c)})
	s.metrics.login("passkey", false, err)
	if err != nil {
		return err
	}
	s.setSessionCookie(c, in.Session)
	return c.JSON(http.StatusOK, loggedInView(in))
}
