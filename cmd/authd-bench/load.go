package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// LoadSummary is the part of authd-load's -json document (see
// cmd/authd-load/report.go) that the bench reads. It is a copy rather than
// an import because authd-load is a main package; unknown fields are
// ignored, so the tool may grow without breaking the bench.
type LoadSummary struct {
	Command           string  `json:"command"`
	Scenario          string  `json:"scenario"`
	DurationSeconds   float64 `json:"duration_seconds"`
	MaxVUs            int     `json:"max_vus"`
	VUsMaxUsed        int64   `json:"vus_max_used"`
	Iterations        Counter `json:"iterations"`
	DroppedIterations Counter `json:"dropped_iterations"`
	HTTPReqs          Counter `json:"http_reqs"`
	HTTPReqFailed     struct {
		Fails int     `json:"fails"`
		Total int     `json:"total"`
		Rate  float64 `json:"rate"`
	} `json:"http_req_failed"`
	HTTPReqDuration Latency `json:"http_req_duration"`
	ServedDuration  Latency `json:"served_duration"`
	Shed503         struct {
		Count int     `json:"count"`
		Rate  float64 `json:"rate"`
		MaxMs float64 `json:"max_ms"`
	} `json:"shed_503"`
	Server5xxOther  int             `json:"server_5xx_other"`
	TransportErrors int             `json:"transport_errors"`
	ErrorMessages   map[string]int  `json:"error_messages"`
	Endpoints       []EndpointStats `json:"endpoints"`
	Checks          []CheckStats    `json:"checks"`
	ChecksTotal     CheckStats      `json:"checks_total"`
}

// Counter is a count and its rate over the run.
type Counter struct {
	Count int64   `json:"count"`
	Rate  float64 `json:"rate"`
}

// Latency is in milliseconds.
type Latency struct {
	Count int     `json:"count"`
	AvgMs float64 `json:"avg_ms"`
	MinMs float64 `json:"min_ms"`
	P50Ms float64 `json:"p50_ms"`
	P90Ms float64 `json:"p90_ms"`
	P95Ms float64 `json:"p95_ms"`
	P99Ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
}

// EndpointStats is one endpoint's breakdown.
type EndpointStats struct {
	Name     string         `json:"name"`
	Count    int            `json:"count"`
	Rate     float64        `json:"rate"`
	Latency  Latency        `json:"latency"`
	Served   Latency        `json:"served"`
	Shed503  int            `json:"shed_503"`
	Failed   int            `json:"failed"`
	Statuses map[string]int `json:"statuses"`
}

// CheckStats is one named check (or, in checks_total, all of them).
type CheckStats struct {
	Name      string  `json:"name"`
	Passes    int64   `json:"passes"`
	Fails     int64   `json:"fails"`
	FailsShed int64   `json:"fails_shed"`
	Rate      float64 `json:"rate"`
}

// Endpoint returns the named endpoint's stats; zero when it saw no request.
func (s *LoadSummary) Endpoint(name string) EndpointStats {
	for _, e := range s.Endpoints {
		if e.Name == name {
			return e
		}
	}
	return EndpointStats{Name: name, Statuses: map[string]int{}}
}

// Status is how many requests to the endpoint got the status.
func (e EndpointStats) Status(code int) int { return e.Statuses[fmt.Sprint(code)] }

// PerSecond is n over the run's measured duration.
func (s *LoadSummary) PerSecond(n int) float64 {
	if s.DurationSeconds <= 0 {
		return 0
	}
	return float64(n) / s.DurationSeconds
}

// readLoadSummary parses an authd-load -json file.
func readLoadSummary(path string) (*LoadSummary, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s LoadSummary
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &s, nil
}

// loadRun is one authd-load process: its arguments, and afterwards its
// summary and the CPU time it used (the load generator shares the two
// cores with authd, so its share belongs in any explanation of a figure).
type loadRun struct {
	Name string   // short name, also the JSON file's base name
	Args []string // without -base-url, -json and -no-thresholds

	Summary  *LoadSummary
	TotalCPU time.Duration // user + system time of the whole process

	mu       sync.Mutex
	pid      int
	cpuBegin time.Duration // CPU used before the measured window began
}

// markBegin notes the CPU the process has used so far, so that CPU()
// leaves out its setup (logging in sessions, seeding).
func (r *loadRun) markBegin() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pid == 0 {
		return
	}
	if t, err := procCPU(r.pid); err == nil {
		r.cpuBegin = t
	}
}

// CPU is the CPU time used in the measured window: from markBegin (or the
// start) to the end of the process.
func (r *loadRun) CPU() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return max(0, r.TotalCPU-r.cpuBegin)
}

// loader starts authd-load processes against one authd.
type loader struct {
	bin     string // the built authd-load
	baseURL string
	dir     string // where JSON and text outputs go
	stderr  io.Writer
}

// args adds what every run needs: the target, -no-thresholds (the bench
// compares figures with its own targets, and a failed k6-style threshold
// must not abort it), the JSON output, and a progress line every second
// unless the run sets its own: the first line tells the bench that the
// run's setup is over and the load has begun.
func (l *loader) args(r *loadRun, jsonPath string) []string {
	a := append(append([]string{}, r.Args...), "-base-url", l.baseURL, "-no-thresholds", "-json", jsonPath)
	if !slices.Contains(r.Args, "-progress") {
		a = append(a, "-progress", "1s")
	}
	return a
}

// CommandLine is the run as a reader would type it from the repository
// root, with the JSON file named relative to the bench's temp dir.
func (l *loader) CommandLine(r *loadRun) string {
	return "go run ./cmd/authd-load " + shellJoin(l.args(r, r.Name+".json"))
}

// start launches the run. onProgress, when non-nil, is called (once) at
// the first progress line authd-load prints, which it does only after its
// setup (seeding, logging in the /me sessions) has finished.
func (l *loader) start(ctx context.Context, r *loadRun, onProgress func()) (wait func() error, err error) {
	cmd := exec.CommandContext(ctx, l.bin, l.args(r, filepath.Join(l.dir, r.Name+".json"))...)
	// On interrupt, let authd-load stop its schedule and exit by itself
	// rather than killing it mid-write.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) }
	cmd.WaitDelay = 45 * time.Second
	out, err := os.Create(filepath.Join(l.dir, r.Name+".txt"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout = out
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	copied := make(chan struct{})
	go func() {
		// Progress lines go to the bench's stderr, prefixed with the run,
		// so a 4-minute mixed run shows it is alive.
		// Only every tenth progress line is shown: the runs print one a
		// second (or faster) so the bench can see when the load begins.
		defer close(copied)
		sc := bufio.NewScanner(pr)
		n := 0
		for sc.Scan() {
			line := sc.Text()
			if !strings.Contains(line, " target=") {
				fmt.Fprintf(l.stderr, "  [%s] %s\n", r.Name, line)
				continue
			}
			n++
			if n%10 == 0 {
				fmt.Fprintf(l.stderr, "  [%s] %s\n", r.Name, line)
			}
			if n == 1 && onProgress != nil {
				onProgress()
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	// The pid is set under the lock before the scanner can see a progress
	// line, so markBegin from onProgress always finds it.
	r.mu.Lock()
	if err := cmd.Start(); err != nil {
		r.mu.Unlock()
		out.Close()
		pw.Close()
		return nil, fmt.Errorf("start authd-load: %w", err)
	}
	r.pid = cmd.Process.Pid
	r.mu.Unlock()
	return func() error {
		werr := cmd.Wait()
		pw.Close()
		<-copied
		out.Close()
		r.mu.Lock()
		r.pid = 0
		if cmd.ProcessState != nil {
			r.TotalCPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		}
		r.mu.Unlock()
		if werr != nil {
			return fmt.Errorf("authd-load %s: %w (output in %s)", r.Name, werr, filepath.Join(l.dir, r.Name+".txt"))
		}
		s, err := readLoadSummary(filepath.Join(l.dir, r.Name+".json"))
		if err != nil {
			return fmt.Errorf("authd-load %s: %w", r.Name, err)
		}
		r.Summary = s
		return nil
	}, nil
}

// run runs one authd-load process to the end; begin is called when its
// load starts (after its setup).
func (l *loader) run(ctx context.Context, r *loadRun, begin func()) error {
	wait, err := l.start(ctx, r, func() {
		r.markBegin()
		if begin != nil {
			begin()
		}
	})
	if err != nil {
		return err
	}
	return wait()
}

// shellJoin quotes what a POSIX shell would split or expand.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n\"'$\\*?[]{}()<>|&;!#~`") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}
