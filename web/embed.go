// Package web is authd's bundled single-page app: plain HTML, CSS and
// JavaScript modules, embedded in the binary and served at / (WEB_UI). No
// build step: what is here is what the browser gets.
package web

import "embed"

// Files are the app: index.html, the one document of every page, and
// static/, its scripts, styles and images.
//
//go:embed index.html static
var Files embed.FS
