package main

import (
	"strings"
	"testing"
)

// A real `go test -bench` transcript of two packages, with a log line,
// a benchmark without allocation figures, a custom metric, a package
// without benchmarks and a failed benchmark.
const goBenchOutput = `goos: linux
goarch: amd64
pkg: github.com/authd/authd/internal/argon2id
cpu: Intel(R) Xeon(R) Processor
BenchmarkHash-2     	      20	  24357051 ns/op	19926265 B/op	      35 allocs/op
BenchmarkVerify-2   	      20	  22756767 ns/op	19925488 B/op	      30 allocs/op
PASS
ok  	github.com/authd/authd/internal/argon2id	0.974s
goos: linux
goarch: amd64
pkg: github.com/authd/authd/internal/hashpool
cpu: Intel(R) Xeon(R) Processor
BenchmarkPoolOverhead/serial-2         	      20	       275.1 ns/op	       0 B/op	       0 allocs/op
BenchmarkPoolOverhead/parallel-2       	      20	      3776 ns/op	     308 B/op	       4 allocs/op
Benchmark logs from a helper: not a result
BenchmarkNoAllocs                      	    1000	      1234 ns/op	  812.5 logins/s
PASS
ok  	github.com/authd/authd/internal/hashpool	0.010s
ok  	github.com/authd/authd/internal/smtp	0.004s [no tests to run]
--- FAIL: BenchmarkLogin
    bench_test.go:70: login: <nil> connection refused
FAIL
FAIL	github.com/authd/authd/internal/httpapi	1.234s
`

func TestParseGoBench(t *testing.T) {
	run, err := ParseGoBench(strings.NewReader(goBenchOutput))
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Results) != 5 {
		t.Fatalf("got %d results, want 5: %+v", len(run.Results), run.Results)
	}
	h, ok := run.Find("internal/argon2id", "Hash")
	if !ok {
		t.Fatal("BenchmarkHash not found")
	}
	if h.Procs != 2 || h.N != 20 || h.NsPerOp != 24357051 || h.BytesPerOp != 19926265 || h.AllocsPerOp != 35 {
		t.Errorf("BenchmarkHash = %+v", h)
	}
	if h.Package != "github.com/authd/authd/internal/argon2id" {
		t.Errorf("package = %q", h.Package)
	}
	sub, ok := run.Find("internal/hashpool", "PoolOverhead/serial")
	if !ok || sub.NsPerOp != 275.1 || sub.AllocsPerOp != 0 {
		t.Errorf("sub-benchmark = %+v, %v", sub, ok)
	}
	na, ok := run.Find("internal/hashpool", "NoAllocs")
	if !ok || na.Procs != 1 || na.BytesPerOp != -1 || na.AllocsPerOp != -1 || na.Extra["logins/s"] != 812.5 {
		t.Errorf("benchmark without allocations = %+v, %v", na, ok)
	}
	if _, ok := run.Find("internal/hashpool", "Hash"); ok {
		t.Error("Find matched a benchmark of another package")
	}
	if got := strings.Join(run.Failed, ","); got != "BenchmarkLogin,github.com/authd/authd/internal/httpapi" {
		t.Errorf("Failed = %q", got)
	}
	if got := strings.Join(run.NoBenchmarks, ","); got != "github.com/authd/authd/internal/smtp" {
		t.Errorf("NoBenchmarks = %q", got)
	}
}

func TestParseGoBenchEmpty(t *testing.T) {
	run, err := ParseGoBench(strings.NewReader("PASS\nok  \tgithub.com/authd/authd/internal/httpapi\t0.01s\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Results) != 0 || len(run.NoBenchmarks) != 1 {
		t.Errorf("got %+v", run)
	}
}

func TestParseHelpDefaults(t *testing.T) {
	help := `Configuration comes from environment variables:

  HASH_WAIT_BUDGET           When the predicted wait for a hash passes this, answer 503.
                             default: 200ms
  LOGIN_ACCOUNT_FREE_ATTEMPTS Failed logins per account before lock-outs start (0: no account lock-out).
                             default: 5
  COOKIE_DOMAIN              Cookie Domain.
                             default: empty
  SHED_DELAY                 How long a shed request waits.
                             default: 250ms; range: 0–10s
`
	d := parseHelpDefaults(help)
	want := map[string]string{"HASH_WAIT_BUDGET": "200ms", "LOGIN_ACCOUNT_FREE_ATTEMPTS": "5", "COOKIE_DOMAIN": "empty", "SHED_DELAY": "250ms"}
	if len(d) != len(want) {
		t.Fatalf("got %v", d)
	}
	for k, v := range want {
		if d[k] != v {
			t.Errorf("%s = %q, want %q", k, d[k], v)
		}
	}
}

func TestParsePromText(t *testing.T) {
	text := "# HELP go_sched_gomaxprocs_threads x\n# TYPE go_sched_gomaxprocs_threads gauge\n" +
		"go_sched_gomaxprocs_threads 4\nauthd_hash_pool_size 2\nhttp_requests_total{code=\"200\"} 7\n"
	m := parsePromText(text, "go_sched_gomaxprocs_threads", "authd_hash_pool_size", "http_requests_total")
	if m["go_sched_gomaxprocs_threads"] != 4 || m["authd_hash_pool_size"] != 2 || len(m) != 2 {
		t.Errorf("got %v", m)
	}
}

func TestParsePerfReport(t *testing.T) {
	out := `# Samples: 1K of event 'cpu-clock'
#
    70.04%  authd
    28.88%  swapper
     1.08%  postgres

`
	s := busyShares(parsePerfReport(out))
	if len(s) != 2 || s[0].Name != "authd" || s[1].Name != "postgres" {
		t.Fatalf("got %+v", s)
	}
	if s[0].Pct < 98.4 || s[0].Pct > 98.5 {
		t.Errorf("authd share = %v, want about 98.5 (of busy samples)", s[0].Pct)
	}
	syms := parsePerfReport("    47.94%  [.] golang.org/x/crypto/argon2.blamkaSSE4.abi0\n     2.58%  [k] _raw_spin_unlock_irqrestore\n")
	if len(syms) != 2 || syms[0].Name != "golang.org/x/crypto/argon2.blamkaSSE4.abi0" || syms[1].Name != "kernel: _raw_spin_unlock_irqrestore" {
		t.Errorf("got %+v", syms)
	}
}
