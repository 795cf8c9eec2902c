package config

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func envOf(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

const testSecret = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

func TestLoadDefaults(t *testing.T) {
	prod, err := Load(envOf("PUBLIC_URL", "https://auth.example.com/", "DATABASE_URL", "postgres://db/authd", "SECRET_KEY", testSecret))
	if err != nil {
		t.Fatal(err)
	}
	if !prod.CookieSecure || prod.CookieName != "__Host-authd_session" || prod.AutoMigrate || prod.SessionLifetime != 24*time.Hour ||
		prod.Argon2Memory != 19456 || prod.Argon2Iterations != 2 || prod.Argon2Parallelism != 1 || prod.HTTPAddr != ":8080" ||
		prod.PublicURL != "https://auth.example.com" || prod.BodyLimitBytes != 65536 || prod.SMTPTLS != "starttls" || prod.SMTPPort != 587 ||
		prod.RecoveryTTL != time.Hour || prod.MailLimitPerHour != 3 || prod.RequireVerifiedEmail {
		t.Errorf("production defaults = %+v", prod)
	}
	dev, err := Load(envOf("DEV_MODE", "true"))
	if err != nil {
		t.Fatal(err)
	}
	if dev.CookieSecure || dev.CookieName != "authd_session" || !dev.AutoMigrate || dev.PublicURL == "" || dev.DatabaseURL == "" ||
		dev.SMTPHost != "127.0.0.1" || dev.SMTPPort != 1025 || dev.SMTPTLS != "none" || len(dev.SecretKey) < 32 {
		t.Errorf("dev defaults = %+v", dev)
	}
}

func TestLoadErrors(t *testing.T) {
	base := []string{"PUBLIC_URL", "https://auth.example.com", "DATABASE_URL", "postgres://u:hunter2@db/authd", "SECRET_KEY", testSecret}
	tests := []struct {
		env  []string
		want string
	}{
		{[]string{"DATABASE_URL", "postgres://db/authd"}, "PUBLIC_URL is required"},
		{[]string{"DATABASE_URL", "postgres://db/authd", "PUBLIC_URL", "https://a.example"}, "SECRET_KEY is required"},
		{append(base, "SECRET_KEY", "c2hvcnQ="), "SECRET_KEY"},
		{append(base, "SECRET_KEY", devSecret), "SECRET_KEY"},
		{append(base, "SECRET_KEY_PREVIOUS", testSecret+",c2hvcnQ="), "SECRET_KEY_PREVIOUS"},
		{append(base, "SMTP_TLS", "maybe"), "SMTP_TLS"},
		{append(base, "CORS_ALLOWED_ORIGINS", "*"), "CORS_ALLOWED_ORIGINS"},
		{append(base, "CORS_ALLOWED_ORIGINS", "https://app.example.com/path"), "CORS_ALLOWED_ORIGINS"},
		{append(base, "CSRF_TRUSTED_ORIGINS", "localhost:5173"), "CSRF_TRUSTED_ORIGINS"},
		{append(base, "TRUSTED_PROXIES", "10.0.0.0/33"), "TRUSTED_PROXIES"},
		{append(base, "REGISTRATION_MODE", "closed"), "REGISTRATION_MODE"},
		{append(base, "LOGIN_ACCOUNT_FREE_ATTEMPTS", "-1"), "LOGIN_ACCOUNT_FREE_ATTEMPTS"},
		{append(base, "SMTP_PORT", "70000"), "SMTP_PORT"},
		{[]string{"PUBLIC_URL", "https://a.example"}, "DATABASE_URL is required"},
		{[]string{"PUBLIC_URL", "https://a.example", "DATABASE_URL", "mysql://u:hunter2@db"}, "DATABASE_URL: invalid value"},
		{append(base, "PUBLIC_URL", "auth.example.com"), "PUBLIC_URL: invalid value"},
		{append(base, "COOKIE_SECURE", "false"), "COOKIE_SECURE"},
		{append(base, "COOKIE_DOMAIN", "example.com"), "COOKIE_NAME"},
		{append(base, "COOKIE_NAME", "bad name"), "COOKIE_NAME"},
		{append(base, "ARGON2_MEMORY_KIB", "1"), "ARGON2_MEMORY_KIB"},
		{append(base, "ARGON2_ITERATIONS", "x"), "ARGON2_ITERATIONS"},
		{append(base, "SESSION_LIFETIME", "1s"), "SESSION_LIFETIME"},
		{append(base, "VALKEY_URL", "http://cache"), "VALKEY_URL"},
		{append(base, "LOG_LEVEL", "loud"), "LOG_LEVEL"},
		{append(base, "HTTP_BODY_LIMIT", "10"), "HTTP_BODY_LIMIT"},
	}
	for _, tt := range tests {
		_, err := Load(envOf(tt.env...))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Load(%v) = %v, want an error containing %q", tt.env, err, tt.want)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "\n") {
			t.Errorf("Load(%v) error %q leaks a secret or spans lines", tt.env, err)
		}
	}
}

func TestLoadListsAndModes(t *testing.T) {
	c, err := Load(envOf("DEV_MODE", "true", "TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.1", "CORS_ALLOWED_ORIGINS", "https://app.example.com, http://localhost:5173/",
		"REGISTRATION_MODE", "strict"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.TrustedProxies) != 2 || c.TrustedProxies[1].String() != "192.0.2.1/32" {
		t.Errorf("TrustedProxies = %v", c.TrustedProxies)
	}
	if len(c.CORSOrigins) != 2 || c.CORSOrigins[1] != "http://localhost:5173" || !c.StrictRegistration {
		t.Errorf("CORSOrigins = %v, strict = %v", c.CORSOrigins, c.StrictRegistration)
	}
}

func TestWriteHelpListsEverySetting(t *testing.T) {
	var buf bytes.Buffer
	WriteHelp(&buf)
	for _, s := range settings() {
		if !strings.Contains(buf.String(), s.name) {
			t.Errorf("help lacks %s", s.name)
		}
	}
}

func TestPreviousSecretKeys(t *testing.T) {
	c, err := Load(envOf("DEV_MODE", "true", "SECRET_KEY_PREVIOUS", " "+testSecret+" , "+devSecret+",,"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.PreviousSecretKeys) != 2 || len(c.PreviousSecretKeys[0]) < 32 {
		t.Errorf("PreviousSecretKeys = %d keys, want 2", len(c.PreviousSecretKeys))
	}
}
