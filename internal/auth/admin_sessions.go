package auth

import (
	"context"

	"github.com/google/uuid"
)

// IdentitySessions is the query behind GET
// /admin/v1/identities/{id}/sessions: the identity's live sessions, never
// their tokens.
func (s *Service) IdentitySessions(ctx context.Context, by Actor, id uuid.UUID) ([]Session, error) {
	if _, err := s.store.IdentityByID(ctx, id); err != nil {
		return nil, identityFailure(err)
	}
	list, err := s.sessions.List(ctx, id, s.now())
	if err != nil {
		return nil, Unavailable("list sessions", err)
	}
	s.auditBy(ctx, EventAdminSessionsListed, &id, by)
	return list, nil
}

// EndIdentitySession ends one session of an identity, by its public id,
// on every instance. An id that is not one of the identity's live
// sessions is ErrSessionNotFound.
func (s *Service) EndIdentitySession(ctx context.Context, by Actor, id uuid.UUID, sessionID string) error {
	list, err := s.sessions.List(ctx, id, s.now())
	if err != nil {
		return Unavailable("list sessions", err)
	}
	for _, sess := range list {
		if sess.ID() != sessionID {
			continue
		}
		ok, err := s.sessions.Revoke(ctx, id, sess.Key)
		if err != nil {
			return Unavailable("revoke session", err)
		}
		if !ok {
			break // ended meanwhile
		}
		s.auditBy(ctx, EventAdminSessionRevoked, &id, by)
		return nil
	}
	return ErrSessionNotFound
}

// EndIdentitySessions ends every session of an identity on every instance,
// and those a login under way would start (a new generation), and says
// how many it ended.
func (s *Service) EndIdentitySessions(ctx context.Context, by Actor, id uuid.UUID) (int, error) {
	if _, err := s.store.IdentityByID(ctx, id); err != nil {
		return 0, identityFailure(err)
	}
	_, n, err := s.sessions.EndGeneration(ctx, id)
	if err != nil {
		return n, Unavailable("end sessions", err)
	}
	s.auditBy(ctx, EventAdminSessionsRevoked, &id, by)
	return n, nil
}
