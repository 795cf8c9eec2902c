package authtest

import (
	"bytes"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/internal/auth"
)

// TestFactorStore is the contract of auth.FactorStore. newStores returns
// an identity store and a factor store on the same data.
func TestFactorStore(t *testing.T, newStores func(t *testing.T) (auth.IdentityStore, auth.FactorStore)) {
	t0 := contractTime
	setup := func(t *testing.T) (auth.FactorStore, auth.Identity, auth.Identity) {
		ids, fs := newStores(t)
		return fs, createIdentity(t, ids, contractIdentity(t, "ann", "")), createIdentity(t, ids, contractIdentity(t, "bob", ""))
	}
	wantFactors := func(t *testing.T, fs auth.FactorStore, id uuid.UUID, want auth.Factors) {
		t.Helper()
		got, err := fs.Factors(t.Context(), id)
		if err != nil || got != want {
			t.Errorf("Factors = %+v, %v; want %+v", got, err, want)
		}
	}

	t.Run("deleting the identity deletes its factors", func(t *testing.T) {
		ids, fs := newStores(t)
		ann := createIdentity(t, ids, contractIdentity(t, "ann", ""))
		bob := createIdentity(t, ids, contractIdentity(t, "bob", ""))
		for _, id := range []uuid.UUID{ann.ID, bob.ID} {
			check(t, "PutPendingTOTP", fs.PutPendingTOTP(t.Context(), id, []byte("sealed"), t0))
			if ok, err := fs.UseTOTPStep(t.Context(), id, 10, true, t0); !ok || err != nil {
				t.Fatalf("confirm = %v, %v", ok, err)
			}
			check(t, "ReplaceRecoveryCodes", fs.ReplaceRecoveryCodes(t.Context(), id, [][]byte{sha("code:" + unique())}, t0))
			_, err := fs.PasskeyUserHandle(t.Context(), id, sha("handle:"+unique()))
			check(t, "PasskeyUserHandle", err)
			check(t, "AddPasskey", fs.AddPasskey(t.Context(), auth.Passkey{ID: uuid.Must(uuid.NewV7()), IdentityID: id,
				NewPasskey: auth.NewPasskey{CredentialID: sha("cred:" + unique()), PublicKey: []byte("pk")}, Name: "Key", CreatedAt: t0}))
		}
		check(t, "DeleteIdentity", ids.DeleteIdentity(t.Context(), ann.ID))
		wantFactors(t, fs, ann.ID, auth.Factors{})
		_, err := fs.TOTP(t.Context(), ann.ID)
		wantKind(t, "TOTP of the deleted identity", err, auth.KindNotFound)
		if list, err := fs.Passkeys(t.Context(), ann.ID); err != nil || len(list) != 0 {
			t.Errorf("Passkeys of the deleted identity = %v, %v", list, err)
		}
		wantFactors(t, fs, bob.ID, auth.Factors{TOTP: true, Passkeys: 1, RecoveryCodesLeft: 1})
	})

	t.Run("a pending TOTP is no factor until a step confirms it", func(t *testing.T) {
		fs, ann, _ := setup(t)
		wantFactors(t, fs, ann.ID, auth.Factors{})
		_, err := fs.TOTP(t.Context(), ann.ID)
		wantKind(t, "TOTP before setup", err, auth.KindNotFound)
		check(t, "PutPendingTOTP", fs.PutPendingTOTP(t.Context(), ann.ID, []byte("sealed-1"), t0))
		check(t, "PutPendingTOTP again", fs.PutPendingTOTP(t.Context(), ann.ID, []byte("sealed-2"), t0))
		f, err := fs.TOTP(t.Context(), ann.ID)
		if err != nil || f.Confirmed || !bytes.Equal(f.SealedSecret, []byte("sealed-2")) {
			t.Fatalf("pending TOTP = %+v, %v; want the second secret, unconfirmed", f, err)
		}
		wantFactors(t, fs, ann.ID, auth.Factors{})
		if ok, err := fs.UseTOTPStep(t.Context(), ann.ID, 100, false, t0); ok || err != nil {
			t.Errorf("a login step on a pending TOTP = %v, %v; want refused", ok, err)
		}
		if ok, err := fs.UseTOTPStep(t.Context(), ann.ID, 100, true, t0); !ok || err != nil {
			t.Fatalf("confirm = %v, %v", ok, err)
		}
		wantFactors(t, fs, ann.ID, auth.Factors{TOTP: true})
		if ok, _ := fs.UseTOTPStep(t.Context(), ann.ID, 101, true, t0); ok {
			t.Error("a second confirm succeeded")
		}
		wantIs(t, "PutPendingTOTP over a confirmed one", fs.PutPendingTOTP(t.Context(), ann.ID, []byte("x"), t0), auth.ErrTOTPAlreadyEnabled)
	})

	t.Run("a step is used once, and never one before it", func(t *testing.T) {
		fs, ann, _ := setup(t)
		check(t, "PutPendingTOTP", fs.PutPendingTOTP(t.Context(), ann.ID, []byte("s"), t0))
		if ok, _ := fs.UseTOTPStep(t.Context(), ann.ID, 10, true, t0); !ok {
			t.Fatal("confirm refused")
		}
		for _, tt := range []struct {
			step int64
			ok   bool
		}{{10, false}, {9, false}, {12, true}, {11, false}, {12, false}, {13, true}} {
			if ok, err := fs.UseTOTPStep(t.Context(), ann.ID, tt.step, false, t0); ok != tt.ok || err != nil {
				t.Errorf("UseTOTPStep(%d) = %v, %v; want %v", tt.step, ok, err, tt.ok)
			}
		}
		if f, _ := fs.TOTP(t.Context(), ann.ID); f.LastStep != 13 {
			t.Errorf("LastStep = %d, want 13", f.LastStep)
		}
	})

	t.Run("of many requests with one step, one succeeds", func(t *testing.T) {
		fs, ann, _ := setup(t)
		check(t, "PutPendingTOTP", fs.PutPendingTOTP(t.Context(), ann.ID, []byte("s"), t0))
		if ok, _ := fs.UseTOTPStep(t.Context(), ann.ID, 1, true, t0); !ok {
			t.Fatal("confirm refused")
		}
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				if ok, err := fs.UseTOTPStep(t.Context(), ann.ID, 2, false, t0); ok && err == nil {
					wins.Add(1)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Errorf("%d requests used step 2, want 1", wins.Load())
		}
	})

	t.Run("TOTP is per identity and can be deleted", func(t *testing.T) {
		fs, ann, bob := setup(t)
		check(t, "PutPendingTOTP", fs.PutPendingTOTP(t.Context(), ann.ID, []byte("s"), t0))
		fs.UseTOTPStep(t.Context(), ann.ID, 1, true, t0)
		wantFactors(t, fs, bob.ID, auth.Factors{})
		if ok, err := fs.DeleteTOTP(t.Context(), ann.ID); !ok || err != nil {
			t.Errorf("DeleteTOTP = %v, %v", ok, err)
		}
		wantFactors(t, fs, ann.ID, auth.Factors{})
		if ok, _ := fs.DeleteTOTP(t.Context(), ann.ID); ok {
			t.Error("a second delete reported a deletion")
		}
	})

	t.Run("recovery codes are single use and a new set voids the old", func(t *testing.T) {
		fs, ann, bob := setup(t)
		old := [][]byte{sha("a" + unique()), sha("b" + unique())}
		check(t, "ReplaceRecoveryCodes", fs.ReplaceRecoveryCodes(t.Context(), ann.ID, old, t0))
		wantFactors(t, fs, ann.ID, auth.Factors{RecoveryCodesLeft: 2})
		if ok, _ := fs.UseRecoveryCode(t.Context(), bob.ID, old[0], t0); ok {
			t.Error("bob used ann's code")
		}
		if ok, err := fs.UseRecoveryCode(t.Context(), ann.ID, old[0], t0); !ok || err != nil {
			t.Fatalf("UseRecoveryCode = %v, %v", ok, err)
		}
		if ok, _ := fs.UseRecoveryCode(t.Context(), ann.ID, old[0], t0); ok {
			t.Error("a code worked twice")
		}
		wantFactors(t, fs, ann.ID, auth.Factors{RecoveryCodesLeft: 1})
		fresh := [][]byte{sha("c" + unique())}
		check(t, "ReplaceRecoveryCodes", fs.ReplaceRecoveryCodes(t.Context(), ann.ID, fresh, t0))
		if ok, _ := fs.UseRecoveryCode(t.Context(), ann.ID, old[1], t0); ok {
			t.Error("a code of the old set still works")
		}
		wantFactors(t, fs, ann.ID, auth.Factors{RecoveryCodesLeft: 1})
		check(t, "DeleteRecoveryCodes", fs.DeleteRecoveryCodes(t.Context(), ann.ID))
		wantFactors(t, fs, ann.ID, auth.Factors{})
	})

	t.Run("the user handle is made once", func(t *testing.T) {
		fs, ann, bob := setup(t)
		first := sha("handle" + unique())
		h, err := fs.PasskeyUserHandle(t.Context(), ann.ID, first)
		if err != nil || !bytes.Equal(h, first) {
			t.Fatalf("first handle = %x, %v", h, err)
		}
		h, err = fs.PasskeyUserHandle(t.Context(), ann.ID, sha("other"+unique()))
		if err != nil || !bytes.Equal(h, first) {
			t.Errorf("second call = %x, %v; want the first handle kept", h, err)
		}
		id, err := fs.IdentityByUserHandle(t.Context(), first)
		if err != nil || id != ann.ID {
			t.Errorf("IdentityByUserHandle = %v, %v", id, err)
		}
		_, err = fs.IdentityByUserHandle(t.Context(), sha("nobody"+unique()))
		wantKind(t, "IdentityByUserHandle of an unknown handle", err, auth.KindNotFound)
		_ = bob
	})

	t.Run("passkeys: unique credential, counter checked on use, rename and delete by owner", func(t *testing.T) {
		fs, ann, bob := setup(t)
		cred := sha("cred" + unique())
		pk := auth.Passkey{ID: uuid.Must(uuid.NewV7()), IdentityID: ann.ID, Name: "Laptop", CreatedAt: t0,
			NewPasskey: auth.NewPasskey{CredentialID: cred, PublicKey: []byte("pk"), AttestationType: "none",
				AAGUID: make([]byte, 16), Transports: []string{"internal"}, SignCount: 5, BackupEligible: true}}
		check(t, "AddPasskey", fs.AddPasskey(t.Context(), pk))
		dup := pk
		dup.ID, dup.IdentityID = uuid.Must(uuid.NewV7()), bob.ID
		wantIs(t, "AddPasskey of a stored credential", fs.AddPasskey(t.Context(), dup), auth.ErrPasskeyExists)
		wantFactors(t, fs, ann.ID, auth.Factors{Passkeys: 1})

		got, err := fs.PasskeyByCredentialID(t.Context(), cred)
		if err != nil || got.ID != pk.ID || got.SignCount != 5 || !got.BackupEligible || got.Name != "Laptop" || len(got.Transports) != 1 {
			t.Fatalf("PasskeyByCredentialID = %+v, %v", got, err)
		}
		at := t0.Add(time.Minute)
		if ok, err := fs.RecordPasskeyUse(t.Context(), pk.ID, 4, auth.PasskeyUse{SignCount: 9, BackupState: true, At: at}); ok || err != nil {
			t.Errorf("a use checked against a stale counter = %v, %v; want refused", ok, err)
		}
		if ok, err := fs.RecordPasskeyUse(t.Context(), pk.ID, 5, auth.PasskeyUse{SignCount: 9, BackupState: true, UserVerified: true, At: at}); !ok || err != nil {
			t.Fatalf("RecordPasskeyUse = %v, %v", ok, err)
		}
		list, err := fs.Passkeys(t.Context(), ann.ID)
		if err != nil || len(list) != 1 || list[0].SignCount != 9 || !list[0].BackupState || !list[0].UserVerified ||
			list[0].LastUsedAt == nil || !list[0].LastUsedAt.Equal(at) {
			t.Fatalf("after use: %+v, %v", list, err)
		}
		_, err = fs.RenamePasskey(t.Context(), bob.ID, pk.ID, "mine")
		wantKind(t, "RenamePasskey by another identity", err, auth.KindNotFound)
		renamed, err := fs.RenamePasskey(t.Context(), ann.ID, pk.ID, "Work")
		if err != nil || renamed.Name != "Work" {
			t.Errorf("RenamePasskey = %+v, %v", renamed, err)
		}
		_, err = fs.DeletePasskey(t.Context(), bob.ID, pk.ID)
		wantKind(t, "DeletePasskey by another identity", err, auth.KindNotFound)
		deleted, err := fs.DeletePasskey(t.Context(), ann.ID, pk.ID)
		if err != nil || deleted.Name != "Work" {
			t.Errorf("DeletePasskey = %+v, %v", deleted, err)
		}
		_, err = fs.PasskeyByCredentialID(t.Context(), cred)
		wantKind(t, "PasskeyByCredentialID after delete", err, auth.KindNotFound)
		wantFactors(t, fs, ann.ID, auth.Factors{})
	})
}

// TestChallenges is the contract of auth.Challenges.
func TestChallenges(t *testing.T, newChallenges func(t *testing.T) auth.Challenges) {
	t.Run("taken once, with what was put", func(t *testing.T) {
		cs := newChallenges(t)
		id := uuid.Must(uuid.NewV7())
		ch := auth.Challenge{Challenge: "c-" + unique(), Purpose: auth.ChallengeRegister, IdentityID: &id,
			State: []byte(`{"s":1}`), IssuedAt: contractTime}
		check(t, "Put", cs.Put(t.Context(), ch, time.Minute))
		got, ok, err := cs.Take(t.Context(), ch.Challenge)
		if err != nil || !ok || got.Purpose != ch.Purpose || got.IdentityID == nil || *got.IdentityID != id ||
			!bytes.Equal(got.State, ch.State) || !got.IssuedAt.Equal(ch.IssuedAt) || got.Challenge != ch.Challenge {
			t.Fatalf("Take = %+v, %v, %v", got, ok, err)
		}
		if _, ok, err := cs.Take(t.Context(), ch.Challenge); ok || err != nil {
			t.Errorf("second Take = %v, %v; want nothing", ok, err)
		}
		if _, ok, _ := cs.Take(t.Context(), "never-"+unique()); ok {
			t.Error("an unknown challenge was found")
		}
	})
	t.Run("of many takers, one finds it", func(t *testing.T) {
		cs := newChallenges(t)
		ch := auth.Challenge{Challenge: "c-" + unique(), Purpose: auth.ChallengeLogin, IssuedAt: contractTime}
		check(t, "Put", cs.Put(t.Context(), ch, time.Minute))
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				if _, ok, err := cs.Take(t.Context(), ch.Challenge); ok && err == nil {
					wins.Add(1)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Errorf("%d takers found the challenge, want 1", wins.Load())
		}
	})
}
