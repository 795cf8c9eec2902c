package valkey

import (
	"sync"
	"time"
)

// touchLimiter remembers, per instance, when each session's last-seen time
// was last written, so that a busy session costs one index write per
// interval instead of one per request.
type touchLimiter struct {
	every time.Duration
	mu    sync.Mutex
	last  map[string]time.Time
}

// maxTracked bounds the memory of the limiter; when full it forgets
// everything, which costs at most one extra write per session.
const maxTracked = 100_000

func newTouchLimiter(every time.Duration) *touchLimiter {
	return &touchLimiter{every: every, last: map[string]time.Time{}}
}

// due reports whether the session should be touched now, and if so
// records that it was.
func (t *touchLimiter) due(hashedToken string, now time.Time) bool {
	if t.every <= 0 {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if last, ok := t.last[hashedToken]; ok && now.Sub(last) < t.every {
		return false
	}
	if len(t.last) >= maxTracked {
		clear(t.last)
	}
	t.last[hashedToken] = now
	return true
}
