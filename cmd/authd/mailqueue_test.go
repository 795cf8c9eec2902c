package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/authd/authd/internal/testenv"
)

// TestMailSurvivesAProcessThatIsKilledBeforeSending: an authd process that
// only queues (MAIL_WORKERS=0, so it can never send) commits a recovery
// token and its mails and is SIGKILLed, with no chance to clean up. The
// next instance delivers each of those mails exactly once.
func TestMailSurvivesAProcessThatIsKilledBeforeSending(t *testing.T) {
	dbURL, sink := databaseAndSink(t, "authd_test_crash_")
	settings := envMap("DATABASE_URL", dbURL, "VALKEY_KEY_PREFIX", testPrefix+"crash:",
		"SMTP_HOST", sink.Host(), "SMTP_PORT", strconv.Itoa(sink.Port()), "MAIL_RETRY_BASE", "100ms")

	addr := freeAddr(t)
	var environ []string
	for k, v := range settings {
		environ = append(environ, k+"="+v)
	}
	doomed := spawn(t, append(environ, "HTTP_ADDR="+addr, "PUBLIC_URL=http://"+addr, "MAIL_WORKERS=0"), authdBinary(t), "serve")
	waitHTTP(t, "http://"+addr+"/health", doomed)
	email := strings.ToLower(testenv.RandomName("killed")) + "@example.com"
	mustPost(t, "http://"+addr+"/api/v1/auth/register", `{"identifier":"`+email+`","password":"correct horse battery"}`, http.StatusCreated)
	mustPost(t, "http://"+addr+"/api/v1/auth/recovery", `{"email":"`+email+`"}`, http.StatusAccepted)
	if err := syscall.Kill(doomed.PID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-doomed.Exited()
	var exit *exec.ExitError
	if err := doomed.Stop(0); !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the first instance was not killed: %v", err)
	}
	if n := pendingMails(t, dbURL); n != 2 {
		t.Fatalf("%d mail jobs queued by the killed instance, want 2 (the verification mail and the recovery request)", n)
	}

	addr2 := freeAddr(t)
	settings["HTTP_ADDR"], settings["PUBLIC_URL"] = addr2, "http://"+addr2
	start(t, func(k string) string { return settings[k] }, addr2)
	for _, subject := range []string{"Verify", "Reset"} {
		if _, err := sink.WaitFor(email, subject, 30*time.Second); err != nil {
			t.Errorf("after the crash: %v", err)
		}
	}
	// Every job is finished: none can send again. Then exactly one of each.
	deadline := time.Now().Add(30 * time.Second)
	for pendingMails(t, dbURL) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := pendingMails(t, dbURL); n > 0 {
		t.Fatalf("%d mail jobs still unfinished", n)
	}
	if n := sink.Count(email); n != 2 {
		t.Errorf("%d mails delivered to %s, want exactly 2", n, email)
	}
}

// pendingMails counts mail jobs not yet completed: mails, and requests
// for a recovery or verification link that queue their mail when answered.
func pendingMails(t *testing.T, dbURL string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind IN ('send_mail', 'answer_mail_request') AND state <> 'completed'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func mustPost(t *testing.T, url, body string, want int) {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("POST %s = %d, want %d", url, resp.StatusCode, want)
	}
}
