package httpapi

import (
	"crypto/sha256"
	"encoding/base64"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/labstack/echo/v4"
)

// pages are the web app's paths. Each answers the app's one document; its
// router shows the screen. The paths mails link to are among them
// (/recovery?token=…, /verify?token=…, /login, /register): opening one
// only loads the page, which posts the token when the person acts.
var pages = []string{"/", "/login", "/second-factor", "/register", "/recovery", "/verify", "/email/cancel", "/settings", "/security", "/sessions", "/activity"}

// pageCSP lets a page load only the app's own files and talk only to its
// own origin: no inline script or style, no framing, no other origin.
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
	"connect-src 'self'; manifest-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// webRoutes serves the app from s.cfg.Web, when there is one: its pages
// and the files under static/ (flat: one level, so that each has a name).
func (s *Server) webRoutes(e *echo.Echo) error {
	if s.cfg.Web == nil {
		return nil
	}
	// Refuse to start without the document rather than answer every page
	// with an error.
	if _, err := fs.Stat(s.cfg.Web, "index.html"); err != nil {
		return err
	}
	for _, p := range pages {
		e.GET(p, s.page)
	}
	e.GET("/static/:name", s.static)
	return nil
}

// page answers the app's document. Read at each request, so that with
// WEB_UI_DIR an edited file is served at once; from the binary it is a copy
// from memory.
func (s *Server) page(c echo.Context) error {
	b, err := fs.ReadFile(s.cfg.Web, "index.html")
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("Content-Security-Policy", pageCSP)
	// A page's URL may carry a token: no cache keeps it.
	h.Set("Cache-Control", "no-store")
	return c.HTMLBlob(http.StatusOK, b)
}

// static answers one file of the app, revalidated by its content hash.
func (s *Server) static(c echo.Context) error {
	name := c.Param("name")
	if name == "" || strings.ContainsAny(name, "/\\") || strings.HasPrefix(name, ".") {
		return echo.ErrNotFound
	}
	b, err := fs.ReadFile(s.cfg.Web, path.Join("static", name))
	if err != nil {
		return echo.ErrNotFound
	}
	sum := sha256.Sum256(b)
	etag := `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
	h := c.Response().Header()
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", etag)
	if c.Request().Header.Get("If-None-Match") == etag {
		return c.NoContent(http.StatusNotModified)
	}
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = http.DetectContentType(b)
	}
	return c.Blob(http.StatusOK, ctype, b)
}
