package authtest

import (
	"context"
	"maps"
	"slices"
	"sync"

	"github.com/authd/authd/internal/auth"
)

// Outbox is an in-memory auth.Outbox that records the mails queued.
type Outbox struct {
	Probe
	mu    sync.Mutex
	mails []auth.Mail
}

var _ auth.Outbox = (*Outbox)(nil)

// NewOutbox returns an empty outbox.
func NewOutbox() *Outbox { return &Outbox{Probe: newProbe("Queue")} }

func (o *Outbox) Queue(_ context.Context, m auth.Mail) error {
	if err := o.enter("Queue"); err != nil {
		return err
	}
	m.Data = maps.Clone(m.Data)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.mails = append(o.mails, m)
	return nil
}

// Mails returns the mails queued so far, in order.
func (o *Outbox) Mails() []auth.Mail {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.mails)
}

// To returns the mails queued to the address with that template ("" for
// any template), in order.
func (o *Outbox) To(address, template string) []auth.Mail {
	var out []auth.Mail
	for _, m := range o.Mails() {
		if m.To == address && (template == "" || m.Template == template) {
			out = append(out, m)
		}
	}
	return out
}

// Len is the number of mails queued.
func (o *Outbox) Len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.mails)
}

func (o *Outbox) snapshot() (restore func()) {
	o.mu.Lock()
	saved := slices.Clone(o.mails)
	o.mu.Unlock()
	return func() {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.mails = saved
	}
}
