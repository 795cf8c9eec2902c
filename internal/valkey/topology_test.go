package valkey

import (
	"context"
	"testing"
	"time"

	vk "github.com/valkey-io/valkey-go"

	"github.com/authd/authd/internal/auth"
	"github.com/authd/authd/internal/auth/authtest"
	"github.com/authd/authd/internal/testenv"
)

// The adapters pass the domain's contract on a Redis Cluster (3 masters, 3
// replicas) and behind Sentinel, each started by the test: every Lua
// script touches the keys of one slot, and VALKEY_URL's addr= and
// master_set= select the topology (valkey-go's own support).

// topologyContracts runs every Valkey-backed contract against c.
func topologyContracts(t *testing.T, c vk.Client) {
	h := func(t *testing.T) Handle { return testHandle(c, "authd-topology:"+t.Name()+":", 5*time.Second) }
	t.Run("sessions", func(t *testing.T) {
		authtest.TestSessions(t, func(t *testing.T) auth.Sessions { return NewSessions(h(t), 24*time.Hour, time.Minute, 0) })
	})
	t.Run("lockouts", func(t *testing.T) {
		authtest.TestLockouts(t, func(t *testing.T) auth.Lockouts { return NewLockouts(h(t)) })
	})
	t.Run("rate limiter", func(t *testing.T) {
		authtest.TestRateLimiter(t, func(t *testing.T) auth.RateLimiter { return NewRateLimiter(h(t)) })
	})
	t.Run("profile cache", func(t *testing.T) {
		authtest.TestProfileCache(t, func(t *testing.T) auth.ProfileCache { return NewProfileCache(h(t), time.Hour) })
	})
	t.Run("challenges", func(t *testing.T) {
		authtest.TestChallenges(t, func(t *testing.T) auth.Challenges { return NewChallenges(h(t)) })
	})
}

func openTopology(t *testing.T, url string) vk.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := Open(ctx, url, Options{})
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestContractsOnACluster(t *testing.T) {
	cluster, err := testenv.StartRedisCluster(3, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Stop()
	c := openTopology(t, cluster.URL())
	if n := len(c.Nodes()); n < 3 {
		t.Fatalf("the client sees %d nodes: not a cluster client", n)
	}
	topologyContracts(t, c)
}

func TestContractsBehindSentinel(t *testing.T) {
	s, err := testenv.StartSentinels()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	topologyContracts(t, openTopology(t, s.URL()))
}

// TestSentinelsWithAPassword: sentinels that require a password of their
// own are reached with SentinelPassword, and refuse a client without it
// with a clear error instead of a hang.
func TestSentinelsWithAPassword(t *testing.T) {
	s, err := testenv.StartSentinelsWithPassword("sentinel-s3cret")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if c, err := Open(ctx, s.URL(), Options{DialTimeout: time.Second}); err == nil {
		c.Close()
		t.Fatal("sentinels with a password answered a client without it")
	}
	c, err := Open(ctx, s.URL(), Options{SentinelPassword: "sentinel-s3cret"})
	if err != nil {
		t.Fatalf("open with the sentinel password: %v", err)
	}
	defer c.Close()
	key := "authd-test-sentinel-auth:" + testenv.RandomName("k")
	if err := c.Do(ctx, c.B().Set().Key(key).Value("v").Ex(time.Minute).Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Master.Do("GET", key); err != nil || got != "v" {
		t.Fatalf("the master holds %q (%v), want the value written through the sentinels", got, err)
	}
	if _, err := Open(ctx, "redis://"+s.Master.Addr()+"/0", Options{SentinelPassword: "x"}); err == nil {
		t.Error("a sentinel password without master_set was accepted")
	}
}
