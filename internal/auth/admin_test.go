package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/internal/auth"
	"github.com/authd/authd/internal/auth/authtest"
)

var operator = auth.Actor{Name: "admin:ops", Client: auth.NewClient("10.0.0.9", "curl/8", "req-admin")}

// TestDeleteAccount: what a deletion removes, keeps and tells, on the
// fakes; and the rules that admit it.
func TestDeleteAccount(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	ann := e.user(t, "ann@example.com")
	bob := e.user(t, "bob@example.com")
	e.Audit.Record(ctx, auth.Event{Type: auth.EventLoginSucceeded, IdentityID: &ann.ID, IP: "192.0.2.1", UserAgent: "ua", CreatedAt: e.Clock.Now()})
	e.Audit.Record(ctx, auth.Event{Type: auth.EventLoginSucceeded, IdentityID: &bob.ID, IP: "192.0.2.2", UserAgent: "ua", CreatedAt: e.Clock.Now()})
	if err := e.Outbox.Queue(ctx, auth.Mail{To: ann.Email.String(), Template: "verification"}); err != nil {
		t.Fatal(err)
	}
	if err := e.Outbox.Queue(ctx, auth.Mail{To: bob.Email.String(), Template: "verification"}); err != nil {
		t.Fatal(err)
	}
	if err := e.Tokens.Issue(ctx, auth.IssuedToken{ID: uuid.New(), IdentityID: ann.ID, Purpose: auth.PurposeRecovery, Email: ann.Email,
		TokenHash: auth.HashToken("t"), ExpiresAt: e.Clock.Now().Add(time.Hour), CreatedAt: e.Clock.Now()}); err != nil {
		t.Fatal(err)
	}
	fresh, _ := e.session(t, ann.ID, e.Clock.Now())
	_, other := e.session(t, ann.ID, e.Clock.Now())

	if err := e.svc.DeleteAccount(ctx, fresh, client); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.Identities.Get(ann.ID); ok {
		t.Error("the identity is still stored")
	}
	if len(e.Tokens.Live(ann.ID, auth.PurposeRecovery, e.Clock.Now())) != 0 {
		t.Error("the identity's token survived")
	}
	if e.works(t, other) {
		t.Error("another session of the identity still works")
	}
	if got := e.Outbox.To(ann.Email.String(), "verification"); len(got) != 0 {
		t.Errorf("the waiting mail to the address was not dropped: %v", got)
	}
	if got := e.Outbox.To(bob.Email.String(), "verification"); len(got) != 1 {
		t.Errorf("another address's mail was dropped")
	}
	if got := e.Outbox.To(ann.Email.String(), "account_deleted"); len(got) != 1 {
		t.Errorf("no notice of the deletion: %v", e.Outbox.Mails())
	}
	for _, ev := range e.Audit.Events() {
		if ev.IdentityID == nil {
			continue
		}
		switch *ev.IdentityID {
		case ann.ID:
			if ev.IP != "" || ev.UserAgent != "" {
				t.Errorf("event %s of the deleted identity keeps %q %q", ev.Type, ev.IP, ev.UserAgent)
			}
		case bob.ID:
			if ev.IP == "" {
				t.Error("another identity's event was pseudonymised")
			}
		}
	}
	if got := e.Audit.OfType(auth.EventAccountDeleted); len(got) != 1 || got[0].RequestID != client.RequestID {
		t.Errorf("deletion events = %+v", got)
	}
}

func TestDeleteAccountRefusals(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		sess func(e *env, id uuid.UUID) auth.Session
		code string
	}{
		{"no session", func(*env, uuid.UUID) auth.Session { return auth.Session{} }, auth.CodeUnauthenticated},
		{"a login older than the privileged window", func(e *env, id uuid.UUID) auth.Session {
			s, _ := e.session(t, id, e.Clock.Now().Add(-16*time.Minute))
			return s
		}, auth.CodeReauthRequired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ann := e.user(t, "ann@example.com")
			err := e.svc.DeleteAccount(ctx, tt.sess(e, ann.ID), client)
			if ae, ok := err.(*auth.Error); !ok || ae.Code != tt.code {
				t.Errorf("DeleteAccount = %v, want %s", err, tt.code)
			}
			if _, ok := e.Identities.Get(ann.ID); !ok {
				t.Error("the identity was deleted")
			}
		})
	}
	t.Run("a failing store deletes nothing", func(t *testing.T) {
		e := newEnv(t)
		ann := e.user(t, "ann@example.com")
		s, token := e.session(t, ann.ID, e.Clock.Now())
		e.Audit.FailOn("Pseudonymise", errInjected)
		if err := e.svc.DeleteAccount(ctx, s, client); auth.ErrorKind(err) != auth.KindUnavailable {
			t.Errorf("DeleteAccount = %v, want unavailable", err)
		}
		if _, ok := e.Identities.Get(ann.ID); !ok || !e.works(t, token) {
			t.Error("a failed deletion removed the identity or its session")
		}
	})
}

// TestUpdateIdentityStates: disabling ends every session and records the
// operator; enabling does not bring sessions back.
func TestUpdateIdentityStates(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	ann := e.user(t, "ann@example.com")
	_, token := e.session(t, ann.ID, e.Clock.Now())
	off := auth.StateInactive
	m, err := e.svc.UpdateIdentity(ctx, operator, auth.IdentityChange{ID: ann.ID, State: &off})
	if err != nil || m.State != auth.StateInactive {
		t.Fatalf("UpdateIdentity = %+v, %v", m.State, err)
	}
	if e.works(t, token) {
		t.Error("a session of the disabled identity still works")
	}
	if got := e.Audit.OfType(auth.EventAdminIdentityDisabled); len(got) != 1 || got[0].Actor != "admin:ops" || got[0].IP != "10.0.0.9" {
		t.Errorf("disable events = %+v", got)
	}
	if _, err := e.svc.Login(ctx, auth.Login{Identifier: "ann@example.com", Password: password, Client: client}); err != auth.ErrInvalidCredentials {
		t.Errorf("login of a disabled identity = %v", err)
	}
	on := auth.StateActive
	if _, err := e.svc.UpdateIdentity(ctx, operator, auth.IdentityChange{ID: ann.ID, State: &on}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Login(ctx, auth.Login{Identifier: "ann@example.com", Password: password, Client: client}); err != nil {
		t.Errorf("login after enabling = %v", err)
	}
	bad := auth.State("banned")
	_, err = e.svc.UpdateIdentity(ctx, operator, auth.IdentityChange{ID: ann.ID, State: &bad})
	wantFields(t, err, "state=invalid_choice")
	_, err = e.svc.UpdateIdentity(ctx, operator, auth.IdentityChange{ID: uuid.New(), State: &on})
	wantErr(t, err, auth.KindNotFound, auth.CodeNotFound)
}

// TestCreateIdentity: the ways to give an identity a password, and what
// each refuses.
func TestCreateIdentity(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		cmd    auth.NewIdentity
		fields []string
	}{
		{"a password", auth.NewIdentity{Email: "a@example.com", Password: password}, nil},
		{"a hash made elsewhere", auth.NewIdentity{Email: "a@example.com", PasswordHash: authtest.StaleHashOf(password)}, nil},
		{"no password", auth.NewIdentity{Email: "a@example.com"}, nil},
		{"a common password", auth.NewIdentity{Email: "a@example.com", Password: "password123"}, []string{"password=password_too_common"}},
		{"an unreadable hash", auth.NewIdentity{Email: "a@example.com", PasswordHash: "md5:abc"}, []string{"password_hash=hash_unsupported"}},
		{"both", auth.NewIdentity{Email: "a@example.com", Password: password, PasswordHash: authtest.HashOf(password)}, []string{"password_hash=conflict"}},
		{"every field wrong", auth.NewIdentity{Email: "nope", Username: "a b", State: "x"}, []string{"email=email_invalid", "username=username_invalid", "state=invalid_choice"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			m, err := e.svc.CreateIdentity(ctx, operator, tt.cmd)
			if tt.fields != nil {
				wantFields(t, err, tt.fields...)
				if e.Identities.Len() != 0 {
					t.Error("a refused creation stored an identity")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.HasPassword() != (tt.cmd.Password != "" || tt.cmd.PasswordHash != "") {
				t.Errorf("HasPassword = %v", m.HasPassword())
			}
			if tt.cmd.Password != "" || tt.cmd.PasswordHash != "" {
				if _, err := e.svc.Login(ctx, auth.Login{Identifier: tt.cmd.Email, Password: password, Client: client}); err != nil {
					t.Errorf("login with the password = %v", err)
				}
			}
			if got := e.Audit.OfType(auth.EventAdminIdentityCreated); len(got) != 1 || got[0].Actor != "admin:ops" {
				t.Errorf("creation events = %+v", got)
			}
		})
	}
}

// TestEmailChangeOnFakes: the tokens and mails of a change, of one to a
// taken address, and of the cancel that undoes a confirmed change.
func TestEmailChangeOnFakes(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	ann := e.user(t, "ann@example.com", verified)
	e.user(t, "taken@example.com")
	s, _ := e.session(t, ann.ID, e.Clock.Now())

	if err := e.svc.RequestEmailChange(ctx, auth.ChangeEmail{Session: s, Email: "taken@example.com", Client: client}); err != nil {
		t.Fatal(err)
	}
	if len(e.Outbox.To("taken@example.com", "email_change_taken")) != 1 || len(e.Tokens.Live(ann.ID, auth.PurposeEmailChange, e.Clock.Now())) != 0 {
		t.Error("a change to a taken address must mail its owner and leave nothing pending")
	}
	if err := e.svc.RequestEmailChange(ctx, auth.ChangeEmail{Session: s, Email: "new@example.com", Client: client}); err != nil {
		t.Fatal(err)
	}
	notices := e.Outbox.To("ann@example.com", "email_change_requested")
	if len(notices) != 2 {
		t.Fatalf("%d notices to the old address, want one per request", len(notices))
	}
	// Both notices' links work: a second request does not void the first.
	if got := len(e.Tokens.Live(ann.ID, auth.PurposeEmailChangeCancel, e.Clock.Now())); got != 2 {
		t.Errorf("%d live cancel links, want 2", got)
	}
	confirm := tokenOf(t, e.lastMail(t, "new@example.com", "email_change"))
	changed, err := e.svc.VerifyEmail(ctx, confirm, client)
	if err != nil || changed.Email.String() != "new@example.com" || changed.EmailVerifiedAt == nil {
		t.Fatalf("VerifyEmail = %+v, %v", changed, err)
	}
	if err := e.svc.CancelEmailChange(ctx, tokenOf(t, notices[0]), client); err != nil {
		t.Fatal(err)
	}
	if got := e.stored(t, ann.ID); got.Email.String() != "ann@example.com" || got.EmailVerifiedAt == nil {
		t.Errorf("after the cancel: %s verified=%v", got.Email, got.EmailVerifiedAt != nil)
	}
	wantTypes(t, e.Audit, auth.EventEmailChangeRequested, auth.EventEmailChangeRequested, auth.EventEmailChanged, auth.EventEmailChangeCancelled)
	if err := e.svc.CancelEmailChange(ctx, tokenOf(t, notices[0]), client); err != auth.ErrTokenInvalid {
		t.Errorf("a used cancel link = %v", err)
	}
}
