package deploy

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/authd/authd/internal/config"
)

// loadCompose loads docker-compose.yml with compose-go, the loader of
// `docker compose`, with the given profiles, as `docker compose --profile …
// config` would.
func loadCompose(t *testing.T, profiles ...string) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{"../docker-compose.yml"},
		cli.WithWorkingDirectory(".."), cli.WithProfiles(profiles), cli.WithDotEnv, cli.WithEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	return p
}

func serviceNames(p *types.Project) []string {
	var out []string
	for name := range p.Services {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

func TestComposeServicesAndProfiles(t *testing.T) {
	tests := []struct {
		profiles []string
		want     []string
	}{
		{nil, []string{"authd", "mailpit", "migrate", "postgres", "valkey"}},
		{[]string{"k6"}, []string{"authd", "k6", "mailpit", "migrate", "postgres", "valkey"}},
		{[]string{"monitoring"}, []string{"alertmanager", "authd", "grafana", "mailpit", "migrate", "postgres", "prometheus", "valkey"}},
		{[]string{"tracing"}, []string{"authd", "jaeger", "mailpit", "migrate", "postgres", "valkey"}},
	}
	for _, tt := range tests {
		if got := serviceNames(loadCompose(t, tt.profiles...)); !slices.Equal(got, tt.want) {
			t.Errorf("profiles %v: services %v, want %v", tt.profiles, got, tt.want)
		}
	}
}

func TestComposeAuthd(t *testing.T) {
	p := loadCompose(t, "k6", "monitoring", "tracing")
	authd := p.Services["authd"]

	// It starts after the one-shot migration, and once its dependencies
	// are healthy.
	want := map[string]string{
		"migrate":  types.ServiceConditionCompletedSuccessfully,
		"postgres": types.ServiceConditionHealthy,
		"valkey":   types.ServiceConditionHealthy,
		"mailpit":  types.ServiceConditionHealthy,
	}
	for dep, cond := range want {
		if got := authd.DependsOn[dep].Condition; got != cond {
			t.Errorf("authd depends on %s with condition %q, want %q", dep, got, cond)
		}
	}
	if hc := authd.HealthCheck; hc == nil || !slices.Equal([]string(hc.Test), []string{"CMD", "/authd", "healthcheck"}) {
		t.Errorf("authd's health check = %+v, want CMD /authd healthcheck", hc)
	}

	// Every variable it is given is one authd reads.
	known := config.Names()
	for name := range authd.Environment {
		if !slices.Contains(known, name) && !isRuntimeVariable(name) {
			t.Errorf("authd is given %s, which it does not read", name)
		}
	}
	env := func(k string) string {
		if v := authd.Environment[k]; v != nil {
			return *v
		}
		return ""
	}
	// Its mail goes to the inbox service, on the port the inbox takes SMTP.
	inbox, ok := p.Services[env("SMTP_HOST")]
	if !ok {
		t.Fatalf("SMTP_HOST=%q is not a service of the compose file", env("SMTP_HOST"))
	}
	if !slices.ContainsFunc(inbox.Ports, func(pc types.ServicePortConfig) bool { return pc.Target == 1025 }) || env("SMTP_PORT") != "1025" {
		t.Errorf("SMTP_PORT=%s, but the inbox %s takes SMTP on 1025", env("SMTP_PORT"), env("SMTP_HOST"))
	}
	if !strings.Contains(inbox.Image, "mailpit") && !strings.Contains(inbox.Image, "mailhog") {
		t.Errorf("the inbox service runs %s, not a MailHog-compatible inbox", inbox.Image)
	}
	if env("AUTO_MIGRATE") != "false" || env("HTTP_ADDR") != ":8080" || env("METRICS_ADDR") == "" {
		t.Errorf("authd: AUTO_MIGRATE=%q HTTP_ADDR=%q METRICS_ADDR=%q; want the migrate service to migrate, every interface, metrics apart",
			env("AUTO_MIGRATE"), env("HTTP_ADDR"), env("METRICS_ADDR"))
	}

	// The migration is a one-shot of the same image with the database URL
	// alone.
	migrate := p.Services["migrate"]
	if !slices.Equal([]string(migrate.Command), []string{"migrate", "up"}) || migrate.Image != authd.Image || migrate.Restart != "no" {
		t.Errorf("migrate: command %v, image %q, restart %q", migrate.Command, migrate.Image, migrate.Restart)
	}
	if len(migrate.Environment) != 1 || migrate.Environment["DATABASE_URL"] == nil || *migrate.Environment["DATABASE_URL"] != env("DATABASE_URL") {
		t.Errorf("migrate's environment = %v, want DATABASE_URL alone, the same as authd's", migrate.Environment)
	}
	if migrate.DependsOn["postgres"].Condition != types.ServiceConditionHealthy {
		t.Errorf("migrate does not wait for a healthy PostgreSQL")
	}
}

// TestComposeLoopbackOnlyAndHealthy: nothing is published beyond this
// machine, and every long-running service says when it is healthy.
func TestComposeLoopbackOnlyAndHealthy(t *testing.T) {
	p := loadCompose(t, "k6", "monitoring", "tracing")
	oneShot := map[string]bool{"migrate": true, "k6": true}
	for _, name := range serviceNames(p) {
		s := p.Services[name]
		for _, port := range s.Ports {
			if port.HostIP != "127.0.0.1" {
				t.Errorf("%s publishes %d on %q, want 127.0.0.1 only", name, port.Target, port.HostIP)
			}
		}
		if !oneShot[name] && (s.HealthCheck == nil || len(s.HealthCheck.Test) == 0 || s.HealthCheck.Disable) {
			t.Errorf("%s has no health check", name)
		}
		for _, v := range s.Volumes {
			if v.Type == types.VolumeTypeBind {
				if _, err := os.Stat(v.Source); err != nil {
					t.Errorf("%s mounts %s, which does not exist: %v", name, v.Source, err)
				}
			}
		}
	}
}

func TestComposeMonitoringAndTracing(t *testing.T) {
	p := loadCompose(t, "k6", "monitoring", "tracing")
	prom := p.Services["prometheus"]
	mounts := map[string]string{}
	for _, v := range prom.Volumes {
		rel, _ := filepath.Rel(p.WorkingDir, v.Source)
		mounts[filepath.ToSlash(rel)] = v.Target
	}
	if mounts["deploy/prometheus/alerts.yml"] == "" || mounts["deploy/prometheus/prometheus.yml"] == "" {
		t.Errorf("prometheus does not mount the scrape config and the alert rules: %v", mounts)
	}
	b, err := os.ReadFile("prometheus/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(b)
	metricsPort := strings.TrimPrefix(*p.Services["authd"].Environment["METRICS_ADDR"], ":")
	for _, want := range []string{mounts["deploy/prometheus/alerts.yml"], "authd:" + metricsPort, "alertmanager:9093"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("prometheus.yml does not name %s", want)
		}
	}
	var dash bool
	for _, v := range p.Services["grafana"].Volumes {
		if strings.HasSuffix(v.Source, "grafana/authd.json") {
			dash = true
		}
	}
	if !dash {
		t.Error("grafana does not mount deploy/grafana/authd.json")
	}
	jaeger := p.Services["jaeger"]
	if !slices.ContainsFunc(jaeger.Ports, func(pc types.ServicePortConfig) bool { return pc.Target == 4318 }) {
		t.Error("jaeger does not take OTLP/HTTP on 4318")
	}
	k6 := p.Services["k6"]
	if !slices.Contains([]string(k6.Command), "/scripts/mixed.js") || k6.DependsOn["authd"].Condition != types.ServiceConditionHealthy {
		t.Errorf("k6: command %v, depends on %v", k6.Command, k6.DependsOn)
	}
	if !strings.HasPrefix(k6.Image, "grafana/k6:") {
		t.Errorf("k6 runs %s", k6.Image)
	}
}

// TestDockerfile: bases pinned by digest, a health check that uses authd
// itself, the build stamped and labelled.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	args := map[string]string{}
	var froms []string
	for _, line := range strings.Split(df, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "ARG":
			if k, v, ok := strings.Cut(f[1], "="); ok {
				args[k] = v
			}
		case "FROM":
			froms = append(froms, f[1])
		}
	}
	if len(froms) != 2 {
		t.Fatalf("FROM lines %v, want a build stage and a run stage", froms)
	}
	for _, from := range froms {
		img := from
		if strings.HasPrefix(from, "${") {
			img = args[strings.Trim(from, "${}")]
		}
		if _, digest, ok := strings.Cut(img, "@sha256:"); !ok || len(digest) != 64 {
			t.Errorf("base %s (%s) is not pinned by digest", from, img)
		}
	}
	for _, want := range []string{
		`HEALTHCHECK`, `CMD ["/authd", "healthcheck"]`, "USER nonroot",
		"internal/buildinfo.version=${VERSION}", "internal/buildinfo.commit=${COMMIT}", "internal/buildinfo.date=${DATE}",
		"org.opencontainers.image.version", "org.opencontainers.image.revision", "org.opencontainers.image.created", "org.opencontainers.image.source",
	} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %s", want)
		}
	}
	ignore, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".git", "**/node_modules", "bin"} {
		if !slices.Contains(strings.Split(string(ignore), "\n"), want) {
			t.Errorf(".dockerignore does not leave out %s", want)
		}
	}
}
