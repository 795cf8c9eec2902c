package testenv

import (
	"net"
	"net/smtp"
	"strings"
	"testing"
	"time"
)

func startTestSink(t *testing.T) *SMTPSink {
	t.Helper()
	s, err := StartSMTPSink()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// crlf turns a readable literal into wire format.
func crlf(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

const plainMsg = `From: Sender <sender@example.test>
To: bob@example.test
Subject: Plain hello
Content-Type: text/plain; charset=utf-8

Hello Bob,
open https://app.example.test/recovery?token=plainTOKEN123 now.
`

// multipartMsg is shaped like go-mail's output: multipart/alternative,
// quoted-printable, with soft line breaks cutting through the link and an
// encoded-word subject.
const multipartMsg = `From: authd <no-reply@example.test>
To: Alice <alice@example.test>
Subject: =?UTF-8?q?V=C3=A9rifiez_your_address?=
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b1"

--b1
Content-Transfer-Encoding: quoted-printable
Content-Type: text/plain; charset=UTF-8

Caf=C3=A9 link: https://app.example.test/verify?token=3Dabc=
DEF123&x=3D1
--b1
Content-Transfer-Encoding: quoted-printable
Content-Type: text/html; charset=UTF-8

<p><a href=3D"https://app.example.test/verify?token=3DabcDEF123&amp;x=3D1">=
verify</a></p>
--b1--
`

// base64Msg nests the alternative part inside multipart/mixed, with an
// attachment that must not be taken for the body.
const base64Msg = `From: a@example.test
To: carol@example.test
Subject: Nested
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: multipart/alternative; boundary="inner"

--inner
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

aGVsbG8g
d29ybGQ=
--inner
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: 7bit

<b>hello world</b>
--inner--
--outer
Content-Type: text/plain
Content-Disposition: attachment; filename="a.txt"

not the body
--outer--
`

func TestSMTPSinkReceives(t *testing.T) {
	s := startTestSink(t)
	tests := []struct {
		name        string
		to          string
		raw         string
		wantSubject string
		wantText    string
		wantHTML    string
		pathPart    string
		wantToken   string
	}{
		{"plain", "bob@example.test", plainMsg, "Plain hello", "Hello Bob,\r\nopen https://app.example.test/recovery?token=plainTOKEN123 now.\r\n", "", "/recovery", "plainTOKEN123"},
		{"multipart quoted-printable", "alice@example.test", multipartMsg, "Vérifiez your address",
			"Café link: https://app.example.test/verify?token=abcDEF123&x=1",
			`<p><a href="https://app.example.test/verify?token=abcDEF123&amp;x=1">verify</a></p>`, "/verify", "abcDEF123"},
		{"nested base64", "carol@example.test", base64Msg, "Nested", "hello world", "<b>hello world</b>", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := smtp.SendMail(s.Addr(), nil, "sender@example.test", []string{tt.to}, crlf(tt.raw)); err != nil {
				t.Fatalf("SendMail: %v", err)
			}
			// Recipient matching ignores case.
			m, err := s.WaitFor(strings.ToUpper(tt.to), "", time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if m.From != "sender@example.test" || len(m.To) != 1 || m.To[0] != tt.to {
				t.Errorf("envelope from=%q to=%v", m.From, m.To)
			}
			if m.Subject != tt.wantSubject {
				t.Errorf("Subject %q, want %q", m.Subject, tt.wantSubject)
			}
			if strings.TrimRight(m.Text, "\r\n") != strings.TrimRight(tt.wantText, "\r\n") {
				t.Errorf("Text %q, want %q", m.Text, tt.wantText)
			}
			if strings.TrimRight(m.HTML, "\r\n") != tt.wantHTML {
				t.Errorf("HTML %q, want %q", m.HTML, tt.wantHTML)
			}
			if len(m.Raw) == 0 || m.Header.Get("To") == "" {
				t.Errorf("Raw or Header missing")
			}
			if tt.pathPart != "" {
				for _, body := range []string{m.Text, m.HTML} {
					if body == "" {
						continue
					}
					if tok, err := LinkToken(body, tt.pathPart); err != nil || tok != tt.wantToken {
						t.Errorf("LinkToken = %q, %v; want %q", tok, err, tt.wantToken)
					}
				}
			}
			if got := s.Count(tt.to); got != 1 {
				t.Errorf("Count(%q) = %d, want 1", tt.to, got)
			}
		})
	}
	if got := len(s.Messages()); got != len(tests) {
		t.Errorf("Messages() has %d, want %d", got, len(tests))
	}
}

func TestSMTPSinkAuth(t *testing.T) {
	s := startTestSink(t)
	auth := smtp.PlainAuth("", "mailer", "s3cret", s.Host())
	if err := smtp.SendMail(s.Addr(), auth, "sender@example.test", []string{"dan@example.test"}, crlf(plainMsg)); err != nil {
		t.Fatalf("SendMail: %v", err)
	}
	m, err := s.WaitFor("dan@example.test", "", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if m.AuthUser != "mailer" {
		t.Errorf("AuthUser %q", m.AuthUser)
	}
}

func TestSMTPSinkWaitFor(t *testing.T) {
	s := startTestSink(t)
	go func() {
		time.Sleep(100 * time.Millisecond)
		_ = smtp.SendMail(s.Addr(), nil, "sender@example.test", []string{"bob@example.test"}, crlf(plainMsg))
	}()
	tests := []struct {
		name    string
		to      string
		subject string
		timeout time.Duration
		wantErr bool
	}{
		{"arrives later", "bob@example.test", "plain", 2 * time.Second, false},
		{"wrong subject", "bob@example.test", "invoice", 300 * time.Millisecond, true},
		{"wrong recipient", "eve@example.test", "", 300 * time.Millisecond, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := s.WaitFor(tt.to, tt.subject, tt.timeout)
			if !tt.wantErr {
				if err != nil || m.Subject != "Plain hello" {
					t.Fatalf("WaitFor: %+v, %v", m.Subject, err)
				}
				return
			}
			if err == nil {
				t.Fatal("WaitFor: no error")
			}
			// The error lists what arrived without leaking bodies.
			msg := err.Error()
			if !strings.Contains(msg, "Plain hello") || !strings.Contains(msg, "bob@example.test") || strings.Contains(msg, "plainTOKEN123") {
				t.Errorf("timeout error %q", msg)
			}
		})
	}
}

func TestSMTPSinkStopRestart(t *testing.T) {
	s := startTestSink(t)
	send := func() error {
		return smtp.SendMail(s.Addr(), nil, "sender@example.test", []string{"bob@example.test"}, crlf(plainMsg))
	}
	if err := send(); err != nil {
		t.Fatalf("SendMail: %v", err)
	}
	port := s.Port()

	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if err := send(); err == nil {
		t.Fatal("SendMail succeeded while stopped")
	}
	if got := s.Count("bob@example.test"); got != 1 {
		t.Errorf("after Stop Count = %d, want 1 (kept)", got)
	}

	if err := s.Restart(); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	if s.Port() != port || s.Host() != "127.0.0.1" {
		t.Errorf("Restart moved to %s, want port %d", s.Addr(), port)
	}
	if err := send(); err != nil {
		t.Fatalf("SendMail after Restart: %v", err)
	}
	if got := s.Count("bob@example.test"); got != 2 {
		t.Errorf("Count = %d, want 2", got)
	}

	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Restart(); err == nil {
		t.Error("Restart after Close succeeded")
	}
}

func TestSMTPSinkFailNext(t *testing.T) {
	s := startTestSink(t)
	s.FailNext(2)
	for i, wantErr := range []bool{true, true, false} {
		err := smtp.SendMail(s.Addr(), nil, "sender@example.test", []string{"bob@example.test"}, crlf(plainMsg))
		if wantErr && (err == nil || !strings.Contains(err.Error(), "451")) {
			t.Errorf("attempt %d: error %v, want a 451", i+1, err)
		}
		if !wantErr && err != nil {
			t.Errorf("attempt %d: %v", i+1, err)
		}
	}
	if got := s.Count("bob@example.test"); got != 1 {
		t.Errorf("Count = %d, want 1 (failed attempts are not kept)", got)
	}
	if got := len(s.Seen()); got != 3 {
		t.Errorf("len(Seen()) = %d, want 3 (failed attempts are seen)", got)
	}
}

// TestSMTPSinkHoldNext: a held message is read but never answered until
// the client hangs up; it is seen, not kept, and the next one goes through.
func TestSMTPSinkHoldNext(t *testing.T) {
	s := startTestSink(t)
	s.HoldNext(1)
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c, err := smtp.NewClient(conn, s.Host())
	if err != nil {
		t.Fatal(err)
	}
	replied := make(chan error, 1)
	go func() {
		replied <- func() error {
			if err := c.Mail("sender@example.test"); err != nil {
				return err
			}
			if err := c.Rcpt("bob@example.test"); err != nil {
				return err
			}
			w, err := c.Data()
			if err != nil {
				return err
			}
			if _, err := w.Write(crlf(plainMsg)); err != nil {
				return err
			}
			return w.Close() // waits for the reply to DATA
		}()
	}()
	held, err := s.WaitSeen("bob@example.test", "plain", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if held.From != "sender@example.test" || held.Header.Get("Subject") != "Plain hello" {
		t.Errorf("held message %+v", held)
	}
	select {
	case err := <-replied:
		t.Fatalf("a held DATA was answered: %v", err)
	default:
	}
	if n := len(s.Messages()); n != 0 {
		t.Errorf("%d messages kept while the only one is held", n)
	}
	// The client hangs up, as a killed sender's kernel does.
	conn.Close()
	if err := <-replied; err == nil {
		t.Error("the held DATA succeeded")
	}
	if err := smtp.SendMail(s.Addr(), nil, "sender@example.test", []string{"bob@example.test"}, crlf(plainMsg)); err != nil {
		t.Fatalf("SendMail after the hold: %v", err)
	}
	if got, seen := s.Count("bob@example.test"), len(s.Seen()); got != 1 || seen != 2 {
		t.Errorf("Count = %d, len(Seen()) = %d; want 1 kept of 2 seen", got, seen)
	}
	if _, err := s.WaitSeen("eve@example.test", "", 10*time.Millisecond); err == nil || !strings.Contains(err.Error(), "seen: ") {
		t.Errorf("WaitSeen for nobody = %v, want a timeout listing what was seen", err)
	}
}

// TestSMTPSinkCloseEndsAHold: Close ends a hold whose client never hangs up.
func TestSMTPSinkCloseEndsAHold(t *testing.T) {
	s := startTestSink(t)
	s.HoldNext(1)
	done := make(chan error, 1)
	go func() {
		done <- smtp.SendMail(s.Addr(), nil, "sender@example.test", []string{"bob@example.test"}, crlf(plainMsg))
	}()
	if _, err := s.WaitSeen("bob@example.test", "", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Error("the held send succeeded")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close left the held client waiting")
	}
}

func TestLinkToken(t *testing.T) {
	tests := []struct {
		name     string
		text     string
		pathPart string
		want     string
		wantErr  bool
	}{
		{"plain text", "Open https://x.test/recovery?token=abc123 now", "/recovery", "abc123", false},
		{"first matching url wins", "https://x.test/login\nhttps://x.test/verify?token=one\nhttps://x.test/verify?token=two", "/verify", "one", false},
		{"html entities", `<a href="https://x.test/verify?a=1&amp;token=t%2Bk">x</a>`, "/verify", "t+k", false},
		{"no matching url", "https://x.test/login", "/recovery", "", true},
		{"matching url without token", "https://x.test/recovery?code=1", "/recovery", "", true},
		{"no url at all", "nothing here", "/recovery", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LinkToken(tt.text, tt.pathPart)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("LinkToken = %q, %v; want %q (error %v)", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// A sink closed at once, before its server has begun to accept, stops:
// srv.Close alone left such a Serve accepting for ever, and a TestMain that
// ran no test hung until its timeout.
func TestSMTPSinkClosedAtOnceStops(t *testing.T) {
	for range 200 {
		s, err := StartSMTPSink()
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- s.Close() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("Close did not return")
		}
	}
}
