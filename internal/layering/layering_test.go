// Package layering holds the import rules of the hexagon as a test: the
// domain at the centre imports no adapter and no infrastructure library,
// the HTTP adapter reaches storage only through the domain, no adapter
// imports the HTTP layer, and only the deployable builds the graph.
package layering

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/authd/authd/"

// rule forbids packages under dir (non-test files) to import any path
// with one of the prefixes, unless it has one of the allowed prefixes.
type rule struct {
	dir     string
	forbid  []string
	allowed []string
	why     string
}

var adapters = []string{"internal/postgres", "internal/valkey", "internal/mailqueue", "internal/smtp",
	"internal/argon2id", "internal/hashpool", "internal/blocklist", "internal/config", "internal/logging", "internal/connlimit",
	"internal/cgroup", "internal/tracing", "internal/buildinfo", "internal/webhook"}

func rules() []rule {
	rs := []rule{
		{
			dir: "internal/auth",
			forbid: []string{module, "github.com/labstack/", "github.com/jackc/", "github.com/valkey-io/",
				"github.com/alexedwards/", "github.com/riverqueue/", "github.com/wneessen/", "github.com/prometheus/", "net/http"},
			allowed: []string{module + "internal/auth"},
			why:     "the domain declares ports and imports no adapter or infrastructure library",
		},
		{
			dir:    "internal/httpapi",
			forbid: []string{module + "internal/postgres", module + "internal/valkey", module + "internal/mailqueue", module + "internal/smtp", module + "internal/app", "github.com/jackc/", "github.com/valkey-io/"},
			why:    "the HTTP adapter reaches storage only through the domain's use cases",
		},
		{
			dir: "internal/adminapi",
			forbid: []string{module + "internal/postgres", module + "internal/valkey", module + "internal/mailqueue", module + "internal/smtp",
				module + "internal/webhook", module + "internal/app", "github.com/jackc/", "github.com/valkey-io/", "github.com/riverqueue/"},
			why: "the admin HTTP adapter reaches storage only through the domain's use cases",
		},
		{
			dir:    "internal/webhook",
			forbid: []string{module + "internal/postgres", module + "internal/mailqueue"},
			why:    "the webhook adapter plugs into the audit log and the queue through interfaces, wired by the composition root",
		},
		{
			dir:    "internal",
			forbid: []string{module + "internal/app", module + "cmd/", module + "devtools/"},
			why:    "only the deployable builds the object graph",
		},
	}
	for _, a := range adapters {
		rs = append(rs, rule{dir: a, forbid: []string{module + "internal/httpapi", module + "internal/app"},
			why: "adapters do not depend on the HTTP layer or the composition root"})
	}
	return rs
}

func TestImportRules(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found at %s: %v", root, err)
	}
	imports := importsByDir(t, root)
	if len(imports["internal/auth"]) == 0 {
		t.Fatal("no imports found for internal/auth: the scan is broken")
	}
	for _, r := range rules() {
		for dir, paths := range imports {
			if dir != r.dir && !strings.HasPrefix(dir, r.dir+"/") {
				continue
			}
			for _, p := range paths {
				if hasPrefix(p, r.allowed) {
					continue
				}
				if hasPrefix(p, r.forbid) {
					t.Errorf("%s imports %s: %s", dir, p, r.why)
				}
			}
		}
	}
}

// TestRulesCatchAViolation keeps the scan honest: a rule that matches
// nothing would pass forever.
func TestRulesCatchAViolation(t *testing.T) {
	r := rules()[0]
	if !hasPrefix(module+"internal/postgres", r.forbid) || hasPrefix(module+"internal/postgres", r.allowed) {
		t.Error("the domain rule would let internal/auth import internal/postgres")
	}
	if !hasPrefix("github.com/labstack/echo/v4", r.forbid) {
		t.Error("the domain rule would let internal/auth import Echo")
	}
}

func hasPrefix(p string, prefixes []string) bool {
	for _, pre := range prefixes {
		if p == strings.TrimSuffix(pre, "/") || strings.HasPrefix(p, pre) {
			return true
		}
	}
	return false
}

// importsByDir parses the imports of every non-test Go file, by package
// directory relative to root.
func importsByDir(t *testing.T, root string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			out[rel] = append(out[rel], p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
