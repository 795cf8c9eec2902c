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
  authd migrate up|down|status|version manage the database schema (needs only DATABASE_URL)
  authd healthcheck                    exit 0 when the authd on HTTP_ADDR answers /ready with 200
  authd version                        print the version, commit and build date (also --version)
  authd import kratos --from URL       copy identities, passwords and second factors from an
                                       Ory Kratos database (--dry-run, --batch-size N, --update,
                                       --kratos-rp-id ID)
  authd admin identities list|get|create|disable|enable|delete
                                       find and manage identities (--json; authd admin --help)
  authd admin sessions list|revoke ID  list or end an identity's sessions
  authd admin recovery-link ID         make a recovery link (--mail sends it to the owner)
  authd admin tokens create|revoke|list NAME
                                       the admin API's bearer tokens (ADMIN_TOKENS_FILE)
  authd --help                         show this help

Configuration comes from environment variables:

`)
	config.WriteHelp(w)
}
