package authtest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/internal/auth"
)

// TestTokenStore is the contract of auth.TokenStore. newStores returns a
// token store and an identity store on the same data, for the identities
// the tokens belong to.
func TestTokenStore(t *testing.T, newStores func(t *testing.T) (auth.IdentityStore, auth.TokenStore)) {
	t0 := contractTime
	type fixture struct {
		ids    auth.IdentityStore
		tokens auth.TokenStore
		ann    auth.Identity
		bob    auth.Identity
	}
	setup := func(t *testing.T) fixture {
		ids, tokens := newStores(t)
		return fixture{ids: ids, tokens: tokens,
			ann: createIdentity(t, ids, contractIdentity(t, "ann", "")),
			bob: createIdentity(t, ids, contractIdentity(t, "bob", ""))}
	}
	// issue stores a token of i whose raw value is unique to this run, and
	// returns its hash.
	issue := func(t *testing.T, f fixture, i auth.Identity, p auth.Purpose, at time.Time, ttl time.Duration) []byte {
		t.Helper()
		hash := sha("token:" + unique())
		check(t, "Issue", f.tokens.Issue(t.Context(), auth.IssuedToken{ID: uuid.Must(uuid.NewV7()), IdentityID: i.ID,
			Purpose: p, Email: i.Email, TokenHash: hash, ExpiresAt: at.Add(ttl), CreatedAt: at}))
		return hash
	}
	wantLive := func(t *testing.T, f fixture, what string, p auth.Purpose, hash []byte, now time.Time, owner auth.Identity) {
		t.Helper()
		got, err := f.tokens.Lookup(t.Context(), p, hash, now)
		if err != nil || got.IdentityID != owner.ID || got.Email != owner.Email {
			t.Errorf("%s: Lookup = %+v, %v; want the token of %s", what, got, err, owner.Email)
		}
	}
	wantInvalid := func(t *testing.T, f fixture, what string, p auth.Purpose, hash []byte, now time.Time) {
		t.Helper()
		_, err := f.tokens.Lookup(t.Context(), p, hash, now)
		wantIs(t, what+": Lookup", err, auth.ErrTokenInvalid)
	}

	t.Run("lookup finds a live token without using it", func(t *testing.T) {
		f := setup(t)
		h := issue(t, f, f.ann, auth.PurposeRecovery, t0, time.Hour)
		wantLive(t, f, "first lookup", auth.PurposeRecovery, h, t0, f.ann)
		wantLive(t, f, "second lookup", auth.PurposeRecovery, h, t0.Add(time.Minute), f.ann)
		got, err := f.tokens.Redeem(t.Context(), auth.PurposeRecovery, h, t0.Add(2*time.Minute))
		if err != nil || got.IdentityID != f.ann.ID || got.Email != f.ann.Email {
			t.Errorf("Redeem after lookups = %+v, %v", got, err)
		}
	})

	t.Run("redeem is single use", func(t *testing.T) {
		f := setup(t)
		h := issue(t, f, f.ann, auth.PurposeVerification, t0, time.Hour)
		if _, err := f.tokens.Redeem(t.Context(), auth.PurposeVerification, h, t0); err != nil {
			t.Fatalf("first Redeem: %v", err)
		}
		_, err := f.tokens.Redeem(t.Context(), auth.PurposeVerification, h, t0)
		wantIs(t, "second Redeem", err, auth.ErrTokenInvalid)
		wantInvalid(t, f, "after Redeem", auth.PurposeVerification, h, t0)
	})

	t.Run("unknown token and wrong purpose are invalid", func(t *testing.T) {
		f := setup(t)
		h := issue(t, f, f.ann, auth.PurposeRecovery, t0, time.Hour)
		tests := []struct {
			name string
			p    auth.Purpose
			hash []byte
		}{
			{"unknown hash", auth.PurposeRecovery, sha("unknown:" + unique())},
			{"recovery token as verification", auth.PurposeVerification, h},
		}
		for _, tt := range tests {
			wantInvalid(t, f, tt.name, tt.p, tt.hash, t0)
			_, err := f.tokens.Redeem(t.Context(), tt.p, tt.hash, t0)
			wantIs(t, tt.name+": Redeem", err, auth.ErrTokenInvalid)
		}
		wantLive(t, f, "the token for its own purpose", auth.PurposeRecovery, h, t0, f.ann)
	})

	t.Run("a token expires at its expiry", func(t *testing.T) {
		f := setup(t)
		h := issue(t, f, f.ann, auth.PurposeRecovery, t0, time.Hour)
		expiry := t0.Add(time.Hour)
		tests := []struct {
			name string
			now  time.Time
			live bool
		}{
			{"just before", expiry.Add(-time.Microsecond), true},
			{"at the expiry", expiry, false},
			{"long after", expiry.Add(24 * time.Hour), false},
		}
		for _, tt := range tests {
			if tt.live {
				wantLive(t, f, tt.name, auth.PurposeRecovery, h, tt.now, f.ann)
				continue
			}
			wantInvalid(t, f, tt.name, auth.PurposeRecovery, h, tt.now)
			_, err := f.tokens.Redeem(t.Context(), auth.PurposeRecovery, h, tt.now)
			wantIs(t, tt.name+": Redeem", err, auth.ErrTokenInvalid)
		}
		if _, err := f.tokens.Redeem(t.Context(), auth.PurposeRecovery, h, expiry.Add(-time.Microsecond)); err != nil {
			t.Errorf("Redeem before expiry after refused redeems at expiry: %v", err)
		}
	})

	t.Run("issue voids older unused tokens of the same identity and purpose", func(t *testing.T) {
		f := setup(t)
		annOld := issue(t, f, f.ann, auth.PurposeRecovery, t0, time.Hour)
		annOther := issue(t, f, f.ann, auth.PurposeVerification, t0, time.Hour)
		bobs := issue(t, f, f.bob, auth.PurposeRecovery, t0, time.Hour)
		annNew := issue(t, f, f.ann, auth.PurposeRecovery, t0.Add(time.Second), time.Hour)
		now := t0.Add(2 * time.Second)
		wantInvalid(t, f, "the older token", auth.PurposeRecovery, annOld, now)
		wantLive(t, f, "the newer token", auth.PurposeRecovery, annNew, now, f.ann)
		wantLive(t, f, "a token of another purpose", auth.PurposeVerification, annOther, now, f.ann)
		wantLive(t, f, "a token of another identity", auth.PurposeRecovery, bobs, now, f.bob)
	})

	t.Run("issue alongside leaves the identity's other tokens of the purpose usable", func(t *testing.T) {
		f := setup(t)
		first := issue(t, f, f.ann, auth.PurposeEmailChangeCancel, t0, time.Hour)
		second := sha("token:" + unique())
		check(t, "IssueAlongside", f.tokens.IssueAlongside(t.Context(), auth.IssuedToken{ID: uuid.Must(uuid.NewV7()), IdentityID: f.ann.ID,
			Purpose: auth.PurposeEmailChangeCancel, Email: f.ann.Email, TokenHash: second, ExpiresAt: t0.Add(2 * time.Hour), CreatedAt: t0.Add(time.Second)}))
		now := t0.Add(2 * time.Second)
		wantLive(t, f, "the first token", auth.PurposeEmailChangeCancel, first, now, f.ann)
		wantLive(t, f, "the second token", auth.PurposeEmailChangeCancel, second, now, f.ann)
		// A later Issue voids both, as any older tokens of its purpose.
		third := issue(t, f, f.ann, auth.PurposeEmailChangeCancel, t0.Add(3*time.Second), time.Hour)
		now = t0.Add(4 * time.Second)
		wantInvalid(t, f, "the first token after an Issue", auth.PurposeEmailChangeCancel, first, now)
		wantInvalid(t, f, "the second token after an Issue", auth.PurposeEmailChangeCancel, second, now)
		wantLive(t, f, "the issued token", auth.PurposeEmailChangeCancel, third, now, f.ann)
	})

	t.Run("an e-mail change token names the new address", func(t *testing.T) {
		f := setup(t)
		moved := contractIdentity(t, "ann-new", "").Email
		hash := sha("token:" + unique())
		check(t, "Issue", f.tokens.Issue(t.Context(), auth.IssuedToken{ID: uuid.Must(uuid.NewV7()), IdentityID: f.ann.ID,
			Purpose: auth.PurposeEmailChange, Email: moved, TokenHash: hash, ExpiresAt: t0.Add(time.Hour), CreatedAt: t0}))
		got, err := f.tokens.Redeem(t.Context(), auth.PurposeEmailChange, hash, t0)
		if err != nil || got.IdentityID != f.ann.ID || got.Email != moved {
			t.Errorf("Redeem = %+v, %v; want ann at %s", got, err, moved)
		}
		_, err = f.tokens.Redeem(t.Context(), auth.PurposeVerification, hash, t0)
		wantIs(t, "the change token as a verification token", err, auth.ErrTokenInvalid)
	})

	t.Run("deleting the identity deletes its tokens", func(t *testing.T) {
		f := setup(t)
		rec := issue(t, f, f.ann, auth.PurposeRecovery, t0, time.Hour)
		bobs := issue(t, f, f.bob, auth.PurposeRecovery, t0, time.Hour)
		check(t, "DeleteIdentity", f.ids.DeleteIdentity(t.Context(), f.ann.ID))
		wantInvalid(t, f, "the deleted identity's token", auth.PurposeRecovery, rec, t0)
		wantLive(t, f, "another identity's token", auth.PurposeRecovery, bobs, t0, f.bob)
	})

	t.Run("void uses up the identity's unused tokens of the purpose only", func(t *testing.T) {
		f := setup(t)
		rec := issue(t, f, f.ann, auth.PurposeRecovery, t0, time.Hour)
		ver := issue(t, f, f.ann, auth.PurposeVerification, t0, time.Hour)
		other := issue(t, f, f.bob, auth.PurposeRecovery, t0, time.Hour)
		check(t, "Void", f.tokens.Void(t.Context(), f.ann.ID, auth.PurposeRecovery, t0.Add(time.Minute)))
		wantInvalid(t, f, "the voided recovery token", auth.PurposeRecovery, rec, t0.Add(2*time.Minute))
		wantLive(t, f, "the same identity's verification token", auth.PurposeVerification, ver, t0.Add(2*time.Minute), f.ann)
		wantLive(t, f, "another identity's recovery token", auth.PurposeRecovery, other, t0.Add(2*time.Minute), f.bob)
	})

	t.Run("a redeemed token names the address it was sent to", func(t *testing.T) {
		f := setup(t)
		sentTo, err := auth.ParseEmail("old-" + unique() + "@example.com")
		check(t, "ParseEmail", err)
		h := sha("token:" + unique())
		check(t, "Issue", f.tokens.Issue(t.Context(), auth.IssuedToken{ID: uuid.Must(uuid.NewV7()), IdentityID: f.ann.ID,
			Purpose: auth.PurposeVerification, Email: sentTo, TokenHash: h, ExpiresAt: t0.Add(time.Hour), CreatedAt: t0}))
		got, err := f.tokens.Redeem(t.Context(), auth.PurposeVerification, h, t0)
		if err != nil || got.IdentityID != f.ann.ID || got.Email != sentTo {
			t.Errorf("Redeem = %+v, %v; want %s of %v", got, err, sentTo, f.ann.ID)
		}
	})

	t.Run("of concurrent redeems at most one succeeds", func(t *testing.T) {
		f := setup(t)
		h := issue(t, f, f.ann, auth.PurposeRecovery, t0, time.Hour)
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { _, errs[i] = f.tokens.Redeem(t.Context(), auth.PurposeRecovery, h, t0) })
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !isTokenInvalid(err):
				t.Errorf("a concurrent Redeem failed with %v, want success or ErrTokenInvalid", err)
			}
		}
		if won != 1 {
			t.Errorf("%d of %d concurrent redeems succeeded, want 1", won, n)
		}
	})

	t.Run("submit code", func(t *testing.T) {
		const attempts = 3
		codeTTL := 10 * time.Minute
		type step struct {
			code string // "right", "wrong" or "other" (another identity's)
			at   time.Duration
			want auth.CodeResult
		}
		tests := []struct {
			name  string
			steps []step
			// linkLive says whether the link issued with the code still
			// works after the steps.
			linkLive bool
		}{
			{"the right code is accepted once", []step{{"right", 0, auth.CodeAccepted}, {"right", 0, auth.CodeVoid}}, false},
			{"wrong codes count and the last attempt voids", []step{
				{"wrong", 0, auth.CodeWrong}, {"wrong", 0, auth.CodeWrong}, {"wrong", 0, auth.CodeWrong}, {"right", 0, auth.CodeVoid}}, false},
			{"the right code within the attempts", []step{{"wrong", 0, auth.CodeWrong}, {"wrong", 0, auth.CodeWrong}, {"right", 0, auth.CodeAccepted}}, false},
			{"a code of another identity is wrong", []step{{"other", 0, auth.CodeWrong}, {"right", 0, auth.CodeAccepted}}, false},
			{"an expired code is void but its link is not", []step{
				{"right", codeTTL, auth.CodeVoid}, {"right", codeTTL + time.Minute, auth.CodeVoid}}, true},
			{"just before the code expires", []step{{"right", codeTTL - time.Microsecond, auth.CodeAccepted}}, false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				f := setup(t)
				u := unique()
				right, link := sha("code:"+u+":right"), sha("link:"+u)
				check(t, "Issue", f.tokens.Issue(t.Context(), auth.IssuedToken{ID: uuid.Must(uuid.NewV7()), IdentityID: f.ann.ID,
					Purpose: auth.PurposeVerification, Email: f.ann.Email, TokenHash: link, ExpiresAt: t0.Add(24 * time.Hour),
					CodeHash: right, CodeExpiresAt: t0.Add(codeTTL), CreatedAt: t0}))
				codes := map[string][]byte{"right": right, "wrong": sha("code:" + u + ":wrong"), "other": sha("code:" + u + ":bob")}
				for i, st := range tt.steps {
					res, got, err := f.tokens.SubmitCode(t.Context(), f.ann.ID, codes[st.code], attempts, t0.Add(st.at))
					if err != nil {
						t.Fatalf("step %d: SubmitCode: %v", i, err)
					}
					if res != st.want {
						t.Errorf("step %d (%s code at +%v): SubmitCode = %d, want %d", i, st.code, st.at, res, st.want)
					}
					if res == auth.CodeAccepted && (got.IdentityID != f.ann.ID || got.Email != f.ann.Email) {
						t.Errorf("step %d: accepted code names %+v, want %s", i, got, f.ann.Email)
					}
				}
				if tt.linkLive {
					wantLive(t, f, "the link", auth.PurposeVerification, link, t0.Add(time.Hour), f.ann)
				} else {
					wantInvalid(t, f, "the link", auth.PurposeVerification, link, t0)
				}
			})
		}
	})

	t.Run("a code is void without a live verification token", func(t *testing.T) {
		f := setup(t)
		u := unique()
		code := sha("code:" + u)
		submit := func(what string, id uuid.UUID, want auth.CodeResult) {
			t.Helper()
			res, _, err := f.tokens.SubmitCode(t.Context(), id, code, 3, t0)
			if err != nil || res != want {
				t.Errorf("%s: SubmitCode = %d, %v; want %d", what, res, err, want)
			}
		}
		submit("no token at all", f.ann.ID, auth.CodeVoid)
		issue(t, f, f.ann, auth.PurposeRecovery, t0, time.Hour)
		submit("only a recovery token", f.ann.ID, auth.CodeVoid)
		link := sha("link:" + u)
		check(t, "Issue", f.tokens.Issue(t.Context(), auth.IssuedToken{ID: uuid.Must(uuid.NewV7()), IdentityID: f.ann.ID,
			Purpose: auth.PurposeVerification, Email: f.ann.Email, TokenHash: link, ExpiresAt: t0.Add(time.Hour),
			CodeHash: code, CodeExpiresAt: t0.Add(time.Hour), CreatedAt: t0}))
		submit("the code of another identity", f.bob.ID, auth.CodeVoid)
		if _, err := f.tokens.Redeem(t.Context(), auth.PurposeVerification, link, t0); err != nil {
			t.Fatalf("Redeem link: %v", err)
		}
		submit("after its link was used", f.ann.ID, auth.CodeVoid)
	})

	t.Run("a new code voids the old one", func(t *testing.T) {
		f := setup(t)
		u := unique()
		oldCode, newCode := sha("code:"+u+":old"), sha("code:"+u+":new")
		for i, code := range [][]byte{oldCode, newCode} {
			at := t0.Add(time.Duration(i) * time.Second)
			check(t, "Issue", f.tokens.Issue(t.Context(), auth.IssuedToken{ID: uuid.Must(uuid.NewV7()), IdentityID: f.ann.ID,
				Purpose: auth.PurposeVerification, Email: f.ann.Email, TokenHash: sha("link:" + u + string(rune('a'+i))),
				ExpiresAt: at.Add(time.Hour), CodeHash: code, CodeExpiresAt: at.Add(time.Hour), CreatedAt: at}))
		}
		now := t0.Add(2 * time.Second)
		if res, _, err := f.tokens.SubmitCode(t.Context(), f.ann.ID, oldCode, 3, now); err != nil || res == auth.CodeAccepted {
			t.Errorf("old code: SubmitCode = %d, %v; want it refused", res, err)
		}
		if res, _, err := f.tokens.SubmitCode(t.Context(), f.ann.ID, newCode, 3, now); err != nil || res != auth.CodeAccepted {
			t.Errorf("new code: SubmitCode = %d, %v; want accepted", res, err)
		}
	})
}

func isTokenInvalid(err error) bool { return errors.Is(err, auth.ErrTokenInvalid) }
