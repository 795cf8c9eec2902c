package deploy

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/internal/testenv"
)

// TestLoginTrace sends a login with a W3C traceparent to an authd that
// exports to a test OTLP/HTTP receiver, and expects the whole login in the
// caller's trace: the server span (a child of the caller's), PostgreSQL
// and Valkey calls, and the wait for a hash slot; the access log line
// names the trace. No span anywhere holds the password, the session
// token, the cookie or the query string.
func TestLoginTrace(t *testing.T) {
	rcv, err := testenv.StartOTLPReceiver()
	if err != nil {
		t.Fatal(err)
	}
	defer rcv.Close()
	env := testEnv(t)
	env["OTEL_EXPORTER_OTLP_ENDPOINT"] = rcv.URL()
	a := startAuthd(t, env)

	email := strings.ToLower(testenv.RandomName("trace-")) + "@example.com"
	const password = "tracing horse battery staple"
	post := func(path, traceparent string, body any) *http.Response {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPost, a.base+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		if traceparent != "" {
			req.Header.Set("traceparent", traceparent)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := post("/api/v1/auth/register", "", map[string]string{"identifier": email, "password": password}); resp.StatusCode != 201 {
		t.Fatalf("register = %d", resp.StatusCode)
	}

	traceID, parentID := randomHex(16), randomHex(8)
	const query = "probe=query-parameter-value"
	resp := post("/api/v1/auth/login?"+query, "00-"+traceID+"-"+parentID+"-01", map[string]string{"identifier": email, "password": password})
	if resp.StatusCode != 200 {
		t.Fatalf("login = %d", resp.StatusCode)
	}
	var token string
	for _, c := range resp.Cookies() {
		token = c.Value
	}
	if len(token) < 32 {
		t.Fatalf("no session cookie in the login's answer: %v", resp.Cookies())
	}

	has := func(spans []testenv.Span, ok func(testenv.Span) bool) bool {
		for _, s := range spans {
			if s.TraceID == traceID && ok(s) {
				return true
			}
		}
		return false
	}
	want := map[string]func(testenv.Span) bool{
		"the server span, child of the caller's": func(s testenv.Span) bool {
			return s.Name == "POST /api/v1/auth/login" && s.Kind == "SPAN_KIND_SERVER" && s.ParentID == parentID &&
				s.Attrs["http.response.status_code"] == "200" && s.Attrs["http.route"] == "/api/v1/auth/login"
		},
		"a PostgreSQL query": func(s testenv.Span) bool {
			return s.Attrs["db.system.name"] == "postgresql" || s.Attrs["db.system"] == "postgresql"
		},
		"a Valkey command": func(s testenv.Span) bool { return s.Attrs["db.system"] == "valkey" },
		"the wait for a hash slot": func(s testenv.Span) bool {
			return s.Name == "hashpool.wait"
		},
		"the hash": func(s testenv.Span) bool { return s.Name == "argon2id.verify" },
	}
	spans, err := rcv.WaitFor(func(spans []testenv.Span) bool {
		for _, ok := range want {
			if !has(spans, ok) {
				return false
			}
		}
		return true
	}, 30*time.Second)
	for what, ok := range want {
		if !has(spans, ok) {
			t.Errorf("the login's trace has no span for %s", what)
		}
	}
	if err != nil {
		t.Logf("spans received: %+v", spans)
	}
	var inTrace int
	for _, s := range spans {
		if s.TraceID == traceID {
			inTrace++
			if s.Resource["service.name"] != "authd" || s.Resource["service.version"] != testVersion {
				t.Errorf("span %s: resource %v", s.Name, s.Resource)
			}
		}
	}
	t.Logf("%d spans in the login's trace, %d received in all", inTrace, len(spans))

	// Nothing secret in any span of any trace (the registration's too).
	secrets := map[string]string{"the password": password, "the session token": token, "the query string": "query-parameter-value"}
	for _, s := range spans {
		for k, v := range s.Attrs {
			for what, secret := range secrets {
				if strings.Contains(v, secret) || strings.Contains(k, secret) {
					t.Errorf("span %s attribute %s holds %s", s.Name, k, what)
				}
			}
			if lk := strings.ToLower(k); strings.Contains(lk, "cookie") || strings.Contains(lk, "authorization") || lk == "url.query" || lk == "url.full" {
				t.Errorf("span %s has the attribute %s", s.Name, k)
			}
		}
	}

	// The access log line of the login names its trace.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(a.out.String(), `"trace_id":"`+traceID+`"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no log line carries the trace id %s:\n%s", traceID, a.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
