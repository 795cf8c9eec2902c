package auth_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/authd/authd/internal/auth"
)

func TestErrorKind(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want auth.Kind
	}{
		{"nil", nil, auth.KindInternal},
		{"a plain error", errors.New("boom"), auth.KindInternal},
		{"a domain error", auth.ErrTokenInvalid, auth.KindGone},
		{"a wrapped domain error", fmt.Errorf("context: %w", auth.ErrEmailTaken), auth.KindConflict},
		{"invalid", auth.Invalid(auth.FieldError{Field: "f"}), auth.KindInvalid},
		{"unavailable", auth.Unavailable("op", errors.New("down")), auth.KindUnavailable},
		{"overloaded", auth.Overloaded(0, nil), auth.KindUnavailable},
		{"internal", auth.Internal("op", errors.New("bug")), auth.KindInternal},
		{"forbidden", auth.ErrReauthRequired, auth.KindForbidden},
		{"not found", auth.ErrSessionNotFound, auth.KindNotFound},
	}
	for _, tt := range tests {
		if got := auth.ErrorKind(tt.err); got != tt.want {
			t.Errorf("%s: ErrorKind = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestOverloaded(t *testing.T) {
	cause := errors.New("queue full")
	tests := []struct {
		retry, want time.Duration
	}{
		{0, time.Second},
		{-time.Second, time.Second},
		{500 * time.Millisecond, time.Second},
		{3 * time.Second, 3 * time.Second},
	}
	for _, tt := range tests {
		e := auth.Overloaded(tt.retry, cause)
		if e.RetryAfter != tt.want || e.Code != auth.CodeOverloaded || e.Kind != auth.KindUnavailable || !errors.Is(e, cause) {
			t.Errorf("Overloaded(%v) = %+v, want RetryAfter %v", tt.retry, e, tt.want)
		}
		if strings.Contains(e.Message, "queue full") {
			t.Error("the cause is shown to the client")
		}
	}
}

func TestErrorText(t *testing.T) {
	cause := errors.New("connection refused")
	u := auth.Unavailable("postgres: ping", cause)
	if !errors.Is(u, cause) || !strings.Contains(u.Error(), "postgres: ping: connection refused") || strings.Contains(u.Message, "refused") {
		t.Errorf("Unavailable = %q (message %q)", u.Error(), u.Message)
	}
	if got := auth.ErrNotFound.Error(); got != "not_found: Not found." {
		t.Errorf("Error() = %q", got)
	}
	if auth.ErrNotFound.Unwrap() != nil {
		t.Error("Unwrap of an error without a cause")
	}
	one := auth.Invalid(auth.FieldError{Field: "a", Code: "c", Message: "A is wrong."})
	two := auth.Invalid(auth.FieldError{Field: "a", Message: "A is wrong."}, auth.FieldError{Field: "b", Message: "B is wrong."})
	if one.Message != "A is wrong." || two.Message != "The request has invalid fields." || len(two.Fields) != 2 {
		t.Errorf("Invalid messages %q, %q", one.Message, two.Message)
	}
	in := auth.Internal("op", cause)
	if in.Message != "Internal error." || !errors.Is(in, cause) {
		t.Errorf("Internal = %+v", in)
	}
	re := &auth.RuleError{Code: "c", Message: "m"}
	if re.Error() != "m" || re.Field("f") != (auth.FieldError{Field: "f", Code: "c", Message: "m"}) {
		t.Errorf("RuleError = %v", re)
	}
}

func TestNewClient(t *testing.T) {
	if c := auth.NewClient("192.0.2.1", "ua", "r"); c.IP != "192.0.2.1" || c.UserAgent != "ua" || c.RequestID != "r" {
		t.Errorf("NewClient = %+v", c)
	}
	// 511 ASCII bytes then a 3-byte character across the 512-byte cut.
	long := strings.Repeat("a", 511) + "€" + strings.Repeat("b", 100)
	c := auth.NewClient("", long, "")
	if len(c.UserAgent) != 511 || !utf8.ValidString(c.UserAgent) {
		t.Errorf("cut user agent: %d bytes, valid %v", len(c.UserAgent), utf8.ValidString(c.UserAgent))
	}
}

func TestHashToken(t *testing.T) {
	a, b := auth.HashToken("a"), auth.HashToken("b")
	if len(a) != 32 || string(a) == string(b) || string(a) != string(auth.HashToken("a")) {
		t.Error("HashToken is not a stable 256-bit hash")
	}
}
