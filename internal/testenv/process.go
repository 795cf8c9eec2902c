//go:build unix

package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// FreePort asks the kernel for a TCP port on 127.0.0.1 that is free now.
// Another process could take it before the caller's server binds it; the
// server then fails to start with a clear error.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("testenv: free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Process is a child process started by StartProcess and watched until it
// exits.
type Process struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd.Wait has returned
	err    error         // cmd.Wait's result, set before exited is closed
}

// StartProcess starts cmd in a process group of its own, so that a Ctrl-C
// in the terminal reaches only the caller, which can then stop the child
// in order (Stop) before removing what the child uses. cmd's output
// files, if any, are the caller's to close once Exited is closed.
func StartProcess(cmd *exec.Cmd) (*Process, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("testenv: start %s: %w", cmd.Path, err)
	}
	p := &Process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// PID is the process's id (and its process group's).
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Exited is closed when the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Stop sends SIGTERM to the process and waits up to grace for it to exit,
// then kills it. It returns how the process ended; a process that had to
// be killed is an error even if it then exited cleanly. Stopping a process
// that has exited only returns how it ended.
func (p *Process) Stop(grace time.Duration) error {
	select {
	case <-p.exited:
		return p.err
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.exited:
		return p.err
	case <-t.C:
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
	return fmt.Errorf("testenv: %s did not exit within %v of SIGTERM and was killed (%v)", p.cmd.Path, grace, p.err)
}

// WaitHTTP polls url with GET until it answers 200 OK, and fails if the
// process exits first, ctx is done or limit passes. A server that applies
// migrations before it listens is not up at once.
func (p *Process) WaitHTTP(ctx context.Context, url string, limit time.Duration) error {
	const every = 100 * time.Millisecond
	deadline := time.Now().Add(limit)
	c := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case <-p.exited:
			return fmt.Errorf("testenv: %s exited before %s answered: %v", p.cmd.Path, url, exitText(p.err))
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("testenv: %w", err)
		}
		if resp, err := c.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if !time.Now().Before(deadline) {
			return fmt.Errorf("testenv: %s did not answer 200 within %v", url, limit)
		}
		t := time.NewTimer(every)
		select {
		case <-p.exited:
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
}

func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// MailpitBinary finds Mailpit: $MAILPIT_BIN, then mailpit on PATH, then
// GOPATH/bin/mailpit (where `make test` installs it).
func MailpitBinary() (string, error) {
	if p := os.Getenv("MAILPIT_BIN"); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath("mailpit"); err == nil {
		return p, nil
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", "mailpit")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("mailpit not found: run `make test` (it installs github.com/axllent/mailpit@v1.33.1) or set MAILPIT_BIN")
}
