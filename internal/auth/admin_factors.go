package auth

import (
	"context"

	"github.com/google/uuid"
)

// RemoveSecondFactors is the command behind DELETE
// /admin/v1/identities/{id}/second-factors, the help-desk case of a lost
// authenticator: the TOTP factor, every passkey and the recovery codes go,
// the next login needs the password alone, and the owner is told by mail
// (a removal they did not ask for must not go unnoticed). Sessions are
// left as they are: they were opened with the factors that were there.
func (s *Service) RemoveSecondFactors(ctx context.Context, by Actor, id uuid.UUID) (Factors, error) {
	m, err := s.managedIdentity(ctx, id)
	if err != nil {
		return Factors{}, err
	}
	removed := m.Factors
	err = s.tx.InTx(ctx, func(st Stores) error {
		if _, err := st.Factors.DeleteTOTP(ctx, id); err != nil {
			return err
		}
		passkeys, err := st.Factors.Passkeys(ctx, id)
		if err != nil {
			return err
		}
		for _, p := range passkeys {
			if _, err := st.Factors.DeletePasskey(ctx, id, p.ID); err != nil {
				return err
			}
		}
		if err := st.Factors.DeleteRecoveryCodes(ctx, id); err != nil {
			return err
		}
		if !removed.HasSecondFactor() && removed.RecoveryCodesLeft == 0 && len(passkeys) == 0 {
			return nil // nothing to tell
		}
		return st.Outbox.Queue(ctx, s.securityNotice(m.Identity, "second_factors_reset", "every second factor"))
	})
	if err != nil {
		return Factors{}, storeFailure("remove second factors", err)
	}
	s.profileChanged(ctx, id)
	s.auditBy(ctx, EventAdminSecondFactorsRemoved, &id, by)
	return removed, nil
}
