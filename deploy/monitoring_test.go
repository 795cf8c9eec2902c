package deploy

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/authd/authd/internal/testenv"
)

var promQL = parser.NewParser(parser.Options{})

// alertRules parses deploy/prometheus/alerts.yml with Prometheus' own rule
// loader (which also parses every expression and template).
func alertRules(t *testing.T) *rulefmt.RuleGroups {
	t.Helper()
	groups, errs := rulefmt.ParseFile("prometheus/alerts.yml", false, model.UTF8Validation, promQL, slog.New(slog.DiscardHandler))
	for _, err := range errs {
		t.Error(err)
	}
	if groups == nil {
		t.Fatal("prometheus/alerts.yml did not load")
	}
	return groups
}

// metricNames are the metrics an expression selects.
func metricNames(t *testing.T, expr string) []string {
	t.Helper()
	node, err := promQL.ParseExpr(expr)
	if err != nil {
		t.Fatalf("PromQL %q: %v", expr, err)
	}
	var names []string
	parser.Inspect(node, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok && vs.Name != "" {
			names = append(names, vs.Name)
		}
		return nil
	})
	return names
}

func TestAlertRules(t *testing.T) {
	groups := alertRules(t)
	alerts := map[string]rulefmt.Rule{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				t.Errorf("a recording rule %q in the alert file", r.Record)
				continue
			}
			alerts[r.Alert] = r
			if len(metricNames(t, r.Expr)) == 0 {
				t.Errorf("%s selects no metric", r.Alert)
			}
			if !slices.Contains([]string{"critical", "warning"}, r.Labels["severity"]) {
				t.Errorf("%s: severity %q", r.Alert, r.Labels["severity"])
			}
			for _, a := range []string{"summary", "description", "runbook"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("%s has no %s annotation", r.Alert, a)
				}
			}
		}
	}
	// The conditions an operator is to be woken or warned for.
	for _, want := range []string{"AuthdInstanceDown", "AuthdHighErrorRatio", "AuthdHighLatencyP99", "AuthdHashPoolSaturated",
		"AuthdShedding", "AuthdMailBacklogOld", "AuthdThrottlingSpike"} {
		if _, ok := alerts[want]; !ok {
			t.Errorf("no %s alert", want)
		}
	}
}

type dashboard struct {
	UID    string `json:"uid"`
	Title  string `json:"title"`
	Panels []struct {
		Type    string `json:"type"`
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

// grafanaVars are the dashboard's variables, replaced as Grafana would
// before the queries go to Prometheus.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$instance", ".*")

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile("grafana/authd.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("grafana/authd.json: %v", err)
	}
	return d
}

func TestDashboard(t *testing.T) {
	d := loadDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Errorf("dashboard uid %q title %q", d.UID, d.Title)
	}
	titles := map[string]bool{}
	for _, p := range d.Panels {
		titles[p.Title] = true
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			if len(metricNames(t, grafanaVars.Replace(tg.Expr))) == 0 {
				t.Errorf("panel %q: %q selects no metric", p.Title, tg.Expr)
			}
		}
	}
	for _, want := range []string{"Request rate by route", "Error ratio (5xx, shedding excluded)", "Latency by route (p50, p95, p99)",
		"Hash pool", "Shedding (503 overloaded) by route", "Throttling (429) by route", "Mail backlog", "Logins by outcome"} {
		if !titles[want] {
			t.Errorf("the dashboard has no %q panel", want)
		}
	}
}

// TestEveryMetricExists scrapes a live authd after one request of each
// kind and finds there every metric the dashboard and the alert rules
// name: a renamed metric would leave a panel blank and an alert silent.
func TestEveryMetricExists(t *testing.T) {
	env := testEnv(t)
	a := startAuthd(t, env)
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	api := a.base + "/api/v1/auth"
	email := strings.ToLower(testenv.RandomName("metrics-")) + "@example.com"
	const password = "correct horse battery staple"
	steps := []struct {
		method, path string
		body         any
		want         int
	}{
		{"POST", "/register", map[string]string{"identifier": email, "password": password}, 201},
		{"GET", "/me", nil, 200},
		{"POST", "/logout", nil, 204},
		{"POST", "/login", map[string]string{"identifier": email, "password": "wrong password here"}, 401},
		{"POST", "/login", map[string]string{"identifier": email, "password": password}, 200},
		{"GET", "/sessions", nil, 200},
		{"DELETE", "/sessions", nil, 204},
		{"PUT", "/settings", map[string]any{"method": "profile", "traits": map[string]string{"geo_location": "Lisbon"}}, 200},
		{"GET", "/activity", nil, 200},
		{"POST", "/recovery", map[string]string{"email": email}, 202},
		{"POST", "/verify/link", map[string]string{"email": email}, 202},
	}
	for _, s := range steps {
		var body bytes.Buffer
		if s.body != nil {
			_ = json.NewEncoder(&body).Encode(s.body)
		}
		req, _ := http.NewRequest(s.method, api+s.path, &body)
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != s.want {
			t.Fatalf("%s %s = %d, want %d\n%s", s.method, s.path, resp.StatusCode, s.want, a.out)
		}
	}
	if _, err := testSink.WaitFor(email, "", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/health", "/ready", "/api/v1/openapi.yaml", "/api/v1/docs"} {
		if status, _ := get(t, a.base+path); status != 200 {
			t.Errorf("GET %s = %d", path, status)
		}
	}

	resp, err := http.Get(a.metrics)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	tp := expfmt.NewTextParser(model.UTF8Validation)
	families, err := tp.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("the /metrics page does not parse: %v", err)
	}
	exists := func(name string) bool {
		if _, ok := families[name]; ok {
			return true
		}
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suffix); ok {
				if f, ok := families[base]; ok && (f.GetType().String() == "HISTOGRAM" || f.GetType().String() == "SUMMARY") {
					return true
				}
			}
		}
		return false
	}
	named := map[string][]string{}
	for _, g := range alertRules(t).Groups {
		for _, r := range g.Rules {
			for _, n := range metricNames(t, r.Expr) {
				named[n] = append(named[n], "alert "+r.Alert)
			}
		}
	}
	for _, p := range loadDashboard(t).Panels {
		for _, tg := range p.Targets {
			for _, n := range metricNames(t, grafanaVars.Replace(tg.Expr)) {
				named[n] = append(named[n], "panel "+p.Title)
			}
		}
	}
	for name, users := range named {
		// up is made by Prometheus for every target, not by authd.
		if name == "up" {
			continue
		}
		if !exists(name) {
			t.Errorf("%s (used by %s) is not on authd's /metrics", name, strings.Join(slices.Compact(slices.Sorted(slices.Values(users))), ", "))
		}
	}
	if info := families["authd_build_info"]; info == nil || !slices.ContainsFunc(info.GetMetric()[0].GetLabel(), func(l *dto.LabelPair) bool {
		return l.GetName() == "version" && l.GetValue() == testVersion
	}) {
		t.Errorf("authd_build_info does not carry the stamped version %s: %v", testVersion, info)
	}
}
