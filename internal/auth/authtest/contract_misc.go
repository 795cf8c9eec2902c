package authtest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/internal/auth"
)

// TestProfileCache is the contract of auth.ProfileCache. Real caches may
// refuse a Put for a while after an Invalidate (so that a reader that loaded
// the old row cannot put it back), so the contract never puts a profile
// right after invalidating it.
func TestProfileCache(t *testing.T, newCache func(t *testing.T) auth.ProfileCache) {
	name, geo := "ann", "Oslo"
	profile := func() auth.Profile {
		return auth.Profile{ID: uuid.Must(uuid.NewV7()), Email: "ann-" + unique() + "@example.com", EmailVerified: true,
			Username: &name, GeoLocation: &geo, State: auth.StateActive,
			CreatedAt: contractTime, UpdatedAt: contractTime.Add(time.Minute)}
	}
	get := func(t *testing.T, c auth.ProfileCache, id uuid.UUID) (auth.Profile, bool) {
		t.Helper()
		p, ok, err := c.Get(t.Context(), id)
		check(t, "Get", err)
		return p, ok
	}
	wantCached := func(t *testing.T, c auth.ProfileCache, want auth.Profile) {
		t.Helper()
		got, ok := get(t, c, want.ID)
		if !ok {
			t.Errorf("profile %v not cached", want.ID)
			return
		}
		same := func(a, b *string) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }
		if got.ID != want.ID || got.Email != want.Email || got.EmailVerified != want.EmailVerified ||
			!same(got.Username, want.Username) || !same(got.GeoLocation, want.GeoLocation) || got.State != want.State ||
			!got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) {
			t.Errorf("Get = %+v, want %+v", got, want)
		}
	}

	t.Run("a miss is not an error", func(t *testing.T) {
		c := newCache(t)
		if _, ok := get(t, c, uuid.New()); ok {
			t.Error("Get of an uncached profile hit")
		}
	})

	t.Run("put then get", func(t *testing.T) {
		c := newCache(t)
		full, bare := profile(), profile()
		bare.Username, bare.GeoLocation, bare.EmailVerified, bare.State = nil, nil, false, auth.StateInactive
		for _, p := range []auth.Profile{full, bare} {
			check(t, "Put", c.Put(t.Context(), p))
			wantCached(t, c, p)
		}
	})

	t.Run("a put replaces the cached profile", func(t *testing.T) {
		c := newCache(t)
		p := profile()
		check(t, "Put", c.Put(t.Context(), p))
		other := "anna"
		p.Username, p.UpdatedAt = &other, p.UpdatedAt.Add(time.Minute)
		check(t, "Put", c.Put(t.Context(), p))
		wantCached(t, c, p)
	})

	t.Run("invalidate drops one profile", func(t *testing.T) {
		c := newCache(t)
		a, b := profile(), profile()
		check(t, "Put", c.Put(t.Context(), a))
		check(t, "Put", c.Put(t.Context(), b))
		check(t, "Invalidate", c.Invalidate(t.Context(), a.ID))
		if _, ok := get(t, c, a.ID); ok {
			t.Error("an invalidated profile is still cached")
		}
		wantCached(t, c, b)
		check(t, "Invalidate of an uncached profile", c.Invalidate(t.Context(), uuid.New()))
	})
}

// TestAuditLog is the contract of auth.AuditLog. newLog returns the log
// and an identity store on the same data, for the identities the events
// are about.
func TestAuditLog(t *testing.T, newLog func(t *testing.T) (auth.IdentityStore, auth.AuditLog)) {
	t.Run("recent gives the identity's latest events, newest first", func(t *testing.T) {
		ids, log := newLog(t)
		ann := createIdentity(t, ids, contractIdentity(t, "ann", ""))
		bob := createIdentity(t, ids, contractIdentity(t, "bob", ""))
		record := func(typ auth.EventType, who *uuid.UUID, at time.Duration) auth.Event {
			t.Helper()
			e := auth.Event{Type: typ, IdentityID: who, IP: "192.0.2.1", UserAgent: "authtest", RequestID: "req-" + unique(),
				CreatedAt: contractTime.Add(at)}
			check(t, "Record", log.Record(t.Context(), e))
			return e
		}
		reg := record(auth.EventRegistered, &ann.ID, 0)
		failed := record(auth.EventLoginFailed, &ann.ID, time.Second)
		record(auth.EventLoginFailed, &bob.ID, 2*time.Second)
		record(auth.EventLoginFailed, nil, 2*time.Second) // unknown e-mail
		ok := record(auth.EventLoginSucceeded, &ann.ID, 3*time.Second)
		// Two events at the same time: the later recorded is the newer.
		same1 := record(auth.EventPasswordChanged, &ann.ID, 4*time.Second)
		same2 := record(auth.EventSessionRevoked, &ann.ID, 4*time.Second)

		tests := []struct {
			name  string
			limit int
			want  []auth.Event
		}{
			{"all", 10, []auth.Event{same2, same1, ok, failed, reg}},
			{"limited", 2, []auth.Event{same2, same1}},
		}
		for _, tt := range tests {
			got, err := log.Recent(t.Context(), ann.ID, tt.limit)
			check(t, "Recent", err)
			if len(got) != len(tt.want) {
				t.Fatalf("%s: Recent = %d events, want %d", tt.name, len(got), len(tt.want))
			}
			for i, w := range tt.want {
				g := got[i]
				if g.Type != w.Type || g.IdentityID == nil || *g.IdentityID != ann.ID || g.IP != w.IP ||
					g.UserAgent != w.UserAgent || g.RequestID != w.RequestID || !g.CreatedAt.Equal(w.CreatedAt) {
					t.Errorf("%s: Recent[%d] = %+v, want %+v", tt.name, i, g, w)
				}
			}
		}
		if got, err := log.Recent(t.Context(), uuid.New(), 10); err != nil || len(got) != 0 {
			t.Errorf("Recent of an identity without events = %v, %v", got, err)
		}
	})
}

// TxFixture is what TestTransactor needs of a transactor: the transactor,
// the stores outside any transaction (to see what committed) and, when the
// outbox can be observed, the number of mails committed so far.
type TxFixture struct {
	Tx     auth.Transactor
	Stores auth.Stores
	// Mails counts the mails the outbox holds; nil when the outbox cannot
	// be observed, and then only the identities and tokens are checked.
	Mails func(t *testing.T) int
}

// TestTransactor is the contract of auth.Transactor across the identities,
// tokens and outbox.
func TestTransactor(t *testing.T, newFixture func(t *testing.T) TxFixture) {
	t0 := contractTime
	mails := func(t *testing.T, f TxFixture) int {
		t.Helper()
		if f.Mails == nil {
			return 0
		}
		return f.Mails(t)
	}
	newToken := func(i auth.Identity, at time.Time) auth.IssuedToken {
		return auth.IssuedToken{ID: uuid.Must(uuid.NewV7()), IdentityID: i.ID, Purpose: auth.PurposeRecovery, Email: i.Email,
			TokenHash: sha("tx-token:" + unique()), ExpiresAt: at.Add(time.Hour), CreatedAt: at}
	}
	mail := func(i auth.Identity) auth.Mail {
		return auth.Mail{To: i.Email.String(), Template: "recovery", Data: map[string]string{"Link": "https://example.com/x"}}
	}

	t.Run("commit keeps every write", func(t *testing.T) {
		f := newFixture(t)
		before := mails(t, f)
		ann := contractIdentity(t, "ann", "ann")
		tok := newToken(ann, t0)
		err := f.Tx.InTx(t.Context(), func(st auth.Stores) error {
			if err := st.Identities.CreateIdentity(t.Context(), ann); err != nil {
				return err
			}
			if _, err := st.Identities.IdentityByID(t.Context(), ann.ID); err != nil {
				t.Errorf("a write is not seen inside its transaction: %v", err)
			}
			if err := st.Tokens.Issue(t.Context(), tok); err != nil {
				return err
			}
			return st.Outbox.Queue(t.Context(), mail(ann))
		})
		check(t, "InTx", err)
		wantIdentity(t, "after commit", f.Stores.Identities, ann)
		if _, err := f.Stores.Tokens.Lookup(t.Context(), auth.PurposeRecovery, tok.TokenHash, t0); err != nil {
			t.Errorf("the token did not commit: %v", err)
		}
		if f.Mails != nil {
			if got := mails(t, f); got != before+1 {
				t.Errorf("mails after commit = %d, want %d", got, before+1)
			}
		}
	})

	for _, tc := range []struct {
		name string
		err  error
	}{
		{"a domain error", auth.Unavailable("authtest", errors.New("the mail could not be queued"))},
		{"a plain error", errors.New("authtest: fn failed")},
	} {
		t.Run("fn failing with "+tc.name+" rolls every write back and returns the error as it is", func(t *testing.T) {
			f := newFixture(t)
			// State from before the transaction, which it changes.
			ann := createIdentity(t, f.Stores.Identities, contractIdentity(t, "ann", ""))
			old := newToken(ann, t0)
			check(t, "Issue", f.Stores.Tokens.Issue(t.Context(), old))
			before := mails(t, f)

			bob := contractIdentity(t, "bob", "")
			fresh := newToken(bob, t0.Add(time.Second))
			err := f.Tx.InTx(t.Context(), func(st auth.Stores) error {
				steps := []func() error{
					func() error { return st.Identities.CreateIdentity(t.Context(), bob) },
					func() error {
						return st.Identities.UpdatePasswordHash(t.Context(), ann.ID, "$fake$rolled-back", t0.Add(time.Minute))
					},
					func() error { return st.Identities.MarkEmailVerified(t.Context(), ann.ID, t0.Add(time.Minute)) },
					func() error {
						_, err := st.Tokens.Redeem(t.Context(), auth.PurposeRecovery, old.TokenHash, t0)
						return err
					},
					func() error { return st.Tokens.Issue(t.Context(), fresh) },
					func() error { return st.Outbox.Queue(t.Context(), mail(bob)) },
				}
				for i, step := range steps {
					if err := step(); err != nil {
						t.Errorf("step %d inside the transaction: %v", i, err)
						return err
					}
				}
				return tc.err
			})
			if err != tc.err {
				t.Errorf("InTx = %v (%T), want fn's error as it is: %v", err, err, tc.err)
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("InTx = %v, which does not even wrap fn's error", err)
			}
			if _, err := f.Stores.Identities.IdentityByID(t.Context(), bob.ID); auth.ErrorKind(err) != auth.KindNotFound {
				t.Errorf("an identity created in the rolled-back transaction exists (IdentityByID = %v)", err)
			}
			wantIdentity(t, "an identity changed in the rolled-back transaction", f.Stores.Identities, ann)
			if _, err := f.Stores.Tokens.Lookup(t.Context(), auth.PurposeRecovery, old.TokenHash, t0); err != nil {
				t.Errorf("a token redeemed in the rolled-back transaction is used: %v", err)
			}
			if _, err := f.Stores.Tokens.Lookup(t.Context(), auth.PurposeRecovery, fresh.TokenHash, t0.Add(time.Second)); !errors.Is(err, auth.ErrTokenInvalid) {
				t.Errorf("a token issued in the rolled-back transaction exists: %v", err)
			}
			if f.Mails != nil {
				if got := mails(t, f); got != before {
					t.Errorf("mails after rollback = %d, want %d", got, before)
				}
			}
		})
	}

	t.Run("a store error inside fn rolls back what came before it", func(t *testing.T) {
		f := newFixture(t)
		ann := createIdentity(t, f.Stores.Identities, contractIdentity(t, "ann", ""))
		bob := contractIdentity(t, "bob", "")
		dup := contractIdentity(t, "dup", "")
		dup.Email = ann.Email
		err := f.Tx.InTx(t.Context(), func(st auth.Stores) error {
			if err := st.Identities.CreateIdentity(t.Context(), bob); err != nil {
				return err
			}
			return st.Identities.CreateIdentity(t.Context(), dup)
		})
		wantIs(t, "InTx", err, auth.ErrEmailTaken)
		if _, err := f.Stores.Identities.IdentityByID(t.Context(), bob.ID); auth.ErrorKind(err) != auth.KindNotFound {
			t.Errorf("the identity created before the conflict exists (IdentityByID = %v)", err)
		}
		wantIdentity(t, "the owner of the address", f.Stores.Identities, ann)
	})
}
