// Command authd is the authentication server: `authd serve` runs it,
// `authd migrate` manages its database schema, `authd healthcheck` probes a
// running one (the image's HEALTHCHECK) and `authd version` names the build. The object graph is built
// by internal/app; this package reads the environment, tunes the process
// and hands over.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"

	"github.com/authd/authd/internal/app"
	"github.com/authd/authd/internal/buildinfo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, tuneProcess(os.Getenv)); err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "authd:", err)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

// run is the whole program; tests call it with their own environment and
// context (and no process tuning), and cancel the context to stop it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, tune func(*app.App)) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		if len(args) > 0 {
			usage(stderr)
			return errUsage
		}
		return serve(ctx, getenv, stdout, tune)
	case "migrate":
		return migrate(ctx, args, getenv, stdout, stderr)
	case "import":
		return importCmd(ctx, args, getenv, stdout, stderr)
	case "healthcheck":
		return healthcheck(ctx, args, getenv, stdout, stderr)
	case "admin":
		return adminCmd(ctx, args, getenv, os.Stdin, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, buildinfo.Get())
		return nil
	case "-h", "--help", "help":
		usage(stdout)
		return nil
	default:
		usage(stderr)
		return errUsage
	}
}

// tuneProcess sizes the Go runtime for the built app, process-wide, so it
// runs in main only, never in a test binary. Settings the operator made in
// the environment (GOMAXPROCS, GOGC) win; GOMEMLIMIT is taken as the
// memory limit to stay within (see below).
func tuneProcess(getenv func(string) string) func(*app.App) {
	return func(a *app.App) {
		if limit := a.Resources.MemoryLimit; limit > 0 {
			// The collector's target is nine tenths of the limit (GOMEMLIMIT
			// or the cgroup's, the lower), so that it works harder well
			// before the limit instead of letting garbage grow to GOGC's
			// target past it (GOGC=400 below would allow 5× the live heap).
			// The tenth left is for what the runtime's limit does not hold
			// exactly: its overshoot between collections, thread stacks, the
			// binary's pages. A GOMEMLIMIT equal to the container's limit
			// (the Helm chart's) would otherwise leave no room at all.
			soft := limit / 10 * 9
			debug.SetMemoryLimit(soft)
			a.Log.Info("Go memory limit set below the memory limit", "go_memory_limit_bytes", soft,
				"memory_limit_bytes", limit, "memory_source", a.Resources.MemorySource)
		}
		if getenv("GOMAXPROCS") == "" {
			// One spare Go processor per hash slot: a CPU-bound hash then
			// never holds the processor a cheap request needs, and the
			// kernel (with HASH_NICE) shares the cores (GOMAXPROCS=CPUs
			// made /auth/me wait 235 ms at p99 behind hashes in make bench).
			runtime.GOMAXPROCS(a.Resources.CPUs + a.HashPool.Slots)
		}
		if getenv("GOGC") == "" {
			// Each hash leaves its Argon2 memory (19 MiB) as garbage; at the
			// default GOGC that is ~20 collections a second under login
			// load, which made the /auth/me tail. The live heap is small,
			// so a larger target costs little memory, and the memory limit
			// above bounds it.
			debug.SetGCPercent(400)
		}
	}
}
