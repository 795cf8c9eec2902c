package auth

import "context"

// Logout ends the caller's session on every instance and records it.
func (s *Service) Logout(ctx context.Context, current Session, c Client) error {
	if !current.Live() {
		return ErrUnauthenticated
	}
	if err := s.sessions.End(ctx, current); err != nil {
		return Unavailable("end session", err)
	}
	s.audit(ctx, EventLogout, &current.IdentityID, c)
	return nil
}
