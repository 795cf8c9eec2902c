package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/authd/authd/internal/app"
	"github.com/authd/authd/internal/auth"
	"github.com/authd/authd/internal/config"
	"github.com/authd/authd/internal/kratos"
	"github.com/authd/authd/internal/logging"
)

// importCmd runs `authd import kratos --from URL`: it copies the
// identities of an Ory Kratos database into DATABASE_URL. Progress goes to
// stderr, the report to stdout; neither ever holds an e-mail address or a
// hash.
func importCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "kratos" {
		fmt.Fprintln(stderr, "usage: authd import kratos --from postgres://… [--dry-run] [--batch-size N] [--update] [--kratos-rp-id ID]")
		return errUsage
	}
	fs := flag.NewFlagSet("authd import kratos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "the Kratos PostgreSQL database URL (required)")
	dryRun := fs.Bool("dry-run", false, "check and count everything, write nothing")
	batch := fs.Int("batch-size", 500, "identities per transaction (1 to 10000)")
	update := fs.Bool("update", false, "refresh the traits and verification of identities imported before (never their credentials)")
	kratosRPID := fs.String("kratos-rp-id", "", "the WebAuthn RP ID Kratos used, for passkeys whose stored attestation does not say")
	if err := fs.Parse(args[1:]); err != nil {
		return errUsage
	}
	if *from == "" || fs.NArg() > 0 || *batch < 1 || *batch > 10000 {
		fmt.Fprintln(stderr, "authd import kratos: --from is required, --batch-size is 1 to 10000, and nothing else may follow")
		return errUsage
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	log := logging.New(stderr, cfg.LogLevel)
	imp, err := app.NewImporter(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer imp.Close()
	src, err := kratos.Open(ctx, kratos.Config{URL: *from, RPID: imp.RPID, KratosRPID: *kratosRPID})
	if err != nil {
		return err
	}
	defer src.Close()
	total, err := src.Count(ctx)
	if err != nil {
		return fmt.Errorf("kratos: count identities: %w", err)
	}
	log.Info("importing from Kratos", "identities", total, "dry_run", *dryRun, "batch_size", *batch, "update", *update)
	start := time.Now()
	report, err := imp.Service.Import(ctx, src, auth.ImportOptions{BatchSize: *batch, DryRun: *dryRun, Update: *update,
		Progress: func(r auth.ImportReport) {
			log.Info("import progress", "read", r.Read, "of", total, "imported", r.Imported, "errors", r.Errors)
		}})
	elapsed := time.Since(start)
	writeReport(stdout, report, elapsed, *dryRun)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return errors.New("import interrupted: the batches reported above are committed; run it again to go on")
		}
		return fmt.Errorf("import stopped: %w (the batches reported above are committed; run it again to go on)", err)
	}
	return nil
}

func writeReport(w io.Writer, r auth.ImportReport, elapsed time.Duration, dryRun bool) {
	mode := ""
	if dryRun {
		mode = " (dry run: nothing was written)"
	}
	rate := 0.0
	if elapsed > 0 {
		rate = float64(r.Read) / elapsed.Seconds()
	}
	fmt.Fprintf(w, "Kratos import%s\n", mode)
	fmt.Fprintf(w, "  read              %d\n  imported          %d\n  updated           %d\n  skipped           %d\n  without password  %d\n  errors            %d\n",
		r.Read, r.Imported, r.Updated, r.Skipped, r.WithoutPassword, r.Errors)
	fmt.Fprintf(w, "  TOTP factors      %d\n  recovery codes    %d\n  passkeys          %d\n", r.TOTP, r.RecoveryCodes, r.Passkeys)
	fmt.Fprintf(w, "  time              %s (%.0f identities/s)\n", elapsed.Round(time.Millisecond), rate)
	if problems := r.ProblemList(); len(problems) > 0 {
		fmt.Fprintf(w, "Not carried over:\n  %s\n", strings.Join(problems, "\n  "))
	}
}
