package auth_test

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/internal/auth"
	"github.com/authd/authd/internal/auth/authtest"
)

// requestRecovery requests a recovery link and answers the request as the
// queue's worker would; the first error of either is returned.
func requestRecovery(e *env, email string) error {
	if err := e.svc.RequestRecovery(context.Background(), auth.RequestRecovery{Email: email, Client: client}); err != nil {
		return err
	}
	return e.answerRequests()
}

// resendVerification is requestRecovery for a verification link.
func resendVerification(e *env, email string) error {
	if err := e.svc.ResendVerification(context.Background(), auth.ResendVerification{Email: email, Client: client}); err != nil {
		return err
	}
	return e.answerRequests()
}

// answerRequests answers every queued mail request, as the queue's worker
// does after the client's reply.
func (e *env) answerRequests() error {
	for _, r := range e.Outbox.TakeRequests() {
		if err := e.svc.AnswerMailRequest(context.Background(), r); err != nil {
			return err
		}
	}
	return nil
}

func TestRequestRecovery(t *testing.T) {
	e := newEnv(t)
	ann := e.user(t, "ann@example.com")
	if err := requestRecovery(e, " Ann@Example.com"); err != nil {
		t.Fatal(err)
	}
	m := e.lastMail(t, "ann@example.com", "recovery")
	if !strings.HasPrefix(m.Data["Link"], publicURL+"/recovery?token=") || m.Data["Expiry"] != "1 hour" || m.Data["Email"] != "ann@example.com" {
		t.Errorf("mail = %+v", m)
	}
	live := e.Tokens.Live(ann.ID, auth.PurposeRecovery, e.Clock.Now())
	if len(live) != 1 || !live[0].ExpiresAt.Equal(e.Clock.Now().Add(time.Hour)) ||
		string(live[0].TokenHash) != string(auth.HashToken(tokenOf(t, m))) {
		t.Errorf("live tokens = %+v; want the mailed one, for an hour", live)
	}
	if strings.Contains(string(live[0].TokenHash), tokenOf(t, m)) {
		t.Error("the raw token is stored")
	}
	wantTypes(t, e.Audit, auth.EventRecoveryRequested)
	// A new request voids the older link.
	e.Clock.Advance(time.Minute)
	if err := requestRecovery(e, "ann@example.com"); err != nil {
		t.Fatal(err)
	}
	if live := e.Tokens.Live(ann.ID, auth.PurposeRecovery, e.Clock.Now()); len(live) != 1 {
		t.Errorf("%d live recovery tokens, want only the newest", len(live))
	}
	err := e.svc.CompleteRecovery(context.Background(), auth.CompleteRecovery{Token: tokenOf(t, m), Password: newPassword})
	if err != auth.ErrTokenInvalid {
		t.Errorf("the voided link = %v, want ErrTokenInvalid", err)
	}
}

// The reply never says whether the address has an account or was over its
// mail limit.
func TestRequestRecoveryRevealsNothing(t *testing.T) {
	tests := []struct {
		name  string
		setup func(e *env)
		email string
	}{
		{"unknown address", func(*env) {}, "nobody@example.com"},
		{"inactive account", func(e *env) { e.user(t, "ann@example.com", inactive) }, "ann@example.com"},
		{"over the per-address limit", func(e *env) {
			e.user(t, "ann@example.com")
			for range 5 {
				_ = requestRecovery(e, "ann@example.com")
			}
		}, "ann@example.com"},
		{"mail limiter down", func(e *env) {
			e.user(t, "ann@example.com")
			e.Limiter.FailOn("Allow", errInjected)
		}, "ann@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(d *auth.Deps) { d.Limits.MailRequestsIP = 0 })
			tt.setup(e)
			mails := e.Outbox.Len()
			if err := requestRecovery(e, tt.email); err != nil {
				t.Errorf("RequestRecovery = %v, want the same nil as for a known address", err)
			}
			if e.Outbox.Len() != mails {
				t.Error("a mail was queued")
			}
		})
	}
}

func TestRequestRecoveryCountsUnknownAddressesToo(t *testing.T) {
	e := newEnv(t, func(d *auth.Deps) { d.Mail.PerAddressLimit = 1 })
	_ = requestRecovery(e, "nobody@example.com")
	// The address gets an account: its limit is already used this hour.
	e.user(t, "nobody@example.com")
	_ = requestRecovery(e, "nobody@example.com")
	if e.Outbox.Len() != 0 {
		t.Error("the per-address limit ignored requests for the address before it had an account")
	}
	e.Clock.Advance(time.Hour)
	_ = requestRecovery(e, "nobody@example.com")
	if e.Outbox.Len() != 1 {
		t.Error("no mail after the hour")
	}
}

func TestRequestRecoveryRefusals(t *testing.T) {
	tests := []struct {
		name   string
		email  string
		inject func(e *env)
		kind   auth.Kind
		code   string
	}{
		{"bad address", "not-an-address", nil, auth.KindInvalid, auth.CodeInvalidInput},
		{"per-IP limit", "ann@example.com", func(e *env) {
			for range 20 {
				_ = requestRecovery(e, "someone@example.com")
			}
		}, auth.KindRateLimited, auth.CodeRateLimited},
		{"store down", "ann@example.com", func(e *env) { e.Identities.FailOn("IdentityByEmail", errAvailable) }, auth.KindUnavailable, auth.CodeUnavailable},
		{"token store down", "ann@example.com", func(e *env) { e.Tokens.FailOn("Issue", errAvailable) }, auth.KindUnavailable, auth.CodeUnavailable},
		{"transaction cannot begin", "ann@example.com", func(e *env) { e.Tx.FailOn("InTx", errAvailable) }, auth.KindUnavailable, auth.CodeUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.user(t, "ann@example.com")
			if tt.inject != nil {
				tt.inject(e)
			}
			wantErr(t, requestRecovery(e, tt.email), tt.kind, tt.code)
			if len(e.Outbox.To("ann@example.com", "")) != 0 || len(e.Audit.OfType(auth.EventRecoveryRequested)) != 0 {
				t.Error("a failed request mailed or was audited")
			}
		})
	}
	t.Run("bad address names the field", func(t *testing.T) {
		wantFields(t, requestRecovery(newEnv(t), "x"), "email=email_invalid")
	})
}

// The token and its mail go through one transaction: a token whose mail
// failed is not kept.
func TestRequestRecoveryIsAtomic(t *testing.T) {
	for _, fault := range []string{"Queue", "Commit"} {
		t.Run(fault+" fails", func(t *testing.T) {
			e := newEnv(t)
			ann := e.user(t, "ann@example.com")
			if fault == "Queue" {
				e.Outbox.FailOn("Queue", errAvailable)
			} else {
				e.Tx.FailOn("Commit", errAvailable)
			}
			err := requestRecovery(e, "ann@example.com")
			if !errors.Is(err, errAvailable) {
				t.Fatalf("RequestRecovery = %v, want the failure", err)
			}
			if n := len(e.Tokens.Records()); n != 0 {
				t.Errorf("%d tokens stored without their mail", n)
			}
			if len(e.Tokens.Live(ann.ID, auth.PurposeRecovery, e.Clock.Now())) != 0 || e.Outbox.Len() != 0 {
				t.Error("a token or a mail survived the rollback")
			}
		})
	}
}

func TestCompleteRecovery(t *testing.T) {
	e := newEnv(t)
	ann := e.user(t, "ann@example.com")
	_, s1 := e.session(t, ann.ID, e.Clock.Now())
	_, s2 := e.session(t, ann.ID, e.Clock.Now())
	bob := e.user(t, "bob@example.com")
	_, bobs := e.session(t, bob.ID, e.Clock.Now())
	_ = e.Profiles.Put(context.Background(), ann.Profile())
	if err := requestRecovery(e, "ann@example.com"); err != nil {
		t.Fatal(err)
	}
	token := tokenOf(t, e.lastMail(t, "ann@example.com", "recovery"))
	now := e.Clock.Advance(10 * time.Minute)
	if err := e.svc.CompleteRecovery(context.Background(), auth.CompleteRecovery{Token: token, Password: newPassword, Client: client}); err != nil {
		t.Fatal(err)
	}
	stored := e.stored(t, ann.ID)
	if stored.PasswordHash != authtest.HashOf(newPassword) || !stored.UpdatedAt.Equal(now) {
		t.Errorf("stored = %+v", stored)
	}
	if e.works(t, s1) || e.works(t, s2) || !e.works(t, bobs) {
		t.Error("not every session of the identity was revoked, or another's was")
	}
	m := e.lastMail(t, "ann@example.com", "password_changed")
	if m.Data["When"] != now.UTC().Format("2 January 2006 15:04 MST") {
		t.Errorf("notice = %+v", m)
	}
	if _, ok := e.Profiles.Cached(ann.ID); ok {
		t.Error("the cached profile was not invalidated")
	}
	wantTypes(t, e.Audit, auth.EventRecoveryRequested, auth.EventRecoveryCompleted)
	if _, err := login(e, "ann@example.com", newPassword); err != nil {
		t.Errorf("login with the new password: %v", err)
	}
	// Single use.
	err := e.svc.CompleteRecovery(context.Background(), auth.CompleteRecovery{Token: token, Password: "another new password"})
	if err != auth.ErrTokenInvalid {
		t.Errorf("second use = %v, want ErrTokenInvalid", err)
	}
}

func TestCompleteRecoveryInvalidTokens(t *testing.T) {
	tests := []struct {
		name  string
		token func(t *testing.T, e *env, mailed string) string
	}{
		{"empty", func(*testing.T, *env, string) string { return "" }},
		{"over-long", func(*testing.T, *env, string) string { return strings.Repeat("a", 129) }},
		{"unknown", func(*testing.T, *env, string) string { return strings.Repeat("a", 43) }},
		{"expired", func(_ *testing.T, e *env, mailed string) string { e.Clock.Advance(time.Hour); return mailed }},
		{"a verification token", func(t *testing.T, e *env, _ string) string {
			_ = resendVerification(e, "ann@example.com")
			return tokenOf(t, e.lastMail(t, "ann@example.com", "verification"))
		}},
		{"the identity is gone", func(_ *testing.T, e *env, mailed string) string {
			e.Identities.FailOn("IdentityByID", auth.ErrNotFound)
			return mailed
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ann := e.user(t, "ann@example.com")
			_ = requestRecovery(e, "ann@example.com")
			token := tt.token(t, e, tokenOf(t, e.lastMail(t, "ann@example.com", "recovery")))
			err := e.svc.CompleteRecovery(context.Background(), auth.CompleteRecovery{Token: token, Password: newPassword})
			if err != auth.ErrTokenInvalid {
				t.Errorf("CompleteRecovery = %v, want ErrTokenInvalid", err)
			}
			if e.Hasher.Hashes() != 0 || e.stored(t, ann.ID).PasswordHash != authtest.HashOf(password) {
				t.Error("an invalid token did work")
			}
		})
	}
}

func TestCompleteRecoveryRefusals(t *testing.T) {
	tests := []struct {
		name   string
		pw     string
		inject func(e *env)
		kind   auth.Kind
		code   string
	}{
		{"the policy", "short", nil, auth.KindInvalid, auth.CodeInvalidInput},
		{"a password with the e-mail", "ann@example.com 2", nil, auth.KindInvalid, auth.CodeInvalidInput},
		{"the store is down", newPassword, func(e *env) { e.Identities.FailOn("IdentityByID", errAvailable) }, auth.KindUnavailable, auth.CodeUnavailable},
		{"lookup fails", newPassword, func(e *env) { e.Tokens.FailOn("Lookup", errAvailable) }, auth.KindUnavailable, auth.CodeUnavailable},
		{"the hasher is overloaded", newPassword, func(e *env) { e.Hasher.Overload(time.Second) }, auth.KindUnavailable, auth.CodeOverloaded},
		{"the token was used meanwhile", newPassword, func(e *env) { e.Tokens.FailOn("Redeem", auth.ErrTokenInvalid) }, auth.KindGone, auth.CodeTokenInvalid},
		// Redeem, the new hash and the notice commit together or not at all.
		{"the password cannot be stored", newPassword, func(e *env) { e.Identities.FailOn("UpdatePasswordHash", errAvailable) },
			auth.KindUnavailable, auth.CodeUnavailable},
		{"the notice cannot be queued", newPassword, func(e *env) { e.Outbox.FailOn("Queue", errAvailable) }, auth.KindUnavailable, auth.CodeUnavailable},
		{"the commit fails", newPassword, func(e *env) { e.Tx.FailOn("Commit", errAvailable) }, auth.KindUnavailable, auth.CodeUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ann := e.user(t, "ann@example.com")
			_, session := e.session(t, ann.ID, e.Clock.Now())
			_ = requestRecovery(e, "ann@example.com")
			token := tokenOf(t, e.lastMail(t, "ann@example.com", "recovery"))
			if tt.inject != nil {
				tt.inject(e)
			}
			err := e.svc.CompleteRecovery(context.Background(), auth.CompleteRecovery{Token: token, Password: tt.pw})
			wantErr(t, err, tt.kind, tt.code)
			e.Heal()
			if e.stored(t, ann.ID).PasswordHash != authtest.HashOf(password) {
				t.Error("the password changed")
			}
			if !e.works(t, session) || len(e.Outbox.To("ann@example.com", "password_changed")) != 0 {
				t.Error("sessions were revoked or the notice queued")
			}
			// The link still works: nothing of the failed attempt was kept.
			if tt.code != auth.CodeTokenInvalid {
				if err := e.svc.CompleteRecovery(context.Background(), auth.CompleteRecovery{Token: token, Password: newPassword}); err != nil {
					t.Errorf("the link after the failed attempt: %v", err)
				}
			}
		})
	}
	t.Run("the policy names the field", func(t *testing.T) {
		e := newEnv(t)
		e.user(t, "ann@example.com")
		_ = requestRecovery(e, "ann@example.com")
		token := tokenOf(t, e.lastMail(t, "ann@example.com", "recovery"))
		wantFields(t, e.svc.CompleteRecovery(context.Background(), auth.CompleteRecovery{Token: token, Password: "short"}),
			"password=password_too_short")
	})
}

// After the password is changed, a failure to end the sessions is
// reported.
func TestCompleteRecoveryRevokeFailure(t *testing.T) {
	e := newEnv(t)
	ann := e.user(t, "ann@example.com")
	_ = requestRecovery(e, "ann@example.com")
	token := tokenOf(t, e.lastMail(t, "ann@example.com", "recovery"))
	e.Sessions.FailOn("EndGeneration", errInjected)
	e.Profiles.FailOn("Invalidate", errInjected)
	err := e.svc.CompleteRecovery(context.Background(), auth.CompleteRecovery{Token: token, Password: newPassword})
	wantErr(t, err, auth.KindUnavailable, auth.CodeUnavailable)
	if e.stored(t, ann.ID).PasswordHash != authtest.HashOf(newPassword) {
		t.Error("the password did not change")
	}
	e.logs.wantLogged(t, slog.LevelError, "profile cache not invalidated")
}

func TestMailExpiryWording(t *testing.T) {
	tests := []struct {
		ttl  time.Duration
		want string
	}{
		{time.Hour, "1 hour"},
		{3 * time.Hour, "3 hours"},
		{time.Minute, "1 minute"},
		{30 * time.Minute, "30 minutes"},
		{90 * time.Minute, "90 minutes"},
		{90 * time.Second, "1m30s"},
	}
	for _, tt := range tests {
		e := newEnv(t, func(d *auth.Deps) { d.Mail.RecoveryTTL = tt.ttl })
		e.user(t, "ann@example.com")
		if err := requestRecovery(e, "ann@example.com"); err != nil {
			t.Fatal(err)
		}
		if got := e.lastMail(t, "ann@example.com", "recovery").Data["Expiry"]; got != tt.want {
			t.Errorf("TTL %v: Expiry %q, want %q", tt.ttl, got, tt.want)
		}
	}
}

// A request for a recovery or verification link does the same work for an
// address with an account and one without: it is queued, and only its
// answer, after the reply, looks the address up.
func TestMailRequestsDoTheSameWorkForEveryAddress(t *testing.T) {
	tests := []struct {
		name    string
		request func(e *env, email string) error
	}{
		{"recovery", func(e *env, email string) error {
			return e.svc.RequestRecovery(context.Background(), auth.RequestRecovery{Email: email, Client: client})
		}},
		{"verification", func(e *env, email string) error {
			return e.svc.ResendVerification(context.Background(), auth.ResendVerification{Email: email, Client: client})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.user(t, "ann@example.com")
			calls := func(email string) map[string]int {
				e.ResetCalls()
				if err := tt.request(e, email); err != nil {
					t.Fatal(err)
				}
				return e.CallCounts()
			}
			known, unknown := calls("ann@example.com"), calls("nobody@example.com")
			if !maps.Equal(known, unknown) {
				t.Errorf("a known address made %v, an unknown one %v", known, unknown)
			}
			if known["Identities.IdentityByEmail"] != 0 || known["Outbox.QueueRequest"] != 1 {
				t.Errorf("calls %v: want the request queued and nothing looked up", known)
			}
			reqs := e.Outbox.TakeRequests()
			if len(reqs) != 2 || reqs[0].Email.String() != "ann@example.com" || reqs[0].Client != client {
				t.Fatalf("requests %+v", reqs)
			}
		})
	}
}

// Answering a request retries on a failure and drops what it cannot do.
func TestAnswerMailRequest(t *testing.T) {
	e := newEnv(t)
	ann := e.user(t, "ann@example.com")
	req := auth.MailRequest{Purpose: auth.PurposeRecovery, Email: ann.Email, Client: client}
	e.Identities.FailOn("IdentityByEmail", errAvailable)
	if err := e.svc.AnswerMailRequest(context.Background(), req); err == nil {
		t.Error("a failed look-up was not reported for a retry")
	}
	e.Heal()
	req.Purpose = "nonsense"
	if err := e.svc.AnswerMailRequest(context.Background(), req); err != nil {
		t.Errorf("an unknown purpose = %v, want it dropped", err)
	}
	e.logs.wantLogged(t, slog.LevelError, "mail request of an unknown purpose dropped")
	if e.Outbox.Len() != 0 {
		t.Error("a mail was queued")
	}
}
