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
	Handle
	ttl time.Duration
}

// profileRecord is a profile as the cache stores it: this adapter's wire
// format, apart from the API's. An entry that does not decode is a miss.
type profileRecord struct {
	ID            uuid.UUID  `json:"id"`
	Email         string     `json:"email"`
	EmailVerified bool       `json:"email_verified"`
	Username      *string    `json:"username"`
	GeoLocation   *string    `json:"geo_location"`
	State         auth.State `json:"state"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	Factors       struct {
		TOTP              bool `json:"totp"`
		Passkeys          int  `json:"passkeys"`
		RecoveryCodesLeft int  `json:"recovery_codes_left"`
	} `json:"factors"`
	// Version tells entries of this format from older ones, which lack
	// the factors and are misses.
	Version int `json:"v"`
}

const profileRecordVersion = 2

func recordOfProfile(p auth.Profile) profileRecord {
	r := profileRecord{ID: p.ID, Email: p.Email, EmailVerified: p.EmailVerified, Username: p.Username,
		GeoLocation: p.GeoLocation, State: p.State, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt, Version: profileRecordVersion}
	r.Factors.TOTP, r.Factors.Passkeys, r.Factors.RecoveryCodesLeft = p.Factors.TOTP, p.Factors.Passkeys, p.Factors.RecoveryCodesLeft
	return r
}

func (r profileRecord) profile() auth.Profile {
	return auth.Profile{ID: r.ID, Email: r.Email, EmailVerified: r.EmailVerified, Username: r.Username,
		GeoLocation: r.GeoLocation, State: r.State, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		Factors: auth.Factors{TOTP: r.Factors.TOTP, Passkeys: r.Factors.Passkeys, RecoveryCodesLeft: r.Factors.RecoveryCodesLeft}}
}

var _ auth.ProfileCache = (*ProfileCache)(nil)

// invalidationHold is how long after an invalidation no profile may be
// cached: a reader that loaded the old row just before the change cannot
// put it back, since its read and put take far less than this.
const invalidationHold = 5 * time.Second

// NewProfileCache caches profiles for ttl.
func NewProfileCache(h Handle, ttl time.Duration) *ProfileCache {
	return &ProfileCache{Handle: h, ttl: ttl}
}

// The hash tag keeps a profile and its invalidation marker on one slot.
func (p *ProfileCache) profileKey(id uuid.UUID) string { return p.key("profile:{" + id.String() + "}") }
func (p *ProfileCache) holdKey(id uuid.UUID) string {
	return p.key("profile-hold:{" + id.String() + "}")
}

// Get returns the cached profile, if any.
func (p *ProfileCache) Get(ctx context.Context, id uuid.UUID) (auth.Profile, bool, error) {
	ctx, cancel := p.call(ctx)
	defer cancel()
	b, err := p.c.Do(ctx, p.c.B().Get().Key(p.profileKey(id)).Build()).AsBytes()
	if vk.IsValkeyNil(err) {
		return auth.Profile{}, false, nil
	}
	if err != nil {
		return auth.Profile{}, false, fmt.Errorf("valkey: profile cache get: %w", err)
	}
	var r profileRecord
	if err := json.Unmarshal(b, &r); err != nil || r.ID != id || r.Version != profileRecordVersion {
		return auth.Profile{}, false, nil // an old format: treat as a miss
	}
	return r.profile(), true, nil
}

var putScript = vk.NewLuaScript(`
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`)

// Put caches a profile read from the database, unless the profile was
// invalidated in the last few seconds.
func (p *ProfileCache) Put(ctx context.Context, prof auth.Profile) error {
	b, err := json.Marshal(recordOfProfile(prof))
	if err != nil {
		return err
	}
	ctx, cancel := p.call(ctx)
	defer cancel()
	err = putScript.Exec(ctx, p.c, []string{p.profileKey(prof.ID), p.holdKey(prof.ID)},
		[]string{string(b), fmt.Sprint(p.ttl.Milliseconds())}).Error()
	if err != nil {
		return fmt.Errorf("valkey: profile cache put: %w", err)
	}
	return nil
}

// Invalidate drops the cached profile on every instance.
func (p *ProfileCache) Invalidate(ctx context.Context, id uuid.UUID) error {
	ctx, cancel := p.call(ctx)
	defer cancel()
	for _, r := range p.c.DoMulti(ctx,
		p.c.B().Set().Key(p.holdKey(id)).Value("1").Px(invalidationHold).Build(),
		p.c.B().Del().Key(p.profileKey(id)).Build(),
	) {
		if err := r.Error(); err != nil {
			return fmt.Errorf("valkey: profile cache invalidate: %w", err)
		}
	}
	return nil
}
