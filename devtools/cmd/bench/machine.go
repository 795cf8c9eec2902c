package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	vk "github.com/valkey-io/valkey-go"

	"github.com/authd/authd/internal/argon2id"
)

// machineInfo describes where the figures come from: they mean little
// without the CPU and the number of cores.
func machineInfo(ctx context.Context, adminURL, valkeyURL string) []KV {
	rows := []KV{
		{"CPU", cpuModel()},
		{"Cores (runtime.NumCPU)", strconv.Itoa(runtime.NumCPU())},
		{"Memory", memTotal()},
		{"OS", osName()},
		{"Kernel", strings.TrimSpace(readOr("/proc/sys/kernel/osrelease", "unknown"))},
		{"Go", goVersion(ctx)},
		{"PostgreSQL", pgVersion(ctx, adminURL)},
		{"Valkey/Redis", valkeyVersion(ctx, valkeyURL)},
	}
	return rows
}

func readOr(path, def string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return def
	}
	return string(b)
}

func cpuModel() string {
	for _, line := range strings.Split(readOr("/proc/cpuinfo", ""), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func memTotal() string {
	for _, line := range strings.Split(readOr("/proc/meminfo", ""), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == "MemTotal" {
			f := strings.Fields(v)
			if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
				return fmt.Sprintf("%.1f GiB", float64(n)/(1<<20))
			}
		}
	}
	return "unknown"
}

func osName() string {
	for _, line := range strings.Split(readOr("/etc/os-release", ""), "\n") {
		if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return runtime.GOOS
}

// goVersion is the toolchain that builds authd, which may differ from the
// one that built the bench when GOTOOLCHAIN switches.
func goVersion(ctx context.Context) string {
	out, err := exec.CommandContext(ctx, "go", "env", "GOVERSION").Output()
	if err != nil {
		return runtime.Version()
	}
	return strings.TrimSpace(string(out)) + " " + runtime.GOOS + "/" + runtime.GOARCH
}

func pgVersion(ctx context.Context, adminURL string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "unknown"
	}
	defer conn.Close(context.Background())
	var v string
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&v); err != nil {
		return "unknown"
	}
	return v + " on " + hostOf(adminURL)
}

func valkeyVersion(ctx context.Context, valkeyURL string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := openValkey(valkeyURL)
	if err != nil {
		return "unknown"
	}
	defer c.Close()
	info, err := c.Do(ctx, c.B().Info().Section("server").Build()).ToString()
	if err != nil {
		return "unknown"
	}
	var name, ver string
	for _, line := range strings.Split(info, "\n") {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "valkey_version:"); ok {
			name, ver = "Valkey", v
		} else if v, ok := strings.CutPrefix(line, "redis_version:"); ok && name == "" {
			name, ver = "Redis", v
		}
	}
	if ver == "" {
		return "unknown"
	}
	return name + " " + ver + " on " + hostOf(valkeyURL)
}

// openValkey connects to the bench's Valkey, without client-side caching:
// the bench only reads INFO and deletes its own keys.
func openValkey(rawURL string) (vk.Client, error) {
	opt, err := vk.ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	opt.DisableCache = true
	return vk.NewClient(opt)
}

func hostOf(raw string) string {
	if i := strings.Index(raw, "@"); i >= 0 {
		raw = raw[i+1:]
	} else if i := strings.Index(raw, "://"); i >= 0 {
		raw = raw[i+3:]
	}
	host, _, _ := strings.Cut(raw, "/")
	return host
}

// parallelHashRate runs one Argon2id hash per CPU in parallel, with the
// server's default parameters, for about d and returns hashes per second.
// The ideal of the issue (CPUs ÷ one-hash time) assumes hashes on
// different cores do not slow each other down; memory-hard hashing on
// two vCPUs that may share a physical core or memory bandwidth need not
// scale, and this figure separates that from authd's own overhead.
func parallelHashRate(ctx context.Context, d time.Duration) (float64, error) {
	h, err := argon2id.New(argon2id.DefaultParams())
	if err != nil {
		return 0, err
	}
	n := runtime.NumCPU()
	var count atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	start := time.Now()
	deadline := start.Add(d)
	for range n {
		wg.Go(func() {
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if _, err := h.Hash(ctx, "correct horse battery staple"); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				count.Add(1)
			}
		})
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return 0, err
	}
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	return float64(count.Load()) / time.Since(start).Seconds(), nil
}

// perfRecorder samples the whole machine with perf(1) while a load run
// goes on. authd has no pprof endpoint, and a profile of the server under
// the real load (with PostgreSQL, Valkey and the load generator competing
// for the same two cores) explains a miss better than a benchmark in
// isolation. 199 Hz on two CPUs costs well under 1 % of the machine.
type perfRecorder struct {
	cmd  *exec.Cmd
	path string
	done chan error
}

// perfUsable reports whether perf can sample the whole machine here (it
// needs root or a permissive perf_event_paranoid).
func perfUsable(ctx context.Context, dir string) error {
	if _, err := exec.LookPath("perf"); err != nil {
		return errors.New("perf is not installed")
	}
	path := filepath.Join(dir, "perf-check.data")
	defer os.Remove(path)
	out, err := exec.CommandContext(ctx, "perf", "record", "-a", "-q", "-F", "99", "-o", path, "--", "sleep", "0.1").CombinedOutput()
	if err != nil {
		return fmt.Errorf("perf record -a failed: %s", oneLine(string(out)))
	}
	return nil
}

func startPerf(dir, name string) (*perfRecorder, error) {
	path := filepath.Join(dir, name+".perf.data")
	cmd := exec.Command("perf", "record", "-a", "-q", "-F", "199", "-o", path)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &perfRecorder{cmd: cmd, path: path, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	return p, nil
}

// stop ends the recording (perf writes its file on SIGINT) and reads the
// share of samples per process and authd's hottest functions.
func (p *perfRecorder) stop(ctx context.Context) (comms, authd []Share, err error) {
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		return nil, nil, errors.New("perf record did not stop")
	}
	defer os.Remove(p.path)
	out, err := exec.CommandContext(ctx, "perf", "report", "-i", p.path, "--stdio", "--sort", "comm").Output()
	if err != nil {
		return nil, nil, fmt.Errorf("perf report: %w", err)
	}
	comms = busyShares(parsePerfReport(string(out)))
	out, err = exec.CommandContext(ctx, "perf", "report", "-i", p.path, "--stdio", "--comms", "authd",
		"--sort", "sym", "--percentage", "relative").Output()
	if err != nil {
		return comms, nil, fmt.Errorf("perf report: %w", err)
	}
	return comms, parsePerfReport(string(out)), nil
}

// parsePerfReport reads the "  47.94%  name" lines of perf report
// --stdio; symbol lines carry a "[.]" (user) or "[k]" (kernel) marker,
// kept so a reader sees where kernel time goes.
func parsePerfReport(out string) []Share {
	var s []Share
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		pctStr, rest, ok := strings.Cut(line, "%")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(pctStr), 64)
		if err != nil {
			continue
		}
		name := strings.TrimSpace(rest)
		if after, ok := strings.CutPrefix(name, "[.] "); ok {
			name = strings.TrimSpace(after)
		} else if after, ok := strings.CutPrefix(name, "[k] "); ok {
			name = "kernel: " + strings.TrimSpace(after)
		}
		s = append(s, Share{Pct: v, Name: name})
	}
	return s
}

// busyShares drops the idle task ("swapper") and rescales the rest to
// 100 %, so the shares are of the CPU time something actually used.
func busyShares(s []Share) []Share {
	var total float64
	var out []Share
	for _, x := range s {
		if x.Name == "swapper" {
			continue
		}
		total += x.Pct
		out = append(out, x)
	}
	if total <= 0 {
		return nil
	}
	for i := range out {
		out[i].Pct = out[i].Pct / total * 100
	}
	return out
}
