package buildinfo

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestUnstampedBuild(t *testing.T) {
	i := Get()
	if i.Version == "" || i.Commit == "" || i.Date == "" || !strings.HasPrefix(i.GoVersion, "go") {
		t.Errorf("Get() = %+v: every field must have a value", i)
	}
	if s := i.String(); !strings.HasPrefix(s, "authd "+i.Version+" (commit ") {
		t.Errorf("String() = %q", s)
	}
}

// TestStampedBuild links a program with the -X flags the Makefile and the
// Dockerfile use, and expects the stamped values back: a renamed variable
// would make the linker ignore the flags silently.
func TestStampedBuild(t *testing.T) {
	dir := t.TempDir()
	const pkg = "github.com/authd/authd/internal/buildinfo"
	bin := filepath.Join(dir, "stamped")
	build := exec.Command("go", "build", "-o", bin, "-ldflags",
		"-X "+pkg+".version=v9.8.7 -X "+pkg+".commit=abc123 -X "+pkg+".date=2026-01-02T03:04:05Z", "./testdata/stamp/main.go")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := "authd v9.8.7 (commit abc123, built 2026-01-02T03:04:05Z, "; !strings.HasPrefix(string(out), want) {
		t.Errorf("stamped binary says %q, want it to start with %q", out, want)
	}
}
