// Package templates holds the e-mail templates of authd, embedded in the
// binary so a deployment cannot ship code and templates that disagree.
//
// Each message is a pair: <name>.txt (text/template) and <name>.html
// (html/template). The .txt file also defines the "subject" template, so
// the subject and the plain-text body are written side by side. The HTML
// file receives the same data plus .Subject (the rendered subject line).
//
// Links carry the one-time token; nothing else in a message may, because
// the subject and body are far more likely to end up in logs and previews.
package templates

import "embed"

// FS holds every *.txt and *.html template of this directory.
//
//go:embed *.txt *.html
var FS embed.FS
