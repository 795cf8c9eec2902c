package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	vk "github.com/valkey-io/valkey-go"
)

// randomSuffix names this run's database and key prefix, so several
// benches (and the tests, which use authd_test_* / authd-test-*) can share
// the servers without touching each other's data.
func randomSuffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// goBuild compiles a main package of this module into dir.
func goBuild(ctx context.Context, moduleDir, dir, pkg string, stderr io.Writer) (string, error) {
	out := filepath.Join(dir, filepath.Base(pkg))
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

// database is the bench's own PostgreSQL database.
type database struct {
	adminURL string
	name     string
	url      string // for authd
}

// createDatabase makes authd_bench_<suffix> on the admin URL's server.
func createDatabase(ctx context.Context, adminURL, name string) (*database, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL at %s (BENCH_DATABASE_ADMIN_URL): %w", redactURL(adminURL), err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return nil, fmt.Errorf("create database %s: %w", name, err)
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return nil, err
	}
	u.Path = "/" + name
	return &database{adminURL: adminURL, name: name, url: u.String()}, nil
}

// drop removes the database, closing authd's leftover connections if any
// (WITH (FORCE)): after an interrupt authd may not have shut down cleanly.
func (d *database) drop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, d.adminURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{d.name}.Sanitize()+" WITH (FORCE)")
	return err
}

// deleteKeys removes every key under prefix and nothing else: SCAN MATCH
// walks the keyspace without blocking the shared server (KEYS would), and
// the prefix is ours alone. Never FLUSHDB: others use the same server.
func deleteKeys(ctx context.Context, valkeyURL, prefix string) (int, error) {
	if strings.ContainsAny(prefix, `*?[]\`) || prefix == "" {
		// A glob character would widen the match to other people's keys.
		return 0, fmt.Errorf("refusing to delete keys under unsafe prefix %q", prefix)
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	opt, err := vk.ParseURL(valkeyURL)
	if err != nil {
		return 0, fmt.Errorf("VALKEY_URL: %w", err)
	}
	opt.DisableCache = true
	c, err := vk.NewClient(opt)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	var cursor uint64
	n := 0
	for {
		res, err := c.Do(ctx, c.B().Scan().Cursor(cursor).Match(prefix+"*").Count(1000).Build()).AsScanEntry()
		if err != nil {
			return n, fmt.Errorf("scan %s*: %w", prefix, err)
		}
		if len(res.Elements) > 0 {
			if err := c.Do(ctx, c.B().Del().Key(res.Elements...).Build()).Error(); err != nil {
				return n, fmt.Errorf("delete keys: %w", err)
			}
			n += len(res.Elements)
		}
		if res.Cursor == 0 {
			return n, nil
		}
		cursor = res.Cursor
	}
}

// freePort asks the kernel for an unused loopback port. Another process
// could take it before authd binds it; authd would then fail to start with
// a clear error, which is acceptable for a bench.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// authdProc is the running server.
type authdProc struct {
	cmd     *exec.Cmd
	baseURL string
	logPath string
	env     []string // the settings the bench chose, for the report
	exited  chan struct{}
}

// startAuthd runs `authd serve` with env on top of the bench's own
// environment minus any authd setting inherited from the shell, so that
// the figures depend only on what the report lists.
func startAuthd(ctx context.Context, bin, logPath string, env []string, baseURL string) (*authdProc, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(cleanEnv(os.Environ(), env), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group: a Ctrl-C in the terminal then reaches the
	// bench only, which stops authd in order (SIGTERM, wait) before it
	// drops the database authd is connected to.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start authd: %w", err)
	}
	p := &authdProc{cmd: cmd, baseURL: baseURL, logPath: logPath, env: env, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(p.exited)
	}()
	if err := p.waitHealthy(ctx, 90*time.Second); err != nil {
		p.stop()
		return nil, err
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

func (p *authdProc) pid() int { return p.cmd.Process.Pid }

// waitHealthy polls /health: authd applies its migrations before it
// listens, which takes a few seconds on a fresh database.
func (p *authdProc) waitHealthy(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	c := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case <-p.exited:
			return fmt.Errorf("authd exited at start: %s", tailFile(p.logPath, 2000))
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		resp, err := c.Get(p.baseURL + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("authd did not answer /health within %v: %s", limit, tailFile(p.logPath, 2000))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// stop asks authd to shut down (SIGTERM: in-flight requests finish) and
// kills it if that takes longer than its own shutdown timeout.
func (p *authdProc) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

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
