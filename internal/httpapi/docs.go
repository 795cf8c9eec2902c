package httpapi

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"io/fs"
	"net/http"
	"path"

	"github.com/labstack/echo/v4"
)

// apiDocs is Swagger UI (from the npm package swagger-ui-dist, see
// apidocs/README.md) and authd's page around it, embedded: the docs page
// loads nothing from another origin.
//
//go:embed apidocs/index.html apidocs/docs.js apidocs/docs.css apidocs/swagger-ui-bundle.js apidocs/swagger-ui.css
var apiDocs embed.FS

// docsAssets are the files /api/v1/docs/:name serves, with their types.
var docsAssets = map[string]string{
	"docs.js":              "text/javascript; charset=utf-8",
	"docs.css":             "text/css; charset=utf-8",
	"swagger-ui-bundle.js": "text/javascript; charset=utf-8",
	"swagger-ui.css":       "text/css; charset=utf-8",
}

// docsCSP is as strict as the web app's: scripts and styles from this
// origin only and never inline, no framing, requests to this origin only
// (the document and "Try it out"). Swagger UI sets styles through the DOM,
// which style-src does not govern, and needs data: images for its icons.
const docsCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
	"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// docsPage answers the API reference page.
func (s *Server) docsPage(c echo.Context) error {
	b, err := fs.ReadFile(apiDocs, "apidocs/index.html")
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("Content-Security-Policy", docsCSP)
	h.Set("Cache-Control", "no-cache")
	return c.HTMLBlob(http.StatusOK, b)
}

// docsAsset answers one of the page's files, revalidated by content hash.
func (s *Server) docsAsset(c echo.Context) error {
	name := c.Param("name")
	ctype, ok := docsAssets[name]
	if !ok {
		return echo.ErrNotFound
	}
	b, err := fs.ReadFile(apiDocs, path.Join("apidocs", name))
	if err != nil {
		return err
	}
	sum := sha256.Sum256(b)
	etag := `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
	h := c.Response().Header()
	h.Set("Content-Security-Policy", docsCSP)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", etag)
	if c.Request().Header.Get("If-None-Match") == etag {
		return c.NoContent(http.StatusNotModified)
	}
	return c.Blob(http.StatusOK, ctype, b)
}
