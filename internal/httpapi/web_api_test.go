package httpapi_test

import (
	"io/fs"
	"net/http"
	"path"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/authd/authd/web"
)

// TestWebPagesServeTheApp: every page path, those mails link to included,
// answers the app's document with the pages' strict CSP and no caching,
// whatever the query (a token in it is only read by the app).
func TestWebPagesServeTheApp(t *testing.T) {
	ts := newServer(t, serverOptions{})
	want, err := fs.ReadFile(web.Files, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/", "/login", "/register", "/recovery", "/recovery?token=abc", "/verify?token=abc", "/second-factor", "/settings", "/security", "/sessions", "/activity"} {
		r := ts.client().do(http.MethodGet, p, nil)
		wantStatus(t, r, http.StatusOK)
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("%s: Content-Type %q", p, ct)
		}
		if string(r.body) != string(want) {
			t.Errorf("%s: the body is not web/index.html", p)
		}
		csp := r.Header.Get("Content-Security-Policy")
		for _, part := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
			if !strings.Contains(csp, part) {
				t.Errorf("%s: CSP %q lacks %q", p, csp, part)
			}
		}
		if strings.Contains(csp, "unsafe") {
			t.Errorf("%s: CSP %q allows unsafe sources", p, csp)
		}
		if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store (a page's URL may carry a token)", p, cc)
		}
		if r.Header.Get("X-Frame-Options") != "DENY" || r.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: framing or referrer headers missing: %v", p, r.Header)
		}
	}
}

func TestWebStaticFiles(t *testing.T) {
	ts := newServer(t, serverOptions{})
	r := ts.client().do(http.MethodGet, "/static/app.js", nil)
	wantStatus(t, r, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
		t.Errorf("Content-Type %q, want text/javascript", ct)
	}
	etag := r.Header.Get("ETag")
	if etag == "" || r.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("ETag %q, Cache-Control %q: want revalidation by content", etag, r.Header.Get("Cache-Control"))
	}
	wantStatus(t, ts.client().do(http.MethodGet, "/static/app.js", nil, "If-None-Match", etag), http.StatusNotModified)
	css := ts.client().do(http.MethodGet, "/static/app.css", nil)
	if ct := css.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
		t.Errorf("app.css: Content-Type %q", ct)
	}
	c := ts.client()
	c.noContract = true // paths no route matches as documented
	for _, p := range []string{"/static/nope.js", "/static/..%2fembed.go", "/static/.hidden", "/static/%2e%2e%2fembed.go", "/embed.go", "/index.html"} {
		r := c.do(http.MethodGet, p, nil)
		if r.StatusCode != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", p, r.StatusCode)
		}
		if strings.Contains(string(r.body), "package web") {
			t.Errorf("%s: served the Go source", p)
		}
	}
}

func TestWebUIOff(t *testing.T) {
	ts := newServer(t, serverOptions{env: map[string]string{"WEB_UI": "false"}})
	c := ts.client()
	c.noContract = true // these routes do not exist with the app off
	for _, p := range []string{"/", "/login", "/recovery?token=abc", "/static/app.js"} {
		r := c.do(http.MethodGet, p, nil)
		wantStatus(t, r, http.StatusNotFound)
		if r.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: Content-Type %q, want the API's problem+json", p, r.Header.Get("Content-Type"))
		}
	}
	wantStatus(t, c.do(http.MethodGet, "/api/v1/auth/me", nil), http.StatusUnauthorized)
}

// TestWebAppNeedsNoInlineCode: what the CSP forbids is not in the app's
// HTML (inline scripts, inline styles, event-handler attributes, URLs of
// other origins), so no page depends on an exception to it.
func TestWebAppNeedsNoInlineCode(t *testing.T) {
	err := fs.WalkDir(web.Files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".html" {
			return err
		}
		b, err := fs.ReadFile(web.Files, p)
		if err != nil {
			return err
		}
		doc, err := html.Parse(strings.NewReader(string(b)))
		if err != nil {
			return err
		}
		var walk func(n *html.Node)
		walk = func(n *html.Node) {
			if n.Type == html.ElementNode {
				src := ""
				for _, a := range n.Attr {
					switch {
					case a.Key == "style":
						t.Errorf("%s: <%s style=…>: inline style", p, n.Data)
					case strings.HasPrefix(a.Key, "on"):
						t.Errorf("%s: <%s %s=…>: inline event handler", p, n.Data, a.Key)
					case (a.Key == "src" || a.Key == "href") && (strings.Contains(a.Val, "//") || strings.HasPrefix(a.Val, "javascript:")):
						t.Errorf("%s: <%s %s=%q>: not this origin's file", p, n.Data, a.Key, a.Val)
					}
					if a.Key == "src" {
						src = a.Val
					}
				}
				if (n.Data == "script" && src == "") || n.Data == "style" {
					t.Errorf("%s: an inline <%s>", p, n.Data)
				}
			}
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				walk(c)
			}
		}
		walk(doc)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
