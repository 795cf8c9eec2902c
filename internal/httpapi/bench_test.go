package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"testing"
)

// benchServer is a test server whose handlers are measured through real
// HTTP on loopback, with real PostgreSQL and Valkey behind them.
func benchServer(b *testing.B, hashed bool) (*testServer, *http.Client, credentials) {
	b.Helper()
	opts := serverOptions{}
	if hashed {
		// The shipped Argon2id parameters, behind the shipped hash pool.
		opts.env = map[string]string{"ARGON2_MEMORY_KIB": "19456", "ARGON2_ITERATIONS": "2"}
	}
	ts := newServer(b, opts)
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	cr := credentials{Identifier: newEmail("bench"), Password: "correct horse battery staple"}
	body, _ := json.Marshal(cr)
	resp, err := hc.Post(ts.URL+"/api/v1/auth/register", "application/json", bytes.NewReader(body))
	if err != nil || resp.StatusCode != http.StatusCreated {
		b.Fatalf("register: %v %v", resp, err)
	}
	resp.Body.Close()
	return ts, hc, cr
}

func benchGet(b *testing.B, hc *http.Client, url string, want int) {
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		resp, err := hc.Get(url)
		if err != nil || resp.StatusCode != want {
			b.Fatalf("GET %s: %v %v", url, resp, err)
		}
		resp.Body.Close()
	}
}

// BenchmarkHealth is the floor: routing, middleware and a JSON reply.
func BenchmarkHealth(b *testing.B) {
	ts, hc, _ := benchServer(b, false)
	benchGet(b, hc, ts.URL+"/health", http.StatusOK)
}

// BenchmarkMe is the cached read path: session and profile from Valkey.
func BenchmarkMe(b *testing.B) {
	ts, hc, _ := benchServer(b, false)
	benchGet(b, hc, ts.URL+"/api/v1/auth/me", http.StatusOK)
}

// BenchmarkLogin is a login with the production Argon2id parameters.
func BenchmarkLogin(b *testing.B) {
	ts, hc, cr := benchServer(b, true)
	body, _ := json.Marshal(cr)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		resp, err := hc.Post(ts.URL+"/api/v1/auth/login", "application/json", bytes.NewReader(body))
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("login: %v %v", resp, err)
		}
		resp.Body.Close()
	}
}
