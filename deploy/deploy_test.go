// Package deploy holds the checks of the deployment files in this folder,
// the Dockerfile and docker-compose.yml, each made with the code of the
// tool that reads them (compose-go, the Helm SDK, Kubernetes' API types
// and Pod Security admission, Prometheus' rule and PromQL parsers), and
// the checks that need a running authd (a live /metrics scrape, traces,
// the chart's environment started for real). It is a test-only package:
// none of these libraries is linked into the server.
package deploy

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authd/authd/internal/testenv"
	"github.com/authd/authd/internal/valkey"
)

var (
	testDBURL  string
	testPrefix string
	testSink   *testenv.SMTPSink
)

// testVersion is what the test build of authd is stamped with, as the
// Makefile and the Dockerfile stamp a release.
const testVersion = "v0.0.0-deploytest"

func TestMain(m *testing.M) {
	url, drop, err := testenv.CreateDatabase(testenv.RandomName("authd_test_deploy_"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testDBURL = url
	testPrefix = testenv.RandomName("authd-test-deploy-") + ":"
	testSink, err = testenv.StartSMTPSink()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		drop()
		os.Exit(1)
	}
	code := m.Run()
	testSink.Close()
	if builtBin != "" {
		os.RemoveAll(filepath.Dir(builtBin))
	}
	if vc, err := valkey.Open(context.Background(), testenv.ValkeyURL(), valkey.Options{}); err == nil {
		if err := testenv.DeleteKeys(vc, testPrefix); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		vc.Close()
	}
	drop()
	os.Exit(code)
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// authdBinary builds cmd/authd once, stamped like a release.
func authdBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "authd-deploy-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "authd")
		const pkg = "github.com/authd/authd/internal/buildinfo"
		cmd := exec.Command("go", "build", "-o", builtBin, "-ldflags",
			"-X "+pkg+".version="+testVersion+" -X "+pkg+".commit=0123abc -X "+pkg+".date=2026-01-01T00:00:00Z", "../cmd/authd")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// authd is a running authd process.
type authd struct {
	proc *testenv.Process
	out  *testenv.LogBuffer
	// base and metrics are the URLs of its HTTP_ADDR and METRICS_ADDR.
	base, metrics string
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// testEnv is what every authd of these tests gets unless the test says
// otherwise: the test database, key prefix and SMTP sink, on free ports,
// in dev mode.
func testEnv(t *testing.T) map[string]string {
	t.Helper()
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	return map[string]string{
		"DEV_MODE": "true", "HTTP_ADDR": addr, "METRICS_ADDR": freeAddr(t), "PUBLIC_URL": "http://localhost:" + port,
		"DATABASE_URL": testDBURL, "VALKEY_URL": testenv.ValkeyURL(), "VALKEY_KEY_PREFIX": testPrefix,
		"SMTP_HOST": testSink.Host(), "SMTP_PORT": fmt.Sprint(testSink.Port()), "SMTP_TLS": "none",
		"ARGON2_MEMORY_KIB": "1024", "ARGON2_ITERATIONS": "1", "AUTO_MIGRATE": "true", "LOG_LEVEL": "info",
	}
}

// startAuthd runs the binary with exactly env (and PATH), and waits for
// /ready.
func startAuthd(t *testing.T, env map[string]string, args ...string) *authd {
	t.Helper()
	if len(args) == 0 {
		args = []string{"serve"}
	}
	cmd := exec.Command(authdBinary(t), args...)
	cmd.Env = envList(env)
	a := &authd{out: &testenv.LogBuffer{}, base: "http://" + env["HTTP_ADDR"], metrics: "http://" + env["METRICS_ADDR"] + "/metrics"}
	if env["METRICS_ADDR"] == "" {
		a.metrics = a.base + "/metrics"
	}
	cmd.Stdout, cmd.Stderr = a.out, a.out
	p, err := testenv.StartProcess(cmd)
	if err != nil {
		t.Fatal(err)
	}
	a.proc = p
	t.Cleanup(func() {
		if err := p.Stop(30 * time.Second); err != nil {
			t.Errorf("authd did not stop cleanly: %v\n%s", err, a.out)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.WaitHTTP(ctx, a.base+"/ready", time.Minute); err != nil {
		t.Fatalf("%v\n%s", err, a.out)
	}
	return a
}

func envList(env map[string]string) []string {
	out := []string{"PATH=" + os.Getenv("PATH")}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, k+"="+env[k])
	}
	return out
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// runtimeVariables are read by the Go runtime in authd, not by its
// configuration, and may be set by a deployment.
var runtimeVariables = []string{"GOMEMLIMIT", "GOMAXPROCS", "GOGC"}

func isRuntimeVariable(name string) bool {
	for _, v := range runtimeVariables {
		if v == name {
			return true
		}
	}
	return strings.HasPrefix(name, "GODEBUG")
}

// scrape reads the unlabelled samples of a Prometheus text page.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	_, body := get(t, url)
	out := map[string]float64{}
	for _, line := range strings.Split(body, "\n") {
		name, v, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") || strings.Contains(name, "{") {
			continue
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
			out[name] = f
		}
	}
	return out
}

// TestServerLinksNoDeployTool: the checks here use Helm, Kubernetes,
// Prometheus and compose-go; the server binary must link none of them.
func TestServerLinksNoDeployTool(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "../cmd/authd").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, heavy := range []string{"helm.sh/", "k8s.io/", "sigs.k8s.io/", "github.com/prometheus/prometheus/", "github.com/compose-spec/", "github.com/prometheus-operator/"} {
			if strings.HasPrefix(dep, heavy) {
				t.Errorf("cmd/authd links %s", dep)
			}
		}
	}
}
