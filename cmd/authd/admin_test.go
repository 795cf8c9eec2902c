package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/authd/authd/internal/testenv"
)

// runCLI runs `authd admin …` of the real binary with settings and
// stdin, and returns its stdout, stderr and whether it exited 0.
func runCLI(t *testing.T, bin string, settings []string, stdin string, args ...string) (string, string, bool) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"admin"}, args...)...)
	cmd.Env = append(os.Environ(), settings...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("authd admin %v: %v", args, err)
		}
	}
	return out.String(), errOut.String(), err == nil
}

// TestAdminCommands runs the admin commands of the real binary against a
// running authd: tokens made and revoked in the file the server reads,
// identities created, found, disabled, enabled and deleted, sessions
// ended and a recovery link made, each an audit event of the CLI's user.
func TestAdminCommands(t *testing.T) {
	bin := authdBinary(t)
	dbURL, drop, err := testenv.CreateDatabase(testenv.RandomName("authd_test_cmd_admin_"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(drop)
	tokens := filepath.Join(t.TempDir(), "admin-tokens")
	settings := []string{"DEV_MODE=true", "DATABASE_URL=" + dbURL, "VALKEY_URL=" + testenv.ValkeyURL(), "VALKEY_KEY_PREFIX=" + testPrefix + "cli:",
		"SMTP_HOST=" + testSink.Host(), "SMTP_PORT=" + strconv.Itoa(testSink.Port()), "ARGON2_MEMORY_KIB=256", "ARGON2_ITERATIONS=1",
		"LOG_LEVEL=warn", "ADMIN_TOKENS_FILE=" + tokens, "USER=tester", "PUBLIC_URL=http://app.example.test", "SHUTDOWN_DRAIN=0"}
	cmd := exec.Command(bin, "migrate", "up")
	cmd.Env = append(os.Environ(), settings...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("migrate up: %v\n%s", err, out)
	}

	// A token, printed once; the file holds its hash only.
	out, errOut, ok := runCLI(t, bin, settings, "", "tokens", "create", "ops")
	token := strings.TrimSpace(out)
	if !ok || !strings.HasPrefix(token, "authd_adm_") || strings.Count(out, "\n") != 1 {
		t.Fatalf("tokens create: ok=%v out=%q err=%q", ok, out, errOut)
	}
	file, err := os.ReadFile(tokens)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(file), token) || !strings.Contains(string(file), " ops") {
		t.Errorf("the token file holds %q", file)
	}
	if st, _ := os.Stat(tokens); st.Mode().Perm() != 0o600 {
		t.Errorf("the token file is %v, want readable by its owner only", st.Mode().Perm())
	}
	if _, _, ok := runCLI(t, bin, settings, "", "tokens", "create", "ops"); ok {
		t.Error("a second token named ops was made")
	}

	// A running authd takes the token, and refuses it once revoked.
	adminAddr := freeAddr(t)
	_, addr := startBinary(t, bin, append(settings, "ADMIN_ADDR="+adminAddr))
	adminGet := func(tok string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+adminAddr+"/admin/v1/identities?page_size=1", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := adminGet(token); s != http.StatusOK {
		t.Fatalf("the admin API with the new token: %d", s)
	}
	resp, err := http.Get("http://" + addr + "/admin/v1/identities")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("the public port answers %d for /admin/v1/identities, want 404", resp.StatusCode)
	}

	// Identities.
	email := strings.ToLower(testenv.RandomName("cli")) + "@example.com"
	out, errOut, ok = runCLI(t, bin, settings, "correct horse battery staple\n", "identities", "create", "--email", email, "--password-stdin", "--json")
	if !ok {
		t.Fatalf("identities create: %s", errOut)
	}
	var created struct {
		ID          string `json:"id"`
		Email       string `json:"email"`
		State       string `json:"state"`
		HasPassword bool   `json:"has_password"`
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil || created.Email != email || !created.HasPassword {
		t.Fatalf("identities create printed %q (%v)", out, err)
	}
	if strings.Contains(out+errOut, "correct horse") {
		t.Error("the password was printed")
	}
	if _, errOut, ok := runCLI(t, bin, settings, "password1\n", "identities", "create", "--email", "weak-"+email, "--password-stdin"); ok || !strings.Contains(errOut, "password") {
		t.Errorf("a common password: ok=%v %s", ok, errOut)
	}
	out, _, ok = runCLI(t, bin, settings, "", "identities", "list", "--email-prefix", strings.Split(email, "@")[0])
	if !ok || !strings.HasPrefix(out, "ID") || !strings.Contains(out, created.ID) || !strings.Contains(out, email) {
		t.Errorf("identities list printed:\n%s", out)
	}
	out, _, ok = runCLI(t, bin, settings, "", "identities", "get", email)
	if !ok || !strings.Contains(out, created.ID) || !strings.Contains(out, "active") {
		t.Errorf("identities get printed:\n%s", out)
	}

	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	base := "http://" + addr + "/api/v1/auth"
	loginStatus := func(c *http.Client, password string) int {
		t.Helper()
		return post(t, c, base+"/login", map[string]string{"identifier": email, "password": password}).StatusCode
	}
	if s := loginStatus(hc, "correct horse battery staple"); s != http.StatusOK {
		t.Fatalf("login with the created password: %d", s)
	}
	out, _, ok = runCLI(t, bin, settings, "", "sessions", "list", email, "--json")
	var sessions struct {
		Sessions []struct {
			ID string `json:"id"`
		} `json:"sessions"`
	}
	if err := json.Unmarshal([]byte(out), &sessions); !ok || err != nil || len(sessions.Sessions) != 1 {
		t.Errorf("sessions list printed %q", out)
	}
	me := func() int {
		t.Helper()
		resp, err := hc.Get(base + "/me")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	// Disable ends the session at once and refuses logins; enable undoes it.
	if _, errOut, ok := runCLI(t, bin, settings, "", "identities", "disable", created.ID); !ok {
		t.Fatalf("identities disable: %s", errOut)
	}
	if s := me(); s != http.StatusUnauthorized {
		t.Errorf("/me after disable = %d", s)
	}
	if s := loginStatus(hc, "correct horse battery staple"); s != http.StatusUnauthorized {
		t.Errorf("login of a disabled identity = %d", s)
	}
	if _, errOut, ok := runCLI(t, bin, settings, "", "identities", "enable", email); !ok {
		t.Fatalf("identities enable: %s", errOut)
	}
	if s := loginStatus(hc, "correct horse battery staple"); s != http.StatusOK {
		t.Errorf("login after enable = %d", s)
	}
	out, _, ok = runCLI(t, bin, settings, "", "sessions", "revoke", email)
	if !ok || !strings.Contains(out, "ended 1") || me() != http.StatusUnauthorized {
		t.Errorf("sessions revoke printed %q", out)
	}

	// A recovery link, printed, sets a new password.
	out, _, ok = runCLI(t, bin, settings, "", "recovery-link", email)
	link := strings.TrimSpace(out)
	if !ok || !strings.HasPrefix(link, "http://app.example.test/recovery?token=") {
		t.Fatalf("recovery-link printed %q", out)
	}
	tok, err := testenv.LinkToken(link, "/recovery")
	if err != nil {
		t.Fatal(err)
	}
	if r := post(t, hc, base+"/recovery/complete", map[string]string{"token": tok, "password": "a brand new passphrase"}); r.StatusCode != http.StatusNoContent {
		t.Errorf("recovery with the printed link: %d", r.StatusCode)
	}
	if s := loginStatus(hc, "a brand new passphrase"); s != http.StatusOK {
		t.Errorf("login with the recovered password = %d", s)
	}

	// Delete asks for --yes.
	if _, errOut, ok := runCLI(t, bin, settings, "", "identities", "delete", email); ok || !strings.Contains(errOut, "--yes") {
		t.Errorf("delete without --yes: ok=%v %s", ok, errOut)
	}
	if _, errOut, ok := runCLI(t, bin, settings, "", "identities", "delete", email, "--yes"); !ok {
		t.Fatalf("identities delete: %s", errOut)
	}
	if _, errOut, ok := runCLI(t, bin, settings, "", "identities", "get", created.ID); ok || !strings.Contains(errOut, "No such identity") {
		t.Errorf("get after delete: ok=%v %s", ok, errOut)
	}
	if _, _, ok := runCLI(t, bin, settings, "", "identities", "frobnicate"); ok {
		t.Error("an unknown command exited 0")
	}

	// Each command was an audit event of the CLI's user.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT event FROM audit_events WHERE actor = 'cli:tester' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	events, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"admin_identity_created", "admin_identities_listed", "admin_identity_read", "admin_sessions_listed",
		"admin_identity_disabled", "admin_identity_enabled", "admin_sessions_revoked", "admin_recovery_link_created", "admin_identity_deleted"} {
		found := false
		for _, e := range events {
			found = found || e == want
		}
		if !found {
			t.Errorf("no %s event by cli:tester among %v", want, events)
		}
	}

	// Revoked, the token is refused by the running authd at its next call.
	if _, errOut, ok := runCLI(t, bin, settings, "", "tokens", "revoke", "ops"); !ok {
		t.Fatalf("tokens revoke: %s", errOut)
	}
	if s := adminGet(token); s != http.StatusUnauthorized {
		t.Errorf("the admin API with a revoked token: %d, want 401", s)
	}
	if out, _, _ := runCLI(t, bin, settings, "", "tokens", "list"); strings.TrimSpace(out) != "" {
		t.Errorf("tokens list after the revocation: %q", out)
	}
}
