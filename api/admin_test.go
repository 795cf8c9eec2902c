package api_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/authd/authd/api"
)

// TestAdminDocument holds the admin API's document to the rules of the
// public one: valid, every operation named, described and with its
// request id, errors as problems, and every operation but the document
// itself behind the bearer token.
func TestAdminDocument(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(api.AdminOpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("admin-openapi.yaml is invalid: %v", err)
	}
	if doc.OpenAPI != "3.0.3" || len(doc.Servers) != 1 || doc.Servers[0].URL != "/" {
		t.Errorf("openapi %q, servers %v; want 3.0.3 and the one relative server / (any host matches)", doc.OpenAPI, doc.Servers)
	}
	if s := doc.Components.SecuritySchemes["adminToken"]; s == nil || s.Value.Type != "http" || s.Value.Scheme != "bearer" {
		t.Fatal("components.securitySchemes.adminToken is not a bearer scheme")
	}
	if len(doc.Security) != 1 {
		t.Error("the document does not require the admin token by default")
	}
	problem := doc.Components.Schemas["Problem"].Value
	seen := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			name := method + " " + path
			if op.OperationID == "" || seen[op.OperationID] || op.Summary == "" {
				t.Errorf("%s: operationId %q (unique) and a summary are required", name, op.OperationID)
			}
			seen[op.OperationID] = true
			public := op.Security != nil && len(*op.Security) == 0
			if public != (method == http.MethodGet && path == "/admin/v1/openapi.yaml") {
				t.Errorf("%s: only the document itself may be served without the token", name)
			}
			if _, ok := op.Responses.Map()["401"]; !ok && !public {
				t.Errorf("%s: no 401 documented", name)
			}
			for code, ref := range op.Responses.Map() {
				if _, ok := ref.Value.Headers["X-Request-ID"]; !ok {
					t.Errorf("%s %s: X-Request-ID not documented", name, code)
				}
				if code >= "400" {
					mt := ref.Value.Content.Get("application/problem+json")
					if mt == nil || mt.Schema.Value != problem || len(ref.Value.Content) != 1 {
						t.Errorf("%s %s: not an application/problem+json Problem", name, code)
					}
				}
			}
		}
	}
}
