// Command bench (authd-bench) is `make bench`: it builds authd, runs it
// against the local PostgreSQL and Valkey in a database and key prefix of
// its own, measures it in eight phases and writes BENCHMARKS.md.
//
//  1. Go benchmarks of the hasher, the hash pool and the HTTP handlers;
//  2. /health versus /auth/me throughput;
//  3. login throughput versus the hasher's ideal (CPUs ÷ one-hash time,
//     measured in phase 1 of the same run);
//  4. /auth/me latency while register/login demand is 3× the hash capacity;
//  5. the old service's mixed k6 scenario;
//  6. login timing: unknown e-mails vs wrong passwords, one request at a
//     time (a figure, never a threshold: see timing.go);
//  7. load shapes: goodput, latency, 503s and their CPU cost under closed
//     loops, retrying and honouring clients, open arrivals at multiples
//     of the hash capacity and the mixed scenario (see shapes.go).
//
// Every load run is a devtools/cmd/load process (the repository's Go
// stand-in for the k6 scripts) whose -json summary (devtools/loadreport)
// the bench reads; the report quotes each command and its k6 equivalent,
// so any figure can be reproduced by hand. Targets are benchmarks, not tests: a miss is
// reported (by how much, and why, with a CPU profile) rather than failing
// the command.
//
//	go run ./devtools/cmd/bench -out BENCHMARKS.md
//	go run ./devtools/cmd/bench -quick -out /tmp/bench-quick.md
//	go run ./devtools/cmd/bench -only=login-timing -out /tmp/timing.md
package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/authd/authd/internal/testenv"
)

// The packages the bench runs, as the report quotes them: `go run` them
// from the repository root.
const (
	benchPkg = "./devtools/cmd/bench"
	loadPkg  = "./devtools/cmd/load"
	authdPkg = "./cmd/authd"
)

// The login user of the old service's k6 run; authd-load seeds and logs
// in the same account by default.
const (
	seedEmail    = "test@example.com"
	seedPassword = "correct-horse-load-test"
)

type options struct {
	out       string
	quick     bool
	skipMixed bool
	only      map[string]bool // -only: the phases to run; nil = all
	pairs     int             // -timing-pairs; 0 = the durations' default
	shapeWin  time.Duration   // -shape-window; 0 = the durations' default
	shapeWarm time.Duration   // -shape-warmup; 0 = the durations' default
	perf      bool
	keepTemp  bool
	adminURL  string
	valkeyURL string
	args      []string
}

// durations holds every length the phases use, so -quick is one switch.
type durations struct {
	hashBenchtime, httpBenchtime string
	parallelHash                 time.Duration
	throughput                   time.Duration // phase 2, each run
	login                        time.Duration
	satIdle, satMeasure          time.Duration // phase 4: /me waits, then measures
	satHashExtra                 time.Duration // how much longer the hash load runs
	mixedStages                  string        // "" = the scenario's 230 s ramp
	timingPairs                  int           // phase 6: unknown/wrong-password login pairs
	shapeWarmup, shapeWindow     time.Duration // phase 7: each shape's warm-up, then its measured window
	scaleOut                     time.Duration // phase 8: each run
	reachTrials                  int           // phase 8: revocation reach trials
}

var (
	fullDurations = durations{
		hashBenchtime: "20x", httpBenchtime: "2s", parallelHash: 3 * time.Second,
		throughput: 10 * time.Second, login: 15 * time.Second,
		satIdle: 2 * time.Second, satMeasure: 20 * time.Second, satHashExtra: 4 * time.Second,
		timingPairs: 50,
		shapeWarmup: 3 * time.Second, shapeWindow: 15 * time.Second,
		scaleOut: 15 * time.Second, reachTrials: 200,
	}
	// quickDurations keep every phase (so the whole pipeline is exercised)
	// at a few seconds each; the mixed ramp keeps its shape, scaled to 20 s.
	quickDurations = durations{
		hashBenchtime: "5x", httpBenchtime: "200ms", parallelHash: time.Second,
		throughput: 3 * time.Second, login: 3 * time.Second,
		satIdle: 1 * time.Second, satMeasure: 3 * time.Second, satHashExtra: 2 * time.Second,
		mixedStages: "3s:50,5s:150,5s:300,5s:500,2s:500",
		timingPairs: 20,
		shapeWarmup: time.Second, shapeWindow: 3 * time.Second,
		scaleOut: 3 * time.Second, reachTrials: 20,
	}
)

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

func realMain(args []string, stdout, stderr io.Writer) int {
	o := options{args: args}
	fs := flag.NewFlagSet("authd-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.out, "out", "BENCHMARKS.md", "where to write the report")
	fs.BoolVar(&o.quick, "quick", false, "shorten every phase to a few seconds: a smoke run of the bench itself, not reference figures")
	fs.BoolVar(&o.skipMixed, "skip-mixed", false, "leave out phase 5, the 4-minute mixed scenario")
	only := fs.String("only", "", "run only these phases, comma-separated: "+strings.Join(phaseNames, ", ")+
		" (login, saturation, mixed and load-shapes bring go-bench along: they need its one-hash time)")
	fs.IntVar(&o.pairs, "timing-pairs", 0, fmt.Sprintf("login-timing: pairs of failed logins to time (default %d, %d with -quick)",
		fullDurations.timingPairs, quickDurations.timingPairs))
	fs.DurationVar(&o.shapeWin, "shape-window", 0, fmt.Sprintf("load-shapes: each shape's measured window (default %s, %s with -quick)",
		secs(fullDurations.shapeWindow), secs(quickDurations.shapeWindow)))
	fs.DurationVar(&o.shapeWarm, "shape-warmup", 0, fmt.Sprintf("load-shapes: each shape's warm-up before its window (default %s, %s with -quick)",
		secs(fullDurations.shapeWarmup), secs(quickDurations.shapeWarmup)))
	fs.BoolVar(&o.perf, "perf", true, "sample the machine with perf(1) during load runs, when perf can (root or perf_event_paranoid ≤ -1)")
	fs.BoolVar(&o.keepTemp, "keep", false, "keep the temp dir (binaries, authd log, authd-load JSON and text output)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "authd-bench: unexpected arguments %v\n", fs.Args())
		return 2
	}
	var err error
	if o.only, err = parseOnly(*only); err != nil {
		fmt.Fprintln(stderr, "authd-bench: -only:", err)
		return 2
	}
	if o.pairs < 0 {
		fmt.Fprintln(stderr, "authd-bench: -timing-pairs must not be negative")
		return 2
	}
	if o.shapeWin < 0 || o.shapeWarm < 0 {
		fmt.Fprintln(stderr, "authd-bench: -shape-window and -shape-warmup must be positive")
		return 2
	}
	// The bench's servers are the tests' (internal/testenv: TEST_DATABASE_URL,
	// TEST_VALKEY_URL, their defaults) unless BENCH_* say otherwise. They
	// are then set as TEST_*, which testenv reads both here (the bench's
	// database) and in the `go test` children of phase 1.
	o.adminURL = cmp.Or(os.Getenv("BENCH_DATABASE_ADMIN_URL"), testenv.PostgresAdminURL())
	o.valkeyURL = cmp.Or(os.Getenv("BENCH_VALKEY_URL"), testenv.ValkeyURL())
	if err := errors.Join(os.Setenv("TEST_DATABASE_URL", o.adminURL), os.Setenv("TEST_VALKEY_URL", o.valkeyURL)); err != nil {
		fmt.Fprintln(stderr, "authd-bench:", err)
		return 1
	}

	// The first SIGINT/SIGTERM cancels ctx; every phase then stops and the
	// deferred cleanup still stops authd, drops the database and deletes
	// the keys (with a context of its own).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	b := &bench{opts: o, d: fullDurations, stderr: stderr, ncpu: runtime.NumCPU()}
	if o.quick {
		b.d = quickDurations
	}
	if o.pairs > 0 {
		b.d.timingPairs = o.pairs
	}
	if o.shapeWin > 0 {
		b.d.shapeWindow = o.shapeWin
	}
	if o.shapeWarm > 0 {
		b.d.shapeWarmup = o.shapeWarm
	}
	rep, err := b.run(ctx)
	if ctx.Err() != nil {
		// A partial report must not replace the last complete one.
		fmt.Fprintln(stderr, "authd-bench: interrupted; report not written")
		return 130
	}
	if rep != nil {
		if werr := writeReport(o.out, rep); werr != nil {
			fmt.Fprintln(stderr, "authd-bench:", werr)
			return 1
		}
		met, missed, failed := rep.Outcomes()
		fmt.Fprintf(stdout, "authd-bench: wrote %s: %d targets met, %d missed, %d phases failed\n", o.out, met, missed, failed)
		if failed > 0 && err == nil {
			err = fmt.Errorf("%d phases failed (see %s)", failed, o.out)
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "authd-bench:", err)
		return 1
	}
	return 0
}

// writeReport renders to a temp file and renames it, so an error halfway
// leaves the previous report intact.
func writeReport(path string, r *Report) error {
	var buf bytes.Buffer
	if err := r.Render(&buf); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// bench is one run: what it built and started, and what it measured so far.
type bench struct {
	opts   options
	d      durations
	stderr io.Writer
	ncpu   int

	moduleDir string
	tmp       string
	authdBin  string
	loadBin   string
	dbName    string
	dbURL     string
	dropDB    func()
	prefix    string
	port      int
	authd     *authdProc
	load      *loader
	perfErr   error              // why perf is not used; nil when it is
	defaults  map[string]string  // authd's defaults, from --help
	effective map[string]float64 // GOMAXPROCS and pool size, from /metrics

	oneHashNs    float64 // BenchmarkHash ns/op (DefaultParams)
	oneHashFrom  string
	ideal        float64 // hashes/s: CPUs ÷ one-hash time
	parallelRate float64 // hashes/s measured with one goroutine per CPU
	goBench      GoBenchRun
	satMain      *satRun   // phase 4, for the explanations of phase 5
	satVariants  []*satRun // phase 4's what-if runs, if any
}

func (b *bench) logf(format string, a ...any) {
	fmt.Fprintf(b.stderr, "authd-bench: "+format+"\n", a...)
}

func (b *bench) run(ctx context.Context) (rep *Report, err error) {
	if b.moduleDir, err = moduleRoot(ctx); err != nil {
		return nil, err
	}
	if b.tmp, err = os.MkdirTemp("", "authd-bench-"); err != nil {
		return nil, err
	}
	defer func() {
		// Kept after a failure, for its logs; an interrupt is not one.
		if b.opts.keepTemp || (err != nil && ctx.Err() == nil) {
			b.logf("kept %s (binaries, authd.log, authd-load output)", b.tmp)
			return
		}
		os.RemoveAll(b.tmp)
	}()

	rep = &Report{Date: time.Now().UTC(), Quick: b.opts.quick, Only: selectedNames(b.opts.only)}
	rep.Command = commandOf(b.opts.args)
	rep.Machine = machineInfo(ctx, b.opts.adminURL, b.opts.valkeyURL)

	b.logf("building authd and authd-load into %s", b.tmp)
	if b.authdBin, err = goBuild(ctx, b.moduleDir, b.tmp, authdPkg, "authd", b.stderr); err != nil {
		return nil, err
	}
	if b.loadBin, err = goBuild(ctx, b.moduleDir, b.tmp, loadPkg, "authd-load", b.stderr); err != nil {
		return nil, err
	}
	help, err := authdHelp(ctx, b.authdBin)
	if err != nil {
		return nil, err
	}
	b.defaults = parseHelpDefaults(help)
	if b.opts.perf {
		b.perfErr = perfUsable(ctx, b.tmp)
	} else {
		b.perfErr = errors.New("turned off with -perf=false")
	}

	// Phase 1 runs before authd starts, so nothing else competes for the
	// cores while the hasher is timed.
	if b.wants("go-bench") {
		ph := b.phaseGoBench(ctx)
		ph.Num = 1
		rep.Phases = append(rep.Phases, ph)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if b.oneHashNs <= 0 {
			return rep, errors.New("no one-hash time: BenchmarkHash of internal/argon2id did not run, and the phases after it depend on it")
		}
	}

	// A name of its own for this run's database and key prefix, so several
	// benches (and the tests, which use authd_test_* / authd-test-*) can
	// share the servers without touching each other's data.
	suffix := testenv.RandomName("")
	b.dbName = "authd_bench_" + suffix
	if b.dbURL, b.dropDB, err = testenv.CreateDatabase(b.dbName); err != nil {
		return rep, fmt.Errorf("%w (set BENCH_DATABASE_ADMIN_URL or TEST_DATABASE_URL)", err)
	}
	b.prefix = "authd-bench-" + suffix + ":"
	b.logf("database %s, key prefix %s", b.dbName, b.prefix)
	defer func() {
		// Also after an error or interrupt (rep is then nil: no report).
		done := b.cleanup()
		b.logf("cleanup: %s", done)
		if rep != nil {
			rep.Cleanup = done
		}
	}()

	if err := b.startAuthd(ctx); err != nil {
		return rep, err
	}
	b.effective = scrapeMetrics(ctx, b.authd.baseURL, effectiveMetrics...)
	rep.Settings = settingsRows(b.authd.env, b.defaults, b.effective)
	b.load = &loader{bin: b.loadBin, baseURL: b.authd.baseURL, dir: b.tmp, stderr: b.stderr}

	// phaseNames[1:], in order; a phase keeps its number when -only
	// leaves others out, so "phase 4" means the same in every report.
	for i, phase := range []func(context.Context) Phase{b.phaseThroughput, b.phaseLogin, b.phaseSaturation, b.phaseMixed, b.phaseLoginTiming, b.phaseShapes, b.phaseScaleOut} {
		if !b.wants(phaseNames[i+1]) {
			continue
		}
		ph := phase(ctx)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		ph.Num = i + 2
		rep.Phases = append(rep.Phases, ph)
	}
	rep.Notes = b.notes()
	return rep, nil
}

// phaseNames are the phases as -only names them, in the order they run
// (and are numbered).
var phaseNames = []string{"go-bench", "throughput", "login", "saturation", "mixed", "login-timing", "load-shapes", "scale-out"}

// needsOneHash are the phases whose figures derive from phase 1's
// one-hash time; -only brings go-bench along with them.
var needsOneHash = []string{"login", "saturation", "mixed", "load-shapes", "scale-out"}

// parseOnly reads -only: nil (every phase) for "", else the named phases
// plus go-bench when one of them needs it.
func parseOnly(s string) (map[string]bool, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	sel := map[string]bool{}
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if !slices.Contains(phaseNames, name) {
			return nil, fmt.Errorf("unknown phase %q (phases: %s)", name, strings.Join(phaseNames, ", "))
		}
		sel[name] = true
	}
	for _, name := range needsOneHash {
		if sel[name] {
			sel["go-bench"] = true
		}
	}
	return sel, nil
}

// selectedNames lists a selection in run order; nil for every phase.
func selectedNames(sel map[string]bool) []string {
	if sel == nil {
		return nil
	}
	var out []string
	for _, name := range phaseNames {
		if sel[name] {
			out = append(out, name)
		}
	}
	return out
}

// wants says whether the run includes the named phase.
func (b *bench) wants(name string) bool { return b.opts.only == nil || b.opts.only[name] }

// commandOf is how the report names the command: `make bench` runs the
// bench with exactly -out BENCHMARKS.md.
func commandOf(args []string) string {
	if strings.Join(args, " ") == "-out BENCHMARKS.md" {
		return "make bench"
	}
	return "go run " + benchPkg + " " + shellJoin(args)
}

// authdEnv is authd's configuration for the bench: dev mode on loopback,
// mail queued but not sent (MAIL_WORKERS=0, so SMTP is not in the
// figures), and the per-IP abuse limits off because every request comes
// from 127.0.0.1. The rest, notably Argon2 and the hash pool, stays at
// its default: that is what is measured (the report quotes the defaults
// from authd --help).
func (b *bench) authdEnv(port int) []string {
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	return []string{
		"DEV_MODE=true",
		"HTTP_ADDR=127.0.0.1:" + fmt.Sprint(port),
		"PUBLIC_URL=" + base,
		"DATABASE_URL=" + b.dbURL,
		"VALKEY_URL=" + b.opts.valkeyURL,
		"VALKEY_KEY_PREFIX=" + b.prefix,
		"LOG_LEVEL=warn",
		"MAIL_WORKERS=0",
		"REGISTER_LIMIT_PER_IP=0",
		"MAIL_REQUESTS_PER_IP=0",
		"LOGIN_IP_FREE_ATTEMPTS=0",
	}
}

// startAuthd starts authd with the bench's settings plus overrides (later
// entries win), on the port of the previous start if there was one, so
// the loader's base URL stays valid; Go listeners set SO_REUSEADDR, so the
// port can be bound again at once.
func (b *bench) startAuthd(ctx context.Context, overrides ...string) error {
	if b.port == 0 {
		// Another process could take the port before authd binds it;
		// authd then fails to start with a clear error, which is
		// acceptable for a bench.
		port, err := testenv.FreePort()
		if err != nil {
			return err
		}
		b.port = port
	}
	env := append(b.authdEnv(b.port), overrides...)
	b.logf("starting authd on 127.0.0.1:%d %s", b.port, strings.Join(overrides, " "))
	var err error
	b.authd, err = startAuthd(ctx, b.authdBin, filepath.Join(b.tmp, "authd.log"), env, fmt.Sprintf("http://127.0.0.1:%d", b.port))
	if err != nil {
		return err
	}
	_, err = seedUser(ctx, b.authd.baseURL, seedEmail, seedPassword)
	return err
}

// restartAuthd replaces the running authd by one with overrides (none:
// the bench's own settings). The database and key prefix stay.
func (b *bench) restartAuthd(ctx context.Context, overrides ...string) error {
	if b.authd != nil {
		b.authd.stop()
		b.authd = nil
	}
	return b.startAuthd(ctx, overrides...)
}

// defaultsShown are the defaults that shape the figures, quoted from
// `authd --help` when this authd has them.
var defaultsShown = []string{
	"ARGON2_MEMORY_KIB", "ARGON2_ITERATIONS", "ARGON2_PARALLELISM",
	"HASH_POOL_SIZE", "HASH_WAIT_BUDGET", "HASH_MAX_QUEUE", "HASH_NICE", "SHED_DELAY",
	"MAX_IN_FLIGHT", "MAX_CONNECTIONS", "DATABASE_MAX_CONNS", "PROFILE_CACHE_TTL",
	"LOGIN_ACCOUNT_FREE_ATTEMPTS", "MAIL_LIMIT_PER_HOUR",
}

// settingsRows lists authd's settings for the report: what the bench sets,
// the defaults that matter (from --help) and what the process reports it
// runs with (from /metrics).
func settingsRows(env []string, defaults map[string]string, effective map[string]float64) []KV {
	rows := make([]KV, 0, len(env)+len(defaultsShown)+2)
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "DATABASE_URL":
			v = redactURL(v)
		case "HTTP_ADDR", "PUBLIC_URL":
			v += " (a free port)"
		}
		rows = append(rows, KV{"`" + k + "`", "`" + v + "`"})
	}
	for _, k := range defaultsShown {
		if v, ok := defaults[k]; ok {
			rows = append(rows, KV{"`" + k + "`", "`" + v + "` (default)"})
		}
	}
	if v, ok := effective["go_sched_gomaxprocs_threads"]; ok {
		rows = append(rows, KV{"GOMAXPROCS in effect", fmt.Sprintf("%g (authd's `go_sched_gomaxprocs_threads` metric)", v)})
	}
	if v, ok := effective["authd_hash_pool_size"]; ok {
		rows = append(rows, KV{"Hash pool size in effect", fmt.Sprintf("%g (authd's `authd_hash_pool_size` metric)", v)})
	}
	return rows
}

// gcMetric counts authd's garbage collections: each Argon2 hash
// allocates its whole memory (19 MiB by default), so GC runs with the
// hash rate, and its CPU and pauses belong in the explanations.
const gcMetric = "go_gc_duration_seconds_count"

// effectiveMetrics are the gauges that say how authd really runs.
var effectiveMetrics = []string{"go_sched_gomaxprocs_threads", "authd_hash_pool_size"}

// cleanup stops authd and removes exactly what the bench created. It runs
// on success, error and interrupt alike, and says what it did.
func (b *bench) cleanup() string {
	var parts []string
	if b.authd != nil {
		b.authd.stop()
		parts = append(parts, "authd stopped")
	}
	if b.dropDB != nil {
		// WITH (FORCE): after an interrupt authd may not have shut down
		// cleanly. testenv prints a failure on stderr.
		b.dropDB()
		parts = append(parts, "database "+b.dbName+" dropped (a failure is reported on stderr)")
	}
	if b.prefix != "" {
		// Only the keys under the run's own prefix (SCAN MATCH, never
		// FLUSHDB): others use the same server.
		if err := b.deleteKeys(); err != nil {
			parts = append(parts, fmt.Sprintf("deleting keys %s* failed: %v", b.prefix, err))
		} else {
			parts = append(parts, "keys under "+b.prefix+" deleted")
		}
	}
	return strings.Join(parts, "; ")
}

func (b *bench) deleteKeys() error {
	c, err := openValkey(b.opts.valkeyURL)
	if err != nil {
		return err
	}
	defer c.Close()
	return testenv.DeleteKeys(c, b.prefix)
}

// measure runs fn while recording where the CPU goes: the machine's and
// authd's CPU counters from /proc, and perf samples when perf works. The
// window opens when fn calls begin (the load proper has started, setup
// such as logging in sessions is over) and closes when fn returns. fn
// returns the CPU time its authd-load processes used in the window.
func (b *bench) measure(ctx context.Context, name string, fn func(begin func()) (time.Duration, error)) (Profile, error) {
	pr := Profile{Run: name}
	var (
		mu       sync.Mutex
		opened   bool
		before   cpuSnap
		openErr  error
		rec      *perfRecorder
		gcBefore map[string]float64
	)
	pid := b.authd.pid()
	begin := func() {
		mu.Lock()
		defer mu.Unlock()
		if opened {
			return
		}
		opened = true
		gcBefore = scrapeMetrics(ctx, b.authd.baseURL, gcMetric)
		before, openErr = readCPU(pid)
		if b.perfErr == nil {
			var err error
			if rec, err = startPerf(b.tmp, name); err != nil {
				pr.PerfErr = err.Error()
			}
		}
	}
	loadCPU, err := fn(begin)
	after, cerr := readCPU(pid)
	gcAfter := scrapeMetrics(context.WithoutCancel(ctx), b.authd.baseURL, gcMetric)
	mu.Lock()
	defer mu.Unlock()
	if opened && openErr == nil && cerr == nil {
		pr.Split = cpuSplit(before, after, b.ncpu, loadCPU)
		g0, ok0 := gcBefore[gcMetric]
		g1, ok1 := gcAfter[gcMetric]
		if ok0 && ok1 && pr.Split.Seconds > 0 {
			pr.GCPerSec = (g1 - g0) / pr.Split.Seconds
		}
	}
	if rec != nil {
		comms, top, perr := rec.stop(context.WithoutCancel(ctx))
		pr.PerfComms, pr.PerfAuthd = comms, top
		if perr != nil {
			pr.PerfErr = perr.Error()
		}
	}
	return pr, err
}

// runMeasured runs one authd-load process inside measure.
func (b *bench) runMeasured(ctx context.Context, r *loadRun) (Profile, error) {
	return b.measure(ctx, r.Name, func(begin func()) (time.Duration, error) {
		err := b.load.run(ctx, r, begin)
		return r.CPU(), err
	})
}

// notes are the caveats every reader of the figures should know.
func (b *bench) notes() []string {
	n := []string{
		"Everything runs on one machine: authd, PostgreSQL, Valkey and the load generator share the same " +
			fmt.Sprint(b.ncpu) + " cores, so every figure includes the cost of generating the load (its CPU share is shown per run).",
		"All traffic is loopback from one IP (127.0.0.1), so authd runs with the per-IP abuse limits off " +
			"(`REGISTER_LIMIT_PER_IP=0`, `MAIL_REQUESTS_PER_IP=0`, `LOGIN_IP_FREE_ATTEMPTS=0`); with them on, most of this load would be answered 429.",
		"Mail is queued in PostgreSQL (in the same transaction as its token) but not sent: `MAIL_WORKERS=0`, so SMTP " +
			"delivery is not in any figure. Recovery requests for the login user send at most `MAIL_LIMIT_PER_HOUR` (3) mails anyway.",
		"k6 is not installed here, so `devtools/cmd/load` stands in for it: the same scenarios, open-model arrival-rate pacing with " +
			"dropped iterations, closed loops (`-vus`, k6's constant-vus) for phase 7, and check names. Its latency is measured from " +
			"request start to the end of the body, as k6's http_req_duration.",
		"Throughput runs give a rate above capacity; the pacer drops what the VUs cannot start, so the figure is the server's " +
			"(and the load generator's) capacity, not the schedule.",
		"A 503 with Retry-After is deliberate load shedding: the hash pool refuses work it predicts it could not start within " +
			"`HASH_WAIT_BUDGET` (" + b.defaults["HASH_WAIT_BUDGET"] + " here). Such replies are counted apart and excluded from *served* latency.",
	}
	if b.perfErr != nil {
		n = append(n, "No perf profile: "+b.perfErr.Error()+". The CPU split comes from /proc only.")
	} else {
		n = append(n, "CPU profiles come from `perf record -a -F 199` of the whole machine during each run (authd exposes no pprof endpoint); "+
			"process shares are of busy samples, authd's functions are shares of authd's samples.")
	}
	return n
}
