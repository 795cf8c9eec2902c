package main

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/internal/testenv"
)

// TestMailSurvivesAProcessThatDiesBeforeSending queues mail on an instance
// that never sends (it stops right after the commit, as a killed process
// would), then starts another: the mail goes out from the new instance.
func TestMailSurvivesAProcessThatDiesBeforeSending(t *testing.T) {
	sink, err := testenv.StartSMTPSink()
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	smtpEnv := []string{"SMTP_HOST", sink.Host(), "SMTP_PORT", strconv.Itoa(sink.Port()), "MAIL_RETRY_BASE", "100ms"}

	addr := freeAddr(t)
	queueOnly := start(t, env(append([]string{"HTTP_ADDR", addr, "PUBLIC_URL", "http://" + addr, "MAIL_WORKERS", "0"}, smtpEnv...)...), addr)
	email := strings.ToLower(testenv.RandomName("killed")) + "@example.com"
	body := `{"identifier":"` + email + `","password":"correct horse battery"}`
	resp, err := http.Post("http://"+addr+"/api/v1/auth/register", "application/json", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = http.Post("http://"+addr+"/api/v1/auth/recovery", "application/json", bytes.NewBufferString(`{"email":"`+email+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("recovery: %d", resp.StatusCode)
	}
	queueOnly.stop(t)
	if n := sink.Count(email); n != 0 {
		t.Fatalf("%d mails sent by an instance without workers", n)
	}

	addr2 := freeAddr(t)
	start(t, env(append([]string{"HTTP_ADDR", addr2, "PUBLIC_URL", "http://" + addr2}, smtpEnv...)...), addr2)
	for _, subject := range []string{"Verify", "Reset"} {
		if _, err := sink.WaitFor(email, subject, 15*time.Second); err != nil {
			t.Errorf("after restart: %v", err)
		}
	}
}
