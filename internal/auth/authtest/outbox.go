package authtest

import (
	"context"
	"maps"
	"slices"
	"sync"

	"github.com/authd/authd/internal/auth"
)

// Outbox is an in-memory auth.Outbox that records the mails and the mail
// requests queued.
type Outbox struct {
	Probe
	mu       sync.Mutex
	mails    []auth.Mail
	requests []auth.MailRequest
}

var _ auth.Outbox = (*Outbox)(nil)

// NewOutbox returns an empty outbox.
func NewOutbox() *Outbox { return &Outbox{Probe: newProbe("Queue", "QueueRequest", "DiscardMailTo")} }

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

func (o *Outbox) QueueRequest(_ context.Context, r auth.MailRequest) error {
	if err := o.enter("QueueRequest"); err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.requests = append(o.requests, r)
	return nil
}

// DiscardMailTo drops the mails and requests to the address; the fake has
// no worker, so every one it holds is still waiting.
func (o *Outbox) DiscardMailTo(_ context.Context, address auth.Email) (int, error) {
	if err := o.enter("DiscardMailTo"); err != nil {
		return 0, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	n := len(o.mails) + len(o.requests)
	o.mails = slices.DeleteFunc(o.mails, func(m auth.Mail) bool { return m.To == address.String() })
	o.requests = slices.DeleteFunc(o.requests, func(r auth.MailRequest) bool { return r.Email == address })
	return n - len(o.mails) - len(o.requests), nil
}

// TakeRequests returns the mail requests queued since the last call, in
// order, and forgets them: the queue's worker has them now.
func (o *Outbox) TakeRequests() []auth.MailRequest {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := o.requests
	o.requests = nil
	return out
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
	saved, savedRequests := slices.Clone(o.mails), slices.Clone(o.requests)
	o.mu.Unlock()
	return func() {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.mails, o.requests = saved, savedRequests
	}
}
