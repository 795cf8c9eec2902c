package httpapi_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	vk "github.com/valkey-io/valkey-go"

	"github.com/authd/authd/internal/auth"
	"github.com/authd/authd/internal/hashpool"
	"github.com/authd/authd/internal/postgres"
)

// countingStore counts reads of identities by id: the /me query.
type countingStore struct {
	*postgres.IdentityStore
	byID atomic.Int64
}

func (s *countingStore) wrap(auth.IdentityStore) auth.IdentityStore { return s }

func (s *countingStore) IdentityByID(ctx context.Context, id uuid.UUID) (auth.Identity, error) {
	s.byID.Add(1)
	return s.IdentityStore.IdentityByID(ctx, id)
}

// countingValkey counts the commands sent to Valkey that write.
type countingValkey struct {
	vk.Client
	writes atomic.Int64
}

func (c *countingValkey) Do(ctx context.Context, cmd vk.Completed) vk.ValkeyResult {
	if !cmd.IsReadOnly() {
		c.writes.Add(1)
	}
	return c.Client.Do(ctx, cmd)
}

func (c *countingValkey) DoMulti(ctx context.Context, cmds ...vk.Completed) []vk.ValkeyResult {
	for _, cmd := range cmds {
		if !cmd.IsReadOnly() {
			c.writes.Add(1)
		}
	}
	return c.Client.DoMulti(ctx, cmds...)
}

// TestMeIsServedFromTheCache: after the first read, GET /auth/me makes no
// PostgreSQL query and no Valkey write; a change shows at once.
func TestMeIsServedFromTheCache(t *testing.T) {
	store := &countingStore{IdentityStore: postgres.NewIdentityStore(testDB)}
	counted := &countingValkey{Client: testValkey}
	ts := newServer(t, serverOptions{wrapIdentities: store.wrap, valkey: counted})
	c := ts.client()
	c.register(t)
	for range 2 { // warm up: the cache fill and the first last-seen touch
		wantStatus(t, c.do(http.MethodGet, "/api/v1/auth/me", nil), http.StatusOK)
	}
	reads, writes := store.byID.Load(), counted.writes.Load()
	for range 20 {
		wantStatus(t, c.do(http.MethodGet, "/api/v1/auth/me", nil), http.StatusOK)
	}
	if n := store.byID.Load() - reads; n != 0 {
		t.Errorf("20 cached reads of /me made %d PostgreSQL queries, want 0", n)
	}
	if n := counted.writes.Load() - writes; n != 0 {
		t.Errorf("20 cached reads of /me made %d Valkey writes, want 0", n)
	}
	wantStatus(t, c.do(http.MethodPut, "/api/v1/auth/settings", map[string]any{"method": "profile", "traits": map[string]any{"geo_location": "Quito"}}), http.StatusOK)
	if p := c.do(http.MethodGet, "/api/v1/auth/me", nil).profile(t); p.GeoLocation == nil || *p.GeoLocation != "Quito" {
		t.Errorf("me after a change = %+v, want the new location at once", p)
	}
}

// replaceHasher puts h where the composition root puts the hash pool.
func replaceHasher(h auth.PasswordHasher) func(auth.PasswordHasher) auth.PasswordHasher {
	return func(auth.PasswordHasher) auth.PasswordHasher { return h }
}

// gatedHasher blocks every hash until the gate opens.
type gatedHasher struct {
	gate    chan struct{}
	started chan struct{}
}

func (g *gatedHasher) Hash(ctx context.Context, p string) (string, error) {
	g.started <- struct{}{}
	<-g.gate
	return "gated:" + p, nil
}

func (g *gatedHasher) Verify(ctx context.Context, p, encoded string) (bool, bool, error) {
	g.started <- struct{}{}
	<-g.gate
	return encoded == "gated:"+p, false, nil
}

func (g *gatedHasher) DummyHash() string { return "gated:dummy" }

func (g *gatedHasher) Admit() error { return nil }

// TestSaturatedHashPoolSheds: with the only hash slot busy and another
// caller queued, a login is refused at once with 503 and Retry-After; once
// the pool is free, logins are served again.
func TestSaturatedHashPoolSheds(t *testing.T) {
	g := &gatedHasher{gate: make(chan struct{}), started: make(chan struct{}, 16)}
	pool := hashpool.New(g, hashpool.Config{Size: 1, MaxQueue: 1}, nil)
	pool.DummyHash() // made once, at start-up in production
	ts := newServer(t, serverOptions{wrapHasher: replaceHasher(pool)})
	cr := credentials{Identifier: newEmail("pool"), Password: "correct horse battery staple"}

	var wg sync.WaitGroup
	statuses := make([]int, 2)
	wg.Go(func() { statuses[0] = ts.client().do(http.MethodPost, "/api/v1/auth/register", cr).StatusCode })
	<-g.started // the register holds the only slot
	wg.Go(func() {
		statuses[1] = ts.client().do(http.MethodPost, "/api/v1/auth/login", credentials{Identifier: newEmail("queued"), Password: "whatever pass"}).StatusCode
	})
	deadline := time.Now().Add(10 * time.Second)
	for pool.Stats().Queued < 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}

	shed := ts.client().do(http.MethodPost, "/api/v1/auth/login", cr)
	wantStatus(t, shed, http.StatusServiceUnavailable)
	if p := shed.problem(t); p.Code != "overloaded" {
		t.Errorf("code = %s, want overloaded", p.Code)
	}
	if retryAfter(t, shed) < 1 {
		t.Error("shed reply without Retry-After")
	}

	close(g.gate) // free the pool
	wg.Wait()
	if statuses[0] != http.StatusCreated || statuses[1] != http.StatusUnauthorized {
		t.Errorf("the admitted requests got %v, want [201 401]", statuses)
	}
	wantStatus(t, ts.client().do(http.MethodPost, "/api/v1/auth/login", cr), http.StatusOK)
	if st := pool.Stats(); st.Rejected != 1 || st.InFlight != 0 || st.Queued != 0 {
		t.Errorf("pool stats = %+v", st)
	}
	// Shedding is expected behaviour: counted, and never a line at ERROR
	// (nor at INFO, the level of this server).
	if got := metricValue(t, ts, `authd_requests_shed_total{route="/api/v1/auth/login"}`); got != 1 {
		t.Errorf("authd_requests_shed_total for login = %v, want 1", got)
	}
	if logs := ts.logs.String(); strings.Contains(logs, "overloaded") {
		t.Errorf("a shed request was logged above debug level:\n%s", logs)
	}
}

// TestShedReplyWaitsAndStillSaysWhen: with SHED_DELAY, a shed request's
// 503 still carries Retry-After and problem+json.
func TestShedReplyWaitsAndStillSaysWhen(t *testing.T) {
	g := &gatedHasher{gate: make(chan struct{}), started: make(chan struct{}, 16)}
	pool := hashpool.New(g, hashpool.Config{Size: 1, MaxQueue: 1}, nil)
	pool.DummyHash()
	ts := newServer(t, serverOptions{wrapHasher: replaceHasher(pool), env: map[string]string{"SHED_DELAY": "200ms"}})
	var wg sync.WaitGroup
	wg.Go(func() {
		ts.client().do(http.MethodPost, "/api/v1/auth/register", credentials{Identifier: newEmail("holder"), Password: "correct horse battery staple"})
	})
	<-g.started // the only slot is held
	wg.Go(func() {
		ts.client().do(http.MethodPost, "/api/v1/auth/login", credentials{Identifier: newEmail("queued"), Password: "whatever pass"})
	})
	deadline := time.Now().Add(10 * time.Second)
	for pool.Stats().Queued < 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	shed := make(chan response, 1)
	go func() {
		shed <- ts.client().do(http.MethodPost, "/api/v1/auth/login", credentials{Identifier: newEmail("shed"), Password: "whatever pass"})
	}()
	r := <-shed
	wantStatus(t, r, http.StatusServiceUnavailable)
	if r.problem(t).Code != "overloaded" || retryAfter(t, r) < 1 {
		t.Errorf("shed reply = %s %v", r.body, r.Header)
	}
	close(g.gate)
	wg.Wait()
}

// TestInFlightLimitSheds: when the API is full, more requests get 503 at
// once, while health checks still answer.
func TestInFlightLimitSheds(t *testing.T) {
	g := &gatedHasher{gate: make(chan struct{}), started: make(chan struct{}, 16)}
	ts := newServer(t, serverOptions{wrapHasher: replaceHasher(g), env: map[string]string{"MAX_IN_FLIGHT": "1"}})
	var wg sync.WaitGroup
	wg.Go(func() {
		ts.client().do(http.MethodPost, "/api/v1/auth/login", credentials{Identifier: newEmail("busy"), Password: "whatever pass"})
	})
	<-g.started
	r := ts.client().do(http.MethodGet, "/api/v1/auth/me", nil)
	wantStatus(t, r, http.StatusServiceUnavailable)
	if r.problem(t).Code != "overloaded" || r.Header.Get("Retry-After") == "" {
		t.Errorf("shed reply = %s %v", r.body, r.Header)
	}
	wantStatus(t, ts.client().do(http.MethodGet, "/health", nil), http.StatusOK)
	close(g.gate)
	wg.Wait()
	wantStatus(t, ts.client().do(http.MethodGet, "/api/v1/auth/me", nil), http.StatusUnauthorized)
}

// metricValue reads one series of /metrics, e.g.
// `authd_requests_shed_total{route="/api/v1/auth/login"}`; 0 when absent.
func metricValue(t *testing.T, ts *testServer, series string) float64 {
	t.Helper()
	r := ts.client().do(http.MethodGet, "/metrics", nil)
	for _, line := range strings.Split(string(r.body), "\n") {
		name, value, ok := strings.Cut(line, " ")
		if ok && name == series {
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return v
		}
	}
	return 0
}
