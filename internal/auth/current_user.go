package auth

import (
	"context"

	"github.com/google/uuid"
)

// CurrentProfile is the query behind GET /auth/me: the profile of the
// identity a session belongs to, with its second factors, from the cache
// when it has it. A session
// whose identity is gone or disabled no longer authenticates anyone.
func (s *Service) CurrentProfile(ctx context.Context, id uuid.UUID) (Profile, error) {
	if s.profiles != nil {
		p, ok, err := s.profiles.Get(ctx, id)
		switch {
		case err != nil:
			// The cache only saves work; the database still answers.
			s.log.WarnContext(ctx, "profile cache unavailable", "error", err)
		case ok && p.State != StateActive:
			return Profile{}, ErrUnauthenticated
		case ok:
			return p, nil
		}
	}
	identity, err := s.activeIdentity(ctx, id)
	if err != nil {
		return Profile{}, err
	}
	p := identity.Profile()
	if p.Factors, err = s.factorsOf(ctx, s.factors, identity); err != nil {
		return Profile{}, err
	}
	if s.profiles != nil {
		if err := s.profiles.Put(ctx, p); err != nil {
			s.log.WarnContext(ctx, "profile not cached", "error", err)
		}
	}
	return p, nil
}
