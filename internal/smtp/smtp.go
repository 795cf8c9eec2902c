// Package smtp renders the e-mail templates of package templates and
// delivers them over SMTP with github.com/wneessen/go-mail.
//
// Each Send opens its own connection: authd sends little mail (recovery,
// verification, notices), and a fresh connection can never be left in a
// half-broken state by an earlier failure. Retrying is the caller's job (the
// durable mail queue); Permanent tells it when retrying is pointless.
//
// Rendered messages carry one-time tokens in their links, so nothing in this
// package logs a body, and errors never include one.
package smtp

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"maps"
	"net"
	netmail "net/mail"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	texttemplate "text/template"
	"time"

	"github.com/wneessen/go-mail"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/authd/authd/templates"
)

// TLS modes of Config.TLS.
const (
	TLSNone     = "none"     // plain SMTP, for MailHog/Mailpit on loopback
	TLSStartTLS = "starttls" // STARTTLS is mandatory; a server without it is an error
	TLSImplicit = "tls"      // TLS from the first byte (SMTPS, usually port 465)
)

// Defaults applied by New to zero fields.
const (
	DefaultHost    = "127.0.0.1"
	DefaultTimeout = 10 * time.Second
	DefaultFrom    = "authd <no-reply@localhost>"
)

// Config says where and how to deliver mail.
type Config struct {
	// Host and Port of the SMTP server. Host defaults to 127.0.0.1; Port
	// defaults by TLS mode: 1025 (none, MailHog/Mailpit), 587 (starttls),
	// 465 (tls).
	Host string
	Port int
	// TLS is "none" (the default, for development), "starttls" or "tls".
	TLS string
	// Username and Password enable AUTH PLAIN when Username is set. Without
	// TLS the password would cross the network in clear, so New allows that
	// only for a loopback Host.
	Username string
	Password string
	// From is the sender, name and address, e.g. "authd <no-reply@example.test>".
	From string
	// Timeout bounds each message: dial, TLS, AUTH and delivery together.
	// It defaults to 10s; the caller's context can only shorten it.
	Timeout time.Duration
	// Tracer makes each send a span (none when nil) naming the template and
	// the server, never the recipient or the body, whose links hold tokens.
	Tracer trace.Tracer
}

// Message is one e-mail to render and send; Template names a pair in templates/.
type Message struct {
	To       string
	Template string
	Data     map[string]any
	// MessageID is the unique part of the Message-ID header, before the
	// "@": Send adds "@" and the domain of From, and the angle brackets.
	// A caller that may send the same mail again (a retry, or another
	// instance after one died mid-send) gives the same MessageID every
	// time, so that the relay and the recipient's mail client can tell the
	// second copy for what it is. It must be an RFC 5322 dot-atom (letters,
	// digits, and !#$%&'*+-/=?^_`{|}~ in dot-separated parts, at most
	// 64 characters) and must not reveal the recipient. Empty gives a
	// random one per Send.
	MessageID string
}

// Mailer renders and sends messages. It is safe for concurrent use.
type Mailer struct {
	cfg       Config
	from      *netmail.Address
	msgDomain string
	tpls      map[string]pair
	// tlsConfig is cloned for every connection; tests swap in their own CA.
	tlsConfig *tls.Config
}

type pair struct {
	text *texttemplate.Template
	html *htmltemplate.Template
}

// New parses every template from templates.FS at start-up so a broken
// template fails fast (the error names it), and validates cfg.
func New(cfg Config) (*Mailer, error) {
	return newMailer(cfg, templates.FS)
}

func newMailer(cfg Config, fsys fs.FS) (*Mailer, error) {
	cfg, err := normalize(cfg)
	if err != nil {
		return nil, err
	}
	from, err := netmail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("smtp: From %q is not an address: %w", cfg.From, err)
	}
	tpls, err := parseTemplates(fsys)
	if err != nil {
		return nil, err
	}
	domain := from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	return &Mailer{
		cfg:       cfg,
		from:      from,
		msgDomain: domain,
		tpls:      tpls,
		tlsConfig: &tls.Config{ServerName: cfg.Host, MinVersion: tls.VersionTLS12},
	}, nil
}

func normalize(cfg Config) (Config, error) {
	cfg.Host = strings.TrimSpace(cfg.Host)
	if cfg.Host == "" {
		cfg.Host = DefaultHost
	}
	cfg.TLS = strings.ToLower(strings.TrimSpace(cfg.TLS))
	defaultPort := 0
	switch cfg.TLS {
	case "", TLSNone:
		cfg.TLS, defaultPort = TLSNone, 1025
	case TLSStartTLS:
		defaultPort = 587
	case TLSImplicit:
		defaultPort = 465
	default:
		return cfg, fmt.Errorf("smtp: unknown TLS mode %q (want %q, %q or %q)", cfg.TLS, TLSNone, TLSStartTLS, TLSImplicit)
	}
	if cfg.Port == 0 {
		cfg.Port = defaultPort
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		return cfg, fmt.Errorf("smtp: port %d out of range", cfg.Port)
	}
	switch {
	case cfg.Timeout < 0:
		return cfg, fmt.Errorf("smtp: negative timeout %s", cfg.Timeout)
	case cfg.Timeout == 0:
		cfg.Timeout = DefaultTimeout
	}
	if cfg.From == "" {
		cfg.From = DefaultFrom
	}
	if cfg.Username == "" && cfg.Password != "" {
		return cfg, errors.New("smtp: password set without username")
	}
	if cfg.Username != "" && cfg.TLS == TLSNone && !isLoopback(cfg.Host) {
		return cfg, fmt.Errorf("smtp: refusing to send credentials to %s without TLS (set TLS to %q or %q)", cfg.Host, TLSStartTLS, TLSImplicit)
	}
	return cfg, nil
}

// isLoopback matches the names go-mail's PLAIN auth accepts without TLS, so
// a configuration New accepts also authenticates.
func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

func parseTemplates(fsys fs.FS) (map[string]pair, error) {
	texts, err := fs.Glob(fsys, "*.txt")
	if err != nil {
		return nil, fmt.Errorf("smtp: list templates: %w", err)
	}
	htmls, err := fs.Glob(fsys, "*.html")
	if err != nil {
		return nil, fmt.Errorf("smtp: list templates: %w", err)
	}
	tpls := make(map[string]pair, len(texts))
	for _, file := range texts {
		name := strings.TrimSuffix(file, ".txt")
		// missingkey=error: a caller that forgets a key gets an error
		// instead of a mail saying "<no value>" where the link should be.
		t, err := texttemplate.New(file).Option("missingkey=error").ParseFS(fsys, file)
		if err != nil {
			return nil, fmt.Errorf("smtp: template %q: %w", name, err)
		}
		if t.Lookup("subject") == nil {
			return nil, fmt.Errorf("smtp: template %q: %s has no {{define \"subject\"}} block", name, file)
		}
		h, err := htmltemplate.New(name+".html").Option("missingkey=error").ParseFS(fsys, name+".html")
		if err != nil {
			return nil, fmt.Errorf("smtp: template %q: %w", name, err)
		}
		tpls[name] = pair{text: t, html: h}
	}
	for _, file := range htmls {
		if _, ok := tpls[strings.TrimSuffix(file, ".html")]; !ok {
			return nil, fmt.Errorf("smtp: template %q: %s has no .txt pair", strings.TrimSuffix(file, ".html"), file)
		}
	}
	if len(tpls) == 0 {
		return nil, errors.New("smtp: no templates found")
	}
	return tpls, nil
}

// Templates lists the template names New found, sorted.
func (m *Mailer) Templates() []string {
	return slices.Sorted(maps.Keys(m.tpls))
}

// renderError marks failures that retrying cannot fix. op names the call,
// so that Send's errors read "smtp: send: render: ...".
type renderError struct {
	op  string
	err error
}

func (e *renderError) Error() string { return "smtp: " + e.op + ": " + e.err.Error() }
func (e *renderError) Unwrap() error { return e.err }

// Render produces the subject, text and HTML bodies (exported so tests and a
// preview can use it). The HTML template also receives .Subject.
func (m *Mailer) Render(msg Message) (subject, text, html string, err error) {
	p, ok := m.tpls[msg.Template]
	if !ok {
		return "", "", "", &renderError{"render", fmt.Errorf("unknown template %q", msg.Template)}
	}
	var b bytes.Buffer
	if err := p.text.ExecuteTemplate(&b, "subject", msg.Data); err != nil {
		return "", "", "", &renderError{"render", fmt.Errorf("template %q subject: %w", msg.Template, err)}
	}
	// A header is one line; folding any line breaks here also rules out
	// header injection through the data.
	subject = strings.Join(strings.Fields(b.String()), " ")
	if subject == "" {
		return "", "", "", &renderError{"render", fmt.Errorf("template %q: empty subject", msg.Template)}
	}

	b.Reset()
	if err := p.text.Execute(&b, msg.Data); err != nil {
		return "", "", "", &renderError{"render", fmt.Errorf("template %q text: %w", msg.Template, err)}
	}
	text = b.String()

	data := make(map[string]any, len(msg.Data)+1)
	maps.Copy(data, msg.Data)
	if _, ok := data["Subject"]; !ok {
		data["Subject"] = subject
	}
	b.Reset()
	if err := p.html.Execute(&b, data); err != nil {
		return "", "", "", &renderError{"render", fmt.Errorf("template %q html: %w", msg.Template, err)}
	}
	return subject, text, b.String(), nil
}

// Send renders and delivers one message over SMTP, within ctx's deadline
// and cfg.Timeout. Errors are wrapped ("smtp: send: ...") and never contain
// the message body (which holds tokens).
func (m *Mailer) Send(ctx context.Context, msg Message) (err error) {
	if m.cfg.Tracer != nil {
		var span trace.Span
		ctx, span = m.cfg.Tracer.Start(ctx, "smtp.send", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
			attribute.String("mail.template", msg.Template),
			attribute.String("server.address", m.cfg.Host),
			attribute.Int("server.port", m.cfg.Port),
		))
		defer func() {
			if err != nil {
				// The kind of failure only: an SMTP error may quote the
				// recipient.
				msg := "delivery failed"
				if Permanent(err) {
					msg = "refused permanently"
				}
				span.SetStatus(codes.Error, msg)
			}
			span.End()
		}()
	}
	subject, text, html, err := m.Render(msg)
	if err != nil {
		var re *renderError
		if errors.As(err, &re) {
			return &renderError{op: "send: render", err: re.err}
		}
		return fmt.Errorf("smtp: send: %w", err)
	}
	id := msg.MessageID
	if id == "" {
		id = randomID()
	} else if !dotAtom(id) {
		return &renderError{op: "send", err: fmt.Errorf("message id %q is not an RFC 5322 dot-atom of at most %d characters", id, maxMessageID)}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("smtp: send: %w", err)
	}
	if err := m.deliver(ctx, msg.To, id+"@"+m.msgDomain, subject, text, html); err != nil {
		return redact(err, secrets(msg.Data))
	}
	return nil
}

func (m *Mailer) deliver(ctx context.Context, to, messageID, subject, text, html string) (err error) {
	rcpt, perr := netmail.ParseAddress(to)
	if perr != nil {
		return &addressError{fmt.Errorf("smtp: send: recipient %q: %w", to, perr)}
	}

	msg := mail.NewMsg(mail.WithNoDefaultUserAgent())
	msg.FromMailAddress(m.from)
	msg.ToMailAddress(rcpt)
	msg.Subject(subject)
	msg.SetMessageIDWithValue(messageID)
	msg.SetDate()
	// RFC 3834: keeps vacation responders from answering to no-reply.
	msg.SetGenHeader(mail.Header("Auto-Submitted"), "auto-generated")
	msg.SetGenHeader(mail.HeaderXAutoResponseSuppress, "All")
	msg.SetBodyString(mail.TypeTextPlain, text)
	msg.AddAlternativeString(mail.TypeTextHTML, html)

	ctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()

	// go-mail applies its timeout per command and leaves the connection
	// open when the handshake fails after the dial (EHLO, STARTTLS, AUTH).
	// Keeping hold of the connection lets us close it on every path, and
	// closing it when ctx ends turns the per-command timeout into a
	// deadline for the whole message and makes cancellation immediate.
	var (
		mu   sync.Mutex
		conn net.Conn
	)
	addr := net.JoinHostPort(m.cfg.Host, strconv.Itoa(m.cfg.Port))
	dial := func(dctx context.Context, _, _ string) (net.Conn, error) {
		d := &net.Dialer{}
		var c net.Conn
		var err error
		if m.cfg.TLS == TLSImplicit {
			// A custom dial function replaces go-mail's own TLS dial, so
			// implicit TLS happens here; returning the *tls.Conn itself
			// lets go-mail see the connection is encrypted.
			c, err = (&tls.Dialer{NetDialer: d, Config: m.tlsConfig.Clone()}).DialContext(dctx, "tcp", addr)
		} else {
			c, err = d.DialContext(dctx, "tcp", addr)
		}
		if err != nil {
			return nil, err
		}
		mu.Lock()
		conn = c
		mu.Unlock()
		return c, nil
	}
	closeConn := func() {
		mu.Lock()
		defer mu.Unlock()
		if conn != nil {
			_ = conn.Close()
		}
	}
	stop := context.AfterFunc(ctx, closeConn)
	defer func() {
		stop()
		closeConn()
	}()

	opts := []mail.Option{
		mail.WithPort(m.cfg.Port),
		mail.WithTimeout(m.cfg.Timeout),
		mail.WithDialContextFunc(dial),
		mail.WithTLSConfig(m.tlsConfig.Clone()),
	}
	switch m.cfg.TLS {
	case TLSNone:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	case TLSStartTLS:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	case TLSImplicit:
		opts = append(opts, mail.WithSSL())
	}
	if m.cfg.Username != "" {
		opts = append(opts,
			mail.WithSMTPAuth(mail.SMTPAuthPlain),
			mail.WithUsername(m.cfg.Username),
			mail.WithPassword(m.cfg.Password))
	}
	client, err := mail.NewClient(m.cfg.Host, opts...)
	if err != nil {
		return fmt.Errorf("smtp: send: client: %w", err)
	}

	err = client.DialAndSendWithContext(ctx, msg)
	if err == nil {
		return nil
	}
	// Once ctx has ended, the error go-mail reports is a symptom (a closed
	// connection or an i/o timeout); name the cause so callers can match it
	// with errors.Is. The deadline is checked by the clock as well because
	// go-mail's own per-command deadline can fire a moment before ctx's
	// timer has marked ctx done.
	cerr := ctx.Err()
	if dl, ok := ctx.Deadline(); cerr == nil && ok && !time.Now().Before(dl) {
		cerr = context.DeadlineExceeded
	}
	if cerr != nil {
		return fmt.Errorf("smtp: send: %s: %w: %w", addr, cerr, err)
	}
	return fmt.Errorf("smtp: send: %s: %w", addr, err)
}

// addressError marks a recipient that cannot be parsed: retrying won't help.
type addressError struct{ err error }

func (e *addressError) Error() string { return e.err.Error() }
func (e *addressError) Unwrap() error { return e.err }

// Permanent reports whether err from Send means the message can never be
// delivered as it is: a render failure, a MessageID that is no dot-atom,
// an unparsable recipient, or a 5xx reply from the server (e.g. 550 no such
// user). Everything else, from a refused connection to a 4xx reply, may
// pass on a later attempt.
func Permanent(err error) bool {
	var re *renderError
	var ae *addressError
	if errors.As(err, &re) || errors.As(err, &ae) {
		return true
	}
	var se *mail.SendError
	if errors.As(err, &se) {
		code := se.ErrorCode()
		return code >= 500 && code < 600
	}
	return false
}

// maxMessageID bounds Message.MessageID, so that the header line stays
// short (RFC 5322 wants at most 998 characters and recommends 78).
const maxMessageID = 64

// dotAtom reports whether s is an RFC 5322 dot-atom-text: the id-left of
// a msg-id, which can then not break out of the header.
func dotAtom(s string) bool {
	if s == "" || len(s) > maxMessageID {
		return false
	}
	for part := range strings.SplitSeq(s, ".") {
		if part == "" {
			return false // a leading, trailing or doubled dot
		}
		for i := 0; i < len(part); i++ {
			c := part[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0) {
				return false
			}
		}
	}
	return true
}

// randomID is the Message-ID of a message whose caller gave none: unique,
// but new on every Send.
func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// secrets are the values that must not reach an error message: the link
// (whose query holds the token), the token on its own, and the code.
func secrets(data map[string]any) []string {
	var out []string
	for _, key := range []string{"Link", "Token", "Code"} {
		s, ok := data[key].(string)
		if !ok || s == "" {
			continue
		}
		out = append(out, s)
		if key != "Link" {
			continue
		}
		if u, err := url.Parse(s); err == nil {
			for _, vs := range u.Query() {
				for _, v := range vs {
					if len(v) >= 6 {
						out = append(out, v, url.QueryEscape(v))
					}
				}
			}
			// The path can hold a token too (e.g. /verify/<token>).
			if base := path.Base(u.Path); len(base) >= 16 {
				out = append(out, base)
			}
		}
	}
	return out
}

// redactedError keeps the chain for errors.Is/As while its text no longer
// carries a secret. go-mail never puts the body in an error, but a server
// reply can quote anything it was sent.
type redactedError struct {
	text string
	err  error
}

func (e *redactedError) Error() string { return e.text }
func (e *redactedError) Unwrap() error { return e.err }

func redact(err error, secrets []string) error {
	text := err.Error()
	clean := text
	for _, s := range secrets {
		clean = strings.ReplaceAll(clean, s, "[redacted]")
	}
	if clean == text {
		return err
	}
	return &redactedError{text: clean, err: err}
}
