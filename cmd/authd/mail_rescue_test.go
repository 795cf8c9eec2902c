package main

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/authd/authd/internal/testenv"
)

// TestMailMidSendIsRescuedAfterAnInstanceIsKilled: authd A is sending a
// recovery mail, the relay has read it and not yet answered, when A is
// SIGKILLed. Authd B, on the same database, sends it again: soon after the
// send's deadline rather than River's default hour later, with the
// Message-ID A was sending (so a relay or mail client that did get A's copy
// can tell the two apart), and with a link that still works. With River's
// default rescue delay the wait for B's copy runs out and the test fails.
func TestMailMidSendIsRescuedAfterAnInstanceIsKilled(t *testing.T) {
	dbURL, sink := databaseAndSink(t, "authd_test_rescue_")
	bin := authdBinary(t)
	// The recovery link lives for its default hour. MAIL_SEND_TIMEOUT is
	// short so that the rescue comes soon, and long enough that A's own
	// deadline cannot end the send before the kill does.
	settings := []string{"DEV_MODE=true", "DATABASE_URL=" + dbURL, "VALKEY_URL=" + testenv.ValkeyURL(),
		"VALKEY_KEY_PREFIX=" + testPrefix + "rescue:", "SMTP_HOST=" + sink.Host(), "SMTP_PORT=" + strconv.Itoa(sink.Port()),
		"ARGON2_MEMORY_KIB=256", "ARGON2_ITERATIONS=1", "LOG_LEVEL=info",
		"MAIL_SEND_TIMEOUT=3s", "MAIL_RETRY_BASE=100ms", "SHUTDOWN_DRAIN=0"}

	a, addrA := startBinary(t, bin, settings)
	email := strings.ToLower(testenv.RandomName("rescued")) + "@example.com"
	mustPost(t, "http://"+addrA+"/api/v1/auth/register", `{"identifier":"`+email+`","password":"correct horse battery"}`, http.StatusCreated)
	if _, err := sink.WaitFor(email, "Verify", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	// The verification mail's job is done, so the one A dies with is the
	// recovery mail's alone.
	waitMailJobsDone(t, dbURL)

	sink.HoldNext(1)
	mustPost(t, "http://"+addrA+"/api/v1/auth/recovery", `{"email":"`+email+`"}`, http.StatusAccepted)
	held, err := sink.WaitSeen(email, "Reset", 30*time.Second)
	if err != nil {
		t.Fatalf("A never sent the recovery mail: %v\n%s", err, a.out)
	}
	if err := syscall.Kill(a.PID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-a.Exited()
	killed := time.Now()
	// A died inside the attempt: its job is still running, so nothing but
	// a rescue can send the mail now.
	if states := mailJobs(t, dbURL); len(states) != 1 || states[0] != "running" {
		t.Fatalf("mail jobs left by the killed instance: %v, want one running (did A's own deadline end the send before the kill?)", states)
	}

	b, addrB := startBinary(t, bin, settings)
	// River's default would rescue after an hour; the fix after about 13 s
	// (MAIL_SEND_TIMEOUT + 10 s), then up to 30 s for the rescuer's round
	// and a few for the scheduler, the lapsed leadership of A included.
	got, err := sink.WaitFor(email, "Reset", 75*time.Second)
	if err != nil {
		t.Fatalf("the mail A was sending was not sent again: %v\nB's log:\n%s", err, b.out)
	}
	t.Logf("B delivered the mail %s after A was killed", time.Since(killed).Round(100*time.Millisecond))
	if id, want := got.Header.Get("Message-ID"), held.Header.Get("Message-ID"); id == "" || id != want {
		t.Errorf("B sent Message-ID %q, A was sending %q: want the same", id, want)
	}
	waitMailJobsDone(t, dbURL)
	if n := countSubject(sink.Messages(), email, "Reset"); n != 1 {
		t.Errorf("%d recovery mails delivered, want 1", n)
	}

	// The link still works: the token had not expired.
	tok, err := testenv.LinkToken(got.Text, "/recovery")
	if err != nil {
		t.Fatal(err)
	}
	mustPost(t, "http://"+addrB+"/api/v1/auth/recovery/complete", `{"token":"`+tok+`","password":"a brand new passphrase"}`, http.StatusNoContent)
	mustPost(t, "http://"+addrB+"/api/v1/auth/login", `{"identifier":"`+email+`","password":"a brand new passphrase"}`, http.StatusOK)
}

// startBinary runs `bin serve` on a free port with settings and waits for
// it to answer; at cleanup it is stopped with SIGTERM, by its PID, and
// must exit cleanly unless the test killed it.
func startBinary(t *testing.T, bin string, settings []string) (*process, string) {
	t.Helper()
	addr := freeAddr(t)
	return startBinaryAt(t, bin, append(settings, "PUBLIC_URL=http://"+addr), addr), addr
}

// startBinaryAt is startBinary on addr, which a stopped instance may have
// listened on before.
func startBinaryAt(t *testing.T, bin string, settings []string, addr string) *process {
	t.Helper()
	p := spawn(t, append(settings, "HTTP_ADDR="+addr), bin, "serve")
	waitHTTP(t, "http://"+addr+"/health", p)
	return p
}

// mailJobs lists the states of the mail jobs not yet completed.
func mailJobs(t *testing.T, dbURL string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT state::text FROM river_job WHERE kind = 'send_mail' AND state <> 'completed' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	states, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return states
}

// waitMailJobsDone polls until every mail job has completed.
func waitMailJobsDone(t *testing.T, dbURL string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); pendingMails(t, dbURL) > 0; {
		if time.Now().After(deadline) {
			t.Fatalf("mail jobs still unfinished after 30s: %v", mailJobs(t, dbURL))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// countSubject counts the messages to `to` whose subject contains part.
func countSubject(msgs []testenv.SinkMessage, to, part string) int {
	n := 0
	for _, m := range msgs {
		for _, r := range m.To {
			if strings.EqualFold(r, to) && strings.Contains(m.Subject, part) {
				n++
				break
			}
		}
	}
	return n
}

// databaseAndSink is a database (named from prefix) and an SMTP sink of
// the test's own, for instances whose mail the test follows; both are
// removed when it ends.
func databaseAndSink(t *testing.T, prefix string) (string, *testenv.SMTPSink) {
	t.Helper()
	dbURL, drop, err := testenv.CreateDatabase(testenv.RandomName(prefix))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(drop)
	sink, err := testenv.StartSMTPSink()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sink.Close() })
	return dbURL, sink
}
