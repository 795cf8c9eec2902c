//go:build unix

package testenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// helperEnv makes the test binary, started again by startHelper, act as
// the child process in TestHelperProcess instead of running the tests.
const helperEnv = "TESTENV_HELPER_PROCESS"

// TestHelperProcess is the child, not a test: "term" exits 0 on SIGTERM,
// "ignore-term" ignores it, "exit3" exits with status 3 at once. The first
// two print "ready" once their signal handling is in place.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		return
	}
	switch mode {
	case "term":
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM)
		fmt.Println("ready")
		<-c
		os.Exit(0)
	case "ignore-term":
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("ready")
		time.Sleep(time.Hour) // until killed
		os.Exit(0)
	case "exit3":
		os.Exit(3)
	}
	os.Exit(2)
}

// startHelper starts the child in mode and, for the modes that print it,
// waits for "ready", so that a signal sent next finds its handler.
func startHelper(t *testing.T, mode string) *Process {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	// GORACE: a -race child would otherwise linger a second at exit.
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, "GORACE=atexit_sleep_ms=0")
	cmd.Stdout = w
	p, err := StartProcess(cmd)
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		select {
		case <-p.Exited():
		default:
			_ = p.cmd.Process.Kill()
			<-p.Exited()
		}
	})
	if mode != "exit3" {
		line, err := bufio.NewReader(r).ReadString('\n')
		if strings.TrimSpace(line) != "ready" {
			t.Fatalf("helper %s: read %q, %v", mode, line, err)
		}
	}
	return p
}

func TestFreePort(t *testing.T) {
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	if port <= 0 || port > 65535 {
		t.Fatalf("FreePort() = %d", port)
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("listen on the free port: %v", err)
	}
	ln.Close()
}

func TestStartProcessOwnGroup(t *testing.T) {
	p := startHelper(t, "term")
	pgid, err := syscall.Getpgid(p.PID())
	if err != nil {
		t.Fatal(err)
	}
	if pgid != p.PID() || pgid == syscall.Getpgrp() {
		t.Errorf("child's process group %d, its pid %d, ours %d: want a group of its own", pgid, p.PID(), syscall.Getpgrp())
	}
	select {
	case <-p.Exited():
		t.Fatal("Exited closed while the child runs")
	default:
	}
	if err := p.Stop(time.Minute); err != nil {
		t.Errorf("Stop() = %v", err)
	}
}

func TestStartProcessFails(t *testing.T) {
	if _, err := StartProcess(exec.Command("/nonexistent/testenv-helper")); err == nil {
		t.Error("a missing binary started")
	}
}

func TestStopCleanExit(t *testing.T) {
	p := startHelper(t, "term")
	if err := p.Stop(time.Minute); err != nil {
		t.Fatalf("Stop() = %v, want a clean exit on SIGTERM", err)
	}
	select {
	case <-p.Exited():
	default:
		t.Fatal("Exited not closed after Stop")
	}
	if err := p.Stop(time.Minute); err != nil {
		t.Errorf("second Stop() = %v", err)
	}
}

func TestStopKillsWhatIgnoresSIGTERM(t *testing.T) {
	p := startHelper(t, "ignore-term")
	// The child never exits on SIGTERM, so the grace always runs out.
	err := p.Stop(10 * time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("Stop() = %v, want an error saying it was killed", err)
	}
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Errorf("child ended with %v, want SIGKILL", p.cmd.ProcessState)
	}
}

func TestStopAfterExit(t *testing.T) {
	p := startHelper(t, "exit3")
	<-p.Exited()
	// The child is gone: Stop signals nothing and says how it ended.
	var ee *exec.ExitError
	if err := p.Stop(time.Minute); !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Errorf("Stop() after exit = %v, want exit status 3", err)
	}
}

// statusServer answers 503 to the first n requests, then 200.
func statusServer(t *testing.T, n int64) (*httptest.Server, *atomic.Int64) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) <= n {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func TestWaitHTTPUntil200(t *testing.T) {
	p := startHelper(t, "term")
	srv, hits := statusServer(t, 2)
	if err := p.WaitHTTP(context.Background(), srv.URL+"/health", time.Minute); err != nil {
		t.Fatalf("WaitHTTP() = %v", err)
	}
	if hits.Load() != 3 {
		t.Errorf("%d requests, want 3 (two 503s, then the 200)", hits.Load())
	}
}

func TestWaitHTTPProcessExits(t *testing.T) {
	p := startHelper(t, "exit3")
	srv, _ := statusServer(t, 1<<62) // never 200: only the exit can end the wait
	err := p.WaitHTTP(context.Background(), srv.URL, time.Hour)
	if err == nil || !strings.Contains(err.Error(), "exited") || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("WaitHTTP() = %v, want the child's exit", err)
	}
}

func TestWaitHTTPLimitAndContext(t *testing.T) {
	p := startHelper(t, "term")
	srv, hits := statusServer(t, 1<<62)
	// A limit of zero allows the one request.
	if err := p.WaitHTTP(context.Background(), srv.URL, 0); err == nil || !strings.Contains(err.Error(), "did not answer 200") {
		t.Errorf("WaitHTTP(limit 0) = %v", err)
	}
	if hits.Load() != 1 {
		t.Errorf("%d requests with limit 0, want 1", hits.Load())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.WaitHTTP(ctx, srv.URL, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitHTTP(done context) = %v, want context.Canceled", err)
	}
}
