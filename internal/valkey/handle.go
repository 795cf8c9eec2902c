package valkey

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"time"

	vk "github.com/valkey-io/valkey-go"
)

// Handle is what every adapter in this package shares: the client, the key
// prefix of this deployment, the deadline of each call, and the key that
// turns personal data (an e-mail address, an IP) into the part of a Valkey
// key that names it.
type Handle struct {
	c       vk.Client
	prefix  string
	timeout time.Duration
	subject []byte
}

// NewHandle returns a handle over c. Keys start with prefix; a positive
// timeout bounds every call on top of the caller's context. subjectKey is
// the HMAC key for personal data in keys: a plain hash of an address is
// easy to reverse by guessing, a keyed one is not without the key. It must
// be the same on every instance (derive it from SECRET_KEY).
func NewHandle(c vk.Client, prefix string, timeout time.Duration, subjectKey []byte) Handle {
	return Handle{c: c, prefix: prefix, timeout: timeout, subject: subjectKey}
}

// call gives one call its own deadline so that a slow command cannot
// consume a request's whole budget.
func (h Handle) call(ctx context.Context) (context.Context, context.CancelFunc) {
	if h.timeout > 0 {
		return context.WithTimeout(ctx, h.timeout)
	}
	return ctx, func() {}
}

// key is prefix + name.
func (h Handle) key(name string) string { return h.prefix + name }

// hashSubject is the keyed hash that stands for personal data in a key:
// 128 bits of HMAC-SHA-256, in hex.
func (h Handle) hashSubject(subject string) string {
	m := hmac.New(sha256.New, h.subject)
	m.Write([]byte(subject))
	return hex.EncodeToString(m.Sum(nil)[:16])
}
