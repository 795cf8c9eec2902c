package valkey

import (
	"testing"
	"time"
)

func TestTouchLimiter(t *testing.T) {
	lim := newTouchLimiter(5 * time.Minute)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	steps := []struct {
		token string
		at    time.Duration
		want  bool
	}{
		{"a", 0, true},
		{"a", time.Minute, false},
		{"b", time.Minute, true},
		{"a", 4*time.Minute + 59*time.Second, false},
		{"a", 5 * time.Minute, true},
		{"a", 6 * time.Minute, false},
	}
	for _, s := range steps {
		if got := lim.due(s.token, t0.Add(s.at)); got != s.want {
			t.Errorf("due(%s, +%s) = %v, want %v", s.token, s.at, got, s.want)
		}
	}
	if newTouchLimiter(0).due("a", t0) {
		t.Error("a zero interval should disable touching")
	}
}
