package authtest

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/internal/auth"
)

// Identities is an in-memory auth.IdentityStore. Like the SQL store, e-mail
// addresses are unique in their canonical form (auth.ParseEmail's, compared
// regardless of letter case), usernames regardless of letter case and by
// auth.UsernameKey (look-alikes are one username), a missing identity is
// auth.ErrNotFound and a conflict is auth.ErrEmailTaken or
// auth.ErrUsernameTaken.
type Identities struct {
	Probe
	mu  sync.Mutex
	ids map[uuid.UUID]auth.Identity
	// forget are the stores that keep rows of an identity, told when it is
	// deleted (the SQL store's ON DELETE CASCADE).
	forget []func(uuid.UUID)
}

var _ auth.IdentityStore = (*Identities)(nil)

// NewIdentities returns an empty store.
func NewIdentities() *Identities {
	return &Identities{
		Probe: newProbe("CreateIdentity", "IdentityByEmail", "IdentityByID", "UpdatePasswordHash", "UpdateProfile", "MarkEmailVerified",
			"UpdateEmail", "UpdateState", "DeleteIdentity"),
		ids: map[uuid.UUID]auth.Identity{},
	}
}

// Put stores an identity as it is, without the uniqueness checks and
// without counting a call: for setting up a test.
func (s *Identities) Put(i auth.Identity) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ids[i.ID] = i
}

// Get returns the stored identity without counting a call.
func (s *Identities) Get(id uuid.UUID) (auth.Identity, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.ids[id]
	return i, ok
}

// Len is the number of stored identities.
func (s *Identities) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ids)
}

func (s *Identities) CreateIdentity(_ context.Context, i auth.Identity) error {
	if err := s.enter("CreateIdentity"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.ids[i.ID]; ok {
		return auth.Internal("authtest: create identity", errDuplicateID)
	}
	if err := s.conflict(i.ID, i.Email.String(), i.Username); err != nil {
		return err
	}
	s.ids[i.ID] = i
	return nil
}

// conflict reports another identity with the e-mail or username.
func (s *Identities) conflict(self uuid.UUID, email, username string) error {
	for _, o := range s.ids {
		if o.ID == self {
			continue
		}
		if email != "" && sameLower(o.Email.String(), email) {
			return auth.ErrEmailTaken
		}
	}
	if username == "" {
		return nil
	}
	key := auth.UsernameKey(username)
	for _, o := range s.ids {
		if o.ID == self || o.Username == "" {
			continue
		}
		if sameLower(o.Username, username) || sameKey(o.Username, key) {
			return auth.ErrUsernameTaken
		}
	}
	return nil
}

// sameKey reports whether username has that auth.UsernameKey. An empty key
// (a username of invisible characters only, which auth.ParseUsername
// refuses) is no key, as the SQL store stores NULL for it.
func sameKey(username, key string) bool {
	return key != "" && auth.UsernameKey(username) == key
}

func (s *Identities) IdentityByEmail(_ context.Context, email auth.Email) (auth.Identity, error) {
	if err := s.enter("IdentityByEmail"); err != nil {
		return auth.Identity{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.ids {
		if sameLower(o.Email.String(), email.String()) {
			return o, nil
		}
	}
	return auth.Identity{}, auth.ErrNotFound
}

func (s *Identities) IdentityByID(_ context.Context, id uuid.UUID) (auth.Identity, error) {
	if err := s.enter("IdentityByID"); err != nil {
		return auth.Identity{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.ids[id]
	if !ok {
		return auth.Identity{}, auth.ErrNotFound
	}
	return i, nil
}

func (s *Identities) UpdatePasswordHash(_ context.Context, id uuid.UUID, hash string, at time.Time) error {
	return s.update("UpdatePasswordHash", id, func(i *auth.Identity) error {
		i.PasswordHash, i.UpdatedAt = hash, at
		return nil
	})
}

func (s *Identities) UpdateProfile(_ context.Context, id uuid.UUID, username, geoLocation string, at time.Time) error {
	return s.update("UpdateProfile", id, func(i *auth.Identity) error {
		// A username kept as it is is not checked again, as the SQL store
		// keeps its key: a row that lost a key collision before the key
		// existed can still change its location.
		if username != i.Username {
			if err := s.conflict(id, "", username); err != nil {
				return err
			}
		}
		i.Username, i.GeoLocation, i.UpdatedAt = username, geoLocation, at
		return nil
	})
}

func (s *Identities) MarkEmailVerified(_ context.Context, id uuid.UUID, at time.Time) error {
	return s.update("MarkEmailVerified", id, func(i *auth.Identity) error {
		i.EmailVerifiedAt, i.UpdatedAt = &at, at
		return nil
	})
}

func (s *Identities) UpdateEmail(_ context.Context, id uuid.UUID, email auth.Email, verifiedAt *time.Time, at time.Time) error {
	return s.update("UpdateEmail", id, func(i *auth.Identity) error {
		if err := s.conflict(id, email.String(), ""); err != nil {
			return err
		}
		i.Email, i.UpdatedAt = email, at
		i.EmailVerifiedAt = nil
		if verifiedAt != nil {
			v := *verifiedAt
			i.EmailVerifiedAt = &v
		}
		return nil
	})
}

func (s *Identities) UpdateState(_ context.Context, id uuid.UUID, state auth.State, at time.Time) error {
	return s.update("UpdateState", id, func(i *auth.Identity) error {
		i.State, i.UpdatedAt = state, at
		return nil
	})
}

func (s *Identities) DeleteIdentity(_ context.Context, id uuid.UUID) error {
	if err := s.enter("DeleteIdentity"); err != nil {
		return err
	}
	s.mu.Lock()
	_, ok := s.ids[id]
	delete(s.ids, id)
	forget := slices.Clone(s.forget)
	s.mu.Unlock()
	if !ok {
		return auth.ErrNotFound
	}
	for _, f := range forget {
		f(id)
	}
	return nil
}

// CascadeTo makes DeleteIdentity remove the identity's tokens and factors
// from these stores too, as the SQL store's foreign keys do.
func (s *Identities) CascadeTo(tokens *Tokens, factors *Factors) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forget = append(s.forget, tokens.forgetIdentity, factors.forgetIdentity)
}

func (s *Identities) update(method string, id uuid.UUID, change func(*auth.Identity) error) error {
	if err := s.enter(method); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.ids[id]
	if !ok {
		return auth.ErrNotFound
	}
	if err := change(&i); err != nil {
		return err
	}
	s.ids[id] = i
	return nil
}

// snapshot returns a function that puts the store back as it is now.
func (s *Identities) snapshot() (restore func()) {
	s.mu.Lock()
	saved := maps.Clone(s.ids)
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.ids = saved
	}
}

// sameLower compares as the SQL store's unique indexes on lower(...) do,
// which is not Unicode case folding (strings.EqualFold).
func sameLower(a, b string) bool {
	la, lb := strings.ToLower(a), strings.ToLower(b)
	return la == lb
}
