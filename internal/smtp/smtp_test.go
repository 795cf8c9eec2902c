package smtp

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/authd/authd/internal/testenv"
)

const (
	testToken = "tok_Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eA"
	testFrom  = "authd <no-reply@example.test>"
	testTo    = "alice@example.test"
)

// sampleData is what the callers of each template pass; every template in
// templates/ must have an entry (TestRenderCoversEveryTemplate).
func sampleData(name string) map[string]any {
	email := "<script>alert(1)</script>@example.test"
	switch name {
	case "recovery":
		return map[string]any{"Product": "authd", "Link": "https://app.example.test/recovery?token=" + testToken, "Expiry": "1 hour", "Email": email}
	case "verification":
		return map[string]any{"Product": "authd", "Link": "https://app.example.test/verify?token=" + testToken, "Code": "428613", "Expiry": "24 hours", "CodeExpiry": "15 minutes", "Email": email}
	case "password_changed":
		return map[string]any{"Product": "authd", "Email": email, "When": "2 January 2026 15:04 UTC"}
	case "account_exists":
		return map[string]any{"Product": "authd", "Email": email, "Link": "https://app.example.test/login"}
	case "username_taken":
		return map[string]any{"Product": "authd", "Email": email, "Username": "<b>ann</b>", "Link": "https://app.example.test/register"}
	case "second_factor_added", "second_factor_removed", "recovery_code_used":
		return map[string]any{"Product": "authd", "Email": email, "Factor": "A passkey named “<i>Laptop</i>”", "When": "2 January 2026 15:04 UTC"}
	case "second_factors_reset":
		return map[string]any{"Product": "authd", "Email": email, "Factor": "every second factor", "When": "2 January 2026 15:04 UTC"}
	case "account_deleted":
		return map[string]any{"Product": "authd", "Email": email, "When": "2 January 2026 15:04 UTC"}
	case "email_change":
		return map[string]any{"Product": "authd", "Email": email, "OldEmail": "<i>old</i>@example.test",
			"Link": "https://app.example.test/verify?token=" + testToken, "Expiry": "24 hours"}
	case "email_change_requested":
		return map[string]any{"Product": "authd", "Email": email, "NewEmail": "<i>new</i>@example.test",
			"Link": "https://app.example.test/email/cancel?token=" + testToken, "Expiry": "168 hours", "When": "2 January 2026 15:04 UTC"}
	case "email_change_taken":
		return map[string]any{"Product": "authd", "Email": email, "Link": "https://app.example.test/login"}
	}
	return nil
}

func newTestMailer(t *testing.T, cfg Config) *Mailer {
	t.Helper()
	if cfg.From == "" {
		cfg.From = testFrom
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m
}

func startSink(t *testing.T) *testenv.SMTPSink {
	t.Helper()
	s, err := testenv.StartSMTPSink()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func recoveryMsg() Message {
	return Message{To: testTo, Template: "recovery", Data: sampleData("recovery")}
}

func TestRender(t *testing.T) {
	m := newTestMailer(t, Config{})
	tests := []struct {
		name     string
		contains []string // in the text body
	}{
		{"recovery", []string{"authd", "https://app.example.test/recovery?token=" + testToken, "1 hour"}},
		{"verification", []string{"authd", "https://app.example.test/verify?token=" + testToken, "428613", "link expires in 24 hours", "code expires in 15 minutes"}},
		{"password_changed", []string{"authd", "2 January 2026 15:04 UTC"}},
		{"account_exists", []string{"authd", "https://app.example.test/login"}},
		{"username_taken", []string{"authd", "https://app.example.test/register", "<b>ann</b>"}},
		{"second_factor_added", []string{"authd", "A passkey named “<i>Laptop</i>” was added", "2 January 2026 15:04 UTC"}},
		{"second_factor_removed", []string{"authd", "was removed", "2 January 2026 15:04 UTC"}},
		{"recovery_code_used", []string{"authd", "A recovery code was used", "Each code works once"}},
		{"second_factors_reset", []string{"authd", "an administrator removed every second factor", "2 January 2026 15:04 UTC"}},
		{"account_deleted", []string{"authd", "was deleted on 2 January 2026 15:04 UTC"}},
		{"email_change", []string{"authd", "https://app.example.test/verify?token=" + testToken, "<i>old</i>@example.test", "expires in 24 hours"}},
		{"email_change_requested", []string{"authd", "https://app.example.test/email/cancel?token=" + testToken, "<i>new</i>@example.test",
			"signs out every session", "works for 168 hours"}},
		{"email_change_taken", []string{"authd", "https://app.example.test/login", "already exists"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := sampleData(tt.name)
			subject, text, html, err := m.Render(Message{To: testTo, Template: tt.name, Data: data})
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if subject == "" || strings.ContainsAny(subject, "\r\n") {
				t.Errorf("subject %q: want one non-empty line", subject)
			}
			if !strings.Contains(subject, "authd") {
				t.Errorf("subject %q does not name the product", subject)
			}
			if strings.Contains(subject, testToken) {
				t.Errorf("subject carries the token")
			}
			for _, want := range tt.contains {
				if !strings.Contains(text, want) {
					t.Errorf("text lacks %q:\n%s", want, text)
				}
			}
			if strings.HasPrefix(text, "\n") {
				t.Errorf("text starts with a blank line (subject block leaves whitespace)")
			}
			// The token may appear only inside the link.
			if n, links := strings.Count(text, testToken), strings.Count(text, "?token="+testToken); n != links {
				t.Errorf("token appears %d times in text, only %d of them in a link", n, links)
			}
			if link, ok := data["Link"].(string); ok && !strings.Contains(html, `href="`+link+`"`) {
				t.Errorf("html lacks href to %q", link)
			}
			if strings.Contains(html, "<script>") || !strings.Contains(html, "&lt;script&gt;") {
				t.Errorf("html does not escape the e-mail address")
			}
			if !strings.Contains(html, "<title>"+subject+"</title>") {
				t.Errorf("html title is not the subject %q", subject)
			}
		})
	}
}

func TestRenderCoversEveryTemplate(t *testing.T) {
	m := newTestMailer(t, Config{})
	for _, name := range m.Templates() {
		if sampleData(name) == nil {
			t.Errorf("template %q has no sample data in this test", name)
		}
	}
	if got := len(m.Templates()); got != 13 {
		t.Errorf("found %d templates, want 13: %v", got, m.Templates())
	}
}

func TestRenderErrors(t *testing.T) {
	m := newTestMailer(t, Config{})
	tests := []struct {
		name    string
		msg     Message
		wantErr string
	}{
		{"unknown template", Message{Template: "nope", Data: map[string]any{}}, `unknown template "nope"`},
		{"missing key", Message{Template: "recovery", Data: map[string]any{"Product": "authd", "Email": "a@b.test", "Expiry": "1 hour"}}, "Link"},
		{"nil data", Message{Template: "password_changed"}, "password_changed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, _, err := m.Render(tt.msg)
			if err == nil {
				t.Fatal("Render: no error")
			}
			if !strings.HasPrefix(err.Error(), "smtp: render: ") || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q: want prefix %q and %q", err, "smtp: render: ", tt.wantErr)
			}
			if !Permanent(err) {
				t.Errorf("render error is not Permanent")
			}
		})
	}
}

func TestNewConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		want    Config // checked when wantErr == ""
		wantErr string
	}{
		{"defaults", Config{}, Config{Host: "127.0.0.1", Port: 1025, TLS: "none", From: DefaultFrom, Timeout: 10 * time.Second}, ""},
		{"starttls port", Config{Host: "smtp.example.test", TLS: "STARTTLS"}, Config{Host: "smtp.example.test", Port: 587, TLS: "starttls", From: DefaultFrom, Timeout: 10 * time.Second}, ""},
		{"implicit tls port", Config{Host: "smtp.example.test", TLS: "tls", Username: "u", Password: "p"}, Config{Host: "smtp.example.test", Port: 465, TLS: "tls", Username: "u", Password: "p", From: DefaultFrom, Timeout: 10 * time.Second}, ""},
		{"auth on loopback without tls", Config{Host: "localhost", Username: "u", Password: "p", From: testFrom}, Config{Host: "localhost", Port: 1025, TLS: "none", Username: "u", Password: "p", From: testFrom, Timeout: 10 * time.Second}, ""},
		{"unknown tls mode", Config{TLS: "ssl"}, Config{}, `unknown TLS mode "ssl"`},
		{"port out of range", Config{Port: 70000}, Config{}, "port 70000"},
		{"negative timeout", Config{Timeout: -time.Second}, Config{}, "negative timeout"},
		{"bad from", Config{From: "not an address"}, Config{}, "From"},
		{"password without username", Config{Password: "s3cret-pw"}, Config{}, "without username"},
		{"auth to remote host without tls", Config{Host: "smtp.example.test", Username: "u", Password: "s3cret-pw"}, Config{}, "without TLS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := New(tt.cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New: error %v, want one containing %q", err, tt.wantErr)
				}
				if tt.cfg.Password != "" && strings.Contains(err.Error(), tt.cfg.Password) {
					t.Errorf("error leaks the password")
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if m.cfg != tt.want {
				t.Errorf("config\n got %+v\nwant %+v", m.cfg, tt.want)
			}
		})
	}
}

func TestNewBrokenTemplates(t *testing.T) {
	good := func() fstest.MapFS {
		return fstest.MapFS{
			"ok.txt":  {Data: []byte(`{{define "subject"}}Hi{{end}}Body {{.Link}}`)},
			"ok.html": {Data: []byte(`<p>{{.Link}}</p>`)},
		}
	}
	tests := []struct {
		name    string
		edit    func(fstest.MapFS)
		wantErr string
	}{
		{"valid", func(fstest.MapFS) {}, ""},
		{"text does not parse", func(f fstest.MapFS) {
			f["bad.txt"] = &fstest.MapFile{Data: []byte(`{{define "subject"}}x{{end}}{{.Link`)}
			f["bad.html"] = f["ok.html"]
		}, `"bad"`},
		{"html does not parse", func(f fstest.MapFS) {
			f["bad.txt"] = f["ok.txt"]
			f["bad.html"] = &fstest.MapFile{Data: []byte(`<p>{{if}}</p>`)}
		}, `"bad"`},
		{"no subject", func(f fstest.MapFS) {
			f["bad.txt"] = &fstest.MapFile{Data: []byte(`body`)}
			f["bad.html"] = f["ok.html"]
		}, `"bad"`},
		{"html without text", func(f fstest.MapFS) { f["bad.html"] = f["ok.html"] }, `"bad"`},
		{"text without html", func(f fstest.MapFS) { f["bad.txt"] = f["ok.txt"] }, `"bad"`},
		{"no templates", func(f fstest.MapFS) { delete(f, "ok.txt"); delete(f, "ok.html") }, "no templates"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := good()
			tt.edit(fsys)
			_, err := newMailer(Config{}, fsys)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("newMailer: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("newMailer: error %v, want one naming %s", err, tt.wantErr)
			}
		})
	}
}

func TestSendDelivers(t *testing.T) {
	sink := startSink(t)
	m := newTestMailer(t, Config{Host: sink.Host(), Port: sink.Port(), Timeout: 5 * time.Second})
	msg := recoveryMsg()
	if err := m.Send(context.Background(), msg); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got, err := sink.WaitFor(testTo, "password", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	link := msg.Data["Link"].(string)
	if !strings.Contains(got.Text, link) {
		t.Errorf("decoded text lacks the link:\n%s", got.Text)
	}
	if !strings.Contains(got.Text, "1 hour") {
		t.Errorf("decoded text lacks the expiry")
	}
	if !strings.Contains(got.HTML, link) || strings.Contains(got.HTML, "<script>") {
		t.Errorf("decoded html lacks the link or is not escaped:\n%s", got.HTML)
	}
	if tok, err := testenv.LinkToken(got.Text, "/recovery"); err != nil || tok != testToken {
		t.Errorf("LinkToken = %q, %v; want %q", tok, err, testToken)
	}
	if got.From != "no-reply@example.test" {
		t.Errorf("envelope from %q", got.From)
	}
	if got.AuthUser != "" {
		t.Errorf("authenticated as %q without a username", got.AuthUser)
	}

	h := got.Header
	if from, err := h.AddressList("From"); err != nil || len(from) != 1 || from[0].Name != "authd" || from[0].Address != "no-reply@example.test" {
		t.Errorf("From header %q", h.Get("From"))
	}
	if _, err := h.Date(); err != nil {
		t.Errorf("Date header: %v", err)
	}
	if id := h.Get("Message-ID"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@example.test>") {
		t.Errorf("Message-ID %q", id)
	}
	if h.Get("Auto-Submitted") != "auto-generated" {
		t.Errorf("Auto-Submitted %q", h.Get("Auto-Submitted"))
	}

	// The structure the spec promises: multipart/alternative, text first.
	mediaType, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mediaType != "multipart/alternative" {
		t.Fatalf("Content-Type %q (%v)", h.Get("Content-Type"), err)
	}
	parsed, err := mail.ReadMessage(bytes.NewReader(got.Raw))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(parsed.Body, params["boundary"])
	var types []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		mt, ps, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if !strings.EqualFold(ps["charset"], "utf-8") {
			t.Errorf("%s part charset %q", mt, ps["charset"])
		}
		types = append(types, mt)
	}
	if strings.Join(types, ",") != "text/plain,text/html" {
		t.Errorf("parts %v, want text/plain then text/html", types)
	}
}

func TestSendAuthPlainOnLoopback(t *testing.T) {
	sink := startSink(t)
	m := newTestMailer(t, Config{Host: sink.Host(), Port: sink.Port(), Username: "mailer", Password: "s3cret", Timeout: 5 * time.Second})
	if err := m.Send(context.Background(), recoveryMsg()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got, err := sink.WaitFor(testTo, "", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got.AuthUser != "mailer" {
		t.Errorf("AuthUser %q, want mailer", got.AuthUser)
	}
}

func TestSendTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	tests := []struct {
		mode string
	}{
		{TLSStartTLS},
		{TLSImplicit},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			be := &testBackend{}
			port := startTestServer(t, be, tt.mode, cert)
			m := newTestMailer(t, Config{Host: "127.0.0.1", Port: port, TLS: tt.mode, Username: "mailer", Password: "s3cret", Timeout: 5 * time.Second})
			m.tlsConfig.RootCAs = pool
			if err := m.Send(context.Background(), recoveryMsg()); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := be.messages()
			if len(got) != 1 {
				t.Fatalf("server got %d messages", len(got))
			}
			if !got[0].tls || got[0].authUser != "mailer" {
				t.Errorf("tls=%v authUser=%q, want encrypted and authenticated", got[0].tls, got[0].authUser)
			}
		})
	}
}

func TestSendRefusesWithoutTLS(t *testing.T) {
	// The sink speaks plain SMTP and offers no STARTTLS: both TLS modes
	// must fail rather than fall back to clear text.
	sink := startSink(t)
	for _, mode := range []string{TLSStartTLS, TLSImplicit} {
		t.Run(mode, func(t *testing.T) {
			m := newTestMailer(t, Config{Host: sink.Host(), Port: sink.Port(), TLS: mode, Username: "mailer", Password: "s3cret", Timeout: 2 * time.Second})
			start := time.Now()
			err := m.Send(context.Background(), recoveryMsg())
			if err == nil {
				t.Fatal("Send succeeded without TLS")
			}
			if time.Since(start) > 2*time.Second {
				t.Errorf("took %s", time.Since(start))
			}
			if sink.Count(testTo) != 0 {
				t.Errorf("the message was delivered")
			}
		})
	}
}

func TestSendFailures(t *testing.T) {
	closedPort := func(t *testing.T) int {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
		return port
	}
	// silentPort accepts connections and never answers, like a firewall
	// that swallows packets or a wedged relay.
	silentPort := func(t *testing.T) int {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var conns []net.Conn
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
			}
		}()
		t.Cleanup(func() {
			_ = ln.Close()
			mu.Lock()
			defer mu.Unlock()
			for _, c := range conns {
				_ = c.Close()
			}
		})
		return ln.Addr().(*net.TCPAddr).Port
	}

	tests := []struct {
		name    string
		port    func(*testing.T) int
		timeout time.Duration
		ctx     func() (context.Context, context.CancelFunc)
		within  time.Duration
		wantIs  error
	}{
		{"closed port", closedPort, 2 * time.Second, nil, 2 * time.Second, nil},
		{"silent server, cfg timeout", silentPort, 300 * time.Millisecond, nil, 2 * time.Second, context.DeadlineExceeded},
		{"silent server, ctx deadline", silentPort, 10 * time.Second, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 300*time.Millisecond)
		}, 2 * time.Second, context.DeadlineExceeded},
		{"silent server, ctx canceled midway", silentPort, 10 * time.Second, func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(200*time.Millisecond, cancel)
			return ctx, cancel
		}, 2 * time.Second, context.Canceled},
		{"ctx canceled before", silentPort, 10 * time.Second, func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, 100 * time.Millisecond, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newTestMailer(t, Config{Host: "127.0.0.1", Port: tt.port(t), Timeout: tt.timeout})
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if tt.ctx != nil {
				ctx, cancel = tt.ctx()
			}
			defer cancel()
			start := time.Now()
			err := m.Send(ctx, recoveryMsg())
			elapsed := time.Since(start)
			if err == nil {
				t.Fatal("Send: no error")
			}
			t.Logf("after %s: %v", elapsed.Round(time.Millisecond), err)
			if elapsed > tt.within {
				t.Errorf("Send took %s, want under %s", elapsed, tt.within)
			}
			if !strings.HasPrefix(err.Error(), "smtp: send: ") {
				t.Errorf("error %q lacks the smtp: send: prefix", err)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("error carries the token: %v", err)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v is not %v", err, tt.wantIs)
			}
			if Permanent(err) {
				t.Errorf("a transport failure is Permanent: %v", err)
			}
		})
	}
}

func TestSendServerReplies(t *testing.T) {
	tests := []struct {
		name          string
		setup         func(*testing.T) (port int, check func(*testing.T, error))
		wantPermanent bool
	}{
		{"451 then success (FailNext)", func(t *testing.T) (int, func(*testing.T, error)) {
			sink := startSink(t)
			sink.FailNext(1)
			return sink.Port(), func(t *testing.T, _ error) {
				if sink.Count(testTo) != 0 {
					t.Errorf("failed message was kept")
				}
			}
		}, false},
		{"550 recipient rejected", func(t *testing.T) (int, func(*testing.T, error)) {
			be := &testBackend{rcptErr: &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "no such user"}}
			return startTestServer(t, be, TLSNone, tls.Certificate{}), nil
		}, true},
		{"554 reply quoting the body", func(t *testing.T) (int, func(*testing.T, error)) {
			be := &testBackend{dataErr: func(raw []byte) error {
				// A filter that quotes the offending URL back, token and all.
				return &gosmtp.SMTPError{Code: 554, EnhancedCode: gosmtp.EnhancedCode{5, 7, 1}, Message: "blocked URL " + linkIn(raw)}
			}}
			return startTestServer(t, be, TLSNone, tls.Certificate{}), func(t *testing.T, err error) {
				if !strings.Contains(err.Error(), "[redacted]") {
					t.Errorf("the server's reply did not reach the error: %v", err)
				}
			}
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port, check := tt.setup(t)
			m := newTestMailer(t, Config{Host: "127.0.0.1", Port: port, Timeout: 5 * time.Second})
			err := m.Send(context.Background(), recoveryMsg())
			if err == nil {
				t.Fatal("Send: no error")
			}
			t.Logf("error: %v", err)
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("error carries the token: %v", err)
			}
			if !strings.HasPrefix(err.Error(), "smtp: send: ") {
				t.Errorf("error %q lacks the smtp: send: prefix", err)
			}
			if got := Permanent(err); got != tt.wantPermanent {
				t.Errorf("Permanent = %v, want %v (%v)", got, tt.wantPermanent, err)
			}
			if check != nil {
				check(t, err)
			}
			if !tt.wantPermanent {
				if err := m.Send(context.Background(), recoveryMsg()); err != nil {
					t.Errorf("retry: %v", err)
				}
			}
		})
	}
}

func TestSendBadRecipient(t *testing.T) {
	m := newTestMailer(t, Config{Port: 1})
	err := m.Send(context.Background(), Message{To: "not an address\r\nBcc: x@y.test", Template: "recovery", Data: sampleData("recovery")})
	if err == nil || !Permanent(err) {
		t.Fatalf("Send: %v, want a permanent error", err)
	}
}

// TestSendMessageID: a caller's MessageID becomes the Message-ID at the
// sender's domain, the same on every Send, so that a mail sent again can
// be recognised; without one each Send gets a random one; anything that is
// not a dot-atom is refused before a connection is made.
func TestSendMessageID(t *testing.T) {
	sink := startSink(t)
	m := newTestMailer(t, Config{Host: sink.Host(), Port: sink.Port(), Timeout: 5 * time.Second})
	send := func(t *testing.T, id string) string {
		t.Helper()
		msg := recoveryMsg()
		msg.MessageID = id
		before := len(sink.Messages())
		if err := m.Send(context.Background(), msg); err != nil {
			t.Fatalf("Send: %v", err)
		}
		got := sink.Messages()
		if len(got) != before+1 {
			t.Fatalf("%d messages after a Send, want %d", len(got), before+1)
		}
		return got[len(got)-1].Header.Get("Message-ID")
	}

	valid := []struct{ id, want string }{
		{"0123456789abcdef0123456789abcdef", "<0123456789abcdef0123456789abcdef@example.test>"},
		{"job.42.x-y_z", "<job.42.x-y_z@example.test>"},
		{strings.Repeat("a", maxMessageID), "<" + strings.Repeat("a", maxMessageID) + "@example.test>"},
	}
	for _, tt := range valid {
		t.Run("given "+tt.id, func(t *testing.T) {
			if got := send(t, tt.id); got != tt.want {
				t.Errorf("Message-ID %q, want %q", got, tt.want)
			}
			if again := send(t, tt.id); again != tt.want {
				t.Errorf("Message-ID %q on the second Send, want %q again", again, tt.want)
			}
		})
	}
	t.Run("none given", func(t *testing.T) {
		a, b := send(t, ""), send(t, "")
		if a == b || !strings.HasPrefix(a, "<") || !strings.HasSuffix(a, "@example.test>") {
			t.Errorf("Message-IDs %q and %q, want two random ones at example.test", a, b)
		}
	})

	invalid := []string{"a b", "a@b", "<a>", ".a", "a.", "a..b", "a\r\nBcc: eve@example.test", "caf\u00e9", strings.Repeat("a", maxMessageID+1)}
	for _, id := range invalid {
		t.Run("refused "+id, func(t *testing.T) {
			before := len(sink.Seen())
			msg := recoveryMsg()
			msg.MessageID = id
			err := m.Send(context.Background(), msg)
			if err == nil || !Permanent(err) || !strings.HasPrefix(err.Error(), "smtp: send: ") {
				t.Fatalf("Send with MessageID %q: %v, want a permanent smtp: send: error", id, err)
			}
			if n := len(sink.Seen()); n != before {
				t.Errorf("a refused MessageID reached the server")
			}
		})
	}
}

// TestSendClosesConnection covers a failure after the dial (the server
// offers no STARTTLS), where go-mail itself leaves the connection open.
func TestSendClosesConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	closed := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			closed <- err
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		_, _ = io.WriteString(c, "220 fake ESMTP\r\n")
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				closed <- err
				return
			}
			switch strings.ToUpper(strings.Fields(line + " x")[0]) {
			case "EHLO":
				_, _ = io.WriteString(c, "250-fake\r\n250 8BITMIME\r\n")
			case "QUIT":
				_, _ = io.WriteString(c, "221 bye\r\n")
			default:
				_, _ = io.WriteString(c, "250 ok\r\n")
			}
		}
	}()
	m := newTestMailer(t, Config{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, TLS: TLSStartTLS, Timeout: 5 * time.Second})
	if err := m.Send(context.Background(), recoveryMsg()); err == nil {
		t.Fatal("Send succeeded without STARTTLS")
	}
	select {
	case err := <-closed:
		if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
			t.Logf("server saw %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the client left the connection open")
	}
}

func linkIn(raw []byte) string {
	msg := testenv.ParseSinkMessage(raw)
	for _, f := range strings.Fields(msg.Text) {
		if strings.HasPrefix(f, "https://") {
			return f
		}
	}
	return ""
}

// testBackend is a go-smtp backend for cases the sink does not cover: TLS,
// and replies that reject a message for good.
type testBackend struct {
	rcptErr error
	dataErr func(raw []byte) error

	mu   sync.Mutex
	msgs []received
}

type received struct {
	raw      []byte
	tls      bool
	authUser string
}

func (b *testBackend) messages() []received {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]received(nil), b.msgs...)
}

func (b *testBackend) NewSession(c *gosmtp.Conn) (gosmtp.Session, error) {
	return &testSession{be: b, conn: c}, nil
}

type testSession struct {
	be       *testBackend
	conn     *gosmtp.Conn
	authUser string
}

func (s *testSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *testSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, _ string) error { s.authUser = user; return nil }), nil
}
func (s *testSession) Mail(string, *gosmtp.MailOptions) error { return nil }
func (s *testSession) Rcpt(string, *gosmtp.RcptOptions) error { return s.be.rcptErr }
func (s *testSession) Reset()                                 {}
func (s *testSession) Logout() error                          { return nil }
func (s *testSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if s.be.dataErr != nil {
		return s.be.dataErr(raw)
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.be.mu.Lock()
	s.be.msgs = append(s.be.msgs, received{raw: raw, tls: isTLS, authUser: s.authUser})
	s.be.mu.Unlock()
	return nil
}

// startTestServer serves be on a loopback port: plain, offering STARTTLS,
// or behind implicit TLS.
func startTestServer(t *testing.T, be *testBackend, mode string, cert tls.Certificate) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := gosmtp.NewServer(be)
	srv.Domain = "localhost"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	switch mode {
	case TLSNone:
		srv.AllowInsecureAuth = true
	case TLSStartTLS:
		srv.TLSConfig = tlsCfg
	case TLSImplicit:
		ln = tls.NewListener(ln, tlsCfg)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "authd test SMTP"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
