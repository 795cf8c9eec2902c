package valkey

import (
	"testing"
	"time"

	"github.com/authd/authd/internal/auth"
	"github.com/authd/authd/internal/auth/authtest"
)

// The Valkey adapters pass the domain's shared contract (package authtest),
// each subtest under its own key prefix.

func contractHandle(t *testing.T) Handle { return testHandle(testClient, prefixFor(t), 5*time.Second) }

func TestContractSessions(t *testing.T) {
	authtest.TestSessions(t, func(t *testing.T) auth.Sessions {
		return NewSessions(contractHandle(t), 24*time.Hour, time.Minute, 0)
	})
}

func TestContractLockouts(t *testing.T) {
	authtest.TestLockouts(t, func(t *testing.T) auth.Lockouts { return NewLockouts(contractHandle(t)) })
}

func TestContractRateLimiter(t *testing.T) {
	authtest.TestRateLimiter(t, func(t *testing.T) auth.RateLimiter { return NewRateLimiter(contractHandle(t)) })
}

func TestContractProfileCache(t *testing.T) {
	authtest.TestProfileCache(t, func(t *testing.T) auth.ProfileCache {
		return NewProfileCache(contractHandle(t), time.Hour)
	})
}

func TestContractChallenges(t *testing.T) {
	authtest.TestChallenges(t, func(t *testing.T) auth.Challenges { return NewChallenges(contractHandle(t)) })
}
