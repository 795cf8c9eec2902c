package authtest

import (
	"errors"
	"time"

	"github.com/authd/authd/internal/auth"
)

// Epoch is where a Fakes clock starts unless told otherwise.
var Epoch = time.Date(2030, time.January, 2, 3, 4, 5, 0, time.UTC)

// Fakes is one of every fake, wired the way the application wires the real
// adapters: the transactor runs over the same identities, tokens and
// outbox, and the sessions expire on the same clock as the use cases.
type Fakes struct {
	Clock      *Clock
	Identities *Identities
	Tokens     *Tokens
	Outbox     *Outbox
	Tx         *Transactor
	Sessions   *Sessions
	Lockouts   *Lockouts
	Limiter    *RateLimiter
	Profiles   *ProfileCache
	Audit      *AuditLog
	Hasher     *Hasher
	Factors    *Factors
	Challenges *Challenges
	// Queries answers the admin queries over Identities and Factors.
	Queries *IdentityQueries
}

// New returns fresh fakes on a clock stopped at Epoch.
func New() *Fakes {
	f := &Fakes{
		Clock:      NewClock(Epoch),
		Identities: NewIdentities(),
		Tokens:     NewTokens(),
		Outbox:     NewOutbox(),
		Lockouts:   NewLockouts(),
		Limiter:    NewRateLimiter(),
		Profiles:   NewProfileCache(),
		Audit:      NewAuditLog(),
		Hasher:     NewHasher(),
		Factors:    NewFactors(),
	}
	f.Identities.CascadeTo(f.Tokens, f.Factors)
	f.Tx = NewTransactor(f.Identities, f.Tokens, f.Outbox, f.Factors, f.Audit)
	f.Queries = NewIdentityQueries(f.Identities, f.Factors)
	f.Challenges = NewChallenges(f.Clock.Now)
	f.Sessions = NewSessions(f.Clock.Now, DefaultSessionLifetime)
	return f
}

// Stores are the durable fakes outside a transaction.
func (f *Fakes) Stores() auth.Stores {
	return auth.Stores{Identities: f.Identities, Tokens: f.Tokens, Outbox: f.Outbox, Factors: f.Factors, Audit: f.Audit}
}

// Deps are auth.Deps with every port a fake and the fakes' clock; the
// caller adds limits, mail settings, the policy and the windows.
func (f *Fakes) Deps() auth.Deps {
	return auth.Deps{
		Stores: f.Stores(), Transactor: f.Tx, Hasher: f.Hasher, Sessions: f.Sessions,
		Audit: f.Audit, Limiter: f.Limiter, Lockouts: f.Lockouts, Profiles: f.Profiles,
		Challenges: f.Challenges, Secrets: plainSealer{},
		IdentityQueries: f.Queries, AuditQueries: f.Audit, HashFormats: f.Hasher,
		Now: f.Clock.Now,
	}
}

// probes are every fake's Probe.
func (f *Fakes) probes() []*Probe {
	return []*Probe{&f.Identities.Probe, &f.Tokens.Probe, &f.Outbox.Probe, &f.Tx.Probe, &f.Sessions.Probe,
		&f.Lockouts.Probe, &f.Limiter.Probe, &f.Profiles.Probe, &f.Audit.Probe, &f.Hasher.Probe,
		&f.Factors.Probe, &f.Challenges.Probe, &f.Queries.Probe}
}

// Heal stops every fault injected into any of the fakes.
func (f *Fakes) Heal() {
	for _, p := range f.probes() {
		p.Heal()
	}
}

// ResetCalls forgets the calls counted by every fake.
func (f *Fakes) ResetCalls() {
	for _, p := range f.probes() {
		p.ResetCalls()
	}
}

// CallCounts returns every fake's calls, keyed "Fake.Method" (e.g.
// "Identities.IdentityByEmail", "Hasher.Verify"), for comparing the work
// two requests did.
func (f *Fakes) CallCounts() map[string]int {
	names := []string{"Identities", "Tokens", "Outbox", "Tx", "Sessions", "Lockouts", "Limiter", "Profiles", "Audit", "Hasher"}
	out := map[string]int{}
	for i, p := range f.probes() {
		for m, n := range p.CallCounts() {
			out[names[i]+"."+m] = n
		}
	}
	return out
}

// plainSealer "seals" by prefixing, so that a test can see a secret was
// sealed without a key; the real one is package seal.
type plainSealer struct{}

func (plainSealer) Seal(p []byte) []byte { return append([]byte("sealed:"), p...) }

func (plainSealer) Open(s []byte) ([]byte, error) {
	if len(s) < 7 || string(s[:7]) != "sealed:" {
		return nil, errors.New("authtest: not sealed")
	}
	return s[7:], nil
}
