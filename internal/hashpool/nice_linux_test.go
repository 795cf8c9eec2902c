package hashpool

import (
	"context"
	"syscall"
	"testing"
)

// niceProbe reports the niceness of the thread that runs its Hash.
type niceProbe struct{ got chan int }

func (n *niceProbe) Hash(context.Context, string) (string, error) {
	// The raw syscall returns 20 - nice.
	prio, err := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
	if err != nil {
		return "", err
	}
	n.got <- 20 - prio
	return "h", nil
}
func (n *niceProbe) Verify(context.Context, string, string) (bool, bool, error) {
	return false, false, nil
}
func (n *niceProbe) DummyHash() string { return "d" }

func TestHashingThreadsAreNiced(t *testing.T) {
	probe := &niceProbe{got: make(chan int, 1)}
	p := New(probe, Config{Size: 1, Nice: 7}, nil)
	if _, err := p.Hash(context.Background(), "pw"); err != nil {
		t.Fatal(err)
	}
	if got := <-probe.got; got != 7 {
		t.Errorf("hashing thread niceness = %d, want 7", got)
	}
	self, _ := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
	if 20-self == 7 {
		t.Error("the caller's thread was niced too")
	}
}
