package httpapi_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestAPIDocsPage: /api/v1/docs is Swagger UI on this server's own
// document, every file from this origin (embedded; no CDN), under a CSP
// that allows no inline code and nothing from elsewhere.
func TestAPIDocsPage(t *testing.T) {
	ts := newServer(t, serverOptions{})
	c := ts.client()
	page := c.do(http.MethodGet, "/api/v1/docs", nil)
	wantStatus(t, page, http.StatusOK)
	if ct := page.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type %q", ct)
	}
	csp := page.Header.Get("Content-Security-Policy")
	for _, part := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, part) {
			t.Errorf("CSP %q lacks %q", csp, part)
		}
	}
	if strings.Contains(csp, "unsafe") || strings.Contains(csp, "http") {
		t.Errorf("CSP %q allows unsafe or foreign sources", csp)
	}
	body := string(page.body)
	if regexp.MustCompile(`<script>|<style>|\son[a-z]+=|style=`).MatchString(body) {
		t.Errorf("the page has inline script or style:\n%s", body)
	}
	// Every file the page loads is one this server answers, from here.
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(body, -1)
	if len(refs) < 4 {
		t.Fatalf("the page loads %d files, want Swagger UI's script and style and its own", len(refs))
	}
	for _, m := range refs {
		ref := m[1]
		if !strings.HasPrefix(ref, "/") || strings.HasPrefix(ref, "//") {
			t.Errorf("the page loads %s from elsewhere", ref)
			continue
		}
		r := c.do(http.MethodGet, ref, nil)
		wantStatus(t, r, http.StatusOK)
		if strings.HasSuffix(ref, ".js") && !strings.HasPrefix(r.Header.Get("Content-Type"), "text/javascript") {
			t.Errorf("%s: Content-Type %q", ref, r.Header.Get("Content-Type"))
		}
		if strings.Contains(string(r.body), "sourceMappingURL") {
			t.Errorf("%s names a source map that is not served", ref)
		}
	}
	// The script that starts Swagger UI points it at this server's document.
	start := c.do(http.MethodGet, "/api/v1/docs/docs.js", nil)
	if !strings.Contains(body, `data-spec="/api/v1/openapi.yaml"`) || !strings.Contains(string(start.body), "root.dataset.spec") {
		t.Error("Swagger UI is not started on /api/v1/openapi.yaml")
	}
	etag := start.Header.Get("ETag")
	if r := c.do(http.MethodGet, "/api/v1/docs/docs.js", nil, "If-None-Match", etag); etag == "" || r.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation with ETag %q = %d, want 304", etag, r.StatusCode)
	}
	for _, bad := range []string{"/api/v1/docs/index.html", "/api/v1/docs/README.md", "/api/v1/docs/LICENSE", "/api/v1/docs/..%2fdocs.go"} {
		c2 := ts.client()
		c2.noContract = true
		if r := c2.do(http.MethodGet, bad, nil); r.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", bad, r.StatusCode)
		}
	}
}
