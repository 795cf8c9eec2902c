package deploy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/releaseutil"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/yaml"

	"github.com/authd/authd/internal/config"
	"github.com/authd/authd/internal/testenv"
)

const chartDir = "helm/authd"

// rendered is a chart rendered as `helm install` (or `helm template`)
// renders it: the schema checked, the templates run, the output split into
// hooks and the release's own objects, each decoded strictly.
type rendered struct {
	objects map[string]any // kind/name → the typed object
	hooks   map[string]*release.Hook
	notes   string
}

// render renders the chart for release name with values (merged over the
// chart's own, as helm does with -f/--set).
func render(t *testing.T, name string, values map[string]any) (*rendered, error) {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	return renderChart(t, ch, name, values)
}

func renderChart(t *testing.T, ch *chart.Chart, name string, values map[string]any) (*rendered, error) {
	t.Helper()
	caps := chartutil.DefaultCapabilities.Copy()
	rv, err := chartutil.ToRenderValues(ch, values, chartutil.ReleaseOptions{Name: name, Namespace: "auth", Revision: 1, IsInstall: true}, caps)
	if err != nil {
		return nil, err
	}
	files, err := engine.Render(ch, rv)
	if err != nil {
		return nil, err
	}
	r := &rendered{objects: map[string]any{}, hooks: map[string]*release.Hook{}}
	for path, content := range files {
		if strings.HasSuffix(path, "NOTES.txt") {
			r.notes = content
			delete(files, path)
		}
	}
	hooks, manifests, err := releaseutil.SortManifests(files, caps.APIVersions, releaseutil.InstallOrder)
	if err != nil {
		return nil, err
	}
	for _, m := range manifests {
		obj := decodeStrict(t, m.Head.Kind, m.Content)
		r.objects[m.Head.Kind+"/"+m.Head.Metadata.Name] = obj
	}
	for _, h := range hooks {
		r.hooks[h.Kind+"/"+h.Name] = h
		r.objects["hook:"+h.Kind+"/"+h.Name] = decodeStrict(t, h.Kind, h.Manifest)
	}
	return r, nil
}

// decodeStrict decodes a manifest into the Kubernetes (or Prometheus
// Operator) type of its kind, refusing unknown and duplicate fields: a
// misspelt or misplaced field fails here rather than being dropped by the
// API server.
func decodeStrict(t *testing.T, kind, content string) any {
	t.Helper()
	var obj any
	switch kind {
	case "Deployment":
		obj = &appsv1.Deployment{}
	case "Service":
		obj = &corev1.Service{}
	case "Secret":
		obj = &corev1.Secret{}
	case "ServiceAccount":
		obj = &corev1.ServiceAccount{}
	case "Job":
		obj = &batchv1.Job{}
	case "PodDisruptionBudget":
		obj = &policyv1.PodDisruptionBudget{}
	case "HorizontalPodAutoscaler":
		obj = &autoscalingv2.HorizontalPodAutoscaler{}
	case "NetworkPolicy":
		obj = &networkingv1.NetworkPolicy{}
	case "Ingress":
		obj = &networkingv1.Ingress{}
	case "ServiceMonitor":
		obj = &monitoringv1.ServiceMonitor{}
	case "PrometheusRule":
		obj = &monitoringv1.PrometheusRule{}
	default:
		t.Fatalf("the chart renders a %s, which this test does not know how to check", kind)
	}
	if err := yaml.UnmarshalStrict([]byte(content), obj); err != nil {
		t.Fatalf("%s does not decode strictly: %v\n%s", kind, err, content)
	}
	return obj
}

func valuesFile(t *testing.T, name string) map[string]any {
	t.Helper()
	v, err := chartutil.ReadValuesFile(chartDir + "/ci/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return v.AsMap()
}

// set sets a dotted path in values, as --set does.
func set(values map[string]any, path string, v any) map[string]any {
	out := deepCopy(values)
	m := out
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = v
	return out
}

func deepCopy(m map[string]any) map[string]any {
	out := maps.Clone(m)
	for k, v := range out {
		if sub, ok := v.(map[string]any); ok {
			out[k] = deepCopy(sub)
		}
	}
	return out
}

func object[T any](t *testing.T, r *rendered, key string) T {
	t.Helper()
	obj, ok := r.objects[key].(T)
	if !ok {
		keys := slices.Sorted(maps.Keys(r.objects))
		t.Fatalf("no %s among the rendered objects %v", key, keys)
	}
	return obj
}

// TestChartRefusesMissingValues: with its defaults, or without any one
// required value, the chart does not render, and the error names what is
// missing; an install never gets as far as a crash loop.
func TestChartRefusesMissingValues(t *testing.T) {
	if _, err := render(t, "authd", nil); err == nil {
		t.Fatal("the chart renders with its default values; required values must be asked for")
	} else {
		for _, want := range []string{"PUBLIC_URL", "VALKEY_URL", "SMTP_HOST", "DATABASE_URL", "SECRET_KEY"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("the default render's error does not name %s:\n%v", want, err)
			}
		}
	}
	prod := valuesFile(t, "production-values.yaml")
	if _, err := render(t, "authd", prod); err != nil {
		t.Fatalf("the production-like values do not render: %v", err)
	}
	tests := []struct {
		path, value, want string
	}{
		{"env.PUBLIC_URL", "", "PUBLIC_URL"},
		{"env.PUBLIC_URL", "auth.example.com", "PUBLIC_URL"},
		{"env.VALKEY_URL", "", "VALKEY_URL"},
		{"env.SMTP_HOST", "", "SMTP_HOST"},
		{"secret.DATABASE_URL", "", "DATABASE_URL"},
		{"secret.DATABASE_URL", "mysql://db/authd", "DATABASE_URL"},
		{"secret.SECRET_KEY", "", "SECRET_KEY"},
		{"secret.SECRET_KEY", "short", "SECRET_KEY"},
		{"env.SECRET_KEY", "in the clear", "SECRET_KEY"},
		{"resources.limits.memory", "", "memory"},
		{"admin.tokensSecret", "", "tokensSecret"},
	}
	for _, tt := range tests {
		var v any = tt.value
		if tt.path == "resources.limits.memory" {
			v = nil // --set resources.limits.memory=null: GOMEMLIMIT would have no source
		}
		_, err := render(t, "authd", set(prod, tt.path, v))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s=%q: render error %v, want one naming %s", tt.path, tt.value, err, tt.want)
		}
	}
	// With existingSecret, the chart's secret values are not needed.
	if _, err := render(t, "authd", valuesFile(t, "existing-secret-values.yaml")); err != nil {
		t.Errorf("existingSecret without secret values: %v", err)
	}
}

func TestChartNames(t *testing.T) {
	prod := valuesFile(t, "production-values.yaml")
	tests := []struct{ release, want string }{
		{"authd", "authd"},
		{"prod-authd", "prod-authd"},
		{"prod", "prod-authd"},
	}
	for _, tt := range tests {
		r, err := render(t, tt.release, prod)
		if err != nil {
			t.Fatal(err)
		}
		for key, obj := range r.objects {
			meta := objectMeta(obj)
			if meta.Name != tt.want && meta.Name != tt.want+"-migrate" {
				t.Errorf("release %s: %s is named %q, want %q (or %s-migrate)", tt.release, key, meta.Name, tt.want, tt.want)
			}
			for _, label := range []string{"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version", "app.kubernetes.io/managed-by", "helm.sh/chart"} {
				if meta.Labels[label] == "" {
					t.Errorf("release %s: %s lacks the label %s", tt.release, key, label)
				}
			}
		}
	}
}

func objectMeta(obj any) metav1.ObjectMeta {
	return reflect.ValueOf(obj).Elem().FieldByName("ObjectMeta").Interface().(metav1.ObjectMeta)
}

// TestChartProduction checks the objects of a production-like install.
func TestChartProduction(t *testing.T) {
	r, err := render(t, "authd", valuesFile(t, "production-values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dep := object[*appsv1.Deployment](t, r, "Deployment/authd")
	pod := dep.Spec.Template.Spec
	c := pod.Containers[0]

	t.Run("Pod Security restricted", func(t *testing.T) {
		job := object[*batchv1.Job](t, r, "hook:Job/authd-migrate")
		eval, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
		if err != nil {
			t.Fatal(err)
		}
		lv := psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: psaapi.LatestVersion()}
		for name, tpl := range map[string]corev1.PodTemplateSpec{"Deployment": dep.Spec.Template, "migration Job": job.Spec.Template} {
			res := policy.AggregateCheckResults(eval.EvaluatePod(lv, &tpl.ObjectMeta, &tpl.Spec))
			if !res.Allowed {
				t.Errorf("%s's pod is refused by Pod Security %q: %s", name, lv.Level, res.ForbiddenDetail())
			}
		}
	})

	t.Run("Secret", func(t *testing.T) {
		sec := object[*corev1.Secret](t, r, "Secret/authd")
		if _, hook := sec.Annotations["helm.sh/hook"]; hook {
			t.Error("the release's Secret is a hook: helm uninstall would leave it behind")
		}
		if sec.StringData["SMTP_PASSWORD"] == "" || sec.StringData["SECRET_KEY"] == "" || sec.StringData["DATABASE_URL"] == "" {
			t.Errorf("the Secret lacks keys: %v", slices.Sorted(maps.Keys(sec.StringData)))
		}
		for _, e := range c.Env {
			if e.Value != "" && slices.Contains([]string{"DATABASE_URL", "SECRET_KEY", "SMTP_PASSWORD", "SMTP_USERNAME"}, e.Name) {
				t.Errorf("%s is in the pod spec in clear", e.Name)
			}
		}
		// The checksum annotation is the rendered Secret's: a change rolls
		// the pods.
		sum := dep.Spec.Template.Annotations["checksum/secret"]
		other, err := render(t, "authd", set(valuesFile(t, "production-values.yaml"), "secret.SECRET_KEY", "bmV3LWtleS1uZXcta2V5LW5ldy1rZXktbmV3LWtleS0xMg=="))
		if err != nil {
			t.Fatal(err)
		}
		if sum == "" || sum == object[*appsv1.Deployment](t, other, "Deployment/authd").Spec.Template.Annotations["checksum/secret"] {
			t.Errorf("checksum/secret %q does not change with the Secret", sum)
		}
		if len(sum) != 64 {
			t.Errorf("checksum/secret = %q, want a sha256", sum)
		}
	})

	t.Run("ServiceAccount without token", func(t *testing.T) {
		sa := object[*corev1.ServiceAccount](t, r, "ServiceAccount/authd")
		if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
			t.Error("the ServiceAccount mounts its token")
		}
		if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken || pod.ServiceAccountName != "authd" {
			t.Errorf("the pod: automount %v, service account %q", pod.AutomountServiceAccountToken, pod.ServiceAccountName)
		}
	})

	t.Run("probes, resources and the environment", func(t *testing.T) {
		for name, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
			if p == nil || p.HTTPGet == nil {
				t.Errorf("no %s probe over HTTP", name)
				continue
			}
			if p.HTTPGet.Port.StrVal != "http" || !slices.Contains([]string{"/health", "/ready"}, p.HTTPGet.Path) {
				t.Errorf("%s probe: %s on port %v", name, p.HTTPGet.Path, p.HTTPGet.Port.String())
			}
		}
		if c.ReadinessProbe.HTTPGet.Path != "/ready" || c.LivenessProbe.HTTPGet.Path != "/health" {
			t.Error("readiness must check the dependencies (/ready), liveness only the process (/health)")
		}
		for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if c.Resources.Requests.Name(res, "").IsZero() || c.Resources.Limits.Name(res, "").IsZero() {
				t.Errorf("no %s request and limit", res)
			}
		}
		var memlimit *corev1.EnvVar
		known := config.Names()
		for i, e := range c.Env {
			if e.Name == "GOMEMLIMIT" {
				memlimit = &c.Env[i]
			}
			if !slices.Contains(known, e.Name) && !isRuntimeVariable(e.Name) {
				t.Errorf("the pod is given %s, which authd does not read", e.Name)
			}
		}
		if memlimit == nil || memlimit.ValueFrom == nil || memlimit.ValueFrom.ResourceFieldRef == nil ||
			memlimit.ValueFrom.ResourceFieldRef.Resource != "limits.memory" || memlimit.ValueFrom.ResourceFieldRef.Divisor.String() != "1" {
			t.Errorf("GOMEMLIMIT is not the memory limit in bytes: %+v", memlimit)
		}
	})

	t.Run("availability", func(t *testing.T) {
		pdb := object[*policyv1.PodDisruptionBudget](t, r, "PodDisruptionBudget/authd")
		if !reflect.DeepEqual(pdb.Spec.Selector.MatchLabels, dep.Spec.Selector.MatchLabels) || pdb.Spec.MinAvailable.IntValue() < 1 {
			t.Errorf("the PodDisruptionBudget does not keep a pod of the Deployment: %+v", pdb.Spec)
		}
		hpa := object[*autoscalingv2.HorizontalPodAutoscaler](t, r, "HorizontalPodAutoscaler/authd")
		if hpa.Spec.ScaleTargetRef.Name != dep.Name || hpa.Spec.ScaleTargetRef.Kind != "Deployment" || hpa.Spec.MaxReplicas < *hpa.Spec.MinReplicas {
			t.Errorf("the HPA: %+v", hpa.Spec)
		}
		if dep.Spec.Replicas != nil {
			t.Error("the Deployment sets replicas while the HPA scales it: every upgrade would reset the count")
		}
		keys := map[string]bool{}
		for _, tsc := range pod.TopologySpreadConstraints {
			keys[tsc.TopologyKey] = reflect.DeepEqual(tsc.LabelSelector.MatchLabels, dep.Spec.Selector.MatchLabels)
		}
		if !keys["kubernetes.io/hostname"] || !keys["topology.kubernetes.io/zone"] {
			t.Errorf("replicas are not spread over nodes and zones: %+v", pod.TopologySpreadConstraints)
		}
	})

	t.Run("network", func(t *testing.T) {
		np := object[*networkingv1.NetworkPolicy](t, r, "NetworkPolicy/authd")
		ports := map[string]bool{}
		for _, rule := range np.Spec.Ingress {
			for _, p := range rule.Ports {
				ports[p.Port.String()] = true
			}
		}
		if !ports["http"] || !ports["metrics"] || len(np.Spec.PolicyTypes) != 2 {
			t.Errorf("the NetworkPolicy: ingress ports %v, types %v", ports, np.Spec.PolicyTypes)
		}
		ing := object[*networkingv1.Ingress](t, r, "Ingress/authd")
		for _, rule := range ing.Spec.Rules {
			for _, p := range rule.HTTP.Paths {
				if p.Backend.Service.Port.Name != "http" || p.Backend.Service.Port.Number != 0 || strings.HasPrefix(p.Path, "/metrics") || strings.HasPrefix(p.Path, "/admin") {
					t.Errorf("the Ingress routes %s to port %+v: only the http port may be routed", p.Path, p.Backend.Service.Port)
				}
			}
		}
		svc := object[*corev1.Service](t, r, "Service/authd")
		if len(svc.Spec.Ports) != 3 || svc.Spec.Ports[0].Name != "http" || svc.Spec.Ports[1].Name != "metrics" || svc.Spec.Ports[2].Name != "admin" {
			t.Errorf("the Service's ports: %+v", svc.Spec.Ports)
		}
		// The admin port admits only the peers adminFrom names.
		var adminRules int
		for _, rule := range np.Spec.Ingress {
			for _, p := range rule.Ports {
				if p.Port.String() == "admin" {
					adminRules++
					if len(rule.From) != 1 || rule.From[0].NamespaceSelector == nil {
						t.Errorf("the admin port is open to %+v", rule.From)
					}
				}
			}
		}
		if adminRules != 1 {
			t.Errorf("%d NetworkPolicy rules for the admin port, want 1", adminRules)
		}
		env := map[string]string{}
		for _, e := range c.Env {
			env[e.Name] = e.Value
		}
		if env["METRICS_ADDR"] != fmt.Sprintf(":%d", svc.Spec.Ports[1].Port) || env["HTTP_ADDR"] != fmt.Sprintf(":%d", svc.Spec.Ports[0].Port) {
			t.Errorf("HTTP_ADDR=%s, METRICS_ADDR=%s: /metrics must be on the metrics port alone", env["HTTP_ADDR"], env["METRICS_ADDR"])
		}
	})

	t.Run("monitoring", func(t *testing.T) {
		sm := object[*monitoringv1.ServiceMonitor](t, r, "ServiceMonitor/authd")
		if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != "metrics" || sm.Spec.JobLabel != "app.kubernetes.io/name" {
			t.Errorf("the ServiceMonitor: %+v", sm.Spec)
		}
		pr := object[*monitoringv1.PrometheusRule](t, r, "PrometheusRule/authd")
		var got []string
		for _, g := range pr.Spec.Groups {
			for _, rule := range g.Rules {
				got = append(got, rule.Alert+": "+rule.Expr.String())
			}
		}
		var want []string
		for _, g := range alertRules(t).Groups {
			for _, rule := range g.Rules {
				want = append(want, rule.Alert+": "+rule.Expr)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("the PrometheusRule's alerts differ from deploy/prometheus/alerts.yml:\n got %q\nwant %q", got, want)
		}
		a, errA := os.ReadFile(chartDir + "/files/alerts.yml")
		b, errB := os.ReadFile("prometheus/alerts.yml")
		if errA != nil || errB != nil || string(a) != string(b) {
			t.Errorf("deploy/helm/authd/files/alerts.yml is not a copy of deploy/prometheus/alerts.yml: cp deploy/prometheus/alerts.yml deploy/helm/authd/files/")
		}
	})

	t.Run("migration hook", func(t *testing.T) {
		h := r.hooks["Job/authd-migrate"]
		if h == nil {
			t.Fatal("no migration Job hook")
		}
		if !slices.Contains(h.Events, release.HookPreInstall) || !slices.Contains(h.Events, release.HookPreUpgrade) {
			t.Errorf("the migration Job runs on %v, want pre-install and pre-upgrade", h.Events)
		}
		sec := r.hooks["Secret/authd-migrate"]
		if sec == nil || sec.Weight >= h.Weight || !slices.Contains(sec.DeletePolicies, release.HookSucceeded) {
			t.Fatalf("the migration's Secret is not a hook made before the Job and removed after: %+v", sec)
		}
		if keys := slices.Sorted(maps.Keys(object[*corev1.Secret](t, r, "hook:Secret/authd-migrate").StringData)); !slices.Equal(keys, []string{"DATABASE_URL"}) {
			t.Errorf("the migration's Secret holds %v, want DATABASE_URL alone", keys)
		}
		job := object[*batchv1.Job](t, r, "hook:Job/authd-migrate")
		mc := job.Spec.Template.Spec.Containers[0]
		if !slices.Equal(mc.Args, []string{"migrate", "up"}) || len(mc.Env) != 1 || mc.Env[0].Name != "DATABASE_URL" {
			t.Errorf("the migration container: args %v, env %v", mc.Args, mc.Env)
		}
	})

	if !strings.Contains(r.notes, "kubectl") || !strings.Contains(r.notes, "authd") {
		t.Errorf("NOTES.txt renders as %q", r.notes)
	}
}

// TestChartExistingSecret: the operator's own Secret, which needs no SMTP
// credentials; the chart makes no Secret of its own.
func TestChartExistingSecret(t *testing.T) {
	r, err := render(t, "authd", valuesFile(t, "existing-secret-values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for key := range r.objects {
		if strings.Contains(key, "Secret/") {
			t.Errorf("the chart made %s although existingSecret names one", key)
		}
	}
	dep := object[*appsv1.Deployment](t, r, "Deployment/authd")
	for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
		ref := e.ValueFrom
		if ref == nil || ref.SecretKeyRef == nil {
			continue
		}
		if ref.SecretKeyRef.Name != "authd-credentials" {
			t.Errorf("%s comes from %s", e.Name, ref.SecretKeyRef.Name)
		}
		optional := ref.SecretKeyRef.Optional != nil && *ref.SecretKeyRef.Optional
		wantOptional := e.Name != "DATABASE_URL" && e.Name != "SECRET_KEY"
		if optional != wantOptional {
			t.Errorf("%s optional = %v, want %v", e.Name, optional, wantOptional)
		}
	}
	job := object[*batchv1.Job](t, r, "hook:Job/authd-migrate")
	if ref := job.Spec.Template.Spec.Containers[0].Env[0].ValueFrom.SecretKeyRef; ref.Name != "authd-credentials" {
		t.Errorf("the migration reads %s", ref.Name)
	}
}

// TestChartEnvironmentStartsAuthd runs what a cluster would run from the
// production-like values, pointed at the test PostgreSQL, Valkey and SMTP
// sink: the migration hook's container, then the Deployment's, each with
// exactly the environment the kubelet would give it (secret references
// and the memory limit resolved). authd must come up ready, and every
// probe must answer 200 on the port it names.
func TestChartEnvironmentStartsAuthd(t *testing.T) {
	vals := valuesFile(t, "production-values.yaml")
	vals = set(vals, "secret.DATABASE_URL", testDBURL)
	vals = set(vals, "env.VALKEY_URL", testenv.ValkeyURL())
	vals = set(vals, "env.VALKEY_KEY_PREFIX", testPrefix)
	vals = set(vals, "env.SMTP_HOST", testSink.Host())
	vals = set(vals, "env.SMTP_PORT", fmt.Sprint(testSink.Port()))
	r, err := render(t, "authd", vals)
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string]map[string]string{}
	for _, obj := range r.objects {
		if sec, ok := obj.(*corev1.Secret); ok {
			secrets[sec.Name] = sec.StringData
		}
	}

	job := object[*batchv1.Job](t, r, "hook:Job/authd-migrate").Spec.Template.Spec.Containers[0]
	migrate := exec.Command(authdBinary(t), job.Args...)
	migrate.Env = envList(resolveEnv(t, job, secrets))
	if out, err := migrate.CombinedOutput(); err != nil {
		t.Fatalf("the migration hook's container failed: %v\n%s", err, out)
	}

	pod := object[*appsv1.Deployment](t, r, "Deployment/authd").Spec.Template.Spec
	c := pod.Containers[0]
	// The operator's Secret of admin tokens (the values name it), with one
	// token's hash, as `authd admin tokens create` writes it.
	sum := sha256.Sum256([]byte("chart-test-token"))
	secrets["authd-admin-tokens"] = map[string]string{"tokens": "sha256:" + hex.EncodeToString(sum[:]) + " chart-test\n"}
	env := resolveEnv(t, c, secrets)
	// Secret volumes are files, as the kubelet mounts them; settings that
	// name a file under a mount point name it here.
	mounts := mountSecretVolumes(t, pod, c, secrets)
	for k, v := range env {
		for mountPath, dir := range mounts {
			if rest, ok := strings.CutPrefix(v, mountPath+"/"); ok {
				env[k] = filepath.Join(dir, rest)
			}
		}
	}
	// A pod has its own network; here the ports are the machine's, so each
	// named port gets a free loopback address.
	addrs := map[string]string{}
	for _, p := range c.Ports {
		addrs[p.Name] = freeAddr(t)
		for _, key := range []string{"HTTP_ADDR", "METRICS_ADDR"} {
			if env[key] == fmt.Sprintf(":%d", p.ContainerPort) {
				env[key] = addrs[p.Name]
			}
		}
	}
	for _, key := range []string{"ADMIN_ADDR"} {
		for _, p := range c.Ports {
			if p.Name == "admin" && env[key] == fmt.Sprintf(":%d", p.ContainerPort) {
				env[key] = addrs["admin"]
			}
		}
	}
	if env["HTTP_ADDR"] != addrs["http"] || env["METRICS_ADDR"] != addrs["metrics"] || env["ADMIN_ADDR"] != addrs["admin"] {
		t.Fatalf("HTTP_ADDR and METRICS_ADDR are not the container's http and metrics ports: %v", env)
	}
	a := startAuthd(t, env, c.Args...)
	for name, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		url := "http://" + addrs[p.HTTPGet.Port.StrVal] + p.HTTPGet.Path
		if status, body := get(t, url); status != 200 {
			t.Errorf("%s probe %s = %d %s", name, url, status, body)
		}
	}
	if status, _ := get(t, "http://"+addrs["admin"]+"/admin/v1/identities"); status != http.StatusUnauthorized {
		t.Errorf("the admin API on its port without a token = %d, want 401", status)
	}
	if status, _ := get(t, "http://"+addrs["http"]+"/admin/v1/identities"); status != http.StatusNotFound {
		t.Errorf("the admin API on the http port = %d, want 404", status)
	}
	if status, _ := get(t, "http://"+addrs["http"]+"/metrics"); status != 404 {
		t.Errorf("/metrics on the http port = %d, want 404", status)
	}
	m := scrape(t, "http://"+addrs["metrics"]+"/metrics")
	if m["authd_memory_limit_bytes"] != float64(c.Resources.Limits.Memory().Value()) {
		t.Errorf("authd_memory_limit_bytes = %v, want the container's limit %d", m["authd_memory_limit_bytes"], c.Resources.Limits.Memory().Value())
	}
	if !strings.Contains(a.out.String(), `"memory_source":"GOMEMLIMIT"`) {
		t.Errorf("the hash pool was not sized from GOMEMLIMIT:\n%s", a.out)
	}
}

// mountSecretVolumes writes the Secret volumes c mounts into temporary
// directories, item by item, and returns mount path → directory.
func mountSecretVolumes(t *testing.T, pod corev1.PodSpec, c corev1.Container, secrets map[string]map[string]string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range c.VolumeMounts {
		for _, v := range pod.Volumes {
			if v.Name != m.Name || v.Secret == nil {
				continue
			}
			data, ok := secrets[v.Secret.SecretName]
			if !ok {
				t.Fatalf("volume %s: no Secret %s", v.Name, v.Secret.SecretName)
			}
			dir := t.TempDir()
			for _, item := range v.Secret.Items {
				if err := os.WriteFile(filepath.Join(dir, item.Path), []byte(data[item.Key]), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			out[m.MountPath] = dir
		}
	}
	return out
}

// resolveEnv is the environment the kubelet gives c: values as they are,
// secret keys looked up (a missing required one would keep the container
// from starting), resource fields computed from c's resources.
func resolveEnv(t *testing.T, c corev1.Container, secrets map[string]map[string]string) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			v, ok := secrets[ref.Name][ref.Key]
			if !ok {
				if ref.Optional != nil && *ref.Optional {
					continue
				}
				t.Fatalf("%s: Secret %s has no key %s", e.Name, ref.Name, ref.Key)
			}
			env[e.Name] = v
		case e.ValueFrom.ResourceFieldRef != nil:
			ref := e.ValueFrom.ResourceFieldRef
			name := corev1.ResourceName(strings.TrimPrefix(ref.Resource, "limits."))
			q := c.Resources.Limits[name]
			env[e.Name] = fmt.Sprint(q.Value() / ref.Divisor.Value())
		default:
			t.Fatalf("%s: a value source this test does not resolve", e.Name)
		}
	}
	return env
}
