package valkey

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	vk "github.com/valkey-io/valkey-go"

	"github.com/authd/authd/internal/auth"
)

// Challenges keeps WebAuthn ceremonies in flight, so that the instance
// that answers a ceremony need not be the one that started it. Each is
// taken with GETDEL: of two answers to one challenge, one at most finds it.
type Challenges struct{ Handle }

var _ auth.Challenges = (*Challenges)(nil)

// NewChallenges returns the challenge store over h.
func NewChallenges(h Handle) *Challenges { return &Challenges{h} }

// challengeRecord is a challenge as stored: this adapter's wire format.
type challengeRecord struct {
	Purpose    string     `json:"purpose"`
	IdentityID *uuid.UUID `json:"identity_id,omitempty"`
	State      []byte     `json:"state"`
	IssuedAt   time.Time  `json:"issued_at"`
}

// The key is a hash of the challenge: a key listing does not hand out
// challenges to answer.
func (c *Challenges) challengeKey(challenge string) string {
	sum := sha256.Sum256([]byte(challenge))
	return c.key("webauthn-challenge:" + hex.EncodeToString(sum[:16]))
}

// Put keeps the challenge for ttl.
func (c *Challenges) Put(ctx context.Context, ch auth.Challenge, ttl time.Duration) error {
	b, err := json.Marshal(challengeRecord{Purpose: string(ch.Purpose), IdentityID: ch.IdentityID, State: ch.State, IssuedAt: ch.IssuedAt})
	if err != nil {
		return err
	}
	ctx, cancel := c.call(ctx)
	defer cancel()
	cmd := c.c.B().Set().Key(c.challengeKey(ch.Challenge)).Value(string(b)).Nx().Px(ttl).Build()
	if err := c.c.Do(ctx, cmd).Error(); err != nil && !vk.IsValkeyNil(err) {
		return fmt.Errorf("valkey: put challenge: %w", err)
	}
	return nil
}

// Take returns the challenge and deletes it.
func (c *Challenges) Take(ctx context.Context, challenge string) (auth.Challenge, bool, error) {
	ctx, cancel := c.call(ctx)
	defer cancel()
	b, err := c.c.Do(ctx, c.c.B().Getdel().Key(c.challengeKey(challenge)).Build()).AsBytes()
	if vk.IsValkeyNil(err) {
		return auth.Challenge{}, false, nil
	}
	if err != nil {
		return auth.Challenge{}, false, fmt.Errorf("valkey: take challenge: %w", err)
	}
	var r challengeRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return auth.Challenge{}, false, nil
	}
	return auth.Challenge{Challenge: challenge, Purpose: auth.ChallengePurpose(r.Purpose), IdentityID: r.IdentityID,
		State: r.State, IssuedAt: r.IssuedAt}, true, nil
}
