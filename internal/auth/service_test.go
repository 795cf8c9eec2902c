package auth

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// memStore is an in-memory IdentityStore for use-case tests.
type memStore struct {
	mu  sync.Mutex
	ids map[uuid.UUID]Identity
	err error // returned by every call when set
}

func newMemStore() *memStore { return &memStore{ids: map[uuid.UUID]Identity{}} }

func (m *memStore) CreateIdentity(_ context.Context, i Identity) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	for _, o := range m.ids {
		if o.Email == i.Email {
			return ErrEmailTaken
		}
		if i.Username != "" && strings.EqualFold(o.Username, i.Username) {
			return ErrUsernameTaken
		}
	}
	m.ids[i.ID] = i
	return nil
}

func (m *memStore) IdentityByEmail(_ context.Context, e Email) (Identity, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return Identity{}, m.err
	}
	for _, o := range m.ids {
		if o.Email == e {
			return o, nil
		}
	}
	return Identity{}, ErrNotFound
}

func (m *memStore) IdentityByID(_ context.Context, id uuid.UUID) (Identity, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return Identity{}, m.err
	}
	i, ok := m.ids[id]
	if !ok {
		return Identity{}, ErrNotFound
	}
	return i, nil
}

func (m *memStore) UpdatePasswordHash(_ context.Context, id uuid.UUID, hash string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	i, ok := m.ids[id]
	if !ok {
		return ErrNotFound
	}
	i.PasswordHash, i.UpdatedAt = hash, at
	m.ids[id] = i
	return nil
}

func (m *memStore) UpdateProfile(_ context.Context, id uuid.UUID, username, geo string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	i, ok := m.ids[id]
	if !ok {
		return ErrNotFound
	}
	for _, o := range m.ids {
		if o.ID != id && username != "" && strings.EqualFold(o.Username, username) {
			return ErrUsernameTaken
		}
	}
	i.Username, i.GeoLocation, i.UpdatedAt = username, geo, at
	m.ids[id] = i
	return nil
}

func (m *memStore) MarkEmailVerified(_ context.Context, id uuid.UUID, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	i, ok := m.ids[id]
	if !ok {
		return ErrNotFound
	}
	i.EmailVerifiedAt, i.UpdatedAt = &at, at
	m.ids[id] = i
	return nil
}

// memSessions is an in-memory SessionIndex.
type memSessions struct {
	mu   sync.Mutex
	byID map[string][]Session
	err  error
}

func (m *memSessions) List(_ context.Context, id string, _ time.Time) ([]Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Session(nil), m.byID[id]...), m.err
}

func (m *memSessions) Revoke(_ context.Context, id, hashed string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, s := range m.byID[id] {
		if s.HashedToken == hashed {
			m.byID[id] = append(m.byID[id][:i], m.byID[id][i+1:]...)
			return true, nil
		}
	}
	return false, m.err
}

func (m *memSessions) RevokeAll(_ context.Context, id string, keep ...string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return 0, m.err
	}
	var kept []Session
	n := 0
	for _, s := range m.byID[id] {
		if len(keep) > 0 && s.HashedToken == keep[0] {
			kept = append(kept, s)
			continue
		}
		n++
	}
	m.byID[id] = kept
	return n, nil
}

// memAudit records events in memory.
type memAudit struct {
	mu     sync.Mutex
	events []Event
}

func (m *memAudit) Record(_ context.Context, e Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.events = append(m.events, e)
	return nil
}

func (m *memAudit) Recent(_ context.Context, id uuid.UUID, limit int) ([]Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Event
	for i := len(m.events) - 1; i >= 0 && len(out) < limit; i-- {
		if e := m.events[i]; e.IdentityID != nil && *e.IdentityID == id {
			out = append(out, e)
		}
	}
	return out, nil
}

func (m *memAudit) types() []EventType {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []EventType
	for _, e := range m.events {
		out = append(out, e.Type)
	}
	return out
}

// fakeHasher "hashes" by prefixing, and counts verifications so tests can
// see that unknown e-mails cost a hash too.
type fakeHasher struct {
	mu       sync.Mutex
	version  string
	verifies int
	dummy    int
}

func (h *fakeHasher) Hash(_ context.Context, p string) (string, error) {
	return h.version + ":" + p, nil
}

func (h *fakeHasher) Verify(_ context.Context, p, encoded string) (bool, bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.verifies++
	if encoded == "dummy" {
		h.dummy++
		return false, false, nil
	}
	version, plain, ok := strings.Cut(encoded, ":")
	if !ok {
		return false, false, errors.New("malformed")
	}
	return plain == p, version != h.version, nil
}

func (h *fakeHasher) DummyHash() string { return "dummy" }

var testNow = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// testEnv is a Service over in-memory ports, with a clock tests can move.
type testEnv struct {
	svc      *Service
	store    *memStore
	hasher   *fakeHasher
	sessions *memSessions
	audit    *memAudit
	now      time.Time
}

func newTestEnv() *testEnv {
	env := &testEnv{store: newMemStore(), hasher: &fakeHasher{version: "v2"}, sessions: &memSessions{byID: map[string][]Session{}}, audit: &memAudit{}, now: testNow}
	env.svc = NewService(Deps{
		Store: env.store, Hasher: env.hasher, Sessions: env.sessions, Audit: env.audit,
		Policy: PasswordPolicy{MinLength: 8}, PrivilegedWindow: 15 * time.Minute,
		Now: func() time.Time { return env.now }, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	return env
}

func newTestService() (*Service, *memStore, *fakeHasher) {
	env := newTestEnv()
	return env.svc, env.store, env.hasher
}

func TestRegister(t *testing.T) {
	svc, _, _ := newTestService()
	ctx := context.Background()
	id, err := svc.registerT(ctx, Register{Email: " Dana@Example.com ", Password: "long enough pw", Username: "dana"})
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	if id.Email.String() != "dana@example.com" || id.State != StateActive || id.PasswordHash != "v2:long enough pw" || !id.CreatedAt.Equal(testNow) {
		t.Errorf("Register = %+v", id)
	}
	_, err = svc.registerT(ctx, Register{Email: "DANA@example.com", Password: "another long pw"})
	if !errors.Is(err, ErrEmailTaken) {
		t.Errorf("duplicate e-mail: err = %v, want ErrEmailTaken", err)
	}
	_, err = svc.registerT(ctx, Register{Email: "zed@example.com", Password: "another long pw", Username: "DANA"})
	if !errors.Is(err, ErrUsernameTaken) {
		t.Errorf("duplicate username: err = %v, want ErrUsernameTaken", err)
	}
}

func TestRegisterReportsEveryField(t *testing.T) {
	svc, _, _ := newTestService()
	_, err := svc.registerT(context.Background(), Register{Email: "nope", Password: "short", Username: "x", EmailField: "email"})
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindInvalid {
		t.Fatalf("err = %v, want KindInvalid", err)
	}
	var fields []string
	for _, f := range e.Fields {
		fields = append(fields, f.Field)
	}
	if got, want := strings.Join(fields, ","), "email,username,password"; got != want {
		t.Errorf("fields = %s, want %s", got, want)
	}
}

func TestLogin(t *testing.T) {
	svc, store, hasher := newTestService()
	ctx := context.Background()
	reg, err := svc.registerT(ctx, Register{Email: "erin.x@example.com", Password: "secret sauce 1"})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		identifier string
		password   string
		wantErr    error
		wantDummy  int
	}{
		{name: "ok", identifier: "ERIN.X@example.com", password: "secret sauce 1"},
		{name: "wrong password", identifier: "erin.x@example.com", password: "wrong password", wantErr: ErrInvalidCredentials},
		{name: "unknown e-mail costs a dummy hash", identifier: "nobody@example.com", password: "whatever pw", wantErr: ErrInvalidCredentials, wantDummy: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, dummyBefore := hasher.verifies, hasher.dummy
			got, err := svc.Login(ctx, Login{Identifier: tt.identifier, Password: tt.password})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("err = %v, want %v", err, tt.wantErr)
				}
			} else if err != nil || got.ID != reg.ID {
				t.Errorf("Login = %v, %v", got.ID, err)
			}
			if hasher.verifies-before != 1 {
				t.Errorf("verifications = %d, want exactly 1", hasher.verifies-before)
			}
			if hasher.dummy-dummyBefore != tt.wantDummy {
				t.Errorf("dummy verifications = %d, want %d", hasher.dummy-dummyBefore, tt.wantDummy)
			}
		})
	}

	t.Run("inactive looks like a wrong password", func(t *testing.T) {
		i := store.ids[reg.ID]
		i.State = StateInactive
		store.ids[reg.ID] = i
		defer func() { i.State = StateActive; store.ids[reg.ID] = i }()
		if _, err := svc.Login(ctx, Login{Identifier: "erin.x@example.com", Password: "secret sauce 1"}); !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("err = %v, want ErrInvalidCredentials", err)
		}
	})

	t.Run("malformed stored hash is a failed login, not a 500", func(t *testing.T) {
		i := store.ids[reg.ID]
		saved := i.PasswordHash
		i.PasswordHash = "garbage"
		store.ids[reg.ID] = i
		defer func() { i.PasswordHash = saved; store.ids[reg.ID] = i }()
		if _, err := svc.Login(ctx, Login{Identifier: "erin.x@example.com", Password: "secret sauce 1"}); !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("err = %v, want ErrInvalidCredentials", err)
		}
	})

	t.Run("validation", func(t *testing.T) {
		_, err := svc.Login(ctx, Login{Identifier: "not-an-email", Password: ""})
		if ErrorKind(err) != KindInvalid {
			t.Errorf("err = %v, want KindInvalid", err)
		}
	})

	t.Run("store down is unavailable", func(t *testing.T) {
		store.err = Unavailable("test", errors.New("connection refused"))
		defer func() { store.err = nil }()
		if _, err := svc.Login(ctx, Login{Identifier: "erin.x@example.com", Password: "secret sauce 1"}); ErrorKind(err) != KindUnavailable {
			t.Errorf("err = %v, want KindUnavailable", err)
		}
	})
}

func TestLoginRehashesOldHashes(t *testing.T) {
	svc, store, hasher := newTestService()
	ctx := context.Background()
	reg, err := svc.registerT(ctx, Register{Email: "fay@example.com", Password: "fays password"})
	if err != nil {
		t.Fatal(err)
	}
	i := store.ids[reg.ID]
	i.PasswordHash = "v1:fays password" // made with older parameters
	store.ids[reg.ID] = i

	if _, err := svc.Login(ctx, Login{Identifier: "fay@example.com", Password: "fays password"}); err != nil {
		t.Fatal(err)
	}
	if got := store.ids[reg.ID].PasswordHash; got != hasher.version+":fays password" {
		t.Errorf("stored hash after login = %q, want it re-hashed with %s", got, hasher.version)
	}
}

func TestCurrentUser(t *testing.T) {
	svc, store, _ := newTestService()
	ctx := context.Background()
	reg, _ := svc.registerT(ctx, Register{Email: "gus@example.com", Password: "guss password"})
	if got, err := svc.CurrentProfile(ctx, reg.ID); err != nil || got.ID != reg.ID {
		t.Errorf("CurrentUser = %v, %v", got.ID, err)
	}
	if _, err := svc.CurrentProfile(ctx, uuid.New()); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("unknown id: err = %v, want ErrUnauthenticated", err)
	}
	i := store.ids[reg.ID]
	i.State = StateInactive
	store.ids[reg.ID] = i
	if _, err := svc.CurrentProfile(ctx, reg.ID); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("inactive: err = %v, want ErrUnauthenticated", err)
	}
}

func TestProfile(t *testing.T) {
	now := testNow
	p := Identity{ID: uuid.New(), Email: EmailFromStore("h@example.com"), EmailVerifiedAt: &now, State: StateActive}.Profile()
	if !p.EmailVerified || p.Username != nil || p.GeoLocation != nil {
		t.Errorf("Profile = %+v", p)
	}
}

// registerT is Register for tests that only need the identity.
func (s *Service) registerT(ctx context.Context, cmd Register) (Identity, error) {
	r, err := s.Register(ctx, cmd)
	return r.Identity, err
}

func TestNewClientBoundsUserAgent(t *testing.T) {
	c := NewClient("192.0.2.1", strings.Repeat("é", 400), "r1")
	if len(c.UserAgent) > 512 || !utf8.ValidString(c.UserAgent) {
		t.Errorf("UserAgent has %d bytes, valid UTF-8 = %v", len(c.UserAgent), utf8.ValidString(c.UserAgent))
	}
	if short := NewClient("", "curl/8", ""); short.UserAgent != "curl/8" {
		t.Errorf("UserAgent = %q", short.UserAgent)
	}
}
