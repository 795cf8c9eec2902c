package authtest

import (
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/internal/auth"
)

// TestIdentityQueries is the contract of auth.IdentityQueries. newQueries
// returns the queries with the identity and factor stores they read; the
// stores may be shared with other tests, so every query this contract
// makes is narrowed to the identities it wrote (a unique e-mail prefix).
func TestIdentityQueries(t *testing.T, newQueries func(t *testing.T) (auth.IdentityStore, auth.FactorStore, auth.IdentityQueries)) {
	ids, fs, q := newQueries(t)
	run := unique()
	t0 := contractTime
	// Twelve identities of this run: every third inactive, every second
	// verified, the first two with a second factor, created one minute
	// apart except for the last three, created at the same instant (the
	// order then falls to the id).
	var made []auth.Identity
	for i := range 12 {
		email, err := auth.ParseEmail("q" + run + "-" + string(rune('a'+i)) + "@example.com")
		check(t, "ParseEmail", err)
		at := t0.Add(time.Duration(min(i, 9)) * time.Minute)
		id := auth.Identity{ID: uuid.Must(uuid.NewV7()), Email: email, PasswordHash: "$fake$", State: auth.StateActive,
			CreatedAt: at, UpdatedAt: at}
		if i%3 == 2 {
			id.State = auth.StateInactive
		}
		if i%2 == 1 {
			v := at
			id.EmailVerifiedAt = &v
		}
		if i == 4 {
			id.Username = "qname_" + run
		}
		made = append(made, createIdentity(t, ids, id))
	}
	check(t, "PutPendingTOTP", fs.PutPendingTOTP(t.Context(), made[0].ID, []byte("sealed"), t0))
	if ok, err := fs.UseTOTPStep(t.Context(), made[0].ID, 10, true, t0); !ok || err != nil {
		t.Fatalf("confirm = %v, %v", ok, err)
	}
	check(t, "AddPasskey", fs.AddPasskey(t.Context(), auth.Passkey{ID: uuid.Must(uuid.NewV7()), IdentityID: made[1].ID,
		NewPasskey: auth.NewPasskey{CredentialID: sha("cred:" + unique()), PublicKey: []byte("pk")}, Name: "Key", CreatedAt: t0}))
	// A pending TOTP is no second factor.
	check(t, "PutPendingTOTP", fs.PutPendingTOTP(t.Context(), made[2].ID, []byte("sealed"), t0))

	prefix := "q" + run + "-"
	sorted := slices.Clone(made)
	slices.SortFunc(sorted, func(a, b auth.Identity) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return compareIDs(a.ID, b.ID)
	})
	yes, no := true, false
	where := func(keep func(i int, id auth.Identity) bool) []uuid.UUID {
		var out []uuid.UUID
		for _, id := range sorted {
			i := slices.IndexFunc(made, func(m auth.Identity) bool { return m.ID == id.ID })
			if keep(i, id) {
				out = append(out, id.ID)
			}
		}
		return out
	}
	all := where(func(int, auth.Identity) bool { return true })
	tests := []struct {
		name string
		q    auth.IdentityQuery
		want []uuid.UUID
	}{
		{"every identity of the prefix, in creation order", auth.IdentityQuery{}, all},
		{"exact address", auth.IdentityQuery{Email: made[3].Email}, []uuid.UUID{made[3].ID}},
		{"username ignoring case", auth.IdentityQuery{Username: "QNAME_" + run}, []uuid.UUID{made[4].ID}},
		{"inactive", auth.IdentityQuery{State: auth.StateInactive}, where(func(i int, _ auth.Identity) bool { return i%3 == 2 })},
		{"verified", auth.IdentityQuery{Verified: &yes}, where(func(i int, _ auth.Identity) bool { return i%2 == 1 })},
		{"unverified and active", auth.IdentityQuery{Verified: &no, State: auth.StateActive},
			where(func(i int, _ auth.Identity) bool { return i%2 == 0 && i%3 != 2 })},
		{"created in a range", auth.IdentityQuery{CreatedFrom: t0.Add(2 * time.Minute), CreatedUntil: t0.Add(5 * time.Minute)},
			where(func(i int, _ auth.Identity) bool { return i >= 2 && i < 5 })},
		{"with a second factor", auth.IdentityQuery{HasSecondFactor: &yes}, where(func(i int, _ auth.Identity) bool { return i < 2 })},
		{"without a second factor", auth.IdentityQuery{HasSecondFactor: &no}, where(func(i int, _ auth.Identity) bool { return i >= 2 })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.q
			if f.Email.IsZero() {
				f.EmailPrefix = prefix
			}
			f.Limit = 100
			got, err := q.FindIdentities(t.Context(), f)
			check(t, "FindIdentities", err)
			if g := idsOf(got); !slices.Equal(g, tt.want) {
				t.Errorf("FindIdentities = %v, want %v", g, tt.want)
			}
		})
	}

	t.Run("pages follow one another without repeats or gaps", func(t *testing.T) {
		var seen []uuid.UUID
		var after *auth.IdentityCursor
		for range 10 {
			page, err := q.FindIdentities(t.Context(), auth.IdentityQuery{EmailPrefix: prefix, Limit: 5, After: after})
			check(t, "FindIdentities", err)
			seen = append(seen, idsOf(page)...)
			if len(page) < 5 {
				break
			}
			c := page[len(page)-1].Cursor()
			after = &c
		}
		if !slices.Equal(seen, all) {
			t.Errorf("pages gave %v, want %v", seen, all)
		}
	})

	t.Run("factors and traits come with each identity", func(t *testing.T) {
		got, err := q.FindIdentities(t.Context(), auth.IdentityQuery{Email: made[0].Email, Limit: 1})
		check(t, "FindIdentities", err)
		if len(got) != 1 || !got[0].Factors.TOTP || got[0].Email != made[0].Email || got[0].PasswordHash != "$fake$" {
			t.Errorf("FindIdentities(ann) = %+v", got)
		}
	})

	t.Run("prefix wildcards match only themselves", func(t *testing.T) {
		got, err := q.FindIdentities(t.Context(), auth.IdentityQuery{EmailPrefix: "q" + run + "%", Limit: 10})
		check(t, "FindIdentities", err)
		if len(got) != 0 {
			t.Errorf("a %% in the prefix matched %d identities", len(got))
		}
	})
}

// compareIDs orders ids as PostgreSQL orders uuids: byte by byte.
func compareIDs(a, b uuid.UUID) int {
	for i := range a {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

func idsOf(list []auth.ManagedIdentity) []uuid.UUID {
	out := make([]uuid.UUID, len(list))
	for i, m := range list {
		out[i] = m.ID
	}
	return out
}

// TestAuditQueries is the contract of auth.AuditQueries and of the parts
// of auth.AuditLog the admin use cases add (IDs, actors, pseudonyms).
// newLog returns a log and its queries over the same events, which may be
// shared with other tests: the contract narrows every query to identities
// of its own.
func TestAuditQueries(t *testing.T, newLog func(t *testing.T) (auth.IdentityStore, auth.AuditLog, auth.AuditQueries)) {
	ids, log, q := newLog(t)
	ann := createIdentity(t, ids, contractIdentity(t, "ann", ""))
	bob := createIdentity(t, ids, contractIdentity(t, "bob", ""))
	ip := "198.51.100." + string(rune('1'+len(unique())%8))
	var recorded []auth.Event
	record := func(typ auth.EventType, who uuid.UUID, actor, ip string, at time.Duration) {
		t.Helper()
		e := auth.Event{Type: typ, IdentityID: &who, Actor: actor, IP: ip, UserAgent: "authtest", RequestID: "req-" + unique(),
			CreatedAt: contractTime.Add(at)}
		check(t, "Record", log.Record(t.Context(), e))
		recorded = append(recorded, e)
	}
	record(auth.EventRegistered, ann.ID, "", ip, 0)
	record(auth.EventLoginFailed, ann.ID, "", "203.0.113.9", time.Second)
	record(auth.EventAdminIdentityRead, ann.ID, "admin:ops", "127.0.0.1", 2*time.Second)
	record(auth.EventLoginSucceeded, bob.ID, "", ip, 3*time.Second)
	record(auth.EventAdminIdentityDisabled, ann.ID, "admin:ops", "127.0.0.1", 4*time.Second)

	find := func(t *testing.T, f auth.AuditQuery) []auth.Event {
		t.Helper()
		if f.Limit == 0 {
			f.Limit = 100
		}
		got, err := q.FindEvents(t.Context(), f)
		check(t, "FindEvents", err)
		return got
	}
	types := func(list []auth.Event) []auth.EventType {
		var out []auth.EventType
		for _, e := range list {
			out = append(out, e.Type)
		}
		return out
	}

	t.Run("an identity's events newest first, with ids, actors and times", func(t *testing.T) {
		got := find(t, auth.AuditQuery{IdentityID: &ann.ID})
		want := []auth.EventType{auth.EventAdminIdentityDisabled, auth.EventAdminIdentityRead, auth.EventLoginFailed, auth.EventRegistered}
		if !slices.Equal(types(got), want) {
			t.Fatalf("FindEvents = %v, want %v", types(got), want)
		}
		for i := 1; i < len(got); i++ {
			if got[i].ID >= got[i-1].ID || got[i].ID == 0 {
				t.Errorf("ids not descending: %d after %d", got[i].ID, got[i-1].ID)
			}
		}
		if got[0].Actor != "admin:ops" || got[3].Actor != "" || !got[3].CreatedAt.Equal(contractTime) || got[3].RequestID != recorded[0].RequestID {
			t.Errorf("events = %+v", got)
		}
	})

	t.Run("filters", func(t *testing.T) {
		if got := find(t, auth.AuditQuery{IdentityID: &ann.ID, Event: auth.EventLoginFailed}); len(got) != 1 || got[0].IP != "203.0.113.9" {
			t.Errorf("by event = %+v", got)
		}
		byIP := find(t, auth.AuditQuery{IP: ip, From: contractTime, Until: contractTime.Add(5 * time.Second)})
		n := 0
		for _, e := range byIP {
			if *e.IdentityID == ann.ID || *e.IdentityID == bob.ID {
				n++
			}
		}
		if n != 2 {
			t.Errorf("by IP = %d of this run's events, want 2", n)
		}
		if got := find(t, auth.AuditQuery{IdentityID: &ann.ID, From: contractTime.Add(time.Second), Until: contractTime.Add(4 * time.Second)}); len(got) != 2 {
			t.Errorf("by time range = %v, want the two in [1s, 4s)", types(got))
		}
	})

	t.Run("pages below a cursor", func(t *testing.T) {
		first := find(t, auth.AuditQuery{IdentityID: &ann.ID, Limit: 2})
		rest := find(t, auth.AuditQuery{IdentityID: &ann.ID, Before: first[len(first)-1].ID})
		if len(first) != 2 || len(rest) != 2 || rest[0].Type != auth.EventLoginFailed {
			t.Errorf("pages = %v then %v", types(first), types(rest))
		}
	})

	t.Run("recent leaves out the admin reads", func(t *testing.T) {
		got, err := log.Recent(t.Context(), ann.ID, 10)
		check(t, "Recent", err)
		want := []auth.EventType{auth.EventAdminIdentityDisabled, auth.EventLoginFailed, auth.EventRegistered}
		if !slices.Equal(types(got), want) {
			t.Errorf("Recent = %v, want %v", types(got), want)
		}
	})

	t.Run("pseudonymise blanks the IP and user agent of one identity's events", func(t *testing.T) {
		check(t, "Pseudonymise", log.Pseudonymise(t.Context(), ann.ID))
		got := find(t, auth.AuditQuery{IdentityID: &ann.ID})
		if len(got) != 4 {
			t.Fatalf("after Pseudonymise %d events, want the 4 kept", len(got))
		}
		for _, e := range got {
			if e.IP != "" || e.UserAgent != "" || e.IdentityID == nil || *e.IdentityID != ann.ID || e.RequestID == "" {
				t.Errorf("pseudonymised event = %+v", e)
			}
		}
		if bobs := find(t, auth.AuditQuery{IdentityID: &bob.ID}); len(bobs) != 1 || bobs[0].IP != ip {
			t.Errorf("another identity's events = %+v", bobs)
		}
		check(t, "Pseudonymise again", log.Pseudonymise(t.Context(), ann.ID))
	})

	t.Run("an identity's events outlive it", func(t *testing.T) {
		check(t, "DeleteIdentity", ids.DeleteIdentity(t.Context(), bob.ID))
		if got := find(t, auth.AuditQuery{IdentityID: &bob.ID}); len(got) != 1 || got[0].IdentityID == nil || *got[0].IdentityID != bob.ID {
			t.Errorf("events of the deleted identity = %+v", got)
		}
		// And an event can name an identity that is gone.
		record(auth.EventAccountDeleted, bob.ID, "", "", 5*time.Second)
	})
}
