package valkey

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	vk "github.com/valkey-io/valkey-go"

	"github.com/authd/authd/internal/auth"
)

// ProfileCache is the read model behind GET /auth/me: profiles cached in
// Valkey (cache-aside), so a hit costs one Valkey read and no PostgreSQL
// query, and every instance sees an invalidation at once.
//
// Plain GETs rather than client-side caching: an invalidation pushed by
// the server could still be in flight when the next request reads the
// local copy, and a changed profile must show on every instance at once.
type ProfileCache struct {
	c       vk.Client
	prefix  string
	ttl     time.Duration
	timeout time.Duration
}

var _ auth.ProfileCache = (*ProfileCache)(nil)

// invalidationHold is how long after an invalidation no profile may be
// cached: a reader that loaded the old row just before the change cannot
// put it back, since its read and put take far less than this.
const invalidationHold = 5 * time.Second

// NewProfileCache caches profiles for ttl.
func NewProfileCache(c vk.Client, prefix string, ttl, timeout time.Duration) *ProfileCache {
	return &ProfileCache{c: c, prefix: prefix, ttl: ttl, timeout: timeout}
}

// The hash tag keeps a profile and its invalidation marker on one slot.
func (p *ProfileCache) key(id uuid.UUID) string { return p.prefix + "profile:{" + id.String() + "}" }
func (p *ProfileCache) holdKey(id uuid.UUID) string {
	return p.prefix + "profile-hold:{" + id.String() + "}"
}

// Get returns the cached profile, if any.
func (p *ProfileCache) Get(ctx context.Context, id uuid.UUID) (auth.Profile, bool, error) {
	ctx, cancel := withTimeout(ctx, p.timeout)
	defer cancel()
	b, err := p.c.Do(ctx, p.c.B().Get().Key(p.key(id)).Build()).AsBytes()
	if vk.IsValkeyNil(err) {
		return auth.Profile{}, false, nil
	}
	if err != nil {
		return auth.Profile{}, false, fmt.Errorf("valkey: profile cache get: %w", err)
	}
	var prof auth.Profile
	if err := json.Unmarshal(b, &prof); err != nil {
		return auth.Profile{}, false, nil // an old format: treat as a miss
	}
	return prof, true, nil
}

var putScript = vk.NewLuaScript(`
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`)

// Put caches a profile read from the database, unless the profile was
// invalidated in the last few seconds.
func (p *ProfileCache) Put(ctx context.Context, prof auth.Profile) error {
	b, err := json.Marshal(prof)
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(ctx, p.timeout)
	defer cancel()
	err = putScript.Exec(ctx, p.c, []string{p.key(prof.ID), p.holdKey(prof.ID)},
		[]string{string(b), fmt.Sprint(p.ttl.Milliseconds())}).Error()
	if err != nil {
		return fmt.Errorf("valkey: profile cache put: %w", err)
	}
	return nil
}

// Invalidate drops the cached profile on every instance.
func (p *ProfileCache) Invalidate(ctx context.Context, id uuid.UUID) error {
	ctx, cancel := withTimeout(ctx, p.timeout)
	defer cancel()
	for _, r := range p.c.DoMulti(ctx,
		p.c.B().Set().Key(p.holdKey(id)).Value("1").Px(invalidationHold).Build(),
		p.c.B().Del().Key(p.key(id)).Build(),
	) {
		if err := r.Error(); err != nil {
			return fmt.Errorf("valkey: profile cache invalidate: %w", err)
		}
	}
	return nil
}
