package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAdminAndWebhookSettings: the admin listener's and the webhooks'
// settings, their defaults and the mistakes they refuse, each naming the
// variable.
func TestAdminAndWebhookSettings(t *testing.T) {
	base := []string{"PUBLIC_URL", "https://auth.example.com", "DATABASE_URL", "postgres://db/authd", "SECRET_KEY", testSecret}
	c, err := Load(envOf(base...))
	if err != nil {
		t.Fatal(err)
	}
	if c.AdminAddr != "127.0.0.1:8081" || c.AdminTokensFile != "" || c.WebhookURL != "" || c.WebhookTimeout != 5*time.Second ||
		c.WebhookWorkers != 2 || c.WebhookGiveUpAfter != 72*time.Hour {
		t.Errorf("defaults: %+v", c)
	}
	dir := t.TempDir()
	cert := filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(cert, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	secret := "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	ok := [][]string{
		{"ADMIN_ADDR", ""},
		{"ADMIN_ADDR", "127.0.0.1:9090", "ADMIN_TOKENS_FILE", filepath.Join(dir, "not-yet")},
		{"ADMIN_TLS_CERT", cert, "ADMIN_TLS_KEY", cert, "ADMIN_TLS_CLIENT_CA", cert},
		{"WEBHOOK_URL", "https://hooks.example.com/authd", "WEBHOOK_SECRET", secret},
		{"WEBHOOK_URL", "http://127.0.0.1:9000/hook", "WEBHOOK_SECRET", secret + "," + secret},
	}
	for _, env := range ok {
		if _, err := Load(envOf(append(base, env...)...)); err != nil {
			t.Errorf("%v: %v", env, err)
		}
	}
	bad := []struct {
		env  []string
		want string
	}{
		{[]string{"ADMIN_ADDR", ":8080"}, "ADMIN_ADDR"},
		{[]string{"ADMIN_ADDR", "nonsense"}, "ADMIN_ADDR"},
		{[]string{"ADMIN_TOKENS_FILE", dir}, "ADMIN_TOKENS_FILE"},
		{[]string{"ADMIN_TLS_CERT", cert}, "ADMIN_TLS_KEY"},
		{[]string{"ADMIN_TLS_KEY", cert}, "ADMIN_TLS_KEY"},
		{[]string{"ADMIN_TLS_CLIENT_CA", cert}, "ADMIN_TLS_CLIENT_CA"},
		{[]string{"ADMIN_TLS_CERT", filepath.Join(dir, "missing"), "ADMIN_TLS_KEY", cert}, "ADMIN_TLS_CERT"},
		{[]string{"WEBHOOK_URL", "https://hooks.example.com/authd"}, "WEBHOOK_SECRET"},
		{[]string{"WEBHOOK_URL", "http://hooks.example.com/authd", "WEBHOOK_SECRET", secret}, "WEBHOOK_URL"},
		{[]string{"WEBHOOK_URL", "ftp://hooks.example.com", "WEBHOOK_SECRET", secret}, "WEBHOOK_URL"},
		{[]string{"WEBHOOK_URL", "https://hooks.example.com", "WEBHOOK_SECRET", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, "WEBHOOK_SECRET"},
		{[]string{"WEBHOOK_URL", "https://hooks.example.com", "WEBHOOK_SECRET", "whsec_c2hvcnQ="}, "WEBHOOK_SECRET"},
	}
	for _, tt := range bad {
		_, err := Load(envOf(append(base, tt.env...)...))
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "MfKQ9r8") {
			t.Errorf("%v: err = %v, want one naming %s (and not the secret)", tt.env, err, tt.want)
		}
	}
	// In DEV_MODE a webhook may go to any http receiver.
	if _, err := Load(envOf("DEV_MODE", "true", "WEBHOOK_URL", "http://hooks.internal/authd", "WEBHOOK_SECRET", secret)); err != nil {
		t.Errorf("DEV_MODE http webhook: %v", err)
	}
}
