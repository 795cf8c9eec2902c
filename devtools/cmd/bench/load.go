package main

import (
	"bufio"
	"context"
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

	"github.com/authd/authd/devtools/loadreport"
)

// loadRun is one authd-load process: its arguments, and afterwards its
// summary and the CPU time it used (the load generator shares the two
// cores with authd, so its share belongs in any explanation of a figure).
type loadRun struct {
	Name string   // short name, also the JSON file's base name
	Args []string // without -base-url, -json and -no-thresholds

	// OnLine, when set, sees every stderr line of the process that is not
	// a progress line (e.g. the -warmup window markers), as it comes.
	OnLine func(line string)

	Summary  *loadreport.Summary
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

// cpuNow is the CPU time the running process has used so far.
func (r *loadRun) cpuNow() (time.Duration, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pid == 0 {
		return 0, fmt.Errorf("authd-load %s is not running", r.Name)
	}
	return procCPU(r.pid)
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
	return "go run " + loadPkg + " " + shellJoin(l.args(r, r.Name+".json"))
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
			if !isProgressLine(line) {
				fmt.Fprintf(l.stderr, "  [%s] %s\n", r.Name, line)
				if r.OnLine != nil {
					r.OnLine(line)
				}
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
		s, err := loadreport.ReadFile(filepath.Join(l.dir, r.Name+".json"))
		if err != nil {
			return fmt.Errorf("authd-load %s: %w", r.Name, err)
		}
		r.Summary = s
		return nil
	}, nil
}

// isProgressLine tells authd-load's progress lines (open model:
// "target=…/s … reqs=N", closed loop: "vus=… reqs=N") from the rest.
func isProgressLine(line string) bool {
	return strings.HasPrefix(line, "authd-load: ") && strings.Contains(line, " reqs=")
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
