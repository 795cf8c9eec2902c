package authtest

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/authd/authd/internal/auth"
)

// Transactor is an auth.Transactor over the fakes: it snapshots the
// identities, tokens and outbox before fn and puts them back when fn (or
// an injected "Commit" fault) fails, so a rolled-back write is really
// gone. Transactions are serialised with each other; a write made outside
// a transaction while one rolls back is rolled back with it.
//
// Besides SetErr (InTx fails before fn runs), FailOn("InTx", err) does the
// same and FailOn("Commit", err) runs fn and then fails the commit.
type Transactor struct {
	Probe
	stores auth.Stores
	ids    *Identities
	tokens *Tokens
	outbox *Outbox
	fac    *Factors
	audit  *AuditLog
	mu     sync.Mutex
	// commits and rollbacks count the transactions that ended each way.
	commits, rollbacks atomic.Int64
}

var _ auth.Transactor = (*Transactor)(nil)

// NewTransactor returns a transactor over the fakes; fn gets them as its
// Stores.
func NewTransactor(ids *Identities, tokens *Tokens, outbox *Outbox, factors *Factors, audit *AuditLog) *Transactor {
	return &Transactor{
		Probe:  newProbe("InTx", "Commit"),
		stores: auth.Stores{Identities: ids, Tokens: tokens, Outbox: outbox, Factors: factors, Audit: audit},
		ids:    ids, tokens: tokens, outbox: outbox, fac: factors, audit: audit,
	}
}

func (t *Transactor) InTx(ctx context.Context, fn func(auth.Stores) error) error {
	if err := t.enter("InTx"); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	restore := []func(){t.ids.snapshot(), t.tokens.snapshot(), t.outbox.snapshot(), t.fac.snapshot(), t.audit.snapshot()}
	err := fn(t.stores)
	if err == nil {
		err = t.enter("Commit")
	}
	if err != nil {
		for _, r := range restore {
			r()
		}
		t.rollbacks.Add(1)
		return err
	}
	t.commits.Add(1)
	return nil
}

// Ended returns how many transactions committed and how many rolled back.
func (t *Transactor) Ended() (commits, rollbacks int) {
	return int(t.commits.Load()), int(t.rollbacks.Load())
}
