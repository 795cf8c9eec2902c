package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authd/authd/internal/testenv"
)

// TestMemoryBoundedByTheLimit is the node with many cores: authd is asked
// for a hash pool of 32 (as a 32-core node without a CPU limit would size
// it) under a 256 MiB memory limit, with the real Argon2 cost (19 MiB per
// hash), and gets 64 concurrent registrations. Unbounded, 32 hashes at
// once hold 608 MiB; the pool must be clamped to what half the limit holds
// (6), every registration must be served, and the process's peak resident
// memory must stay within the limit. The limit comes once from GOMEMLIMIT
// and once from a real cgroup (where this machine lets a test make one),
// the way a container gets it.
func TestMemoryBoundedByTheLimit(t *testing.T) {
	const (
		mib        = int64(1) << 20
		limit      = 256 * mib
		wantSlots  = 6 // floor(50% × 256 MiB ÷ 19 MiB)
		concurrent = 64
	)
	bin := authdBinary(t)
	for _, mode := range []string{"GOMEMLIMIT", "cgroup"} {
		t.Run(mode, func(t *testing.T) {
			addr := freeAddr(t)
			env := envMap("HTTP_ADDR", addr, "PUBLIC_URL", "http://localhost:"+portOf(addr),
				"ARGON2_MEMORY_KIB", "19456", "ARGON2_ITERATIONS", "2", "HASH_POOL_SIZE", "32",
				"HASH_WAIT_BUDGET", "1m", "HASH_MAX_QUEUE", "1000", "REGISTER_LIMIT_PER_IP", "0", "LOG_LEVEL", "info")
			var cmd *exec.Cmd
			var cg *testenv.MemoryCgroup
			switch mode {
			case "GOMEMLIMIT":
				env["GOMEMLIMIT"] = strconv.FormatInt(limit, 10)
				cmd = exec.Command(bin, "serve")
			case "cgroup":
				var err error
				cg, err = testenv.NewMemoryCgroup(testenv.RandomName("authd-test-mem-"), limit)
				if err != nil {
					t.Skipf("no cgroup of its own for this test on this machine (the GOMEMLIMIT case ran): %v", err)
				}
				// Into the group before authd starts, as a container's
				// process is: the shell moves itself, then becomes authd.
				cmd = exec.Command("/bin/sh", "-c", `echo $$ > "$1" && exec "$0" serve`, bin, cg.Procs())
			}
			for k, v := range env {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			cmd.Env = append(cmd.Env, "PATH="+os.Getenv("PATH"))
			out := &testenv.LogBuffer{}
			cmd.Stdout, cmd.Stderr = out, out
			p, err := testenv.StartProcess(cmd)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := p.Stop(30 * time.Second); err != nil {
					t.Errorf("authd did not stop cleanly: %v\n%s", err, out)
				}
				if cg != nil {
					if err := cg.Remove(); err != nil {
						t.Errorf("remove the cgroup: %v", err)
					}
				}
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			base := "http://" + addr
			if err := p.WaitHTTP(ctx, base+"/ready", time.Minute); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}

			metrics := scrape(t, base+"/metrics")
			wantSource := mode
			if got := metrics["authd_hash_pool_size"]; got != wantSlots {
				t.Errorf("authd_hash_pool_size = %v, want %d\n%s", got, wantSlots, out)
			}
			if metrics["authd_hash_pool_clamped"] != 1 || metrics["authd_memory_limit_bytes"] != float64(limit) {
				t.Errorf("clamped = %v, memory limit = %v, want 1 and %d", metrics["authd_hash_pool_clamped"], metrics["authd_memory_limit_bytes"], limit)
			}
			if !strings.Contains(out.String(), `"memory_source":"`+wantSource+`"`) || !strings.Contains(out.String(), "hash pool clamped by the memory limit") ||
				!strings.Contains(out.String(), `"go_memory_limit_bytes":`+strconv.FormatInt(limit/10*9, 10)) {
				t.Errorf("the start-up log does not say the pool was clamped by the %s limit and the collector's target set to 90%% of it:\n%s", wantSource, out)
			}

			// The resident anonymous memory (what authd allocated), sampled
			// until the burst is over; its peak is what a limit must hold.
			var peakAnon atomic.Int64
			sampled := make(chan struct{})
			stopSampling := make(chan struct{})
			go func() {
				defer close(sampled)
				for {
					if m, err := testenv.ReadMemory(p.PID()); err == nil && m.Anon > peakAnon.Load() {
						peakAnon.Store(m.Anon)
					}
					select {
					case <-stopSampling:
						return
					case <-time.After(2 * time.Millisecond):
					}
				}
			}()
			var wg sync.WaitGroup
			statuses := make([]int, concurrent)
			start := make(chan struct{})
			for i := range statuses {
				wg.Go(func() {
					body, _ := json.Marshal(map[string]string{
						"identifier": strings.ToLower(testenv.RandomName(fmt.Sprintf("mem%d-", i))) + "@example.com",
						"password":   "correct horse battery staple",
					})
					<-start
					resp, err := http.Post(base+"/api/v1/auth/register", "application/json", bytes.NewReader(body))
					if err != nil {
						return
					}
					resp.Body.Close()
					statuses[i] = resp.StatusCode
				})
			}
			close(start)
			wg.Wait()
			for i, s := range statuses {
				if s != http.StatusCreated {
					t.Errorf("registration %d: status %d, want 201", i, s)
				}
			}
			close(stopSampling)
			<-sampled
			mem, err := testenv.ReadMemory(p.PID())
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d slots; peak anonymous RSS %d MiB, peak RSS %d MiB (binary included), limit %d MiB",
				mode, wantSlots, peakAnon.Load()/mib, mem.PeakRSS/mib, limit/mib)
			if peakAnon.Load() == 0 || peakAnon.Load() > limit {
				t.Errorf("peak anonymous RSS %d MiB is not within the %d MiB limit", peakAnon.Load()/mib, limit/mib)
			}
			if cg != nil {
				// The kernel's own account: what the group was charged never
				// reached the limit, so nothing was reclaimed or killed.
				peak, err1 := cg.Peak()
				hits, err2 := cg.LimitHits()
				kills, err3 := cg.OOMKills()
				if err := errors.Join(err1, err2, err3); err != nil {
					t.Fatal(err)
				}
				t.Logf("cgroup v%d: peak charge %d MiB, limit reached %d times, OOM kills %d", cg.Version(), peak/mib, hits, kills)
				if peak > limit || hits != 0 || kills != 0 {
					t.Errorf("the cgroup was charged %d MiB at peak, reached its %d MiB limit %d times, OOM-killed %d times", peak/mib, limit/mib, hits, kills)
				}
			}
			if max := scrape(t, base+"/metrics")["authd_hash_in_flight"]; max > wantSlots {
				t.Errorf("authd_hash_in_flight = %v, more than the %d slots", max, wantSlots)
			}
		})
	}
}

// scrape reads the unlabelled samples of a Prometheus text page.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		name, v, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") || strings.Contains(name, "{") {
			continue
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
			out[name] = f
		}
	}
	return out
}

// portOf is the port of a host:port; PUBLIC_URL must name a host, not an
// IP address (WebAuthn's relying party is its host).
func portOf(addr string) string {
	_, port, _ := strings.Cut(addr, ":")
	return port
}
