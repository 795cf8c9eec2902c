package main

import (
	"bufio"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// GoBench is one result line of `go test -bench` output.
type GoBench struct {
	Package string // import path, from the "pkg:" line above the result
	Name    string // without the "Benchmark" prefix and the -GOMAXPROCS suffix
	Procs   int    // the -N suffix; 1 when go test printed none
	N       int64  // iterations
	NsPerOp float64
	// BytesPerOp and AllocsPerOp are -1 when the benchmark did not report
	// allocations (no b.ReportAllocs and no -benchmem).
	BytesPerOp  float64
	AllocsPerOp float64
	// Extra holds custom metrics from b.ReportMetric, by unit.
	Extra map[string]float64
}

// GoBenchRun is everything parsed from one `go test -bench` invocation.
type GoBenchRun struct {
	Results []GoBench
	// Failed lists "--- FAIL: BenchmarkX" names and "FAIL pkg" packages:
	// a benchmark that calls b.Fatal prints no result line, and silently
	// leaving it out of the report would hide that it broke.
	Failed []string
	// NoBenchmarks lists packages that compiled and ran but had no
	// benchmark matching -bench (go test prints "ok" with no result).
	NoBenchmarks []string
}

var (
	// BenchmarkName-8   	     100	  12345 ns/op	  10 B/op	  1 allocs/op
	benchLineRE = regexp.MustCompile(`^(Benchmark\S+?)(?:-(\d+))?\s+(\d+)\s+(.+)$`)
	okLineRE    = regexp.MustCompile(`^(ok|FAIL|\?)\s+(\S+)`)
)

// ParseGoBench reads `go test -bench` output (several packages allowed).
// Lines that are not results, such as logs from the benchmarks, are
// skipped: the format is line-oriented and results always start at the
// beginning of a line with "Benchmark".
func ParseGoBench(r io.Reader) (GoBenchRun, error) {
	var run GoBenchRun
	var pkg string
	seen := map[string]bool{} // packages with at least one result
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), " \t\r")
		switch {
		case strings.HasPrefix(line, "pkg: "):
			pkg = strings.TrimSpace(strings.TrimPrefix(line, "pkg: "))
			continue
		case strings.HasPrefix(strings.TrimSpace(line), "--- FAIL: "):
			name := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "--- FAIL: "))
			if len(name) > 0 {
				run.Failed = append(run.Failed, name[0])
			}
			continue
		}
		if m := okLineRE.FindStringSubmatch(line); m != nil {
			switch m[1] {
			case "FAIL":
				run.Failed = append(run.Failed, m[2])
			case "ok":
				if !seen[m[2]] {
					run.NoBenchmarks = append(run.NoBenchmarks, m[2])
				}
			}
			continue
		}
		m := benchLineRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		b, ok := parseMetrics(m[4])
		if !ok {
			continue // e.g. a log line that happens to start with "Benchmark"
		}
		b.Package = pkg
		b.Name = strings.TrimPrefix(m[1], "Benchmark")
		b.Procs = 1
		if m[2] != "" {
			b.Procs, _ = strconv.Atoi(m[2])
		}
		b.N, _ = strconv.ParseInt(m[3], 10, 64)
		run.Results = append(run.Results, b)
		seen[pkg] = true
	}
	return run, sc.Err()
}

// parseMetrics reads the "value unit" pairs after the iteration count.
// ok is false unless there is an ns/op, which every result line has.
func parseMetrics(s string) (GoBench, bool) {
	b := GoBench{BytesPerOp: -1, AllocsPerOp: -1, Extra: map[string]float64{}}
	f := strings.Fields(s)
	if len(f)%2 != 0 {
		return b, false
	}
	hasNs := false
	for i := 0; i < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return b, false
		}
		switch unit := f[i+1]; unit {
		case "ns/op":
			b.NsPerOp, hasNs = v, true
		case "B/op":
			b.BytesPerOp = v
		case "allocs/op":
			b.AllocsPerOp = v
		default:
			b.Extra[unit] = v
		}
	}
	return b, hasNs
}

// Find returns the result of the named benchmark in a package whose import
// path ends with pkgSuffix.
func (r GoBenchRun) Find(pkgSuffix, name string) (GoBench, bool) {
	for _, b := range r.Results {
		if b.Name == name && strings.HasSuffix(b.Package, pkgSuffix) {
			return b, true
		}
	}
	return GoBench{}, false
}
