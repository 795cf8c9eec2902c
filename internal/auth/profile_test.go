package auth_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/internal/auth"
)

func ptr(s string) *string { return &s }

func TestUpdateProfile(t *testing.T) {
	tests := []struct {
		name           string
		username, geo  *string
		wantUser, want string
	}{
		{"set both", ptr("Annika"), ptr(" Bergen "), "Annika", "Bergen"},
		{"leave both", nil, nil, "ann", "Oslo"},
		{"clear both", ptr(""), ptr("  "), "", ""},
		{"own username in another case", ptr("ANN"), nil, "ANN", "Oslo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ann := e.user(t, "ann@example.com", func(i *auth.Identity) { i.Username, i.GeoLocation = "ann", "Oslo" })
			_ = e.Profiles.Put(context.Background(), ann.Profile())
			now := e.Clock.Advance(time.Minute)
			got, err := e.svc.UpdateProfile(context.Background(), auth.UpdateProfile{IdentityID: ann.ID, Username: tt.username, GeoLocation: tt.geo, Client: client})
			if err != nil {
				t.Fatal(err)
			}
			stored := e.stored(t, ann.ID)
			if stored.Username != tt.wantUser || stored.GeoLocation != tt.want || !stored.UpdatedAt.Equal(now) ||
				got.Username != tt.wantUser || got.GeoLocation != tt.want {
				t.Errorf("stored %+v, returned %+v", stored, got)
			}
			if _, ok := e.Profiles.Cached(ann.ID); ok {
				t.Error("the cached profile was not invalidated")
			}
			wantTypes(t, e.Audit, auth.EventProfileUpdated)
		})
	}
}

func TestUpdateProfileRefusals(t *testing.T) {
	tests := []struct {
		name   string
		cmd    func(ann auth.Identity) auth.UpdateProfile
		inject func(e *env)
		kind   auth.Kind
		code   string
		fields []string
	}{
		{name: "bad username", cmd: func(a auth.Identity) auth.UpdateProfile {
			return auth.UpdateProfile{IdentityID: a.ID, Username: ptr("x")}
		}, kind: auth.KindInvalid, code: auth.CodeInvalidInput, fields: []string{"traits.username=username_invalid"}},
		{name: "both bad", cmd: func(a auth.Identity) auth.UpdateProfile {
			return auth.UpdateProfile{IdentityID: a.ID, Username: ptr("x"), GeoLocation: ptr("\x01")}
		}, kind: auth.KindInvalid, code: auth.CodeInvalidInput,
			fields: []string{"traits.username=username_invalid", "traits.geo_location=geo_location_invalid"}},
		{name: "username of another identity", cmd: func(a auth.Identity) auth.UpdateProfile {
			return auth.UpdateProfile{IdentityID: a.ID, Username: ptr("BOBBY")}
		}, kind: auth.KindConflict, code: auth.CodeUsernameTaken},
		{name: "unknown identity", cmd: func(auth.Identity) auth.UpdateProfile {
			return auth.UpdateProfile{IdentityID: uuid.New(), Username: ptr("anna")}
		}, kind: auth.KindUnauthenticated, code: auth.CodeUnauthenticated},
		{name: "store down", cmd: func(a auth.Identity) auth.UpdateProfile {
			return auth.UpdateProfile{IdentityID: a.ID, Username: ptr("anna")}
		}, inject: func(e *env) { e.Identities.FailOn("UpdateProfile", errAvailable) }, kind: auth.KindUnavailable, code: auth.CodeUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ann := e.user(t, "ann@example.com", func(i *auth.Identity) { i.Username = "ann" })
			e.user(t, "bob@example.com", func(i *auth.Identity) { i.Username = "bobby" })
			if tt.inject != nil {
				tt.inject(e)
			}
			_, err := e.svc.UpdateProfile(context.Background(), tt.cmd(ann))
			wantErr(t, err, tt.kind, tt.code)
			if tt.fields != nil {
				wantFields(t, err, tt.fields...)
			}
			if e.stored(t, ann.ID).Username != "ann" || len(e.Audit.Events()) != 0 {
				t.Error("a refused update changed the profile or was audited")
			}
		})
	}
}

func TestCurrentProfile(t *testing.T) {
	t.Run("a miss reads the store and fills the cache", func(t *testing.T) {
		e := newEnv(t)
		ann := e.user(t, "ann@example.com", verified)
		got, err := e.svc.CurrentProfile(context.Background(), ann.ID)
		if err != nil || got.ID != ann.ID || got.Email != "ann@example.com" || !got.EmailVerified || got.Username != nil {
			t.Fatalf("CurrentProfile = %+v, %v", got, err)
		}
		if cached, ok := e.Profiles.Cached(ann.ID); !ok || cached.ID != ann.ID {
			t.Error("the profile was not cached")
		}
		if e.Identities.Calls("IdentityByID") != 1 {
			t.Errorf("%d store reads", e.Identities.Calls("IdentityByID"))
		}
	})
	t.Run("a hit reads nothing else", func(t *testing.T) {
		e := newEnv(t)
		ann := e.user(t, "ann@example.com")
		p := ann.Profile()
		p.Username = ptr("from-cache")
		_ = e.Profiles.Put(context.Background(), p)
		got, err := e.svc.CurrentProfile(context.Background(), ann.ID)
		if err != nil || got.Username == nil || *got.Username != "from-cache" {
			t.Errorf("CurrentProfile = %+v, %v; want the cached profile", got, err)
		}
		if e.Identities.Calls("IdentityByID") != 0 {
			t.Error("a cache hit read the store")
		}
	})
	t.Run("a cached inactive profile authenticates nobody", func(t *testing.T) {
		e := newEnv(t)
		ann := e.user(t, "ann@example.com", inactive)
		_ = e.Profiles.Put(context.Background(), ann.Profile())
		if _, err := e.svc.CurrentProfile(context.Background(), ann.ID); err != auth.ErrUnauthenticated {
			t.Errorf("CurrentProfile = %v", err)
		}
	})
	t.Run("an inactive or missing identity authenticates nobody", func(t *testing.T) {
		e := newEnv(t)
		ann := e.user(t, "ann@example.com", inactive)
		for _, id := range []uuid.UUID{ann.ID, uuid.New()} {
			if _, err := e.svc.CurrentProfile(context.Background(), id); err != auth.ErrUnauthenticated {
				t.Errorf("CurrentProfile = %v", err)
			}
		}
		if _, ok := e.Profiles.Cached(ann.ID); ok {
			t.Error("an inactive profile was cached")
		}
	})
	t.Run("a failing cache falls back to the store", func(t *testing.T) {
		e := newEnv(t)
		ann := e.user(t, "ann@example.com")
		e.Profiles.SetErr(errInjected)
		if got, err := e.svc.CurrentProfile(context.Background(), ann.ID); err != nil || got.ID != ann.ID {
			t.Errorf("CurrentProfile = %+v, %v", got, err)
		}
		e.logs.wantLogged(t, slog.LevelWarn, "profile cache unavailable")
		e.logs.wantLogged(t, slog.LevelWarn, "profile not cached")
	})
	t.Run("a failing store is an error", func(t *testing.T) {
		e := newEnv(t)
		ann := e.user(t, "ann@example.com")
		e.Identities.SetErr(errAvailable)
		_, err := e.svc.CurrentProfile(context.Background(), ann.ID)
		wantErr(t, err, auth.KindUnavailable, auth.CodeUnavailable)
	})
	t.Run("without a cache", func(t *testing.T) {
		e := newEnv(t, func(d *auth.Deps) { d.Profiles = nil })
		ann := e.user(t, "ann@example.com")
		if got, err := e.svc.CurrentProfile(context.Background(), ann.ID); err != nil || got.ID != ann.ID {
			t.Errorf("CurrentProfile = %+v, %v", got, err)
		}
		// Changes need no invalidation either.
		if _, err := e.svc.UpdateProfile(context.Background(), auth.UpdateProfile{IdentityID: ann.ID, Username: ptr("anna")}); err != nil {
			t.Error(err)
		}
	})
}

func TestActivity(t *testing.T) {
	e := newEnv(t)
	ann := e.user(t, "ann@example.com")
	for range 3 {
		_, _ = login(e, "ann@example.com", "wrong password")
		e.Clock.Advance(time.Second)
	}
	if _, err := login(e, "ann@example.com", password); err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.Activity(context.Background(), ann.ID)
	if err != nil || len(got) != 4 || got[0].Type != auth.EventLoginSucceeded || got[3].Type != auth.EventLoginFailed {
		t.Errorf("Activity = %+v, %v; want 4 events, newest first", got, err)
	}
	if got[0].IP != client.IP || got[0].UserAgent != client.UserAgent || got[0].RequestID != client.RequestID {
		t.Errorf("event = %+v", got[0])
	}
	e.Audit.FailOn("Recent", errInjected)
	if _, err := e.svc.Activity(context.Background(), ann.ID); !errors.Is(err, errInjected) {
		t.Errorf("Activity with the log down = %v", err)
	}
}

func TestIdentityProfile(t *testing.T) {
	at := time.Date(2030, 1, 1, 12, 0, 0, 0, time.FixedZone("x", 3600))
	email, _ := auth.ParseEmail("ann@example.com")
	i := auth.Identity{ID: uuid.New(), Email: email, Username: "ann", State: auth.StateActive, CreatedAt: at, UpdatedAt: at}
	p := i.Profile()
	if p.Email != "ann@example.com" || p.EmailVerified || p.Username == nil || *p.Username != "ann" || p.GeoLocation != nil ||
		p.CreatedAt.Location() != time.UTC || !p.CreatedAt.Equal(at) {
		t.Errorf("Profile = %+v", p)
	}
}
