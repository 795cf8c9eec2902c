package auth

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// UpdateProfile is the command behind PUT /auth/settings with method
// "profile". A nil trait is left as it is; an empty one is cleared.
type UpdateProfile struct {
	IdentityID  uuid.UUID
	Username    *string
	GeoLocation *string
	Client      Client
}

// UpdateProfile changes the identity's traits. A username taken by another
// identity (in any letter case, or a look-alike of it: UsernameKey) is a
// conflict.
func (s *Service) UpdateProfile(ctx context.Context, cmd UpdateProfile) (Identity, error) {
	identity, err := s.activeIdentity(ctx, cmd.IdentityID)
	if err != nil {
		return Identity{}, err
	}
	var errs fieldErrors
	username, geo := identity.Username, identity.GeoLocation
	if cmd.Username != nil {
		username, err = ParseUsername(*cmd.Username)
		errs.add("traits.username", err)
	}
	if cmd.GeoLocation != nil {
		geo, err = ParseGeoLocation(*cmd.GeoLocation)
		errs.add("traits.geo_location", err)
	}
	if err := errs.err(); err != nil {
		return Identity{}, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	if err := s.store.UpdateProfile(ctx, identity.ID, username, geo, now); err != nil {
		return Identity{}, err
	}
	identity.Username, identity.GeoLocation, identity.UpdatedAt = username, geo, now
	s.audit(ctx, EventProfileUpdated, &identity.ID, cmd.Client)
	s.profileChanged(ctx, identity.ID)
	return identity, nil
}
