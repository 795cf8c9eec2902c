package testenv

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"io"
	"log"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
)

// SMTPSink is a real SMTP server on 127.0.0.1:<random port> that keeps every
// message it receives. Tests talk to it over TCP, exactly as the server
// talks to MailHog or a relay, so the whole send path is exercised without a
// separate process.
//
// It advertises AUTH PLAIN (without TLS, as loopback servers may) and accepts
// any credentials, so clients configured with a username work against it;
// SinkMessage.AuthUser tells whether they authenticated.
type SMTPSink struct {
	mu       sync.Mutex
	addr     string // fixed by the first listen, so Restart can reuse it
	srv      *gosmtp.Server
	ln       net.Listener  // the running server's, closed by Stop itself
	served   chan struct{} // closed when the running Serve returns
	closed   bool
	msgs     []SinkMessage
	seen     []SinkMessage // msgs and the refused and held ones, in order
	failNext int
	holdNext int
	arrived  chan struct{} // closed and replaced whenever a message is seen
}

// SinkMessage is one message as the sink received it. From and To are the
// SMTP envelope (MAIL FROM / RCPT TO), which is what a relay delivers by;
// the header From is in Header. Text and HTML are the decoded bodies of the
// first text/plain and text/html parts, whatever the transfer encoding
// (quoted-printable, base64, 7bit/8bit) and multipart nesting.
type SinkMessage struct {
	From     string
	To       []string
	Subject  string
	Text     string
	HTML     string
	Raw      []byte
	Header   mail.Header
	AuthUser string
}

// StartSMTPSink listens on 127.0.0.1:0 and serves until Close.
func StartSMTPSink() (*SMTPSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("testenv: smtp sink: listen: %w", err)
	}
	s := &SMTPSink{addr: ln.Addr().String(), arrived: make(chan struct{})}
	s.serve(ln)
	return s, nil
}

func (s *SMTPSink) serve(ln net.Listener) {
	srv := gosmtp.NewServer(gosmtp.BackendFunc(func(c *gosmtp.Conn) (gosmtp.Session, error) {
		return &sinkSession{sink: s, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.MaxMessageBytes = 10 << 20
	srv.MaxRecipients = 100
	// A client that stalls must not keep a goroutine alive past the test.
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	// Clients that drop the connection are routine in failure tests; the
	// server's complaints about them are noise in test output.
	srv.ErrorLog = log.New(io.Discard, "", 0)

	served := make(chan struct{})
	s.srv, s.ln, s.served = srv, ln, served
	go func() {
		defer close(served)
		_ = srv.Serve(ln)
	}()
}

// Host is always 127.0.0.1.
func (s *SMTPSink) Host() string {
	host, _, _ := net.SplitHostPort(s.addr)
	return host
}

// Port is the port chosen at start; it stays the same across Stop/Restart.
func (s *SMTPSink) Port() int {
	_, port, _ := net.SplitHostPort(s.addr)
	n, _ := strconv.Atoi(port)
	return n
}

// Addr is host:port.
func (s *SMTPSink) Addr() string { return s.addr }

// Close stops the server for good. The messages stay readable.
func (s *SMTPSink) Close() error {
	err := s.Stop()
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return err
}

// Stop stops accepting (simulating SMTP being down) and drops open
// connections, while keeping what was received. Clients then get
// "connection refused", as with a relay that is down.
func (s *SMTPSink) Stop() error {
	s.mu.Lock()
	srv, ln, served := s.srv, s.ln, s.served
	s.srv, s.ln, s.served = nil, nil, nil
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	// The listener is closed here, not only by srv.Close: a Stop right
	// after the start can come before Serve has registered it, and
	// srv.Close would then leave Serve accepting for ever (a hung TestMain).
	_ = ln.Close()
	err := srv.Close()
	<-served
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// Restart listens again on the same port after Stop. It is a no-op while
// the sink is running.
func (s *SMTPSink) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("testenv: smtp sink: restart after Close")
	}
	if s.srv != nil {
		return nil
	}
	// Go sets SO_REUSEADDR, so the port is normally free at once; the retry
	// covers another process grabbing it for a moment in between.
	var ln net.Listener
	var err error
	for deadline := time.Now().Add(2 * time.Second); ; {
		ln, err = net.Listen("tcp", s.addr)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("testenv: smtp sink: listen again on %s: %w", s.addr, err)
	}
	s.serve(ln)
	return nil
}

// Messages returns a copy of everything received so far, oldest first.
func (s *SMTPSink) Messages() []SinkMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SinkMessage(nil), s.msgs...)
}

// Count is the number of messages with to among their recipients
// (case-insensitive).
func (s *SMTPSink) Count(to string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, m := range s.msgs {
		if m.sentTo(to) {
			n++
		}
	}
	return n
}

// Seen returns every message whose data the sink has read, oldest first:
// those it kept (Messages) and those FailNext refused or HoldNext held. A
// test compares the attempts at one mail with it.
func (s *SMTPSink) Seen() []SinkMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SinkMessage(nil), s.seen...)
}

// WaitFor returns the first message to `to` (case-insensitive) whose subject
// contains subjectPart (case-insensitive; "" = any), waiting up to timeout
// for it to arrive. The timeout error lists what did arrive, by subject and
// recipients only, since bodies hold tokens.
func (s *SMTPSink) WaitFor(to, subjectPart string, timeout time.Duration) (SinkMessage, error) {
	return s.wait(func() []SinkMessage { return s.msgs }, "received", to, subjectPart, timeout)
}

// WaitSeen is WaitFor over Seen: it also returns a message that was refused
// or is being held.
func (s *SMTPSink) WaitSeen(to, subjectPart string, timeout time.Duration) (SinkMessage, error) {
	return s.wait(func() []SinkMessage { return s.seen }, "seen", to, subjectPart, timeout)
}

// wait looks through list, called with s.mu held, until a match arrives.
func (s *SMTPSink) wait(list func() []SinkMessage, what, to, subjectPart string, timeout time.Duration) (SinkMessage, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	part := strings.ToLower(subjectPart)
	for {
		s.mu.Lock()
		for _, m := range list() {
			if m.sentTo(to) && strings.Contains(strings.ToLower(m.Subject), part) {
				s.mu.Unlock()
				return m, nil
			}
		}
		arrived := s.arrived
		s.mu.Unlock()

		select {
		case <-arrived:
		case <-timer.C:
			s.mu.Lock()
			got := summary(list())
			s.mu.Unlock()
			return SinkMessage{}, fmt.Errorf("testenv: smtp sink: no message to %q with subject containing %q within %s; %s: %s",
				to, subjectPart, timeout, what, got)
		}
	}
}

func summary(msgs []SinkMessage) string {
	if len(msgs) == 0 {
		return "nothing"
	}
	var b strings.Builder
	for i, m := range msgs {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "to=%v subject=%q", m.To, m.Subject)
	}
	return b.String()
}

// FailNext makes the next n DATA commands fail with a 451 temporary error
// (to test retries). The message is read and then discarded.
func (s *SMTPSink) FailNext(n int) {
	s.mu.Lock()
	s.failNext = n
	s.mu.Unlock()
}

// HoldNext makes the next n DATA commands (once FailNext's are used up)
// read the message and then never answer, like a relay that hangs before
// its reply, until the client closes the connection (its deadline passed
// or its process died) or the sink stops. A held message is in Seen, not in
// Messages: the sender never learnt that it was accepted.
func (s *SMTPSink) HoldNext(n int) {
	s.mu.Lock()
	s.holdNext = n
	s.mu.Unlock()
}

// outcome is what the sink does with a message it has read.
type outcome int

const (
	accept outcome = iota
	refuse         // FailNext
	hold           // HoldNext
)

// take decides the fate of the message m just read, and records it.
func (s *SMTPSink) take(m SinkMessage) outcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := accept
	switch {
	case s.failNext > 0:
		s.failNext--
		o = refuse
	case s.holdNext > 0:
		s.holdNext--
		o = hold
	default:
		s.msgs = append(s.msgs, m)
	}
	s.seen = append(s.seen, m)
	close(s.arrived)
	s.arrived = make(chan struct{})
	return o
}

func (m SinkMessage) sentTo(to string) bool {
	for _, r := range m.To {
		if strings.EqualFold(r, to) {
			return true
		}
	}
	return false
}

type sinkSession struct {
	sink     *SMTPSink
	conn     *gosmtp.Conn
	from     string
	to       []string
	authUser string
}

func (ss *sinkSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *sinkSession) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, gosmtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(_, username, _ string) error {
		ss.authUser = username
		return nil
	}), nil
}

func (ss *sinkSession) Mail(from string, _ *gosmtp.MailOptions) error {
	ss.from = from
	return nil
}

func (ss *sinkSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *sinkSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := ParseSinkMessage(raw)
	m.From, m.To, m.AuthUser = ss.from, append([]string(nil), ss.to...), ss.authUser
	switch ss.sink.take(m) {
	case refuse:
		return &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 3, 0}, Message: "Temporary failure (testenv FailNext)"}
	case hold:
		ss.holdUntilClosed()
		return errors.New("testenv: smtp sink: held message dropped")
	}
	return nil
}

// holdUntilClosed waits without answering until the connection closes. A
// client waiting for the reply to DATA sends nothing, so the read ends
// only when the client hangs up or Stop closes the connection; no read
// deadline applies, as a client that never hangs up is Stop's to end.
func (ss *sinkSession) holdUntilClosed() {
	c := ss.conn.Conn()
	_ = c.SetReadDeadline(time.Time{})
	buf := make([]byte, 512)
	for {
		if _, err := c.Read(buf); err != nil {
			return
		}
	}
}

func (ss *sinkSession) Reset() {
	ss.from, ss.to = "", nil
}

func (ss *sinkSession) Logout() error { return nil }

// ParseSinkMessage decodes a raw RFC 5322 message into Subject, Header, Text
// and HTML (the envelope fields stay empty). A message that does not parse
// is kept with Raw only, so a test can still look at what was sent.
func ParseSinkMessage(raw []byte) SinkMessage {
	m := SinkMessage{Raw: raw}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return m
	}
	m.Header = msg.Header
	dec := new(mime.WordDecoder)
	if subj, err := dec.DecodeHeader(msg.Header.Get("Subject")); err == nil {
		m.Subject = subj
	} else {
		m.Subject = msg.Header.Get("Subject")
	}
	_ = walkPart(msg.Header.Get, msg.Body, &m, 0)
	return m
}

// walkPart fills Text and HTML from the first parts of those types, looking
// inside multipart/* at any depth (multipart/mixed around
// multipart/alternative is common once attachments exist).
func walkPart(get func(string) string, body io.Reader, m *SinkMessage, depth int) error {
	if depth > 10 {
		return errors.New("multipart nesting too deep")
	}
	ct := get("Content-Type")
	if ct == "" {
		ct = "text/plain"
	}
	mediaType, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return err
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			// NextRawPart: NextPart would already undo quoted-printable, and
			// decoding here keeps every encoding on one path.
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if err := walkPart(p.Header.Get, p, m, depth+1); err != nil {
				return err
			}
		}
	}
	if disp, _, _ := mime.ParseMediaType(get("Content-Disposition")); disp == "attachment" {
		return nil
	}
	if mediaType != "text/plain" && mediaType != "text/html" {
		return nil
	}
	var r io.Reader = body
	switch strings.ToLower(strings.TrimSpace(get("Content-Transfer-Encoding"))) {
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	case "base64":
		// The base64 decoder skips the CR LF line breaks itself.
		r = base64.NewDecoder(base64.StdEncoding, body)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	switch {
	case mediaType == "text/plain" && m.Text == "":
		m.Text = string(b)
	case mediaType == "text/html" && m.HTML == "":
		m.HTML = string(b)
	}
	return nil
}

var urlPattern = regexp.MustCompile(`https?://[^\s<>"'` + "`" + `]+`)

// LinkToken extracts the `token` query parameter of the first URL in text
// that contains pathPart (e.g. "/recovery"). text may be the plain or the
// HTML body; HTML entities in the URL (&amp;) are undone first.
func LinkToken(text, pathPart string) (string, error) {
	for _, raw := range urlPattern.FindAllString(text, -1) {
		raw = html.UnescapeString(raw)
		if !strings.Contains(raw, pathPart) {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil {
			return "", fmt.Errorf("testenv: link containing %q does not parse: %w", pathPart, err)
		}
		tok := u.Query().Get("token")
		if tok == "" {
			return "", fmt.Errorf("testenv: link containing %q has no token parameter", pathPart)
		}
		return tok, nil
	}
	return "", fmt.Errorf("testenv: no link containing %q", pathPart)
}
