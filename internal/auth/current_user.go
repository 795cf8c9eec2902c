package auth

import (
	"context"

	"github.com/google/uuid"
)

// CurrentUser is the query behind GET /auth/me: the identity a session
// belongs to. A session whose identity is gone or disabled no longer
// authenticates anyone.
func (s *Service) CurrentUser(ctx context.Context, id uuid.UUID) (Identity, error) {
	identity, err := s.store.IdentityByID(ctx, id)
	if err != nil {
		if ErrorKind(err) == KindNotFound {
			return Identity{}, ErrUnauthenticated
		}
		return Identity{}, err
	}
	if identity.State != StateActive {
		return Identity{}, ErrUnauthenticated
	}
	return identity, nil
}
