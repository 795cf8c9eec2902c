package config

import (
	"bytes"
	"errors"
	"maps"
	"os"
	"strconv"
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
		{[]string{"DATABASE_URL", "postgres://db/authd", "SECRET_KEY", testSecret}, "PUBLIC_URL is required"},
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
		{[]string{"PUBLIC_URL", "https://a.example", "SECRET_KEY", testSecret}, "DATABASE_URL is required"},
		{[]string{"PUBLIC_URL", "https://a.example", "SECRET_KEY", testSecret, "DATABASE_URL", "mysql://u:hunter2@db"}, "DATABASE_URL: invalid value"},
		{append(base, "HTTP_ADDR", "8080"), "HTTP_ADDR"},
		{append(base, "METRICS_ADDR", ":8080"), "METRICS_ADDR: invalid value: must differ from HTTP_ADDR"},
		{append(base, "METRICS_ADDR", "localhost"), "METRICS_ADDR"},
		{append(base, "HASH_MEMORY_PERCENT", "95"), "HASH_MEMORY_PERCENT"},
		{append(base, "OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"), "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{append(base, "OTEL_TRACES_SAMPLER_ARG", "2"), "OTEL_TRACES_SAMPLER_ARG"},
		{append(base, "PUBLIC_URL", "auth.example.com"), "PUBLIC_URL: invalid value"},
		{append(base, "COOKIE_SECURE", "false"), "COOKIE_SECURE"},
		{append(base, "COOKIE_DOMAIN", "example.com"), "COOKIE_NAME"},
		{append(base, "COOKIE_NAME", "bad name"), "COOKIE_NAME"},
		{append(base, "ARGON2_MEMORY_KIB", "1"), "ARGON2_MEMORY_KIB"},
		{append(base, "ARGON2_ITERATIONS", "x"), "ARGON2_ITERATIONS"},
		{append(base, "SESSION_LIFETIME", "1s"), "SESSION_LIFETIME"},
		{append(base, "VALKEY_URL", "http://cache"), "VALKEY_URL"},
		{append(base, "VALKEY_SENTINEL_PASSWORD", "hunter2"), "VALKEY_SENTINEL_PASSWORD: invalid value: is for sentinels"},
		{append(base, "SHUTDOWN_DRAIN", "1h"), "SHUTDOWN_DRAIN"},
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

func TestSentinelCredentialsAndDrain(t *testing.T) {
	c, err := Load(envOf("DEV_MODE", "true", "VALKEY_URL", "redis://s1:26379/0?addr=s2:26379&master_set=authd",
		"VALKEY_SENTINEL_USERNAME", "watcher", "VALKEY_SENTINEL_PASSWORD", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	if c.ValkeySentinelUsername != "watcher" || c.ValkeySentinelPassword != "s3cret" {
		t.Errorf("sentinel credentials = %q, %q", c.ValkeySentinelUsername, c.ValkeySentinelPassword)
	}
	if c.ShutdownDrain != 5*time.Second {
		t.Errorf("ShutdownDrain = %v, want the default 5s", c.ShutdownDrain)
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

// TestLoadReportsEveryInvalidVariable: a deployment with three mistakes is
// told all three at once, one line each, and no line echoes a value.
func TestLoadReportsEveryInvalidVariable(t *testing.T) {
	_, err := Load(envOf("DATABASE_URL", "mysql://u:hunter2@db", "SESSION_LIFETIME", "forever", "LOG_LEVEL", "loud"))
	if err == nil {
		t.Fatal("Load accepted a broken environment")
	}
	want := []string{"PUBLIC_URL is required", "DATABASE_URL: invalid value", "SESSION_LIFETIME: invalid value", "LOG_LEVEL: invalid value", "SECRET_KEY is required"}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Errorf("%d lines, want %d:\n%s", len(lines), len(want), err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("the error does not say %q:\n%s", w, err)
		}
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("the error leaks a secret: %s", err)
	}
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != len(want) {
		t.Errorf("errors.As(Errors) = %v, %d", errs, len(errs))
	}
}

// TestLoadOnly: `authd migrate` runs with DATABASE_URL alone, in
// production mode, even though serve would refuse that environment.
func TestLoadOnly(t *testing.T) {
	c, err := LoadOnly(envOf("DATABASE_URL", "postgres://db/authd", "SMTP_TLS", "maybe"), "DATABASE_URL", "LOG_LEVEL", "DEPENDENCY_TIMEOUT")
	if err != nil {
		t.Fatal(err)
	}
	if c.DatabaseURL != "postgres://db/authd" || c.LogLevel != "info" || c.DependencyTimeout != 2*time.Second {
		t.Errorf("LoadOnly = %+v", c)
	}
	if _, err := LoadOnly(envOf(), "DATABASE_URL"); err == nil || !strings.Contains(err.Error(), "DATABASE_URL is required") {
		t.Errorf("LoadOnly without DATABASE_URL = %v", err)
	}
	if _, err := LoadOnly(envOf(), "NO_SUCH_SETTING"); err == nil {
		t.Error("LoadOnly accepted an unknown name")
	}
}

// TestDevModeListensOnLoopback: a developer's server is not reachable from
// the network unless HTTP_ADDR says so; production listens everywhere.
func TestDevModeListensOnLoopback(t *testing.T) {
	tests := []struct {
		env  []string
		want string
	}{
		{[]string{"DEV_MODE", "true"}, "127.0.0.1:8080"},
		{[]string{"DEV_MODE", "true", "HTTP_ADDR", ":9000"}, ":9000"},
		{[]string{"PUBLIC_URL", "https://a.example", "DATABASE_URL", "postgres://db/a", "SECRET_KEY", testSecret}, ":8080"},
	}
	for _, tt := range tests {
		c, err := Load(envOf(tt.env...))
		if err != nil {
			t.Fatal(err)
		}
		if c.HTTPAddr != tt.want {
			t.Errorf("%v: HTTP_ADDR = %q, want %q", tt.env, c.HTTPAddr, tt.want)
		}
	}
}

// bounds splits a documented range "lo–hi" (a parenthesis after hi is a
// reading aid) into its ends.
func bounds(t *testing.T, valid string) (lo, hi string) {
	t.Helper()
	valid, _, _ = strings.Cut(valid, " (")
	lo, hi, ok := strings.Cut(valid, "–")
	if !ok {
		t.Fatalf("range %q is not lo–hi", valid)
	}
	return lo, hi
}

// outside returns a value just below lo and just above hi.
func outside(t *testing.T, lo, hi string) (below, above string) {
	t.Helper()
	n, err1 := strconv.Atoi(lo)
	m, err2 := strconv.Atoi(hi)
	if err1 == nil && err2 == nil {
		return strconv.Itoa(n - 1), strconv.Itoa(m + 1)
	}
	if f, err := strconv.ParseFloat(lo, 64); err == nil && !strings.ContainsAny(hi, "hms") {
		g, _ := strconv.ParseFloat(hi, 64)
		return strconv.FormatFloat(f-0.001, 'f', -1, 64), strconv.FormatFloat(g+0.001, 'f', -1, 64)
	}
	d, err1 := time.ParseDuration(zeroUnit(lo))
	e, err2 := time.ParseDuration(zeroUnit(hi))
	if err1 != nil || err2 != nil {
		t.Fatalf("range %s–%s is neither numbers nor durations", lo, hi)
	}
	return (d - time.Millisecond).String(), (e + time.Millisecond).String()
}

func zeroUnit(v string) string {
	if v == "0" {
		return "0s"
	}
	return v
}

// TestRangesAreEnforced holds every documented range to the parser: both
// ends are accepted and a value just outside either is refused.
func TestRangesAreEnforced(t *testing.T) {
	base := map[string]string{"PUBLIC_URL": "https://a.example", "DATABASE_URL": "postgres://db/a", "SECRET_KEY": testSecret}
	checked := 0
	for _, s := range settings() {
		if s.valid == "" {
			// A number or a duration without a documented range is a
			// setting whose bounds nobody can look up.
			var c Config
			if err := s.parse(&c, "not-a-number"); err != nil &&
				(strings.Contains(err.Error(), "whole number") || strings.Contains(err.Error(), "duration such as")) {
				t.Errorf("%s is a number or a duration without a documented range (valid)", s.name)
			}
			continue
		}
		checked++
		lo, hi := bounds(t, s.valid)
		below, above := outside(t, lo, hi)
		for _, tc := range []struct {
			v  string
			ok bool
		}{{lo, true}, {hi, true}, {below, false}, {above, false}} {
			env := maps.Clone(base)
			env[s.name] = tc.v
			_, err := Load(func(k string) string { return env[k] })
			if (err == nil) != tc.ok {
				t.Errorf("%s=%s: err = %v, want ok=%v (documented range %s)", s.name, tc.v, err, tc.ok, s.valid)
			}
		}
	}
	if checked < 40 {
		t.Errorf("only %d settings have a documented range", checked)
	}
}

// TestREADMEDocumentsEverySetting keeps the settings table in README.md
// current: a row for every variable, with its range where it has one.
func TestREADMEDocumentsEverySetting(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(line, "|")
		if len(cells) < 3 {
			continue
		}
		for _, name := range strings.Split(cells[1], ",") {
			rows[strings.Trim(strings.TrimSpace(name), "`")] = line
		}
	}
	for _, s := range settings() {
		row, ok := rows[s.name]
		if !ok {
			t.Errorf("README.md's settings table has no row for %s", s.name)
			continue
		}
		if s.valid != "" {
			want, _, _ := strings.Cut(s.valid, " (")
			if !strings.Contains(row, want) {
				t.Errorf("README.md's row for %s does not give its range %s", s.name, want)
			}
		}
	}
}
