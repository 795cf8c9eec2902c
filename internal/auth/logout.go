package auth

import (
	"context"

	"github.com/google/uuid"
)

// Logout records that the identity ended its session; the session itself is
// ended by the session manager, which owns the cookie.
func (s *Service) Logout(ctx context.Context, id uuid.UUID, c Client) {
	s.audit(ctx, EventLogout, &id, c)
}
