package mailqueue

import (
	"bytes"
	"context"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/authd/authd/internal/auth"
	"github.com/authd/authd/internal/postgres"
	"github.com/authd/authd/internal/smtp"
	"github.com/authd/authd/internal/testenv"
	"github.com/authd/authd/migrations"
)

// testSecret seals the test queue's mails.
var testSecret = bytes.Repeat([]byte("k"), 32)

type noPurge struct{}

func (noPurge) PurgeExpired(context.Context, time.Time) (int64, error) { return 0, nil }

// startQueue runs a queue with workers over a fresh, migrated database,
// delivering through the real SMTP adapter to sink.
func startQueue(t *testing.T, sink *testenv.SMTPSink) *Queue {
	t.Helper()
	dbURL, drop, err := testenv.CreateDatabase(testenv.RandomName("authd_test_mailqueue_"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(drop)
	ctx := context.Background()
	db, err := postgres.Open(ctx, dbURL, postgres.PoolOptions{MaxConns: 8, QueryTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	m, err := postgres.NewMigrator(db, migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Up(ctx); err != nil {
		t.Fatal(err)
	}
	m.Close()

	mailer, err := smtp.New(smtp.Config{Host: sink.Host(), Port: sink.Port(), From: "authd <no-reply@example.test>", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	logs := &testenv.LogBuffer{}
	q, err := New(db.Pool(), mailer, noPurge{}, Config{
		Secret: testSecret, Workers: 2, SendTimeout: 5 * time.Second,
		RetryBase: 50 * time.Millisecond, RetryMax: 200 * time.Millisecond, GiveUpAfter: time.Hour,
		PollEvery: 100 * time.Millisecond,
	}, prometheus.NewRegistry(), slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := q.Stop(stopCtx); err != nil {
			t.Errorf("stop: %v", err)
		}
		if t.Failed() {
			t.Logf("queue log:\n%s", logs)
		}
	})
	return q
}

// waitSeen polls until the sink has seen n messages, or fails the test.
func waitSeen(t *testing.T, sink *testenv.SMTPSink, n int) []testenv.SinkMessage {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		if seen := sink.Seen(); len(seen) >= n {
			return seen
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sink saw %d messages within 30s, want %d", len(sink.Seen()), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// msgID is a Message-ID as messageID and the SMTP adapter make it: the
// 128-bit hash in hex at the sender's domain.
var msgID = regexp.MustCompile(`^<[0-9a-f]{32}@example\.test>$`)

// TestMessageIDSameOnEveryAttempt: a mail whose first attempt the relay
// refuses with a temporary error is sent again with the same Message-ID,
// and a second job with the very same mail gets another.
func TestMessageIDSameOnEveryAttempt(t *testing.T) {
	sink, err := testenv.StartSMTPSink()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sink.Close() })
	q := startQueue(t, sink)
	const to = "alice.liddell@example.org"
	mail := auth.Mail{To: to, Template: "recovery", Data: map[string]string{
		"Product": "authd", "Link": "https://app.example.test/recovery?token=tok_123456789abcdef", "Expiry": "1 hour", "Email": to}}

	sink.FailNext(1)
	if err := q.Outbox(nil).Queue(context.Background(), mail); err != nil {
		t.Fatal(err)
	}
	seen := waitSeen(t, sink, 2)
	if kept := sink.Messages(); len(kept) != 1 {
		t.Fatalf("%d messages delivered after one refusal, want 1", len(kept))
	}
	first, retry := seen[0].Header.Get("Message-ID"), seen[1].Header.Get("Message-ID")
	if first != retry {
		t.Errorf("Message-ID %q on the refused attempt, %q on the retry: want the same", first, retry)
	}
	if !msgID.MatchString(first) {
		t.Errorf("Message-ID %q, want <32 hex digits@example.test>", first)
	}
	if strings.Contains(strings.ToLower(first), "alice") || strings.Contains(first, "example.org") {
		t.Errorf("Message-ID %q reveals the recipient", first)
	}

	if err := q.Outbox(nil).Queue(context.Background(), mail); err != nil {
		t.Fatal(err)
	}
	seen = waitSeen(t, sink, 3)
	if other := seen[2].Header.Get("Message-ID"); other == first || !msgID.MatchString(other) {
		t.Errorf("a second job with the same mail has Message-ID %q, the first %q: want another of the same form", other, first)
	}
}

// TestMessageIDDependsOnTheJobOnly: what a job never changes (its ID and
// sealed arguments) fixes its Message-ID; either one changed gives another.
func TestMessageIDDependsOnTheJobOnly(t *testing.T) {
	base := messageID(7, []byte("sealed-a"))
	tests := []struct {
		name   string
		id     int64
		sealed string
		same   bool
	}{
		{"the same job again", 7, "sealed-a", true},
		{"another job ID", 8, "sealed-a", false},
		{"other sealed arguments", 7, "sealed-b", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := messageID(tt.id, []byte(tt.sealed)); (got == base) != tt.same {
				t.Errorf("messageID = %q, the first job's %q; want the same: %v", got, base, tt.same)
			}
		})
	}
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(base) {
		t.Errorf("messageID = %q, want 32 hex digits", base)
	}
}

// TestRescueSoonAfterTheDeadline: River rescues a send whose instance died
// within seconds of the send's deadline, not after its one-hour default,
// and never while a live instance may still be running a job of ours.
func TestRescueSoonAfterTheDeadline(t *testing.T) {
	for _, send := range []time.Duration{100 * time.Millisecond, 10 * time.Second, 5 * time.Minute} {
		rc := riverConfig(Config{SendTimeout: send}, slog.New(slog.DiscardHandler))
		if rc.RescueStuckJobsAfter <= rc.JobTimeout || rc.JobTimeout < send {
			t.Errorf("SendTimeout %s: RescueStuckJobsAfter %s, JobTimeout %s: want a rescue only after every deadline", send, rc.RescueStuckJobsAfter, rc.JobTimeout)
		}
		if rc.RescueStuckJobsAfter > send+15*time.Second {
			t.Errorf("SendTimeout %s: RescueStuckJobsAfter %s, want at most 15s past the send's deadline", send, rc.RescueStuckJobsAfter)
		}
		// River itself accepts the pair.
		if _, err := river.NewClient(riverpgxv5.New(nil), rc); err != nil {
			t.Errorf("SendTimeout %s: River refuses the configuration: %v", send, err)
		}
	}
}
