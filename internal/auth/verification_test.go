package auth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/internal/auth"
)

// registered registers ann and returns her identity and verification mail.
func registered(t *testing.T, e *env) (auth.Identity, auth.Mail) {
	t.Helper()
	got, err := e.svc.Register(context.Background(), auth.Register{Email: "ann@example.com", Password: password, Client: client})
	if err != nil {
		t.Fatal(err)
	}
	return got.Identity, e.lastMail(t, "ann@example.com", "verification")
}

func TestVerifyEmailWithTheLink(t *testing.T) {
	e := newEnv(t)
	ann, m := registered(t, e)
	_ = e.Profiles.Put(context.Background(), ann.Profile())
	now := e.Clock.Advance(time.Hour)
	got, err := e.svc.VerifyEmail(context.Background(), tokenOf(t, m), client)
	if err != nil {
		t.Fatal(err)
	}
	stored := e.stored(t, ann.ID)
	if got.EmailVerifiedAt == nil || !got.EmailVerifiedAt.Equal(now) || stored.EmailVerifiedAt == nil || !stored.UpdatedAt.Equal(now) {
		t.Errorf("returned %+v, stored %+v", got, stored)
	}
	if !got.Profile().EmailVerified {
		t.Error("the profile does not say verified")
	}
	if _, ok := e.Profiles.Cached(ann.ID); ok {
		t.Error("the cached profile was not invalidated")
	}
	if len(e.Audit.OfType(auth.EventEmailVerified)) != 1 {
		t.Errorf("events %v", e.Audit.Types())
	}
	// The link is single use; the code mailed with it is void too.
	if _, err := e.svc.VerifyEmail(context.Background(), tokenOf(t, m), client); err != auth.ErrTokenInvalid {
		t.Errorf("second use = %v", err)
	}
	if _, err := e.svc.SubmitVerificationCode(context.Background(), ann.ID, m.Data["Code"], client); err != auth.ErrTokenInvalid {
		t.Errorf("the code after the link = %v", err)
	}
}

func TestVerifyEmailRefusals(t *testing.T) {
	tests := []struct {
		name  string
		token func(t *testing.T, e *env, ann auth.Identity, mailed string) string
	}{
		{"empty", func(*testing.T, *env, auth.Identity, string) string { return "" }},
		{"over-long", func(*testing.T, *env, auth.Identity, string) string { return strings.Repeat("a", 129) }},
		{"unknown", func(*testing.T, *env, auth.Identity, string) string { return strings.Repeat("a", 43) }},
		{"expired", func(_ *testing.T, e *env, _ auth.Identity, mailed string) string {
			e.Clock.Advance(24 * time.Hour)
			return mailed
		}},
		{"a recovery token", func(t *testing.T, e *env, _ auth.Identity, _ string) string {
			_ = requestRecovery(e, "ann@example.com")
			return tokenOf(t, e.lastMail(t, "ann@example.com", "recovery"))
		}},
		{"voided by a newer link", func(_ *testing.T, e *env, _ auth.Identity, mailed string) string {
			_ = resendVerification(e, "ann@example.com")
			return mailed
		}},
		{"the address changed since", func(t *testing.T, e *env, ann auth.Identity, mailed string) string {
			i := e.stored(t, ann.ID)
			i.Email, _ = auth.ParseEmail("new@example.com")
			e.Identities.Put(i)
			return mailed
		}},
		{"the identity is inactive", func(t *testing.T, e *env, ann auth.Identity, mailed string) string {
			i := e.stored(t, ann.ID)
			i.State = auth.StateInactive
			e.Identities.Put(i)
			return mailed
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ann, m := registered(t, e)
			token := tt.token(t, e, ann, tokenOf(t, m))
			if _, err := e.svc.VerifyEmail(context.Background(), token, client); err != auth.ErrTokenInvalid {
				t.Errorf("VerifyEmail = %v, want ErrTokenInvalid", err)
			}
			if e.stored(t, ann.ID).EmailVerifiedAt != nil {
				t.Error("the address was verified")
			}
		})
	}
}

func TestVerifyEmailFailures(t *testing.T) {
	tests := []struct {
		name   string
		inject func(e *env)
	}{
		{"redeem fails", func(e *env) { e.Tokens.FailOn("Redeem", errAvailable) }},
		{"the identity cannot be read", func(e *env) { e.Identities.FailOn("IdentityByID", errAvailable) }},
		{"the identity cannot be updated", func(e *env) { e.Identities.FailOn("MarkEmailVerified", errAvailable) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			_, m := registered(t, e)
			tt.inject(e)
			_, err := e.svc.VerifyEmail(context.Background(), tokenOf(t, m), client)
			wantErr(t, err, auth.KindUnavailable, auth.CodeUnavailable)
		})
	}
}

func TestVerifyAnAlreadyVerifiedAddress(t *testing.T) {
	e := newEnv(t)
	ann, m := registered(t, e)
	// Verified meanwhile by other means (an admin, an import).
	i := e.stored(t, ann.ID)
	verified(&i)
	e.Identities.Put(i)
	got, err := e.svc.VerifyEmail(context.Background(), tokenOf(t, m), client)
	if err != nil || got.EmailVerifiedAt == nil || !got.EmailVerifiedAt.Equal(*i.EmailVerifiedAt) {
		t.Errorf("VerifyEmail = %+v, %v", got, err)
	}
	if e.Identities.Calls("MarkEmailVerified") != 0 || len(e.Audit.OfType(auth.EventEmailVerified)) != 0 {
		t.Error("verified twice")
	}
}

func TestResendVerification(t *testing.T) {
	resend := resendVerification
	t.Run("a new link for an unverified address", func(t *testing.T) {
		e := newEnv(t)
		ann, first := registered(t, e)
		if err := resend(e, "ann@example.com"); err != nil {
			t.Fatal(err)
		}
		second := e.lastMail(t, "ann@example.com", "verification")
		if tokenOf(t, first) == tokenOf(t, second) {
			t.Fatal("the same link was sent again")
		}
		if _, err := e.svc.VerifyEmail(context.Background(), tokenOf(t, second), client); err != nil {
			t.Errorf("the new link: %v", err)
		}
		_ = ann
	})
	tests := []struct {
		name  string
		setup func(t *testing.T, e *env)
		email string
	}{
		{"a verified address", func(t *testing.T, e *env) { e.user(t, "ann@example.com", verified) }, "ann@example.com"},
		{"an unknown address", func(*testing.T, *env) {}, "nobody@example.com"},
		{"an inactive account", func(t *testing.T, e *env) { e.user(t, "ann@example.com", inactive) }, "ann@example.com"},
		{"over the per-address limit", func(t *testing.T, e *env) {
			e.user(t, "ann@example.com")
			for range 5 {
				_ = resend(e, "ann@example.com")
			}
		}, "ann@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			tt.setup(t, e)
			before := e.Outbox.Len()
			if err := resend(e, tt.email); err != nil {
				t.Errorf("ResendVerification = %v, want nil like any other address", err)
			}
			if e.Outbox.Len() != before {
				t.Error("a mail was queued")
			}
		})
	}
	t.Run("a bad address", func(t *testing.T) {
		wantFields(t, resend(newEnv(t), "bad"), "email=email_invalid")
	})
}

func TestSendVerificationCode(t *testing.T) {
	t.Run("a new code and link", func(t *testing.T) {
		e := newEnv(t)
		ann, first := registered(t, e)
		if err := e.svc.SendVerificationCode(context.Background(), ann.ID); err != nil {
			t.Fatal(err)
		}
		m := e.lastMail(t, "ann@example.com", "verification")
		if len(e.Outbox.To("ann@example.com", "verification")) != 2 || m.Data["Code"] == "" {
			t.Fatalf("mails %+v", e.Outbox.Mails())
		}
		if _, err := e.svc.SubmitVerificationCode(context.Background(), ann.ID, first.Data["Code"], client); err == nil && first.Data["Code"] != m.Data["Code"] {
			t.Error("the old code still works")
		}
	})
	t.Run("a verified address needs none", func(t *testing.T) {
		e := newEnv(t)
		ann := e.user(t, "ann@example.com", verified)
		if err := e.svc.SendVerificationCode(context.Background(), ann.ID); err != nil || e.Outbox.Len() != 0 {
			t.Errorf("SendVerificationCode = %v, %d mails", err, e.Outbox.Len())
		}
	})
	t.Run("over the limit", func(t *testing.T) {
		e := newEnv(t, func(d *auth.Deps) { d.Mail.PerAddressLimit = 1 })
		ann, _ := registered(t, e) // the registration mail does not count
		if err := e.svc.SendVerificationCode(context.Background(), ann.ID); err != nil {
			t.Fatal(err)
		}
		err := e.svc.SendVerificationCode(context.Background(), ann.ID)
		if ae := wantErr(t, err, auth.KindRateLimited, auth.CodeRateLimited); ae.RetryAfter != time.Hour {
			t.Errorf("RetryAfter = %v", ae.RetryAfter)
		}
	})
	t.Run("without an active identity", func(t *testing.T) {
		e := newEnv(t)
		ann := e.user(t, "ann@example.com", inactive)
		for _, id := range []uuid.UUID{ann.ID, uuid.New()} {
			if err := e.svc.SendVerificationCode(context.Background(), id); err != auth.ErrUnauthenticated {
				t.Errorf("SendVerificationCode = %v", err)
			}
		}
	})
	t.Run("the outbox fails", func(t *testing.T) {
		e := newEnv(t)
		ann := e.user(t, "ann@example.com")
		e.Outbox.SetErr(errAvailable)
		wantErr(t, e.svc.SendVerificationCode(context.Background(), ann.ID), auth.KindUnavailable, auth.CodeUnavailable)
		if len(e.Tokens.Records()) != 0 {
			t.Error("a code was stored without its mail")
		}
	})
}

func TestSubmitVerificationCode(t *testing.T) {
	t.Run("the right code verifies", func(t *testing.T) {
		e := newEnv(t)
		ann, m := registered(t, e)
		got, err := e.svc.SubmitVerificationCode(context.Background(), ann.ID, m.Data["Code"], client)
		if err != nil || got.EmailVerifiedAt == nil {
			t.Fatalf("SubmitVerificationCode = %+v, %v", got, err)
		}
		if _, err := e.svc.VerifyEmail(context.Background(), tokenOf(t, m), client); err != auth.ErrTokenInvalid {
			t.Errorf("the link after the code = %v", err)
		}
	})
	t.Run("wrong codes use up the attempts", func(t *testing.T) {
		e := newEnv(t) // 3 attempts
		ann, m := registered(t, e)
		wrong := "000000"
		if wrong == m.Data["Code"] {
			wrong = "111111"
		}
		for i := range 3 {
			_, err := e.svc.SubmitVerificationCode(context.Background(), ann.ID, wrong, client)
			wantFields(t, err, "code=incorrect")
			_ = i
		}
		if _, err := e.svc.SubmitVerificationCode(context.Background(), ann.ID, m.Data["Code"], client); err != auth.ErrTokenInvalid {
			t.Errorf("the right code after the attempts = %v, want ErrTokenInvalid", err)
		}
		if _, err := e.svc.VerifyEmail(context.Background(), tokenOf(t, m), client); err != auth.ErrTokenInvalid {
			t.Errorf("the link after the attempts = %v, want ErrTokenInvalid", err)
		}
	})
	t.Run("a code is bound to its identity", func(t *testing.T) {
		e := newEnv(t)
		ann, m := registered(t, e)
		bob, err := e.svc.Register(context.Background(), auth.Register{Email: "bob@example.com", Password: password})
		if err != nil {
			t.Fatal(err)
		}
		bobCode := e.lastMail(t, "bob@example.com", "verification").Data["Code"]
		if bobCode != m.Data["Code"] {
			if _, err := e.svc.SubmitVerificationCode(context.Background(), ann.ID, bobCode, client); auth.ErrorKind(err) != auth.KindInvalid {
				t.Errorf("bob's code for ann = %v, want wrong", err)
			}
		}
		if _, err := e.svc.SubmitVerificationCode(context.Background(), bob.Identity.ID, bobCode, client); err != nil {
			t.Errorf("bob's code: %v", err)
		}
	})
	t.Run("an expired code", func(t *testing.T) {
		e := newEnv(t)
		ann, m := registered(t, e)
		e.Clock.Advance(15 * time.Minute)
		if _, err := e.svc.SubmitVerificationCode(context.Background(), ann.ID, m.Data["Code"], client); err != auth.ErrTokenInvalid {
			t.Errorf("SubmitVerificationCode = %v", err)
		}
	})
	t.Run("a malformed code costs no attempt", func(t *testing.T) {
		for _, code := range []string{"", "12345", "1234567", "12a456", "１２３４５６"} {
			e := newEnv(t)
			ann, _ := registered(t, e)
			_, err := e.svc.SubmitVerificationCode(context.Background(), ann.ID, code, client)
			wantFields(t, err, "code=code_invalid")
			if e.Tokens.Calls("SubmitCode") != 0 {
				t.Errorf("%q was submitted", code)
			}
		}
	})
	t.Run("the token store fails", func(t *testing.T) {
		e := newEnv(t)
		ann, m := registered(t, e)
		e.Tokens.FailOn("SubmitCode", errAvailable)
		_, err := e.svc.SubmitVerificationCode(context.Background(), ann.ID, m.Data["Code"], client)
		wantErr(t, err, auth.KindUnavailable, auth.CodeUnavailable)
	})
}
