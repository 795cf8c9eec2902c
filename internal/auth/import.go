package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"
)

// ImportedIdentity is an identity read from another system (Ory Kratos),
// as authd will store it. Identity.PasswordHash is the source's hash as
// stored there (bcrypt or Argon2 PHC), or "" for an identity without a
// password, which can set one through recovery.
type ImportedIdentity struct {
	Identity Identity
	// TOTPSecret is the base32 secret of a TOTP factor, "" for none.
	TOTPSecret string
	// RecoveryCodes are the codes not used yet.
	RecoveryCodes []string
	// PasskeyUserHandle is the WebAuthn user handle the source gave the
	// identity: its passkeys sign it back, so it is kept.
	PasskeyUserHandle []byte
	Passkeys          []Passkey
	// Notes are what the source could not carry over, one reason each
	// (counted in the report, never with personal data).
	Notes []string
	// Reject, when set, is why the identity cannot be imported at all.
	Reject string
}

// ImportSource reads identities in id order, n at a time after the id
// given (uuid.Nil: from the start); an empty batch is the end. Every
// identity has its id, the refused ones too.
type ImportSource interface {
	Next(ctx context.Context, after uuid.UUID, n int) ([]ImportedIdentity, error)
}

// ImportOptions steer an import.
type ImportOptions struct {
	BatchSize int
	// DryRun does every check and write inside the batches' transactions
	// and rolls each back: the report is what a real run would do.
	DryRun bool
	// Update refreshes the traits (username, geo_location) and the
	// e-mail verification of identities imported before. Their credentials are never replaced:
	// authd re-hashes a password at the first login, and a second run
	// must not put the old hash back.
	Update bool
	// Progress, if set, gets the report after each batch.
	Progress func(ImportReport)
}

// ImportReport counts what an import did. Problems counts each reason an
// identity or a part of one was not imported.
type ImportReport struct {
	Read, Imported, Updated, Skipped, WithoutPassword, Errors int
	TOTP, RecoveryCodes, Passkeys                             int
	Problems                                                  map[string]int
}

// ProblemList is Problems sorted by count, then by reason.
func (r ImportReport) ProblemList() []string {
	var out []string
	for reason := range r.Problems {
		out = append(out, reason)
	}
	sort.Slice(out, func(i, j int) bool {
		if r.Problems[out[i]] != r.Problems[out[j]] {
			return r.Problems[out[i]] > r.Problems[out[j]]
		}
		return out[i] < out[j]
	})
	for i, reason := range out {
		out[i] = fmt.Sprintf("%d × %s", r.Problems[reason], reason)
	}
	return out
}

func (r *ImportReport) problem(reason string) {
	if r.Problems == nil {
		r.Problems = map[string]int{}
	}
	r.Problems[reason]++
}

// errDryRun rolls a dry run's batch back.
var errDryRun = errors.New("dry run: rolled back")

// Import copies every identity of src into authd, batch by batch, each
// batch in one transaction. It is idempotent: an identity already here
// (same id) is skipped, or with Update has its profile refreshed; nothing
// is ever duplicated. An identity that cannot be stored (its e-mail
// belongs to another identity here, say) is counted as an error and the
// rest go on; a failure of the stores stops the import with the batches
// before it committed.
func (s *Service) Import(ctx context.Context, src ImportSource, opt ImportOptions) (ImportReport, error) {
	if opt.BatchSize <= 0 {
		opt.BatchSize = 500
	}
	var report ImportReport
	after := uuid.Nil
	for {
		batch, err := src.Next(ctx, after, opt.BatchSize)
		if err != nil {
			return report, err
		}
		if len(batch) == 0 {
			return report, nil
		}
		last := batch[len(batch)-1].Identity.ID
		if bytes.Compare(last[:], after[:]) <= 0 {
			// A source that does not move forward would be read forever.
			return report, fmt.Errorf("import: the source's batch ended at %s, not after %s", last, after)
		}
		after = last
		if err := s.importBatch(ctx, batch, opt, &report); err != nil {
			return report, err
		}
		if opt.Progress != nil {
			opt.Progress(report)
		}
	}
}

// importBatch writes a batch in one transaction. A conflict found only by
// the database (two identities racing for one username, say) aborts a
// PostgreSQL transaction, so then the batch is written again one identity
// per transaction, to store all but the ones in conflict.
func (s *Service) importBatch(ctx context.Context, batch []ImportedIdentity, opt ImportOptions, report *ImportReport) error {
	var counted ImportReport
	err := s.tx.InTx(ctx, func(st Stores) error {
		counted = ImportReport{}
		for _, in := range batch {
			if err := s.importOne(ctx, st, in, opt, &counted); err != nil {
				return err
			}
		}
		if opt.DryRun {
			return errDryRun
		}
		return nil
	})
	if err == nil || errors.Is(err, errDryRun) {
		report.add(counted)
		return nil
	}
	if k := ErrorKind(err); k != KindConflict && k != KindInvalid {
		return err
	}
	for _, in := range batch {
		var one ImportReport
		err := s.tx.InTx(ctx, func(st Stores) error {
			one = ImportReport{}
			if err := s.importOne(ctx, st, in, opt, &one); err != nil {
				return err
			}
			if opt.DryRun {
				return errDryRun
			}
			return nil
		})
		switch {
		case err == nil || errors.Is(err, errDryRun):
			report.add(one)
		case ErrorKind(err) == KindConflict || ErrorKind(err) == KindInvalid:
			report.Read++
			report.Errors++
			report.problem("conflicts with an identity already in authd: " + conflictReason(err))
		default:
			return err
		}
	}
	return nil
}

func conflictReason(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return "conflict"
}

func (r *ImportReport) add(o ImportReport) {
	r.Read += o.Read
	r.Imported += o.Imported
	r.Updated += o.Updated
	r.Skipped += o.Skipped
	r.WithoutPassword += o.WithoutPassword
	r.Errors += o.Errors
	r.TOTP += o.TOTP
	r.RecoveryCodes += o.RecoveryCodes
	r.Passkeys += o.Passkeys
	for k, v := range o.Problems {
		if r.Problems == nil {
			r.Problems = map[string]int{}
		}
		r.Problems[k] += v
	}
}

// importOne stores one identity with its factors.
func (s *Service) importOne(ctx context.Context, st Stores, in ImportedIdentity, opt ImportOptions, r *ImportReport) error {
	r.Read++
	if in.Reject != "" {
		r.Errors++
		r.problem(in.Reject)
		return nil
	}
	for _, n := range in.Notes {
		r.problem(n)
	}
	id := in.Identity
	existing, err := st.Identities.IdentityByID(ctx, id.ID)
	switch {
	case err == nil:
		if !opt.Update {
			r.Skipped++
			return nil
		}
		if err := s.refreshImported(ctx, st, existing, id); err != nil {
			return err
		}
		r.Updated++
		return nil
	case ErrorKind(err) != KindNotFound:
		return err
	}
	if other, err := st.Identities.IdentityByEmail(ctx, id.Email); err == nil && other.ID != id.ID {
		r.Errors++
		r.problem("e-mail address already used by another authd identity")
		return nil
	} else if err != nil && ErrorKind(err) != KindNotFound {
		return err
	}
	if err := st.Identities.CreateIdentity(ctx, id); err != nil {
		return err
	}
	r.Imported++
	if id.PasswordHash == "" {
		r.WithoutPassword++
	}
	now := s.now().UTC()
	if in.TOTPSecret != "" {
		if err := st.Factors.PutPendingTOTP(ctx, id.ID, s.secrets.Seal([]byte(in.TOTPSecret)), now); err != nil {
			return err
		}
		// Confirmed at step 1, long past: no code of the source's last
		// step is known, and any code from now on is later.
		if _, err := st.Factors.UseTOTPStep(ctx, id.ID, 1, true, now); err != nil {
			return err
		}
		r.TOTP++
	}
	if len(in.RecoveryCodes) > 0 {
		hashes := make([][]byte, len(in.RecoveryCodes))
		for i, c := range in.RecoveryCodes {
			hashes[i] = s.recoveryCodeHash(c)
		}
		if err := st.Factors.ReplaceRecoveryCodes(ctx, id.ID, hashes, now); err != nil {
			return err
		}
		r.RecoveryCodes += len(hashes)
	}
	if len(in.Passkeys) > 0 {
		if _, err := st.Factors.PasskeyUserHandle(ctx, id.ID, in.PasskeyUserHandle); err != nil {
			return err
		}
		for _, p := range in.Passkeys {
			if _, err := st.Factors.PasskeyByCredentialID(ctx, p.CredentialID); err == nil {
				r.problem("passkey already registered to an authd identity")
				continue
			} else if ErrorKind(err) != KindNotFound {
				return err
			}
			p.IdentityID = id.ID
			if p.ID == uuid.Nil {
				p.ID = uuid.Must(uuid.NewV7())
			}
			if p.CreatedAt.IsZero() {
				p.CreatedAt = now
			}
			if err := st.Factors.AddPasskey(ctx, p); err != nil {
				return err
			}
			r.Passkeys++
		}
	}
	return nil
}

// refreshImported brings an imported identity's profile up to the
// source's, keeping its credentials and its authd-side history.
func (s *Service) refreshImported(ctx context.Context, st Stores, existing, in Identity) error {
	at := s.now().UTC().Truncate(time.Microsecond)
	if existing.Username != in.Username || existing.GeoLocation != in.GeoLocation {
		if err := st.Identities.UpdateProfile(ctx, existing.ID, in.Username, in.GeoLocation, at); err != nil {
			return err
		}
	}
	if existing.EmailVerifiedAt == nil && in.EmailVerifiedAt != nil {
		if err := st.Identities.MarkEmailVerified(ctx, existing.ID, *in.EmailVerifiedAt); err != nil {
			return err
		}
	}
	return nil
}
