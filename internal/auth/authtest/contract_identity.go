package authtest

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/internal/auth"
)

// TestIdentityStore is the contract of auth.IdentityStore. newStore may
// return stores over one shared database: every identity the contract
// writes has a unique address and username.
func TestIdentityStore(t *testing.T, newStore func(t *testing.T) auth.IdentityStore) {
	t.Run("create then read by e-mail and by id", func(t *testing.T) {
		s := newStore(t)
		verified := contractTime.Add(-time.Hour)
		tests := []struct {
			name string
			make func() auth.Identity
		}{
			{"all traits", func() auth.Identity {
				i := contractIdentity(t, "ann", "ann")
				i.GeoLocation = "Oslo"
				return i
			}},
			{"no traits", func() auth.Identity { return contractIdentity(t, "bob", "") }},
			{"verified and inactive", func() auth.Identity {
				i := contractIdentity(t, "cid", "cid")
				i.EmailVerifiedAt, i.State = &verified, auth.StateInactive
				return i
			}},
		}
		for _, tt := range tests {
			want := createIdentity(t, s, tt.make())
			got, err := s.IdentityByEmail(t.Context(), want.Email)
			if err != nil {
				t.Fatalf("%s: IdentityByEmail: %v", tt.name, err)
			}
			if d := diffIdentity(got, want); d != "" {
				t.Errorf("%s: IdentityByEmail has %s", tt.name, d)
			}
			wantIdentity(t, tt.name, s, want)
		}
	})

	t.Run("e-mail lookup ignores letter case", func(t *testing.T) {
		s := newStore(t)
		ann := createIdentity(t, s, contractIdentity(t, "ann", ""))
		upper, err := auth.ParseEmail(strings.ToUpper(ann.Email.String()))
		check(t, "ParseEmail", err)
		got, err := s.IdentityByEmail(t.Context(), upper)
		if err != nil || got.ID != ann.ID {
			t.Errorf("IdentityByEmail(%s) = %v, %v; want %v", upper, got.ID, err, ann.ID)
		}
	})

	t.Run("a missing identity is not found", func(t *testing.T) {
		s := newStore(t)
		missing, err := auth.ParseEmail("nobody-" + unique() + "@example.com")
		check(t, "ParseEmail", err)
		_, err = s.IdentityByEmail(t.Context(), missing)
		wantKind(t, "IdentityByEmail(missing)", err, auth.KindNotFound)
		_, err = s.IdentityByID(t.Context(), uuid.New())
		wantKind(t, "IdentityByID(missing)", err, auth.KindNotFound)
		at := contractTime
		wantKind(t, "UpdatePasswordHash(missing)", s.UpdatePasswordHash(t.Context(), uuid.New(), "h", at), auth.KindNotFound)
		wantKind(t, "UpdateProfile(missing)", s.UpdateProfile(t.Context(), uuid.New(), "", "", at), auth.KindNotFound)
		wantKind(t, "MarkEmailVerified(missing)", s.MarkEmailVerified(t.Context(), uuid.New(), at), auth.KindNotFound)
	})

	t.Run("e-mail and username are unique in any letter case", func(t *testing.T) {
		s := newStore(t)
		ann := createIdentity(t, s, contractIdentity(t, "ann", "ann"))
		tests := []struct {
			name string
			make func() auth.Identity
			want error
		}{
			{"same e-mail", func() auth.Identity {
				i := contractIdentity(t, "x", "")
				i.Email = ann.Email
				return i
			}, auth.ErrEmailTaken},
			{"same username", func() auth.Identity {
				i := contractIdentity(t, "y", "")
				i.Username = ann.Username
				return i
			}, auth.ErrUsernameTaken},
			{"same username in other case", func() auth.Identity {
				i := contractIdentity(t, "z", "")
				i.Username = strings.ToUpper(ann.Username)
				return i
			}, auth.ErrUsernameTaken},
			{"no username, twice", func() auth.Identity { return contractIdentity(t, "nouser1", "") }, nil},
			{"no username, twice (2)", func() auth.Identity { return contractIdentity(t, "nouser2", "") }, nil},
		}
		for _, tt := range tests {
			i := tt.make()
			err := s.CreateIdentity(t.Context(), i)
			if tt.want == nil {
				if err != nil {
					t.Errorf("%s: CreateIdentity = %v, want success", tt.name, err)
				}
				continue
			}
			wantIs(t, tt.name+": CreateIdentity", err, tt.want)
			if _, err := s.IdentityByID(t.Context(), i.ID); auth.ErrorKind(err) != auth.KindNotFound {
				t.Errorf("%s: the refused identity was stored (IdentityByID = %v)", tt.name, err)
			}
		}
		wantIdentity(t, "the first owner", s, ann)
	})

	t.Run("look-alike usernames are one username", func(t *testing.T) {
		s := newStore(t)
		u := unique()
		owner := contractIdentity(t, "chaos", "")
		owner.Username = "chaos_" + u
		createIdentity(t, s, owner)
		tests := []struct {
			name     string
			username string
			want     error
		}{
			{"fullwidth letters", "\uff43\uff48\uff41\uff4f\uff53_" + u, auth.ErrUsernameTaken},
			{"all-Cyrillic look-alike", "\u0441\u04bb\u0430\u043e\u0455_" + u, auth.ErrUsernameTaken},
			{"all-Cyrillic capitals", "\u0421\u04ba\u0410\u041e\u0405_" + u, auth.ErrUsernameTaken},
			{"digit zero for o", "cha0s_" + u, auth.ErrUsernameTaken},
			{"with an invisible character", "cha\u200bos_" + u, auth.ErrUsernameTaken},
			{"another username", "chaoss_" + u, nil},
		}
		for _, tt := range tests {
			i := contractIdentity(t, "lookalike", "")
			i.Username = tt.username
			err := s.CreateIdentity(t.Context(), i)
			if tt.want == nil {
				if err != nil {
					t.Errorf("%s: CreateIdentity(%+q) = %v, want success", tt.name, tt.username, err)
				}
				continue
			}
			wantIs(t, tt.name+": CreateIdentity", err, tt.want)
			if _, err := s.IdentityByID(t.Context(), i.ID); auth.ErrorKind(err) != auth.KindNotFound {
				t.Errorf("%s: the refused identity was stored (IdentityByID = %v)", tt.name, err)
			}
		}
		wantIdentity(t, "the first owner", s, owner)
	})

	t.Run("update profile to a look-alike username", func(t *testing.T) {
		s := newStore(t)
		u := unique()
		ann := contractIdentity(t, "ann", "")
		ann.Username = "scope_" + u
		createIdentity(t, s, ann)
		bob := createIdentity(t, s, contractIdentity(t, "bob", "bob"))
		lookalike := "\u0455\u0441\u043e\u0440\u0435_" + u // Cyrillic
		at := contractTime.Add(time.Minute)
		wantIs(t, "another's look-alike: UpdateProfile", s.UpdateProfile(t.Context(), bob.ID, lookalike, "", at), auth.ErrUsernameTaken)
		wantIdentity(t, "after the refused change", s, bob)
		// Her own look-alike is still her username.
		check(t, "own look-alike: UpdateProfile", s.UpdateProfile(t.Context(), ann.ID, lookalike, "Oslo", at))
		ann.Username, ann.GeoLocation, ann.UpdatedAt = lookalike, "Oslo", at
		wantIdentity(t, "after her own look-alike", s, ann)
		// A cleared username frees every look-alike of it.
		check(t, "clear: UpdateProfile", s.UpdateProfile(t.Context(), ann.ID, "", "Oslo", at))
		check(t, "freed: UpdateProfile", s.UpdateProfile(t.Context(), bob.ID, "scope_"+u, "", at))
	})

	t.Run("e-mail is unique in its canonical form", func(t *testing.T) {
		s := newStore(t)
		local := "idn-" + unique()
		parse := func(raw string) auth.Email {
			t.Helper()
			e, err := auth.ParseEmail(raw)
			check(t, "ParseEmail("+raw+")", err)
			return e
		}
		first := contractIdentity(t, "x", "")
		first.Email = parse(local + "@b\u00fccher.example")
		if want := local + "@xn--bcher-kva.example"; first.Email.String() != want {
			t.Fatalf("ParseEmail gave %s, want the A-label form %s", first.Email, want)
		}
		createIdentity(t, s, first)
		second := contractIdentity(t, "y", "")
		second.Email = parse(local + "@xn--bcher-kva.example")
		wantIs(t, "the punycode form: CreateIdentity", s.CreateIdentity(t.Context(), second), auth.ErrEmailTaken)
		got, err := s.IdentityByEmail(t.Context(), parse(strings.ToUpper(local)+"@B\u00dcCHER.example"))
		if err != nil || got.ID != first.ID {
			t.Errorf("IdentityByEmail(the Unicode form in capitals) = %v, %v; want %v", got.ID, err, first.ID)
		}
		wantIdentity(t, "the first owner", s, first)
	})

	t.Run("update password hash", func(t *testing.T) {
		s := newStore(t)
		ann := createIdentity(t, s, contractIdentity(t, "ann", "ann"))
		bob := createIdentity(t, s, contractIdentity(t, "bob", ""))
		at := contractTime.Add(time.Minute)
		check(t, "UpdatePasswordHash", s.UpdatePasswordHash(t.Context(), ann.ID, "$fake$new", at))
		ann.PasswordHash, ann.UpdatedAt = "$fake$new", at
		wantIdentity(t, "after UpdatePasswordHash", s, ann)
		wantIdentity(t, "another identity", s, bob)
	})

	t.Run("update profile", func(t *testing.T) {
		s := newStore(t)
		ann := createIdentity(t, s, contractIdentity(t, "ann", "ann"))
		bob := createIdentity(t, s, contractIdentity(t, "bob", "bob"))
		newName := "anna_" + unique()
		steps := []struct {
			name          string
			username, geo string
			want          error
		}{
			{"set both", newName, "Bergen", nil},
			{"own username in other case", strings.ToUpper(newName), "Bergen", nil},
			{"username of another identity", bob.Username, "Oslo", auth.ErrUsernameTaken},
			{"username of another identity in other case", strings.ToUpper(bob.Username), "Oslo", auth.ErrUsernameTaken},
			{"clear both", "", "", nil},
		}
		for i, st := range steps {
			at := contractTime.Add(time.Duration(i+1) * time.Minute)
			err := s.UpdateProfile(t.Context(), ann.ID, st.username, st.geo, at)
			if st.want != nil {
				wantIs(t, st.name+": UpdateProfile", err, st.want)
			} else if err != nil {
				t.Fatalf("%s: UpdateProfile = %v", st.name, err)
			} else {
				ann.Username, ann.GeoLocation, ann.UpdatedAt = st.username, st.geo, at
			}
			wantIdentity(t, st.name, s, ann)
		}
		wantIdentity(t, "the other identity", s, bob)
		// A cleared username is free for someone else.
		other := contractIdentity(t, "cid", "")
		other.Username = newName
		createIdentity(t, s, other)
	})

	t.Run("mark e-mail verified", func(t *testing.T) {
		s := newStore(t)
		ann := createIdentity(t, s, contractIdentity(t, "ann", ""))
		at := contractTime.Add(time.Hour)
		check(t, "MarkEmailVerified", s.MarkEmailVerified(t.Context(), ann.ID, at))
		ann.EmailVerifiedAt, ann.UpdatedAt = &at, at
		wantIdentity(t, "after MarkEmailVerified", s, ann)
	})

	t.Run("update e-mail moves the identity to the new address", func(t *testing.T) {
		s := newStore(t)
		ann := createIdentity(t, s, contractIdentity(t, "ann", ""))
		bob := createIdentity(t, s, contractIdentity(t, "bob", ""))
		old := ann.Email
		moved := contractIdentity(t, "ann-new", "").Email
		at := contractTime.Add(time.Hour)
		check(t, "UpdateEmail", s.UpdateEmail(t.Context(), ann.ID, moved, &at, at))
		ann.Email, ann.EmailVerifiedAt, ann.UpdatedAt = moved, &at, at
		wantIdentity(t, "after UpdateEmail", s, ann)
		if got, err := s.IdentityByEmail(t.Context(), moved); err != nil || got.ID != ann.ID {
			t.Errorf("IdentityByEmail(new) = %v, %v; want ann", got.ID, err)
		}
		_, err := s.IdentityByEmail(t.Context(), old)
		wantKind(t, "IdentityByEmail(old)", err, auth.KindNotFound)
		// Unverified again, and another identity's address refused.
		later := at.Add(time.Minute)
		check(t, "UpdateEmail unverified", s.UpdateEmail(t.Context(), ann.ID, moved, nil, later))
		ann.EmailVerifiedAt, ann.UpdatedAt = nil, later
		wantIdentity(t, "after UpdateEmail unverified", s, ann)
		upper, err := auth.ParseEmail(strings.ToUpper(bob.Email.String()))
		check(t, "ParseEmail", err)
		wantIs(t, "UpdateEmail to another's address", s.UpdateEmail(t.Context(), ann.ID, upper, nil, later), auth.ErrEmailTaken)
		wantIdentity(t, "after a refused UpdateEmail", s, ann)
		// The old address is free for someone else.
		other := contractIdentity(t, "cid", "")
		other.Email = old
		createIdentity(t, s, other)
		wantKind(t, "UpdateEmail of a missing identity", s.UpdateEmail(t.Context(), uuid.New(), contractIdentity(t, "x", "").Email, nil, at), auth.KindNotFound)
	})

	t.Run("update state", func(t *testing.T) {
		s := newStore(t)
		ann := createIdentity(t, s, contractIdentity(t, "ann", ""))
		at := contractTime.Add(time.Hour)
		check(t, "UpdateState", s.UpdateState(t.Context(), ann.ID, auth.StateInactive, at))
		ann.State, ann.UpdatedAt = auth.StateInactive, at
		wantIdentity(t, "after UpdateState inactive", s, ann)
		check(t, "UpdateState", s.UpdateState(t.Context(), ann.ID, auth.StateActive, at.Add(time.Second)))
		ann.State, ann.UpdatedAt = auth.StateActive, at.Add(time.Second)
		wantIdentity(t, "after UpdateState active", s, ann)
		wantKind(t, "UpdateState of a missing identity", s.UpdateState(t.Context(), uuid.New(), auth.StateActive, at), auth.KindNotFound)
	})

	t.Run("delete removes the identity and frees its address and username", func(t *testing.T) {
		s := newStore(t)
		ann := createIdentity(t, s, contractIdentity(t, "ann", "ann"))
		bob := createIdentity(t, s, contractIdentity(t, "bob", "bob"))
		check(t, "DeleteIdentity", s.DeleteIdentity(t.Context(), ann.ID))
		_, err := s.IdentityByID(t.Context(), ann.ID)
		wantKind(t, "IdentityByID after delete", err, auth.KindNotFound)
		_, err = s.IdentityByEmail(t.Context(), ann.Email)
		wantKind(t, "IdentityByEmail after delete", err, auth.KindNotFound)
		wantKind(t, "a second DeleteIdentity", s.DeleteIdentity(t.Context(), ann.ID), auth.KindNotFound)
		wantIdentity(t, "the other identity", s, bob)
		again := contractIdentity(t, "ann2", "")
		again.Email, again.Username = ann.Email, ann.Username
		createIdentity(t, s, again)
	})
}
