package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"

	"github.com/authd/authd/internal/kratos/kratostest"
	"github.com/authd/authd/internal/testenv"
)

// TestImportCommand runs `authd import kratos` as an operator would: a
// dry run, the import, and a second run, each with its report; the
// output never holds an address or a hash.
func TestImportCommand(t *testing.T) {
	authdURL, dropAuthd, err := testenv.CreateDatabase(testenv.RandomName("authd_test_cmd_import_"))
	if err != nil {
		t.Fatal(err)
	}
	defer dropAuthd()
	getenv := env("DATABASE_URL", authdURL)
	ctx := context.Background()
	if err := run(ctx, []string{"migrate", "up"}, getenv, &bytes.Buffer{}, &bytes.Buffer{}, noTune); err != nil {
		t.Fatal(err)
	}
	kratosURL, dropKratos, err := testenv.CreateDatabase(testenv.RandomName("authd_test_cmd_kratos_"))
	if err != nil {
		t.Fatal(err)
	}
	defer dropKratos()
	kdb, err := kratostest.Open(ctx, kratosURL)
	if err != nil {
		t.Fatal(err)
	}
	defer kdb.Close()
	hash, err := bcrypt.GenerateFromPassword([]byte("a kratos password"), 8)
	if err != nil {
		t.Fatal(err)
	}
	for _, email := range []string{"Ann@Example.com", "bob@example.com"} {
		if err := kdb.Insert(ctx, kratostest.Identity{ID: uuid.New(), Traits: map[string]any{"email": email},
			PasswordIdentifier: email, PasswordHash: string(hash)}); err != nil {
			t.Fatal(err)
		}
	}
	importRun := func(extra ...string) (string, string, error) {
		var out, errOut bytes.Buffer
		err := run(ctx, append([]string{"import", "kratos", "--from", kratosURL}, extra...), getenv, &out, &errOut, noTune)
		return out.String(), errOut.String(), err
	}
	steps := []struct {
		args []string
		want []string
	}{
		{[]string{"--dry-run"}, []string{"dry run: nothing was written", "read              2", "imported          2"}},
		{[]string{"--batch-size", "1"}, []string{"imported          2", "errors            0"}},
		{nil, []string{"imported          0", "skipped           2"}},
	}
	for _, s := range steps {
		out, errOut, err := importRun(s.args...)
		if err != nil {
			t.Fatalf("authd import kratos %v: %v\n%s", s.args, err, errOut)
		}
		for _, w := range s.want {
			if !strings.Contains(out, w) {
				t.Errorf("authd import kratos %v printed\n%s\nwant %q in it", s.args, out, w)
			}
		}
		for _, secret := range []string{"ann@", "Ann@", "bob@", "$2a$", string(hash[:10])} {
			if strings.Contains(out+errOut, secret) {
				t.Errorf("authd import kratos %v printed %q", s.args, secret)
			}
		}
	}

	for _, bad := range [][]string{{"import"}, {"import", "ldap"}, {"import", "kratos"}, {"import", "kratos", "--from", kratosURL, "--batch-size", "0"}} {
		if err := run(ctx, bad, getenv, &bytes.Buffer{}, &bytes.Buffer{}, noTune); !errors.Is(err, errUsage) {
			t.Errorf("authd %v = %v, want a usage error", bad, err)
		}
	}
	if _, err := kdb.Pool.Exec(ctx, `ALTER TABLE identities DROP COLUMN state`); err != nil {
		t.Fatal(err)
	}
	if _, _, err := importRun(); err == nil || !strings.Contains(err.Error(), "identities.state") {
		t.Errorf("import of an unknown schema = %v, want a message naming identities.state", err)
	}
}
