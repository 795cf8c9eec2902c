package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/internal/adminapi"
	"github.com/authd/authd/internal/app"
	"github.com/authd/authd/internal/auth"
	"github.com/authd/authd/internal/config"
	"github.com/authd/authd/internal/logging"
)

// adminCmd runs `authd admin …`: the admin use cases from a shell, the
// same ones the admin API calls, each an audit event naming the user who
// ran it ("cli:<user>"). It builds authd as `serve` does, without serving
// or working the queues: mail it queues (a recovery link sent to the
// owner, a notice) goes out from the running instances. Tokens of the
// admin API are managed in ADMIN_TOKENS_FILE alone, without a database.
func adminCmd(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		adminUsage(stdout)
		return nil
	}
	group, rest := args[0], args[1:]
	if group == "tokens" {
		return tokensCmd(rest, getenv, stdout, stderr)
	}
	var action string
	switch group {
	case "identities", "sessions":
		if len(rest) == 0 {
			adminUsage(stderr)
			return errUsage
		}
		action, rest = rest[0], rest[1:]
	case "recovery-link":
	default:
		adminUsage(stderr)
		return errUsage
	}
	c, err := newAdminCLI(ctx, getenv, stdin, stdout, stderr)
	if err != nil {
		return err
	}
	defer c.close()
	switch group + " " + action {
	case "identities list":
		return c.listIdentities(ctx, rest)
	case "identities get":
		return c.getIdentity(ctx, rest)
	case "identities create":
		return c.createIdentity(ctx, rest)
	case "identities disable":
		return c.setState(ctx, rest, auth.StateInactive)
	case "identities enable":
		return c.setState(ctx, rest, auth.StateActive)
	case "identities delete":
		return c.deleteIdentity(ctx, rest)
	case "sessions list":
		return c.listSessions(ctx, rest)
	case "sessions revoke":
		return c.revokeSessions(ctx, rest)
	case "recovery-link ":
		return c.recoveryLink(ctx, rest)
	}
	adminUsage(stderr)
	return errUsage
}

func adminUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: authd admin COMMAND (with authd's environment: DATABASE_URL, VALKEY_URL, SECRET_KEY, ...)

  identities list [--email ADDRESS | --email-prefix PREFIX] [--username NAME] [--state active|inactive]
                  [--verified true|false] [--has-second-factor true|false]
                  [--created-after TIME] [--created-before TIME] [--page-size N] [--cursor C] [--all]
  identities get ID|ADDRESS
  identities create --email ADDRESS [--password-stdin | --password-hash HASH]
                    [--username NAME] [--geo-location PLACE] [--verified] [--inactive]
  identities disable ID|ADDRESS       refuse logins and end every session at once
  identities enable ID|ADDRESS
  identities delete ID|ADDRESS --yes  delete the identity (its audit trail stays, pseudonymised)
  sessions list ID|ADDRESS
  sessions revoke ID|ADDRESS [--session SESSION_ID]
                                      end every session of the identity, or one
  recovery-link ID|ADDRESS [--mail]   print a recovery link, or mail it to the owner
  tokens create NAME                  make an admin API token: printed once, its hash added to ADMIN_TOKENS_FILE
  tokens revoke NAME                  remove a token from ADMIN_TOKENS_FILE (refused at the next call)
  tokens list                         the tokens' names

Every command prints a table, or JSON with --json. Every call is an audit
event whose actor is cli:$USER. TIME is RFC 3339 (2026-01-02T15:04:05Z).
`)
}

// adminCLI is authd built for one admin command.
type adminCLI struct {
	app    *app.App
	by     auth.Actor
	stdin  io.Reader
	stdout io.Writer
	json   bool
}

func newAdminCLI(ctx context.Context, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) (*adminCLI, error) {
	cfg, err := config.Load(getenv)
	if err != nil {
		return nil, err
	}
	// A command only queues: the instances send, and it never changes the
	// schema under them.
	cfg.MailWorkers, cfg.AutoMigrate = 0, false
	cfg.AdminAddr = "" // a command serves no admin API
	level := "warn"
	if cfg.LogLevel == "debug" || cfg.LogLevel == "error" {
		level = cfg.LogLevel
	}
	a, err := app.New(ctx, cfg, logging.New(stderr, level), app.Overrides{})
	if err != nil {
		return nil, err
	}
	return &adminCLI{app: a, by: auth.Actor{Name: "cli:" + cliUser(getenv), Client: auth.NewClient("", "authd-cli", "")},
		stdin: stdin, stdout: stdout}, nil
}

func (c *adminCLI) close() { c.app.Close() }

// cliUser names who ran the command, for the audit trail: $USER (or
// $LOGNAME), kept to a short plain name.
func cliUser(getenv func(string) string) string {
	u := getenv("USER")
	if u == "" {
		u = getenv("LOGNAME")
	}
	u = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-' {
			return r
		}
		return -1
	}, u)
	if u == "" {
		return "unknown"
	}
	return u[:min(len(u), 64)]
}

// flags is a flag set whose flags may come before or after the
// positional arguments (`get ID --json`).
type flags struct {
	*flag.FlagSet
	json *bool
}

func newFlags(name string) *flags {
	fs := flag.NewFlagSet("authd admin "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &flags{FlagSet: fs, json: fs.Bool("json", false, "print JSON")}
}

// parse parses args and returns the positional ones.
func (f *flags) parse(c *adminCLI, args []string, positional int) ([]string, error) {
	var pos []string
	for {
		if err := f.Parse(args); err != nil {
			return nil, fmt.Errorf("%s: %w (see authd admin --help)", f.Name(), err)
		}
		args = f.Args()
		if len(args) == 0 {
			break
		}
		pos, args = append(pos, args[0]), args[1:]
	}
	if len(pos) != positional {
		return nil, fmt.Errorf("%s: want %d argument(s), got %d (see authd admin --help)", f.Name(), positional, len(pos))
	}
	c.json = *f.json
	return pos, nil
}

// identity finds the identity an argument names: an id, or an address.
func (c *adminCLI) identity(ctx context.Context, arg string) (auth.ManagedIdentity, error) {
	if id, err := uuid.Parse(arg); err == nil {
		return c.app.Service.GetIdentity(ctx, c.by, id)
	}
	return c.app.Service.IdentityByEmail(ctx, c.by, arg)
}

// target parses a command that names one identity (by id or address)
// and finds it.
func (c *adminCLI) target(ctx context.Context, f *flags, args []string) (auth.ManagedIdentity, error) {
	pos, err := f.parse(c, args, 1)
	if err != nil {
		return auth.ManagedIdentity{}, err
	}
	m, err := c.identity(ctx, pos[0])
	if err != nil {
		return auth.ManagedIdentity{}, describe(err)
	}
	return m, nil
}

func (c *adminCLI) listIdentities(ctx context.Context, args []string) error {
	f := newFlags("identities list")
	email := f.String("email", "", "exactly this address")
	prefix := f.String("email-prefix", "", "addresses that start with this")
	username := f.String("username", "", "exactly this username")
	state := f.String("state", "", "active or inactive")
	verified := f.String("verified", "", "true or false")
	second := f.String("has-second-factor", "", "true or false")
	after := f.String("created-after", "", "RFC 3339 time")
	before := f.String("created-before", "", "RFC 3339 time")
	pageSize := f.Int("page-size", 0, "identities per page")
	cursor := f.String("cursor", "", "the next_cursor of the page before")
	all := f.Bool("all", false, "every page")
	if _, err := f.parse(c, args, 0); err != nil {
		return err
	}
	q := auth.IdentityQuery{EmailPrefix: *prefix, Username: *username, State: auth.State(*state), Limit: *pageSize}
	var err error
	if *email != "" {
		if q.Email, err = auth.ParseEmail(*email); err != nil {
			return fmt.Errorf("--email: %w", err)
		}
	}
	if q.Verified, err = optionalBool("--verified", *verified); err != nil {
		return err
	}
	if q.HasSecondFactor, err = optionalBool("--has-second-factor", *second); err != nil {
		return err
	}
	if q.CreatedFrom, err = optionalTime("--created-after", *after); err != nil {
		return err
	}
	if q.CreatedUntil, err = optionalTime("--created-before", *before); err != nil {
		return err
	}
	if *cursor != "" {
		cur, ok := adminapi.DecodeIdentityCursor(*cursor)
		if !ok {
			return errors.New("--cursor: not a cursor this command printed")
		}
		q.After = cur
	}
	var list []auth.ManagedIdentity
	var next *auth.IdentityCursor
	for {
		page, err := c.app.Service.ListIdentities(ctx, c.by, q)
		if err != nil {
			return describe(err)
		}
		list, next = append(list, page.Identities...), page.Next
		if !*all || next == nil {
			break
		}
		q.After = next
	}
	nextCursor := ""
	if next != nil {
		nextCursor = adminapi.EncodeIdentityCursor(*next)
	}
	return c.printIdentities(list, nextCursor)
}

func optionalBool(name, v string) (*bool, error) {
	switch v {
	case "":
		return nil, nil
	case "true", "false":
		b := v == "true"
		return &b, nil
	}
	return nil, fmt.Errorf("%s: want true or false", name)
}

func optionalTime(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: want an RFC 3339 time such as 2026-01-02T15:04:05Z", name)
	}
	return t, nil
}

func (c *adminCLI) getIdentity(ctx context.Context, args []string) error {
	f := newFlags("identities get")
	m, err := c.target(ctx, f, args)
	if err != nil {
		return err
	}
	return c.printIdentity(m)
}

func (c *adminCLI) createIdentity(ctx context.Context, args []string) error {
	f := newFlags("identities create")
	email := f.String("email", "", "the address (required)")
	fromStdin := f.Bool("password-stdin", false, "read the password from the first line of standard input")
	hash := f.String("password-hash", "", "an Argon2 PHC string or a bcrypt hash made elsewhere")
	username := f.String("username", "", "the username")
	geo := f.String("geo-location", "", "the location")
	verified := f.Bool("verified", false, "mark the address verified")
	inactive := f.Bool("inactive", false, "create it disabled")
	if _, err := f.parse(c, args, 0); err != nil {
		return err
	}
	cmd := auth.NewIdentity{Email: *email, PasswordHash: *hash, Username: *username, GeoLocation: *geo, EmailVerified: *verified}
	if *inactive {
		cmd.State = auth.StateInactive
	}
	if *fromStdin {
		// Never an argument: arguments are visible to every user of the
		// machine (ps) and kept in shell histories.
		line, err := bufio.NewReader(c.stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("--password-stdin: %w", err)
		}
		cmd.Password = strings.TrimRight(line, "\r\n")
		if cmd.Password == "" {
			return errors.New("--password-stdin: standard input holds no password")
		}
	}
	m, err := c.app.Service.CreateIdentity(ctx, c.by, cmd)
	if err != nil {
		return describe(err)
	}
	return c.printIdentity(m)
}

func (c *adminCLI) setState(ctx context.Context, args []string, state auth.State) error {
	f := newFlags("identities " + map[auth.State]string{auth.StateActive: "enable", auth.StateInactive: "disable"}[state])
	m, err := c.target(ctx, f, args)
	if err != nil {
		return err
	}
	m, err = c.app.Service.UpdateIdentity(ctx, c.by, auth.IdentityChange{ID: m.ID, State: &state})
	if err != nil {
		return describe(err)
	}
	return c.printIdentity(m)
}

func (c *adminCLI) deleteIdentity(ctx context.Context, args []string) error {
	f := newFlags("identities delete")
	yes := f.Bool("yes", false, "confirm the deletion")
	pos, err := f.parse(c, args, 1)
	if err != nil {
		return err
	}
	if !*yes {
		return errors.New("identities delete: a deletion cannot be undone; add --yes to confirm it")
	}
	m, err := c.identity(ctx, pos[0])
	if err != nil {
		return describe(err)
	}
	if err := c.app.Service.DeleteIdentity(ctx, c.by, m.ID); err != nil {
		return describe(err)
	}
	return c.printResult(map[string]any{"deleted": m.ID}, "deleted "+m.ID.String())
}

func (c *adminCLI) listSessions(ctx context.Context, args []string) error {
	f := newFlags("sessions list")
	m, err := c.target(ctx, f, args)
	if err != nil {
		return err
	}
	list, err := c.app.Service.IdentitySessions(ctx, c.by, m.ID)
	if err != nil {
		return describe(err)
	}
	return c.printSessions(list)
}

func (c *adminCLI) revokeSessions(ctx context.Context, args []string) error {
	f := newFlags("sessions revoke")
	one := f.String("session", "", "end only the session with this id (from sessions list)")
	m, err := c.target(ctx, f, args)
	if err != nil {
		return err
	}
	if *one != "" {
		if err := c.app.Service.EndIdentitySession(ctx, c.by, m.ID, *one); err != nil {
			return describe(err)
		}
		return c.printResult(map[string]any{"ended": 1}, "ended 1 session")
	}
	n, err := c.app.Service.EndIdentitySessions(ctx, c.by, m.ID)
	if err != nil {
		return describe(err)
	}
	return c.printResult(map[string]any{"ended": n}, fmt.Sprintf("ended %d session(s)", n))
}

func (c *adminCLI) recoveryLink(ctx context.Context, args []string) error {
	f := newFlags("recovery-link")
	mail := f.Bool("mail", false, "mail the link to the identity's address instead of printing it")
	m, err := c.target(ctx, f, args)
	if err != nil {
		return err
	}
	link, err := c.app.Service.IssueRecoveryLink(ctx, c.by, m.ID, *mail)
	if err != nil {
		return describe(err)
	}
	if link.Mailed {
		return c.printResult(map[string]any{"mailed": true, "expires_at": link.ExpiresAt.UTC()},
			"mailed to "+m.Email.String()+"; it expires at "+link.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return c.printResult(map[string]any{"link": link.Link, "expires_at": link.ExpiresAt.UTC()}, link.Link)
}

// tokensCmd manages the admin API's tokens in ADMIN_TOKENS_FILE.
func tokensCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		adminUsage(stderr)
		return errUsage
	}
	cfg, err := config.LoadOnly(getenv, "ADMIN_TOKENS_FILE")
	if err != nil {
		return err
	}
	if cfg.AdminTokensFile == "" {
		return errors.New("ADMIN_TOKENS_FILE: set it to the token file of the admin API")
	}
	switch {
	case args[0] == "create" && len(args) == 2:
		token, err := adminapi.CreateToken(cfg.AdminTokensFile, args[1])
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, token)
		fmt.Fprintf(stderr, "token %q added to %s; it is shown this once: keep it in a secret store\n", args[1], cfg.AdminTokensFile)
		return nil
	case args[0] == "revoke" && len(args) == 2:
		if err := adminapi.RevokeToken(cfg.AdminTokensFile, args[1]); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "token %q revoked; running instances refuse it from their next call\n", args[1])
		return nil
	case args[0] == "list" && len(args) == 1:
		for _, name := range adminapi.TokenNames(cfg.AdminTokensFile) {
			fmt.Fprintln(stdout, name)
		}
		return nil
	}
	adminUsage(stderr)
	return errUsage
}
