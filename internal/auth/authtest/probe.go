package authtest

import (
	"fmt"
	"maps"
	"slices"
	"sync"
)

// Probe counts the calls of a fake and injects faults into them. The zero
// Probe is ready; fakes embed one, so its methods are the fake's.
type Probe struct {
	mu      sync.Mutex
	methods []string // the fake's method names, to refuse typos in FailOn
	all     error
	by      map[string]error
	calls   map[string]int
	before  map[string]func()
}

func newProbe(methods ...string) Probe { return Probe{methods: methods} }

// SetErr makes every call of the fake return err (nil stops it).
func (p *Probe) SetErr(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.all = err
}

// FailOn makes calls of the named method return err (nil stops it). It
// panics on a name that is not a method of the fake.
func (p *Probe) FailOn(method string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.methods) > 0 && !slices.Contains(p.methods, method) {
		panic(fmt.Sprintf("authtest: FailOn(%q): not one of %v", method, p.methods))
	}
	if p.by == nil {
		p.by = map[string]error{}
	}
	if err == nil {
		delete(p.by, method)
		return
	}
	p.by[method] = err
}

// Before runs fn at the start of every call of the named method (nil
// stops it), so that a test can make something happen between two steps
// of a use case, such as a password reset landing while a login is under
// way. It panics on a name that is not a method of the fake.
func (p *Probe) Before(method string, fn func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.methods) > 0 && !slices.Contains(p.methods, method) {
		panic(fmt.Sprintf("authtest: Before(%q): not one of %v", method, p.methods))
	}
	if p.before == nil {
		p.before = map[string]func(){}
	}
	if fn == nil {
		delete(p.before, method)
		return
	}
	p.before[method] = fn
}

// Heal stops every injected fault.
func (p *Probe) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.all, p.by = nil, nil
}

// Calls returns how many times the method was called, failed calls
// included.
func (p *Probe) Calls(method string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[method]
}

// CallCounts returns the number of calls of every method called so far.
func (p *Probe) CallCounts() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.calls)
}

// ResetCalls forgets the calls counted so far.
func (p *Probe) ResetCalls() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = nil
}

// enter counts a call of method, runs its Before hook (outside the lock:
// the hook may call the fake) and returns the fault to inject, if any.
func (p *Probe) enter(method string) error {
	p.mu.Lock()
	if p.calls == nil {
		p.calls = map[string]int{}
	}
	p.calls[method]++
	hook, err := p.before[method], p.by[method]
	if err == nil {
		err = p.all
	}
	p.mu.Unlock()
	if hook != nil {
		hook()
	}
	return err
}
