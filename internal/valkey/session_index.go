package valkey

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	vk "github.com/valkey-io/valkey-go"

	"github.com/authd/authd/internal/auth"
)

// sessionRecord is a session as the index stores it: JSON in a hash field
// named by the hashed token. The field names are this adapter's wire
// format; renaming one loses what existing records hold.
type sessionRecord struct {
	HashedToken     string    `json:"-"` // the field name; kept out of the value
	AuthenticatedAt time.Time `json:"auth_time,omitzero"`
	CreatedAt       time.Time `json:"created_at"`
	LastSeenAt      time.Time `json:"last_seen_at"`
	ExpiresAt       time.Time `json:"expires_at"`
	IP              string    `json:"ip"`
	UserAgent       string    `json:"user_agent"`
}

// sessionIndex tracks which sessions belong to which identity. scs only sees
// opaque session blobs, so without this index ending all of a user's
// sessions would mean scanning every session on every instance.
//
// The index is only as good as the order of calls around it: Add a session
// after scs has committed it (otherwise List may prune it as dead, and a
// concurrent RevokeAll could miss it), and Add it again whenever its expiry
// moves, because records and the index hash expire by ExpiresAt.
type sessionIndex struct{ Handle }

// newSessionIndex returns an index whose session keys follow the
// SessionStore layout of the same handle.
func newSessionIndex(h Handle) *sessionIndex { return &sessionIndex{h} }

var (
	errNoIdentity = errors.New("empty identity id")
	errNoToken    = errors.New("empty hashed token")
	errNoExpiry   = errors.New("record has no expiry")
)

func (x *sessionIndex) indexKey(identityID string) string {
	return x.key("user:" + identityID + ":sessions")
}

// generationField is the index hash's field that holds the identity's
// session generation. It lives in the index, not in a key of its own, so
// that a script can check it and add a session in one key (one cluster
// slot); no hashed token (43 base64url characters) can be named like it.
const generationField = "#generation"

// noGeneration is the generation of an identity whose index holds none:
// one whose credentials never changed, or whose index expired with its
// last session.
const noGeneration = "0"

// Add records a session of identityID, replacing any record with the same
// token, whatever the identity's generation. A record that has already
// expired is not added: its PEXPIREAT would lie in the past and delete the
// whole index.
func (x *sessionIndex) Add(ctx context.Context, identityID string, r sessionRecord) error {
	_, err := x.add(ctx, identityID, r, "")
	return err
}

// addScript adds a record if the identity's generation is still the one
// the caller expects (ARGV[1]; empty: any), and returns how many sessions
// the index holds after it, or -1 when the generation moved on.
// KEYS[1] the index; ARGV expected generation, token, record, expiry (ms).
//
// NX gives a fresh hash its first TTL (GT treats "no TTL" as infinite and
// would never set one); GT then only ever pushes it later, so the hash
// outlives its longest-lived session and dies with it.
var addScript = vk.NewLuaScript(`
local gen = redis.call('HGET', KEYS[1], '` + generationField + `')
if ARGV[1] ~= '' and (gen or '` + noGeneration + `') ~= ARGV[1] then return -1 end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIREAT', KEYS[1], ARGV[4], 'NX')
redis.call('PEXPIREAT', KEYS[1], ARGV[4], 'GT')
local n = redis.call('HLEN', KEYS[1])
if gen then n = n - 1 end
return n
`)

// errStaleGeneration is the adapter's auth.ErrStaleGeneration.
var errStaleGeneration = fmt.Errorf("valkey: session index add: %w", auth.ErrStaleGeneration)

// add is Add in generation expect (empty: any), and also returns how many
// sessions the index holds after it, in the same round trip.
func (x *sessionIndex) add(ctx context.Context, identityID string, r sessionRecord, expect string) (int, error) {
	switch {
	case identityID == "":
		return 0, fmt.Errorf("valkey: session index add: %w", errNoIdentity)
	case r.HashedToken == "":
		return 0, fmt.Errorf("valkey: session index add: %w", errNoToken)
	case r.ExpiresAt.IsZero():
		return 0, fmt.Errorf("valkey: session index add: %w", errNoExpiry)
	}
	ms := r.ExpiresAt.UnixMilli()
	if ms <= time.Now().UnixMilli() {
		return 0, nil
	}
	val, err := json.Marshal(r)
	if err != nil {
		return 0, fmt.Errorf("valkey: session index add: %w", err)
	}
	ctx, cancel := x.call(ctx)
	defer cancel()
	n, err := addScript.Exec(ctx, x.c, []string{x.indexKey(identityID)},
		[]string{expect, r.HashedToken, string(val), strconv.FormatInt(ms, 10)}).AsInt64()
	if err != nil {
		return 0, fmt.Errorf("valkey: session index add: %w", err)
	}
	if n < 0 {
		return 0, errStaleGeneration
	}
	return int(n), nil
}

// Generation returns the identity's session generation.
func (x *sessionIndex) Generation(ctx context.Context, identityID string) (int64, error) {
	if identityID == "" {
		return 0, fmt.Errorf("valkey: session generation: %w", errNoIdentity)
	}
	ctx, cancel := x.call(ctx)
	defer cancel()
	gen, err := x.c.Do(ctx, x.c.B().Hget().Key(x.indexKey(identityID)).Field(generationField).Build()).AsInt64()
	if vk.IsValkeyNil(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("valkey: session generation: %w", err)
	}
	return gen, nil
}

// generationTTL keeps a new generation in an index that has no session to
// keep it alive: far longer than any login takes between reading the
// generation and starting its session.
const generationTTL = time.Hour

// newGenerationScript sets a new generation; KEYS[1] the index, ARGV the
// generation and generationTTL (ms).
var newGenerationScript = vk.NewLuaScript(`
redis.call('HSET', KEYS[1], '` + generationField + `', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2], 'NX')
return 1
`)

// NewGeneration gives the identity a new session generation and returns
// it. Generations are random, not counted: an index that expired would
// restart a counter at a value a login in flight may still hold.
func (x *sessionIndex) NewGeneration(ctx context.Context, identityID string) (int64, error) {
	if identityID == "" {
		return 0, fmt.Errorf("valkey: new session generation: %w", errNoIdentity)
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return 0, fmt.Errorf("valkey: new session generation: %w", err)
	}
	gen := int64(binary.BigEndian.Uint64(b[:])>>1) | 1 // positive, never noGeneration
	ctx, cancel := x.call(ctx)
	defer cancel()
	err := newGenerationScript.Exec(ctx, x.c, []string{x.indexKey(identityID)},
		[]string{strconv.FormatInt(gen, 10), strconv.FormatInt(generationTTL.Milliseconds(), 10)}).Error()
	if err != nil {
		return 0, fmt.Errorf("valkey: new session generation: %w", err)
	}
	return gen, nil
}

// End deletes a session and its index entry: the logout of a session
// whose owner is known. Session first, index second, one after the other:
// if the second step fails the field points at a dead session, which List
// prunes; the reverse order, or both at once (a pipeline whose keys live
// on two cluster nodes), could leave a live session nobody can find to
// revoke.
func (x *sessionIndex) End(ctx context.Context, identityID, hashedToken string) error {
	switch {
	case identityID == "":
		return fmt.Errorf("valkey: session index end: %w", errNoIdentity)
	case hashedToken == "", hashedToken == generationField:
		return fmt.Errorf("valkey: session index end: %w", errNoToken)
	}
	ctx, cancel := x.call(ctx)
	defer cancel()
	if err := x.c.Do(ctx, x.c.B().Del().Key(x.sessionKey(hashedToken)).Build()).Error(); err != nil {
		return fmt.Errorf("valkey: session index end: %w", err)
	}
	if err := x.c.Do(ctx, x.c.B().Hdel().Key(x.indexKey(identityID)).Field(hashedToken).Build()).Error(); err != nil {
		return fmt.Errorf("valkey: session index end: %w", err)
	}
	return nil
}

// touchScript replaces a record only if it still holds the value we read,
// so a Touch racing a Revoke or End cannot resurrect the deleted field,
// and one racing an Add cannot overwrite the newer record.
// Returns 1 when written, 0 when the field is gone, -1 when it changed.
var touchScript = vk.NewLuaScript(`
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return 0 end
if cur ~= ARGV[2] then return -1 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
`)

// touchAttempts bounds retries when the record keeps changing under us;
// giving up is harmless because the competing writers are recording
// activity themselves.
const touchAttempts = 3

// Touch moves the LastSeenAt of an existing record to at. It does nothing
// when the record is gone, and never moves LastSeenAt backwards, since
// concurrent requests of one session may finish out of order.
func (x *sessionIndex) Touch(ctx context.Context, identityID string, hashedToken string, at time.Time) error {
	if identityID == "" {
		return fmt.Errorf("valkey: session index touch: %w", errNoIdentity)
	}
	if hashedToken == generationField {
		return nil
	}
	ctx, cancel := x.call(ctx)
	defer cancel()
	key := x.indexKey(identityID)
	for range touchAttempts {
		cur, err := x.c.Do(ctx, x.c.B().Hget().Key(key).Field(hashedToken).Build()).ToString()
		if vk.IsValkeyNil(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("valkey: session index touch: %w", err)
		}
		var r sessionRecord
		if err := json.Unmarshal([]byte(cur), &r); err != nil {
			return fmt.Errorf("valkey: session index touch: decode record: %w", err)
		}
		if !at.After(r.LastSeenAt) {
			return nil
		}
		r.LastSeenAt = at
		val, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("valkey: session index touch: %w", err)
		}
		n, err := touchScript.Exec(ctx, x.c, []string{key}, []string{hashedToken, cur, string(val)}).AsInt64()
		if err != nil {
			return fmt.Errorf("valkey: session index touch: %w", err)
		}
		if n >= 0 {
			return nil
		}
	}
	return nil
}

// List returns the identity's live sessions, oldest first. Records whose
// session has expired or been deleted are pruned from the index on the way,
// which is what keeps the hash from accumulating dead sessions while the
// user keeps logging in.
func (x *sessionIndex) List(ctx context.Context, identityID string, now time.Time) ([]sessionRecord, error) {
	if identityID == "" {
		return nil, fmt.Errorf("valkey: session index list: %w", errNoIdentity)
	}
	ctx, cancel := x.call(ctx)
	defer cancel()
	key := x.indexKey(identityID)
	all, err := x.c.Do(ctx, x.c.B().Hgetall().Key(key).Build()).AsStrMap()
	if err != nil {
		return nil, fmt.Errorf("valkey: session index list: %w", err)
	}

	var dead []string
	candidates := make([]sessionRecord, 0, len(all))
	for token, val := range all {
		if token == generationField {
			continue
		}
		var r sessionRecord
		if err := json.Unmarshal([]byte(val), &r); err != nil {
			// An undecodable record still names a session; if that session
			// is live, listing it keeps it visible and revocable.
			r = sessionRecord{}
		} else if !r.ExpiresAt.IsZero() && !r.ExpiresAt.After(now) {
			dead = append(dead, token)
			continue
		}
		r.HashedToken = token
		candidates = append(candidates, r)
	}

	live := make([]sessionRecord, 0, len(candidates))
	if len(candidates) > 0 {
		// One EXISTS per key rather than a multi-key EXISTS, so the batch
		// also works when the session keys sit on different cluster slots.
		cmds := make(vk.Commands, len(candidates))
		for i, r := range candidates {
			cmds[i] = x.c.B().Exists().Key(x.sessionKey(r.HashedToken)).Build()
		}
		for i, resp := range x.c.DoMulti(ctx, cmds...) {
			n, err := resp.AsInt64()
			if err != nil {
				return nil, fmt.Errorf("valkey: session index list: %w", err)
			}
			if n == 0 {
				dead = append(dead, candidates[i].HashedToken)
				continue
			}
			live = append(live, candidates[i])
		}
	}

	if len(dead) > 0 {
		// Pruning is housekeeping: the listing is already correct, and the
		// next List retries whatever this one failed to remove.
		_ = x.c.Do(ctx, x.c.B().Hdel().Key(key).Field(dead...).Build()).Error()
	}

	slices.SortFunc(live, func(a, b sessionRecord) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.HashedToken, b.HashedToken))
	})
	return live, nil
}

// RevokeAll ends every session of the identity except those in keep (the
// current session, typically) and returns how many of them were still live.
// Session keys are deleted before their index fields, so a failure part-way
// leaves the survivors indexed and a retry can finish the job.
func (x *sessionIndex) RevokeAll(ctx context.Context, identityID string, keep ...string) (int, error) {
	if identityID == "" {
		return 0, fmt.Errorf("valkey: session index revoke all: %w", errNoIdentity)
	}
	ctx, cancel := x.call(ctx)
	defer cancel()
	key := x.indexKey(identityID)
	tokens, err := x.c.Do(ctx, x.c.B().Hkeys().Key(key).Build()).AsStrSlice()
	if err != nil {
		return 0, fmt.Errorf("valkey: session index revoke all: %w", err)
	}
	tokens = slices.DeleteFunc(tokens, func(t string) bool { return t == generationField || slices.Contains(keep, t) })
	if len(tokens) == 0 {
		return 0, nil
	}

	// Separate DELs, not one multi-key DEL, because session keys may live
	// on different cluster slots.
	cmds := make(vk.Commands, len(tokens))
	for i, t := range tokens {
		cmds[i] = x.c.B().Del().Key(x.sessionKey(t)).Build()
	}
	var (
		revoked  int
		deleted  []string
		firstErr error
	)
	for i, resp := range x.c.DoMulti(ctx, cmds...) {
		n, err := resp.AsInt64()
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		revoked += int(n)
		deleted = append(deleted, tokens[i])
	}
	if len(deleted) > 0 {
		if err := x.c.Do(ctx, x.c.B().Hdel().Key(key).Field(deleted...).Build()).Error(); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if firstErr != nil {
		return revoked, fmt.Errorf("valkey: session index revoke all: %w", firstErr)
	}
	return revoked, nil
}

// Revoke ends one session of identityID. It returns false, touching
// nothing, when the token is not in that identity's index, so a user can
// only end their own sessions.
func (x *sessionIndex) Revoke(ctx context.Context, identityID, hashedToken string) (bool, error) {
	if identityID == "" {
		return false, fmt.Errorf("valkey: session index revoke: %w", errNoIdentity)
	}
	if hashedToken == "" || hashedToken == generationField {
		return false, nil
	}
	ctx, cancel := x.call(ctx)
	defer cancel()
	key := x.indexKey(identityID)
	owned, err := x.c.Do(ctx, x.c.B().Hexists().Key(key).Field(hashedToken).Build()).AsBool()
	if err != nil {
		return false, fmt.Errorf("valkey: session index revoke: %w", err)
	}
	if !owned {
		return false, nil
	}
	if err := x.End(ctx, identityID, hashedToken); err != nil {
		return false, fmt.Errorf("valkey: session index revoke: %w", err)
	}
	return true, nil
}
