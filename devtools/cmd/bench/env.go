package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/authd/authd/internal/testenv"
)

// goBuild compiles a main package of this module into dir as name. The
// name is also the process name that perf reports sort by.
func goBuild(ctx context.Context, moduleDir, dir, pkg, name string, stderr io.Writer) (string, error) {
	out := filepath.Join(dir, name)
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, pkg)
	cmd.Dir = moduleDir
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build %s: %w", pkg, err)
	}
	return out, nil
}

// moduleRoot is the directory of go.mod, so the bench works from any
// directory inside the repository.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside a Go module: run from the authd repository")
	}
	return filepath.Dir(mod), nil
}

// authdProc is the running server.
type authdProc struct {
	proc    *testenv.Process
	baseURL string
	env     []string // the settings the bench chose, for the report
}

// startAuthd runs `authd serve` with env on top of the bench's own
// environment minus any authd setting inherited from the shell, so that
// the figures depend only on what the report lists. testenv starts it in
// a process group of its own: a Ctrl-C in the terminal then reaches the
// bench only, which stops authd in order (SIGTERM, wait) before it drops
// the database authd is connected to.
func startAuthd(ctx context.Context, bin, logPath string, env []string, baseURL string) (*authdProc, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve")
	// No drain at the end of a phase: no load balancer is in front of it.
	cmd.Env = append(append(cleanEnv(os.Environ(), env), "SHUTDOWN_DRAIN=0"), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	proc, err := testenv.StartProcess(cmd)
	if err != nil {
		logf.Close()
		return nil, fmt.Errorf("start authd: %w", err)
	}
	go func() {
		<-proc.Exited()
		logf.Close()
	}()
	p := &authdProc{proc: proc, baseURL: baseURL, env: env}
	// authd applies its migrations before it listens, which takes a few
	// seconds on a fresh database.
	if err := proc.WaitHTTP(ctx, baseURL+"/health", 90*time.Second); err != nil {
		p.stop()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("authd did not start: %v: %s", err, tailFile(logPath, 2000))
	}
	return p, nil
}

// cleanEnv drops variables that authd reads (and that the bench sets), so
// a DATABASE_URL in the caller's shell cannot point authd elsewhere.
func cleanEnv(environ, ours []string) []string {
	drop := map[string]bool{}
	for _, kv := range ours {
		k, _, _ := strings.Cut(kv, "=")
		drop[k] = true
	}
	var out []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] {
			out = append(out, kv)
		}
	}
	return out
}

func (p *authdProc) pid() int { return p.proc.PID() }

// stop asks authd to shut down (SIGTERM: in-flight requests finish) and
// kills it if that takes longer than its own shutdown timeout.
func (p *authdProc) stop() { _ = p.proc.Stop(30 * time.Second) }

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}

// seedUser registers the login user; 201 (created) and 409 (already
// there) both leave a user that can log in.
func seedUser(ctx context.Context, baseURL, email, password string) (int, error) {
	body := fmt.Sprintf(`{"identifier":%q,"password":%q}`, email, password)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/api/v1/auth/register", strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusConflict {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 500))
		return resp.StatusCode, fmt.Errorf("seeding %s: register answered %d: %s", email, resp.StatusCode, bytes.TrimSpace(msg))
	}
	return resp.StatusCode, nil
}

// memStats is authd's memory as /proc/<pid>/status tells it, in KiB.
type memStats struct {
	RSS, HWM int64
}

func readMem(pid int) (memStats, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memStats{}, err
	}
	var m memStats
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmRSS":
			m.RSS = n
		case "VmHWM":
			m.HWM = n
		}
	}
	return m, nil
}

// resetPeakRSS makes VmHWM start again from the current RSS (writing 5 to
// clear_refs, Linux ≥ 4.0), so the peak reported for a phase is that
// phase's and not an earlier one's.
func resetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// rssSampler polls VmRSS while a phase runs: VmHWM gives the peak, the
// samples show whether the memory came back down.
type rssSampler struct {
	stop   chan struct{}
	done   chan struct{}
	mu     sync.Mutex
	maxRSS int64
	last   memStats
	n      int
}

func sampleRSS(pid int, every time.Duration) *rssSampler {
	s := &rssSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if m, err := readMem(pid); err == nil {
				s.mu.Lock()
				s.maxRSS = max(s.maxRSS, m.RSS)
				s.last = m
				s.n++
				s.mu.Unlock()
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// Stop ends sampling and returns the largest VmRSS seen and the last
// reading (whose HWM is the peak since the reset).
func (s *rssSampler) Stop() (maxRSS int64, last memStats, samples int) {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxRSS, s.last, s.n
}

// cpuSnap is a reading of the machine's and authd's CPU counters, in
// clock ticks (USER_HZ, 100 on Linux).
type cpuSnap struct {
	at         time.Time
	busy, all  uint64
	authdTicks uint64
}

const userHZ = 100

func readCPU(pid int) (cpuSnap, error) {
	s := cpuSnap{at: time.Now()}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	if len(f) < 8 || f[0] != "cpu" {
		return s, errors.New("/proc/stat: unexpected format")
	}
	for i, v := range f[1:] {
		if i >= 8 { // guest time is already counted in user
			break
		}
		n, _ := strconv.ParseUint(v, 10, 64)
		s.all += n
		if i != 3 && i != 4 { // idle, iowait
			s.busy += n
		}
	}
	t, err := procTicks(pid)
	s.authdTicks = t
	return s, err
}

// procTicks is a process's user + system CPU time in clock ticks.
func procTicks(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may contain spaces; fields restart after ")".
	rest := string(b)
	if i := strings.LastIndexByte(rest, ')'); i >= 0 {
		rest = rest[i+1:]
	}
	pf := strings.Fields(rest) // pf[0] is field 3 (state); utime is 14, stime 15
	if len(pf) < 13 {
		return 0, errors.New("/proc/pid/stat: unexpected format")
	}
	ut, _ := strconv.ParseUint(pf[11], 10, 64)
	st, _ := strconv.ParseUint(pf[12], 10, 64)
	return ut + st, nil
}

// procCPU is procTicks as a duration.
func procCPU(pid int) (time.Duration, error) {
	t, err := procTicks(pid)
	return time.Duration(t) * time.Second / userHZ, err
}

// CPUSplit is how many CPUs each party used on average over a phase.
type CPUSplit struct {
	Seconds float64
	Busy    float64 // whole machine
	Authd   float64
	Loadgen float64 // the authd-load processes
	Other   float64 // PostgreSQL, Valkey and anything else running
}

func cpuSplit(a, b cpuSnap, ncpu int, loadgen time.Duration) CPUSplit {
	el := b.at.Sub(a.at).Seconds()
	if el <= 0 || b.all <= a.all {
		return CPUSplit{}
	}
	s := CPUSplit{Seconds: el}
	s.Busy = float64(b.busy-a.busy) / float64(b.all-a.all) * float64(ncpu)
	s.Authd = float64(b.authdTicks-a.authdTicks) / userHZ / el
	s.Loadgen = loadgen.Seconds() / el
	s.Other = max(0, s.Busy-s.Authd-s.Loadgen)
	return s
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// authdHelp runs `authd --help`, whose settings list is the source of the
// defaults the report quotes: the bench sets only a few variables, and
// the defaults of the others (the hash pool's above all) change with the
// code, so they are read rather than written down here.
func authdHelp(ctx context.Context, bin string) (string, error) {
	out, err := exec.CommandContext(ctx, bin, "--help").Output()
	if err != nil {
		return "", fmt.Errorf("authd --help: %w", err)
	}
	return string(out), nil
}

// parseHelpDefaults reads the "NAME  help" / "default: value" pairs of
// authd's --help (internal/config's WriteHelp).
func parseHelpDefaults(help string) map[string]string {
	defs := map[string]string{}
	var name string
	for _, line := range strings.Split(help, "\n") {
		trimmed := strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(trimmed, "default:"); ok && name != "" {
			// "default: 250ms; range: 0–5s": the range is not the value.
			v, _, _ = strings.Cut(v, "; range:")
			defs[name] = strings.TrimSpace(v)
			name = ""
			continue
		}
		if !strings.HasPrefix(line, "  ") || strings.HasPrefix(line, "   ") {
			continue
		}
		f := strings.Fields(trimmed)
		if len(f) > 0 && isEnvName(f[0]) {
			name = f[0]
		}
	}
	return defs
}

func isEnvName(s string) bool {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for _, c := range s {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// scrapeMetrics reads the named gauges from authd's /metrics, e.g. the
// GOMAXPROCS the process really runs with and the hash pool's size.
func scrapeMetrics(ctx context.Context, baseURL string, names ...string) map[string]float64 {
	out := map[string]float64{}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/metrics", nil)
	if err != nil {
		return out
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return parsePromText(string(body), names...)
}

// parsePromText picks "name value" lines (no labels) from Prometheus text.
func parsePromText(text string, names ...string) map[string]float64 {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := map[string]float64{}
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) != 2 || !want[f[0]] {
			continue
		}
		if v, err := strconv.ParseFloat(f[1], 64); err == nil {
			out[f[0]] = v
		}
	}
	return out
}
