package templates

import (
	htmltemplate "html/template"
	"io/fs"
	"regexp"
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

// callerData is what internal/auth passes to each template (keep in step
// with the Mail values built in internal/auth: recovery.go, register.go,
// verification.go, totp.go's securityNotice). The durations are odd values no template would write
// by itself, so a hard-coded duration cannot pass for a passed one.
func callerData(name string) map[string]any {
	switch name {
	case "recovery":
		return map[string]any{"Product": "authd", "Email": "a@example.test", "Link": "https://app.example.test/recovery?token=t", "Expiry": "7 minutes"}
	case "verification":
		return map[string]any{"Product": "authd", "Email": "a@example.test", "Link": "https://app.example.test/verify?token=t", "Code": "428613",
			"Expiry": "19 hours", "CodeExpiry": "11 minutes"}
	case "password_changed":
		return map[string]any{"Product": "authd", "Email": "a@example.test", "When": "2 January 2026 15:04 UTC"}
	case "second_factor_added", "second_factor_removed", "recovery_code_used":
		return map[string]any{"Product": "authd", "Email": "a@example.test", "Factor": "A passkey named “Laptop”", "When": "2 January 2026 15:04 UTC"}
	case "account_exists":
		return map[string]any{"Product": "authd", "Email": "a@example.test", "Link": "https://app.example.test/login"}
	case "username_taken":
		return map[string]any{"Product": "authd", "Email": "a@example.test", "Username": "ann", "Link": "https://app.example.test/register"}
	case "account_deleted":
		return map[string]any{"Product": "authd", "Email": "a@example.test", "When": "2 January 2026 15:04 UTC"}
	case "second_factors_reset":
		return map[string]any{"Product": "authd", "Email": "a@example.test", "Factor": "every second factor", "When": "2 January 2026 15:04 UTC"}
	case "email_change":
		return map[string]any{"Product": "authd", "Email": "new@example.test", "OldEmail": "a@example.test",
			"Link": "https://app.example.test/verify?token=t", "Expiry": "19 hours"}
	case "email_change_requested":
		return map[string]any{"Product": "authd", "Email": "a@example.test", "NewEmail": "new@example.test",
			"Link": "https://app.example.test/email/cancel?token=t", "Expiry": "9 days", "When": "2 January 2026 15:04 UTC"}
	case "email_change_taken":
		return map[string]any{"Product": "authd", "Email": "new@example.test", "Link": "https://app.example.test/login"}
	}
	return nil
}

// render executes name's text and HTML templates as the mailer does
// (missingkey=error, .Subject added for HTML) and returns both bodies with
// runs of white space folded to one space, so line wrapping does not matter.
func render(t *testing.T, name string, data map[string]any) (text, html string) {
	t.Helper()
	txt, err := texttemplate.New(name+".txt").Option("missingkey=error").ParseFS(FS, name+".txt")
	if err != nil {
		t.Fatal(err)
	}
	var subject, body strings.Builder
	if err := txt.ExecuteTemplate(&subject, "subject", data); err != nil {
		t.Fatalf("%s subject: %v", name, err)
	}
	if err := txt.Execute(&body, data); err != nil {
		t.Fatalf("%s.txt: %v", name, err)
	}
	h, err := htmltemplate.New(name+".html").Option("missingkey=error").ParseFS(FS, name+".html")
	if err != nil {
		t.Fatal(err)
	}
	hdata := map[string]any{"Subject": subject.String()}
	for k, v := range data {
		hdata[k] = v
	}
	var hbody strings.Builder
	if err := h.Execute(&hbody, hdata); err != nil {
		t.Fatalf("%s.html: %v", name, err)
	}
	fold := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	return fold(body.String()), fold(hbody.String())
}

// TestExpiries: each lifetime a mail states is the one its caller passed,
// next to the thing it applies to: the verification link lasts
// VERIFICATION_TOKEN_TTL (Expiry), its code VERIFICATION_CODE_TTL
// (CodeExpiry), the recovery link RECOVERY_TTL (Expiry).
func TestExpiries(t *testing.T) {
	tests := []struct {
		name string
		want []string
	}{
		{"verification", []string{"The link expires in 19 hours.", "The code expires in 11 minutes."}},
		{"recovery", []string{"The link expires in 7 minutes and works only once."}},
		{"password_changed", nil},
		{"account_exists", nil},
		{"username_taken", nil},
		{"second_factor_added", nil},
		{"second_factor_removed", nil},
		{"recovery_code_used", nil},
		{"account_deleted", nil},
		{"second_factors_reset", nil},
		{"email_change", []string{"The link expires in 19 hours and works only once."}},
		{"email_change_requested", []string{"The link works for 9 days."}},
		{"email_change_taken", nil},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.name] = true
		t.Run(tt.name, func(t *testing.T) {
			text, html := render(t, tt.name, callerData(tt.name))
			for _, want := range tt.want {
				if !strings.Contains(text, want) {
					t.Errorf("text lacks %q:\n%s", want, text)
				}
				if !strings.Contains(html, want) {
					t.Errorf("html lacks %q:\n%s", want, html)
				}
			}
		})
	}
	names, err := fs.Glob(FS, "*.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range names {
		if name := strings.TrimSuffix(file, ".txt"); !covered[name] || callerData(name) == nil {
			t.Errorf("template %q has no case in TestExpiries or callerData", name)
		}
	}
}

// durationText matches a lifetime written out in a template's own text
// ("24 hours", "an hour", "15 min", "7 days", "24h").
var durationText = regexp.MustCompile(`(?i)\b(\d+[\s-]*|(an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|sixty|twenty-four|forty-eight)[\s-]+)(h|hrs?|hours?|mins?|minutes?|d|days?|weeks?|s|secs?|seconds?)\b`)

// action matches a template action such as {{.Expiry}}.
var action = regexp.MustCompile(`(?s)\{\{.*?\}\}`)

// TestNoHardcodedDuration: lifetimes are configurable, so a template may
// state one only through the data ({{.Expiry}}, {{.CodeExpiry}}), never in
// its own words.
func TestNoHardcodedDuration(t *testing.T) {
	for _, bad := range []string{"expire in 24 hours", "lasts 24h", "valid for an hour", "within 15 minutes", "in one day", "a 7-day link", "2 weeks", "twenty-four hours"} {
		if !durationText.MatchString(bad) {
			t.Fatalf("durationText misses %q", bad)
		}
	}
	files, err := fs.Glob(FS, "*.*")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		if !strings.HasSuffix(file, ".txt") && !strings.HasSuffix(file, ".html") {
			continue
		}
		b, err := fs.ReadFile(FS, file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range durationText.FindAllString(action.ReplaceAllString(string(b), " "), -1) {
			t.Errorf("%s states a duration of its own: %q", file, m)
		}
	}
}
