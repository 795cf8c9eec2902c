package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/authd/authd/internal/adminapi"
	"github.com/authd/authd/internal/auth"
)

// The admin commands print a table for people, or with --json the admin
// API's own JSON for scripts.

func (c *adminCLI) printJSON(v any) error {
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (c *adminCLI) printIdentities(list []auth.ManagedIdentity, nextCursor string) error {
	if c.json {
		out := struct {
			Identities []adminapi.IdentityView `json:"identities"`
			NextCursor *string                 `json:"next_cursor"`
		}{Identities: make([]adminapi.IdentityView, 0, len(list))}
		for _, m := range list {
			out.Identities = append(out.Identities, adminapi.IdentityOf(m))
		}
		if nextCursor != "" {
			out.NextCursor = &nextCursor
		}
		return c.printJSON(out)
	}
	w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tEMAIL\tVERIFIED\tSTATE\tSECOND FACTOR\tCREATED")
	for _, m := range list {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", m.ID, m.Email, yesNo(m.EmailVerifiedAt != nil), m.State,
			yesNo(m.Factors.HasSecondFactor()), m.CreatedAt.UTC().Format(time.RFC3339))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if nextCursor != "" {
		fmt.Fprintf(c.stdout, "more: --cursor %s (or --all)\n", nextCursor)
	}
	return nil
}

func (c *adminCLI) printIdentity(m auth.ManagedIdentity) error {
	if c.json {
		return c.printJSON(adminapi.IdentityOf(m))
	}
	w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	rows := [][2]string{
		{"id", m.ID.String()},
		{"email", m.Email.String()},
		{"verified", yesNo(m.EmailVerifiedAt != nil)},
		{"username", m.Username},
		{"geo_location", m.GeoLocation},
		{"state", string(m.State)},
		{"password", yesNo(m.HasPassword())},
		{"totp", yesNo(m.Factors.TOTP)},
		{"passkeys", fmt.Sprint(m.Factors.Passkeys)},
		{"recovery_codes_left", fmt.Sprint(m.Factors.RecoveryCodesLeft)},
		{"created_at", m.CreatedAt.UTC().Format(time.RFC3339)},
		{"updated_at", m.UpdatedAt.UTC().Format(time.RFC3339)},
	}
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%s\n", r[0], r[1])
	}
	return w.Flush()
}

func (c *adminCLI) printSessions(list []auth.Session) error {
	if c.json {
		out := make([]adminapi.SessionView, 0, len(list))
		for _, s := range list {
			out = append(out, adminapi.SessionOf(s))
		}
		return c.printJSON(map[string]any{"sessions": out})
	}
	w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tCREATED\tLAST SEEN\tEXPIRES\tIP\tUSER AGENT")
	for _, s := range list {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", s.ID(), s.CreatedAt.UTC().Format(time.RFC3339), s.LastSeenAt.UTC().Format(time.RFC3339),
			s.ExpiresAt.UTC().Format(time.RFC3339), s.IP, s.UserAgent)
	}
	return w.Flush()
}

// printResult prints v as JSON, or line for people.
func (c *adminCLI) printResult(v any, line string) error {
	if c.json {
		return c.printJSON(v)
	}
	_, err := fmt.Fprintln(c.stdout, line)
	return err
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// describe turns a domain error into one line for a shell: its message
// and the fields it names.
func describe(err error) error {
	var e *auth.Error
	if !errors.As(err, &e) || e.Kind == auth.KindInternal || e.Kind == auth.KindUnavailable {
		return err // with its cause: an operator needs to know what failed
	}
	msg := e.Message
	if len(e.Fields) > 0 {
		var parts []string
		for _, f := range e.Fields {
			parts = append(parts, f.Field+": "+f.Message)
		}
		msg = strings.Join(parts, "; ")
	}
	return fmt.Errorf("%s [%s]", msg, e.Code)
}
