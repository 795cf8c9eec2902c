package templates

import (
	htmltemplate "html/template"
	"io/fs"
	"strings"
	"testing"
	texttemplate "text/template"
)

// TestPairs checks the layout the mailer relies on, so a template added
// here fails in this package's tests and not only at server start-up.
func TestPairs(t *testing.T) {
	texts, err := fs.Glob(FS, "*.txt")
	if err != nil {
		t.Fatal(err)
	}
	htmls, err := fs.Glob(FS, "*.html")
	if err != nil {
		t.Fatal(err)
	}
	if len(texts) == 0 || len(texts) != len(htmls) {
		t.Fatalf("%d .txt and %d .html templates, want equal non-zero counts", len(texts), len(htmls))
	}
	for _, file := range texts {
		name := strings.TrimSuffix(file, ".txt")
		t.Run(name, func(t *testing.T) {
			txt, err := texttemplate.ParseFS(FS, file)
			if err != nil {
				t.Fatal(err)
			}
			if txt.Lookup("subject") == nil {
				t.Errorf("%s has no subject block", file)
			}
			if _, err := htmltemplate.ParseFS(FS, name+".html"); err != nil {
				t.Errorf("%s.html: %v", name, err)
			}
		})
	}
}
