package auth

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies an error by what the caller can do about it. The HTTP
// layer turns a Kind into a status; nothing in this package knows HTTP.
type Kind int

const (
	KindInternal        Kind = iota // a bug or an unexpected failure
	KindInvalid                     // the input breaks a rule
	KindUnauthenticated             // no valid credentials or session
	KindForbidden                   // authenticated, but not allowed now
	KindNotFound                    // the thing does not exist (for this caller)
	KindConflict                    // the input collides with existing state
	KindGone                        // a token that is unknown, used or expired
	KindRateLimited                 // too many attempts; RetryAfter says when
	KindUnavailable                 // a dependency failed or the server sheds load
)

// Stable error codes. Clients switch on them, so they are never renamed.
const (
	CodeInvalidInput       = "invalid_input"
	CodeInvalidCredentials = "invalid_credentials"
	CodeUnauthenticated    = "unauthenticated"
	CodeEmailTaken         = "email_taken"
	CodeUsernameTaken      = "username_taken"
	CodeReauthRequired     = "reauth_required"
	CodeEmailNotVerified   = "email_not_verified"
	CodeNotFound           = "not_found"
	CodeTokenInvalid       = "token_invalid"
	CodeRateLimited        = "rate_limited"
	CodeOverloaded         = "overloaded"
	CodeUnavailable        = "service_unavailable"
	CodeInternal           = "internal_error"

	CodeSecondFactorRequired = "second_factor_required"
	CodeNoSecondFactor       = "no_second_factor"
	CodeTOTPAlreadyEnabled   = "totp_already_enabled"
	CodeTOTPNotPending       = "totp_not_pending"
	CodePasskeyExists        = "passkey_exists"
	CodePasskeysUnavailable  = "passkeys_unavailable"

	CodeIdentityInactive = "identity_inactive"
)

// FieldError names one invalid field of a request.
type FieldError struct {
	Field   string
	Code    string
	Message string
}

// Error is the error type of the domain. Message is safe to show to the
// client; Err is the underlying cause, for logs only.
type Error struct {
	Kind       Kind
	Code       string
	Message    string
	Fields     []FieldError
	RetryAfter time.Duration
	// Methods are the second-step methods that would lift a
	// CodeSecondFactorRequired refusal.
	Methods []Method
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// ErrorKind returns the Kind of the first *Error in err's chain, or
// KindInternal for anything else: an unknown error is never shown as
// something the client caused.
func ErrorKind(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// Invalid reports input that breaks one or more field rules.
func Invalid(fields ...FieldError) *Error {
	msg := "The request has invalid fields."
	if len(fields) == 1 {
		msg = fields[0].Message
	}
	return &Error{Kind: KindInvalid, Code: CodeInvalidInput, Message: msg, Fields: fields}
}

// Unavailable wraps a failure of a dependency (database, Valkey, SMTP).
func Unavailable(op string, err error) *Error {
	return &Error{
		Kind:    KindUnavailable,
		Code:    CodeUnavailable,
		Message: "The service is temporarily unavailable. Try again shortly.",
		Err:     fmt.Errorf("%s: %w", op, err),
	}
}

// Overloaded is the one answer of a server that sheds work it cannot do in
// time: 503 with a Retry-After of at least a second, so that clients do not
// come back at once with the very burst being shed. cause, if any, is for
// logs only.
func Overloaded(retryAfter time.Duration, cause error) *Error {
	return &Error{Kind: KindUnavailable, Code: CodeOverloaded, Message: "The server is busy. Try again in a moment.",
		RetryAfter: max(retryAfter, time.Second), Err: cause}
}

// Internal wraps an unexpected failure; its cause is logged, never shown.
func Internal(op string, err error) *Error {
	return &Error{Kind: KindInternal, Code: CodeInternal, Message: "Internal error.", Err: fmt.Errorf("%s: %w", op, err)}
}

var (
	// ErrInvalidCredentials is the one answer to a failed login, whether the
	// e-mail is unknown or the password wrong, so that login reveals nothing.
	ErrInvalidCredentials = &Error{Kind: KindUnauthenticated, Code: CodeInvalidCredentials, Message: "The e-mail or password is incorrect."}
	// ErrUnauthenticated is returned when a request needs a session and has none.
	ErrUnauthenticated = &Error{Kind: KindUnauthenticated, Code: CodeUnauthenticated, Message: "You are not logged in."}
	// ErrEmailTaken is the documented exception to enumeration safety in the default registration mode.
	ErrEmailTaken = &Error{Kind: KindConflict, Code: CodeEmailTaken, Message: "An account with this e-mail address already exists.",
		Fields: []FieldError{{Field: "identifier", Code: CodeEmailTaken, Message: "An account with this e-mail address already exists."}}}
	ErrUsernameTaken = &Error{Kind: KindConflict, Code: CodeUsernameTaken, Message: "This username is taken.",
		Fields: []FieldError{{Field: "username", Code: CodeUsernameTaken, Message: "This username is taken."}}}
	// ErrEmailNotVerified refuses a login until the address is verified,
	// when the server requires it.
	ErrEmailNotVerified = &Error{Kind: KindForbidden, Code: CodeEmailNotVerified,
		Message: "Verify your e-mail address first: follow the link we sent, or ask for a new one."}
	// ErrNotFound is what stores return for a missing row.
	ErrNotFound = &Error{Kind: KindNotFound, Code: CodeNotFound, Message: "Not found."}
)
