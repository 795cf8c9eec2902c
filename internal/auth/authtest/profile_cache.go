package authtest

import (
	"context"
	"sync"

	"github.com/google/uuid"

	"github.com/authd/authd/internal/auth"
)

// ProfileCache is an in-memory auth.ProfileCache. Unlike the Valkey
// adapter it has no TTL and no hold after an invalidation: a Put right
// after Invalidate is cached.
type ProfileCache struct {
	Probe
	mu       sync.Mutex
	profiles map[uuid.UUID]auth.Profile
}

var _ auth.ProfileCache = (*ProfileCache)(nil)

// NewProfileCache returns an empty cache.
func NewProfileCache() *ProfileCache {
	return &ProfileCache{Probe: newProbe("Get", "Put", "Invalidate"), profiles: map[uuid.UUID]auth.Profile{}}
}

// Cached returns the cached profile without counting a call.
func (c *ProfileCache) Cached(id uuid.UUID) (auth.Profile, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.profiles[id]
	return p, ok
}

func (c *ProfileCache) Get(_ context.Context, id uuid.UUID) (auth.Profile, bool, error) {
	if err := c.enter("Get"); err != nil {
		return auth.Profile{}, false, err
	}
	p, ok := c.Cached(id)
	return p, ok, nil
}

func (c *ProfileCache) Put(_ context.Context, p auth.Profile) error {
	if err := c.enter("Put"); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.profiles[p.ID] = p
	return nil
}

func (c *ProfileCache) Invalidate(_ context.Context, id uuid.UUID) error {
	if err := c.enter("Invalidate"); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.profiles, id)
	return nil
}
