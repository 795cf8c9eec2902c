// Command authd is the authentication server: `authd serve` runs it and
// `authd migrate` manages its database schema. The object graph is built
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

	"github.com/authd/authd/internal/config"
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
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, tune func(*config.Config)) error {
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
	case "-h", "--help", "help":
		usage(stdout)
		return nil
	default:
		usage(stderr)
		return errUsage
	}
}

// tuneProcess sizes the Go runtime for authd's load, process-wide, so it
// runs in main only, never in a test binary. Settings the operator made in
// the environment (GOMAXPROCS, GOGC) win.
func tuneProcess(getenv func(string) string) func(*config.Config) {
	return func(cfg *config.Config) {
		// The runtime's own count, container CPU limits included, read
		// before it is raised below.
		cpus := runtime.GOMAXPROCS(0)
		if cfg.HashPoolSize == 0 {
			cfg.HashPoolSize = cpus
		}
		if getenv("GOMAXPROCS") == "" {
			// One spare Go processor per hash slot: a CPU-bound hash then
			// never holds the processor a cheap request needs, and the
			// kernel (with HASH_NICE) shares the cores (GOMAXPROCS=CPUs
			// made /auth/me wait 235 ms at p99 behind hashes in make bench).
			runtime.GOMAXPROCS(cpus + cfg.HashPoolSize)
		}
		if getenv("GOGC") == "" {
			// Each hash leaves its Argon2 memory (19 MiB) as garbage; at the
			// default GOGC that is ~20 collections a second under login
			// load, which made the /auth/me tail. The live heap is small,
			// so a larger target costs little memory.
			debug.SetGCPercent(400)
		}
	}
}
