package api_test

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/authd/authd/api"
)

func loadDoc(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(api.OpenAPI)
	if err != nil {
		t.Fatalf("load openapi.yaml: %v", err)
	}
	return doc
}

func TestDocumentIsValid(t *testing.T) {
	doc := loadDoc(t)
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.yaml is invalid: %v", err)
	}
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi = %q, want 3.0.3", doc.OpenAPI)
	}
	if doc.Info.Title != "authd" || doc.Info.Version != "1.0.0" {
		t.Errorf("info = %q %q, want authd 1.0.0", doc.Info.Title, doc.Info.Version)
	}
	// One server, relative: wherever the document is served from, so that
	// any host matches (the tests' servers listen on random ports) and
	// `redocly lint` finds the servers it asks for.
	if len(doc.Servers) != 1 || doc.Servers[0].URL != "/" {
		t.Errorf("servers = %v, want the one relative server /", doc.Servers)
	}
	if doc.Info.License == nil || doc.Info.License.Name != "Apache-2.0" {
		t.Errorf("info.license = %+v, want Apache-2.0 (LICENSE)", doc.Info.License)
	}
}

func TestEveryOperationIsDocumented(t *testing.T) {
	doc := loadDoc(t)
	seen := map[string]string{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			name := method + " " + path
			if op.OperationID == "" {
				t.Errorf("%s: no operationId", name)
			} else if other, dup := seen[op.OperationID]; dup {
				t.Errorf("%s: operationId %q already used by %s", name, op.OperationID, other)
			} else {
				seen[op.OperationID] = name
			}
			if op.Summary == "" && op.Description == "" {
				t.Errorf("%s: no summary or description", name)
			}
			if op.Responses == nil || op.Responses.Len() == 0 {
				t.Errorf("%s: no responses", name)
				continue
			}
			for code, ref := range op.Responses.Map() {
				if ref == nil || ref.Value == nil || ref.Value.Description == nil || *ref.Value.Description == "" {
					t.Errorf("%s %s: response without description", name, code)
					continue
				}
				if _, ok := ref.Value.Headers["X-Request-ID"]; !ok {
					t.Errorf("%s %s: X-Request-ID header not documented", name, code)
				}
				if code == "429" || code == "503" {
					for mt := range ref.Value.Content {
						if mt == "application/problem+json" {
							if _, ok := ref.Value.Headers["Retry-After"]; !ok {
								t.Errorf("%s %s: Retry-After header not documented", name, code)
							}
						}
					}
				}
			}
		}
	}
}

func TestDocumentedOperations(t *testing.T) {
	doc := loadDoc(t)
	var got []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			got = append(got, method+" "+path)
		}
	}
	sort.Strings(got)
	want := []string{
		"GET /api/v1/auth/me",
		"GET /api/v1/openapi.yaml",
		"GET /health",
		"GET /metrics",
		"GET /ready",
		"POST /api/v1/auth/login",
		"POST /api/v1/auth/logout",
		"POST /api/v1/auth/register",
	}
	// Operations may be added; none of these may disappear.
	have := map[string]bool{}
	for _, op := range got {
		have[op] = true
	}
	for _, op := range want {
		if !have[op] {
			t.Errorf("operation %s is not documented (have %s)", op, strings.Join(got, ", "))
		}
	}
}

// Errors are problem documents: every 4xx/5xx response uses the Problem
// schema as application/problem+json, except readiness, whose 503 is the
// readiness report itself.
func TestErrorsAreProblems(t *testing.T) {
	doc := loadDoc(t)
	problem := doc.Components.Schemas["Problem"]
	if problem == nil || problem.Value == nil {
		t.Fatal("components.schemas.Problem missing")
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			for code, ref := range op.Responses.Map() {
				if code < "400" || (method == http.MethodGet && path == "/ready") {
					continue
				}
				mt := ref.Value.Content.Get("application/problem+json")
				if mt == nil || mt.Schema == nil || mt.Schema.Value != problem.Value {
					t.Errorf("%s %s %s: not an application/problem+json Problem", method, path, code)
				}
				if len(ref.Value.Content) != 1 {
					t.Errorf("%s %s %s: %d media types, want only application/problem+json", method, path, code, len(ref.Value.Content))
				}
			}
		}
	}
}

func TestSessionCookieSecurity(t *testing.T) {
	doc := loadDoc(t)
	scheme := doc.Components.SecuritySchemes["sessionCookie"]
	if scheme == nil || scheme.Value == nil {
		t.Fatal("components.securitySchemes.sessionCookie missing")
	}
	if v := scheme.Value; v.Type != "apiKey" || v.In != "cookie" || v.Name != "__Host-authd_session" {
		t.Errorf("sessionCookie = %s in %s named %s", v.Type, v.In, v.Name)
	}
	for _, path := range []string{"/api/v1/auth/logout", "/api/v1/auth/me"} {
		item := doc.Paths.Value(path)
		if item == nil {
			t.Errorf("%s missing", path)
			continue
		}
		for method, op := range item.Operations() {
			if op.Security == nil || len(*op.Security) == 0 {
				t.Errorf("%s %s: no security requirement", method, path)
				continue
			}
			if _, ok := (*op.Security)[0]["sessionCookie"]; !ok {
				t.Errorf("%s %s: security does not use sessionCookie", method, path)
			}
		}
	}
}
