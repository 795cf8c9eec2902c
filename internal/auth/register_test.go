package auth_test

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/internal/auth"
	"github.com/authd/authd/internal/auth/authtest"
)

func TestRegisterLogsTheNewUserIn(t *testing.T) {
	e := newEnv(t)
	e.Clock.Set(authtest.Epoch.Add(123456789)) // sub-microsecond part to drop
	got, err := e.svc.Register(context.Background(), auth.Register{
		Email: "  Ann@Example.COM ", Password: password, Username: "ann.k", GeoLocation: " Oslo ", Client: client,
	})
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	i := got.Identity
	now := e.Clock.Now().UTC().Truncate(time.Microsecond)
	if i.Email.String() != "ann@example.com" || i.Username != "ann.k" || i.GeoLocation != "Oslo" ||
		i.State != auth.StateActive || i.EmailVerifiedAt != nil || !i.CreatedAt.Equal(now) || !i.UpdatedAt.Equal(now) ||
		i.PasswordHash != authtest.HashOf(password) {
		t.Errorf("identity = %+v", i)
	}
	if stored := e.stored(t, i.ID); stored.Email != i.Email || stored.PasswordHash != i.PasswordHash {
		t.Errorf("stored = %+v", stored)
	}
	if !got.LoggedIn || got.Session.Token == "" || got.Session.IdentityID != i.ID || got.Session.IP != client.IP ||
		got.Session.UserAgent != client.UserAgent || !got.Session.AuthenticatedAt.Equal(e.Clock.Now()) {
		t.Errorf("session = %+v, logged in %v", got.Session, got.LoggedIn)
	}
	if !e.works(t, got.Session.Token) {
		t.Error("the new session does not work")
	}
	wantTypes(t, e.Audit, auth.EventRegistered)
	if ev := e.Audit.Events()[0]; ev.IdentityID == nil || *ev.IdentityID != i.ID || ev.IP != client.IP || ev.RequestID != client.RequestID {
		t.Errorf("audit event = %+v", ev)
	}
	m := e.lastMail(t, "ann@example.com", "verification")
	if !strings.HasPrefix(m.Data["Link"], publicURL+"/verify?token=") || len(m.Data["Code"]) != 6 ||
		m.Data["Expiry"] != "24 hours" || m.Data["CodeExpiry"] != "15 minutes" || m.Data["Product"] != "authd" {
		t.Errorf("verification mail = %+v", m)
	}
	if live := e.Tokens.Live(i.ID, auth.PurposeVerification, e.Clock.Now()); len(live) != 1 {
		t.Errorf("%d live verification tokens, want 1", len(live))
	}
	if e.Hasher.Hashes() != 1 {
		t.Errorf("%d hashes, want 1", e.Hasher.Hashes())
	}
}

func TestRegisterEndsThePreviousSession(t *testing.T) {
	e := newEnv(t)
	other := e.user(t, "other@example.com")
	prev, prevToken := e.session(t, other.ID, e.Clock.Now())
	got, err := e.svc.Register(context.Background(), auth.Register{Email: "ann@example.com", Password: password, Client: client, Current: prev})
	if err != nil {
		t.Fatal(err)
	}
	if e.works(t, prevToken) || !e.works(t, got.Session.Token) {
		t.Error("the session the client had before registering still works, or the new one does not")
	}
}

func TestRegisterValidation(t *testing.T) {
	long := strings.Repeat("a", 129)
	tests := []struct {
		name string
		cmd  auth.Register
		want []string
	}{
		{"no e-mail", auth.Register{Password: password}, []string{"identifier=required"}},
		{"bad e-mail under its own field name", auth.Register{Email: "not-an-address", Password: password, EmailField: "email"},
			[]string{"email=email_invalid"}},
		{"no password", auth.Register{Email: "ann@example.com"}, []string{"password=required"}},
		{"short password", auth.Register{Email: "ann@example.com", Password: "short"}, []string{"password=password_too_short"}},
		{"long password", auth.Register{Email: "ann@example.com", Password: long}, []string{"password=password_too_long"}},
		{"common password", auth.Register{Email: "ann@example.com", Password: "Password123"}, []string{"password=password_too_common"}},
		{"password with the e-mail", auth.Register{Email: "ann@example.com", Password: "xx ann@example.com xx"},
			[]string{"password=password_contains_identifier"}},
		{"password with the username", auth.Register{Email: "ann@example.com", Password: "my-Annika-pass", Username: "annika"},
			[]string{"password=password_contains_identifier"}},
		{"bad username", auth.Register{Email: "ann@example.com", Password: password, Username: "-x"}, []string{"username=username_invalid"}},
		{"bad location", auth.Register{Email: "ann@example.com", Password: password, GeoLocation: "a\x00b"},
			[]string{"geo_location=geo_location_invalid"}},
		{"everything at once", auth.Register{Email: "@", Password: "short", Username: "x", GeoLocation: long + long},
			[]string{"identifier=email_invalid", "username=username_invalid", "geo_location=geo_location_invalid", "password=password_too_short"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			tt.cmd.Client = client
			_, err := e.svc.Register(context.Background(), tt.cmd)
			wantFields(t, err, tt.want...)
			if e.Hasher.Hashes() != 0 || e.Identities.Len() != 0 || e.Limiter.Calls("Allow") != 0 {
				t.Errorf("invalid input did work: %v", e.CallCounts())
			}
		})
	}
}

func TestRegisterConflicts(t *testing.T) {
	tests := []struct {
		name string
		cmd  auth.Register
		want error
	}{
		{"taken e-mail in another case", auth.Register{Email: "ANN@example.com", Password: password}, auth.ErrEmailTaken},
		{"taken username in another case", auth.Register{Email: "bob@example.com", Password: password, Username: "ANNIKA"}, auth.ErrUsernameTaken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.user(t, "ann@example.com", func(i *auth.Identity) { i.Username = "annika" })
			_, err := e.svc.Register(context.Background(), tt.cmd)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Register = %v, want %v", err, tt.want)
			}
			if e.Identities.Len() != 1 || e.Sessions.Calls("Start") != 0 || e.Outbox.Len() != 0 {
				t.Errorf("a refused registration did work: %v", e.CallCounts())
			}
			wantTypes(t, e.Audit)
		})
	}
}

func TestRegisterRateLimitPerIP(t *testing.T) {
	e := newEnv(t, func(d *auth.Deps) { d.Limits.RegisterPerIP = 2 })
	for i, addr := range []string{"a@example.com", "b@example.com"} {
		if _, err := e.svc.Register(context.Background(), auth.Register{Email: addr, Password: password, Client: client}); err != nil {
			t.Fatalf("registration %d: %v", i, err)
		}
	}
	_, err := e.svc.Register(context.Background(), auth.Register{Email: "c@example.com", Password: password, Client: client})
	if ae := wantErr(t, err, auth.KindRateLimited, auth.CodeRateLimited); ae.RetryAfter != time.Hour {
		t.Errorf("RetryAfter = %v, want the rest of the hour", ae.RetryAfter)
	}
	if e.Hasher.Hashes() != 2 {
		t.Errorf("%d hashes: a throttled registration was hashed", e.Hasher.Hashes())
	}
	// Another IP, and a client without one, are not limited by it.
	for _, c := range []auth.Client{auth.NewClient("192.0.2.99", "", ""), {}} {
		if _, err := e.svc.Register(context.Background(), auth.Register{Email: "d" + c.IP + "@example.com", Password: password, Client: c}); err != nil {
			t.Errorf("client %+v: %v", c, err)
		}
	}
	// The hour passes.
	e.Clock.Advance(time.Hour)
	if _, err := e.svc.Register(context.Background(), auth.Register{Email: "e@example.com", Password: password, Client: client}); err != nil {
		t.Errorf("after the window: %v", err)
	}
}

func TestRegisterDependencyFailures(t *testing.T) {
	tests := []struct {
		name     string
		inject   func(e *env)
		kind     auth.Kind
		code     string
		created  bool   // the account exists afterwards
		loggedIn bool   // no error at all
		log      string // an error logged instead of returned
	}{
		{"rate limiter down", func(e *env) { e.Limiter.SetErr(errInjected) }, auth.KindUnavailable, auth.CodeUnavailable, false, false, ""},
		{"hasher fails", func(e *env) { e.Hasher.FailOn("Hash", errInjected) }, auth.KindInternal, auth.CodeInternal, false, false, ""},
		{"hasher overloaded", func(e *env) { e.Hasher.Overload(2 * time.Second) }, auth.KindUnavailable, auth.CodeOverloaded, false, false, ""},
		{"store down", func(e *env) { e.Identities.FailOn("CreateIdentity", errAvailable) }, auth.KindUnavailable, auth.CodeUnavailable, false, false, ""},
		{"session store down", func(e *env) { e.Sessions.FailOn("Start", errInjected) }, auth.KindUnavailable, auth.CodeUnavailable, true, false, ""},
		{"audit log down", func(e *env) { e.Audit.SetErr(errInjected) }, 0, "", true, true, "audit event not recorded"},
		{"outbox down", func(e *env) { e.Outbox.SetErr(errInjected) }, 0, "", true, true, "verification mail not queued"},
		{"token store down", func(e *env) { e.Tokens.SetErr(errInjected) }, 0, "", true, true, "verification mail not queued"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			tt.inject(e)
			got, err := e.svc.Register(context.Background(), auth.Register{Email: "ann@example.com", Password: password, Client: client})
			if tt.loggedIn {
				if err != nil || !got.LoggedIn {
					t.Fatalf("Register = %v, want success despite the failure", err)
				}
				e.logs.wantLogged(t, slog.LevelError, tt.log)
			} else {
				wantErr(t, err, tt.kind, tt.code)
				if got.LoggedIn || got.Session.Token != "" {
					t.Errorf("a failed registration returned a session: %+v", got)
				}
			}
			if (e.Identities.Len() == 1) != tt.created {
				t.Errorf("account created = %v, want %v", e.Identities.Len() == 1, tt.created)
			}
			if e.Outbox.Len() != e.Tx.Calls("Commit") {
				t.Error("mails and committed transactions disagree")
			}
			// A verification token is never kept without its mail.
			for _, r := range e.Tokens.Records() {
				if len(e.Outbox.To(r.Email.String(), "verification")) == 0 {
					t.Errorf("a verification token was stored without its mail")
				}
			}
		})
	}
}

func TestRegisterFailsWhenThePreviousSessionCannotEnd(t *testing.T) {
	e := newEnv(t)
	other := e.user(t, "other@example.com")
	prev, _ := e.session(t, other.ID, e.Clock.Now())
	e.Sessions.FailOn("End", errInjected)
	_, err := e.svc.Register(context.Background(), auth.Register{Email: "ann@example.com", Password: password, Current: prev})
	wantErr(t, err, auth.KindUnavailable, auth.CodeUnavailable)
	if e.Sessions.Calls("Start") != 0 {
		t.Error("a session was started while the previous one still works")
	}
}

func TestStrictRegistration(t *testing.T) {
	e := newEnv(t, strict)
	owner := e.user(t, "taken@example.com", verified)

	// A new address and a taken one get the same reply.
	for _, addr := range []string{"new@example.com", "TAKEN@example.com"} {
		got, err := e.svc.Register(context.Background(), auth.Register{Email: addr, Password: password, Client: client})
		if err != nil || got.LoggedIn || got.Session.Token != "" || got.Identity.ID != [16]byte{} {
			t.Errorf("%s: Register = %+v, %v; want an empty success", addr, got, err)
		}
	}
	if e.Sessions.Calls("Start") != 0 {
		t.Error("a strict registration logged someone in")
	}
	if e.Hasher.Hashes() != 2 {
		t.Errorf("%d hashes, want one per registration whether or not the address is taken", e.Hasher.Hashes())
	}
	// The new account exists, unverified, and is mailed a link.
	newMail := e.lastMail(t, "new@example.com", "verification")
	if e.Identities.Len() != 2 {
		t.Fatalf("%d identities, want the owner and the new one", e.Identities.Len())
	}
	// The owner of the taken address is told instead.
	m := e.lastMail(t, "taken@example.com", "account_exists")
	if m.Data["Link"] != publicURL+"/login" || m.Data["Email"] != "taken@example.com" {
		t.Errorf("account-exists mail = %+v", m)
	}
	if e.stored(t, owner.ID).PasswordHash != owner.PasswordHash {
		t.Error("the owner's account was changed")
	}
	// Strict mode needs the address verified before a login.
	_, err := e.svc.Login(context.Background(), auth.Login{Identifier: "new@example.com", Password: password, Client: client})
	if !errors.Is(err, auth.ErrEmailNotVerified) {
		t.Errorf("login before verification = %v, want ErrEmailNotVerified", err)
	}
	if _, err := e.svc.VerifyEmail(context.Background(), tokenOf(t, newMail), client); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Login(context.Background(), auth.Login{Identifier: "new@example.com", Password: password, Client: client}); err != nil {
		t.Errorf("login after verification: %v", err)
	}
}

func TestStrictRegistrationMailLimits(t *testing.T) {
	e := newEnv(t, strict, func(d *auth.Deps) { d.Mail.PerAddressLimit = 1 })
	e.user(t, "taken@example.com")
	for range 3 {
		if _, err := e.svc.Register(context.Background(), auth.Register{Email: "taken@example.com", Password: password, Client: client}); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(e.Outbox.To("taken@example.com", "account_exists")); n != 1 {
		t.Errorf("%d account-exists mails, want 1 within the per-address limit", n)
	}
	// A failing outbox is logged, and the reply is still the same.
	e.Clock.Advance(time.Hour)
	e.Outbox.SetErr(errInjected)
	if _, err := e.svc.Register(context.Background(), auth.Register{Email: "taken@example.com", Password: password}); err != nil {
		t.Errorf("Register with the outbox down = %v", err)
	}
	e.logs.wantLogged(t, slog.LevelError, "account-exists notice not queued")
}

func TestStrictRegistrationStillRefuses(t *testing.T) {
	tests := []struct {
		name string
		cmd  auth.Register
		kind auth.Kind
		code string
	}{
		{"invalid input", auth.Register{Email: "bad", Password: password}, auth.KindInvalid, auth.CodeInvalidInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, strict)
			e.user(t, "ann@example.com", func(i *auth.Identity) { i.Username = "annika" })
			_, err := e.svc.Register(context.Background(), tt.cmd)
			wantErr(t, err, tt.kind, tt.code)
		})
	}
}

// In the strict mode a taken username gives the reply of every other
// registration; only the mailbox learns why nothing was made, so the reply
// says nothing about the address.
func TestStrictRegistrationTakenUsername(t *testing.T) {
	tests := []struct {
		name     string
		email    string
		template string // the mail the address gets
	}{
		{"a new address", "bob@example.com", "username_taken"},
		{"a taken address", "ann@example.com", "account_exists"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, strict)
			e.user(t, "ann@example.com", func(i *auth.Identity) { i.Username = "annika" })
			fresh, err := e.svc.Register(context.Background(), auth.Register{Email: "carl@example.com", Password: password, Username: "carl", Client: client})
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.svc.Register(context.Background(), auth.Register{Email: tt.email, Password: password, Username: "ANNIKA", Client: client})
			if err != nil {
				t.Fatalf("Register = %v, want the reply of any strict registration", err)
			}
			if !reflect.DeepEqual(got, fresh) {
				t.Errorf("Register = %+v, a fresh registration = %+v", got, fresh)
			}
			if e.Identities.Len() != 2 {
				t.Errorf("%d identities, want ann and carl only", e.Identities.Len())
			}
			m := e.lastMail(t, tt.email, tt.template)
			if tt.template == "username_taken" && m.Data["Username"] != "ANNIKA" {
				t.Errorf("the mail names username %q", m.Data["Username"])
			}
		})
	}
}
