package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authd/authd/internal/testenv"
)

// mailpitBinary finds Mailpit (testenv.MailpitBinary) or fails the test.
func mailpitBinary(t *testing.T) string {
	t.Helper()
	p, err := testenv.MailpitBinary()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// authdBinary builds the authd binary once per test run.
func authdBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "authd-test-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "authd")
		if out, err := exec.Command("go", "build", "-o", builtBin, ".").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// process is a child started in a process group of its own (testenv),
// with its output kept for failure messages.
type process struct {
	*testenv.Process
	out *testenv.LogBuffer
}

// spawn starts name with env added to the test's environment. At cleanup
// it is sent SIGTERM, by its PID, and must exit cleanly, as an
// orchestrator expects, unless the test killed it.
func spawn(t *testing.T, env []string, name string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	out := &testenv.LogBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	p, err := testenv.StartProcess(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		select {
		case <-p.Exited():
			return // killed by the test
		default:
		}
		if err := p.Stop(30 * time.Second); err != nil {
			t.Errorf("%s (pid %d): %v\n%s", name, p.PID(), err, out)
		}
	})
	return &process{Process: p, out: out}
}

// waitHTTP waits until url answers 200, or fails the test.
func waitHTTP(t *testing.T, url string, p *process) {
	t.Helper()
	if err := p.WaitHTTP(context.Background(), url, 30*time.Second); err != nil {
		t.Fatalf("%v\n%s", err, p.out)
	}
}

// TestEndToEndWithMailpit runs the authd binary with a real Mailpit inbox:
// register, verify through the mailed link, recover the password through
// the mailed link, log in with the new password.
func TestEndToEndWithMailpit(t *testing.T) {
	dir := t.TempDir()
	bin := authdBinary(t)
	smtpAddr, uiAddr, httpAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	mailpit := spawn(t, nil, mailpitBinary(t), "--smtp", smtpAddr, "--listen", uiAddr, "--disable-version-check", "-q",
		"--database", filepath.Join(dir, "mailpit.db"))
	waitHTTP(t, "http://"+uiAddr+"/api/v1/info", mailpit)

	dbURL, drop, err := testenv.CreateDatabase(testenv.RandomName("authd_test_e2e_"))
	if err != nil {
		t.Fatal(err)
	}
	defer drop()
	_, smtpPort, _ := strings.Cut(smtpAddr, ":")
	publicURL := "http://app.example.test"
	authd := spawn(t, []string{
		"DEV_MODE=true", "DATABASE_URL=" + dbURL, "VALKEY_URL=" + testenv.ValkeyURL(), "VALKEY_KEY_PREFIX=" + testPrefix + "e2e:",
		"HTTP_ADDR=" + httpAddr, "PUBLIC_URL=" + publicURL, "SMTP_HOST=127.0.0.1", "SMTP_PORT=" + smtpPort,
		"ARGON2_MEMORY_KIB=1024", "ARGON2_ITERATIONS=1", "SHUTDOWN_DRAIN=0",
	}, bin, "serve")
	base := "http://" + httpAddr
	waitHTTP(t, base+"/health", authd)

	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	email := strings.ToLower(testenv.RandomName("e2e")) + "@example.com"
	call := func(method, path, body string, want int) []byte {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s = %d, want %d: %s", method, path, resp.StatusCode, want, b)
		}
		return b
	}

	call("POST", "/api/v1/auth/register", `{"identifier":"`+email+`","password":"correct horse battery"}`, 201)
	verifyToken := mailpitToken(t, uiAddr, email, "Verify", publicURL+"/verify")
	if b := call("POST", "/api/v1/auth/verify", `{"token":"`+verifyToken+`"}`, 200); !bytes.Contains(b, []byte(`"email_verified":true`)) {
		t.Errorf("verify reply: %s", b)
	}

	call("POST", "/api/v1/auth/recovery", `{"email":"`+email+`"}`, 202)
	resetToken := mailpitToken(t, uiAddr, email, "Reset", publicURL+"/recovery")
	call("POST", "/api/v1/auth/recovery/complete", `{"token":"`+resetToken+`","password":"a brand new passphrase"}`, 204)
	call("GET", "/api/v1/auth/me", "", 401) // the reset ended the registration's session
	call("POST", "/api/v1/auth/login", `{"identifier":"`+email+`","password":"correct horse battery"}`, 401)
	b := call("POST", "/api/v1/auth/login", `{"identifier":"`+email+`","password":"a brand new passphrase"}`, 200)
	if !bytes.Contains(b, []byte(`"email_verified":true`)) {
		t.Errorf("login reply: %s", b)
	}
	call("GET", "/api/v1/auth/me", "", 200)
}

// mailpitToken waits for a mail to `to` whose subject contains subject,
// reads it through Mailpit's HTTP API and returns the token of its link.
func mailpitToken(t *testing.T, uiAddr, to, subject, linkPrefix string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	q := url.QueryEscape(fmt.Sprintf("to:%s subject:%s", to, subject))
	for time.Now().Before(deadline) {
		var list struct {
			Messages []struct{ ID string } `json:"messages"`
		}
		if getJSON(t, "http://"+uiAddr+"/api/v1/search?query="+q, &list) && len(list.Messages) > 0 {
			var msg struct{ Text, HTML string }
			getJSON(t, "http://"+uiAddr+"/api/v1/message/"+list.Messages[0].ID, &msg)
			if !strings.Contains(msg.Text, linkPrefix+"?token=") {
				t.Fatalf("mail has no %s link:\n%s", linkPrefix, msg.Text)
			}
			tok, err := testenv.LinkToken(msg.Text, linkPrefix[strings.LastIndex(linkPrefix, "/"):])
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no %q mail to %s in Mailpit", subject, to)
	return ""
}

func getJSON(t *testing.T, u string, v any) bool {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return false
	}
	return json.NewDecoder(resp.Body).Decode(v) == nil
}
