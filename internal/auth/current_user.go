package auth

import (
	"context"

	"github.com/google/uuid"
)

// CurrentUser is the query behind GET /auth/me: the identity a session
// belongs to. A session whose identity is gone or disabled no longer
// authenticates anyone.
func (s *Service) CurrentUser(ctx context.Context, id uuid.UUID) (Identity, error) {
	return s.activeIdentity(ctx, id)
}
