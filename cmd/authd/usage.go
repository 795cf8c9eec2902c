package main

import (
	"fmt"
	"io"

	"github.com/authd/authd/internal/config"
)

func usage(w io.Writer) {
	fmt.Fprint(w, `authd — a self-contained authentication server.

Usage:
  authd [serve]                        run the HTTP server (the default)
  authd migrate up|down|status|version manage the database schema
  authd import kratos --from URL       copy identities, passwords and second factors from an
                                       Ory Kratos database (--dry-run, --batch-size N, --update,
                                       --kratos-rp-id ID)
  authd --help                         show this help

Configuration comes from environment variables:

`)
	config.WriteHelp(w)
}
