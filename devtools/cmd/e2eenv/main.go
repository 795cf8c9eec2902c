// Command e2eenv runs one authd for a browser test, with everything it
// needs of its own: a fresh PostgreSQL database, a Valkey key prefix, a
// Mailpit inbox on free loopback ports, and authd itself (built from this
// source, serving the web app from web/ on disk). It prints one JSON line
// once all of them answer:
//
//	{"base_url":"http://localhost:PORT","mailpit_url":"http://127.0.0.1:PORT"}
//
// authd listens on 127.0.0.1, but its PUBLIC_URL and the base_url the
// browser opens name the host localhost: WebAuthn refuses an IP address as
// the relying party ID, and localhost is a secure context, so passkeys work
// over plain HTTP there.
//
// and runs until its standard input closes (the test runner ended, or
// died) or it gets SIGTERM; then it stops authd and Mailpit and removes the
// database and the keys. Logs go to standard error.
//
//	e2eenv [-env KEY=VALUE]... [-web DIR]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/authd/authd/internal/app"
	"github.com/authd/authd/internal/config"
	"github.com/authd/authd/internal/logging"
	"github.com/authd/authd/internal/testenv"
	"github.com/authd/authd/internal/valkey"
)

// envFlags collects repeated -env KEY=VALUE flags.
type envFlags map[string]string

func (e envFlags) String() string { return fmt.Sprint(map[string]string(e)) }

func (e envFlags) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return errors.New("want KEY=VALUE")
	}
	e[k] = val
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2eenv:", err)
		os.Exit(1)
	}
}

func run() error {
	extra := envFlags{}
	flag.Var(extra, "env", "an authd setting KEY=VALUE (repeatable)")
	webDir := flag.String("web", "", "serve the web app from this directory (default: web/ of this repository)")
	flag.Parse()
	if *webDir == "" {
		*webDir = repoWeb()
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	// Standard input closing ends the run: a test runner that dies leaves
	// nothing behind.
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop()
	}()

	mailURL, smtpPort, cleanMail, err := startMailpit(ctx)
	if err != nil {
		return err
	}
	defer cleanMail()

	dbURL, drop, err := testenv.CreateDatabase(testenv.RandomName("authd_e2e_"))
	if err != nil {
		return err
	}
	defer drop()
	prefix := testenv.RandomName("authd-e2e-") + ":"
	defer deleteKeys(prefix)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	// The browser's origin, PUBLIC_URL and so the passkeys' RP ID: localhost
	// (an IP address is refused as RP ID), on the port listened on.
	base := "http://localhost:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	env := map[string]string{
		"DEV_MODE": "true", "AUTO_MIGRATE": "true", "LOG_LEVEL": "info",
		"DATABASE_URL": dbURL, "VALKEY_URL": testenv.ValkeyURL(), "VALKEY_KEY_PREFIX": prefix,
		"PUBLIC_URL": base, "WEB_UI_DIR": *webDir,
		"SMTP_HOST": "127.0.0.1", "SMTP_PORT": strconv.Itoa(smtpPort), "SMTP_TLS": "none",
		// Cheap hashing and fast mail: a browser test waits for people's
		// steps, not for Argon2id.
		"ARGON2_MEMORY_KIB": "1024", "ARGON2_ITERATIONS": "1", "ARGON2_PARALLELISM": "1",
		"MAIL_RETRY_BASE": "100ms", "MAIL_RETRY_MAX": "1s",
		// Nothing balances load in front of it: stop at once.
		"SHUTDOWN_DRAIN": "0",
	}
	maps.Copy(env, extra)
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		return err
	}
	log := logging.New(os.Stderr, cfg.LogLevel)
	a, err := app.New(ctx, cfg, log, app.Overrides{})
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.Start(ctx); err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, ln) }()

	line, _ := json.Marshal(map[string]string{"base_url": base, "mailpit_url": mailURL})
	fmt.Println(string(line))
	return <-served
}

// repoWeb finds web/ of the repository this command runs in.
func repoWeb() string {
	dir, _ := os.Getwd()
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "web", "index.html")); err == nil {
			return filepath.Join(d, "web")
		}
		if filepath.Dir(d) == d {
			return filepath.Join(dir, "web")
		}
	}
}

// startMailpit runs Mailpit on free loopback ports with its own database
// file, and returns its API's base URL, its SMTP port and how to stop it.
func startMailpit(ctx context.Context) (string, int, func(), error) {
	bin, err := testenv.MailpitBinary()
	if err != nil {
		return "", 0, nil, err
	}
	smtpPort, err := testenv.FreePort()
	if err != nil {
		return "", 0, nil, err
	}
	uiPort, err := testenv.FreePort()
	if err != nil {
		return "", 0, nil, err
	}
	dir, err := os.MkdirTemp("", "authd-e2e-mailpit-")
	if err != nil {
		return "", 0, nil, err
	}
	cmd := exec.Command(bin, "--smtp", "127.0.0.1:"+strconv.Itoa(smtpPort), "--listen", "127.0.0.1:"+strconv.Itoa(uiPort),
		"--disable-version-check", "-q", "--database", filepath.Join(dir, "mailpit.db"))
	cmd.Stderr = os.Stderr
	p, err := testenv.StartProcess(cmd)
	if err != nil {
		os.RemoveAll(dir)
		return "", 0, nil, err
	}
	clean := func() {
		_ = p.Stop(5 * time.Second)
		os.RemoveAll(dir)
	}
	url := "http://127.0.0.1:" + strconv.Itoa(uiPort)
	if err := p.WaitHTTP(ctx, url+"/api/v1/info", 30*time.Second); err != nil {
		clean()
		return "", 0, nil, err
	}
	return url, smtpPort, clean, nil
}

// deleteKeys removes this run's Valkey keys.
func deleteKeys(prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := valkey.Open(ctx, testenv.ValkeyURL(), valkey.Options{})
	if err != nil {
		slog.Warn("valkey keys not removed", "error", err)
		return
	}
	defer c.Close()
	if err := testenv.DeleteKeys(c, prefix); err != nil {
		slog.Warn("valkey keys not removed", "error", err)
	}
}
