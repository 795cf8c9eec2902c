package main

import (
	"fmt"
	"strings"

	"github.com/authd/authd/devtools/loadreport"
)

// The why* functions turn a phase's measurements into the sentences that
// explain its figures, above all a missed target. They only state what
// this run measured (CPU split, profile, latencies), so the explanation
// stays true when the figures change.

// cpuPerRequest is CPU microseconds per completed request.
func cpuPerRequest(cpus, rate float64) float64 {
	if rate <= 0 {
		return 0
	}
	return cpus / rate * 1e6
}

func findProfile(ph Phase, run string) (Profile, bool) {
	for _, p := range ph.Profiles {
		if p.Run == run {
			return p, true
		}
	}
	return Profile{}, false
}

func whyThroughput(ph Phase, hs, ms *loadreport.Summary) []string {
	hp, ok1 := findProfile(ph, "health")
	mp, ok2 := findProfile(ph, "me")
	if !ok1 || !ok2 || hs.HTTPReqs.Rate <= 0 || ms.HTTPReqs.Rate <= 0 {
		return nil
	}
	h, m := hp.Split, mp.Split
	out := []string{fmt.Sprintf(
		"Both runs keep the machine busy (%.2f and %.2f of %d CPUs), so throughput is set by CPU per request. "+
			"A `/health` request cost %.0f µs of authd CPU, %.0f µs of authd-load and %.0f µs of everything else; "+
			"a `/auth/me` request %.0f µs of authd, %.0f µs of authd-load and %.0f µs of everything else, which here is mostly "+
			"Valkey answering the two reads of each request (the session, then the cached profile).",
		h.Busy, m.Busy, roundCPUs(h.Busy, m.Busy),
		cpuPerRequest(h.Authd, hs.HTTPReqs.Rate), cpuPerRequest(h.Loadgen, hs.HTTPReqs.Rate), cpuPerRequest(h.Other, hs.HTTPReqs.Rate),
		cpuPerRequest(m.Authd, ms.HTTPReqs.Rate), cpuPerRequest(m.Loadgen, ms.HTTPReqs.Rate), cpuPerRequest(m.Other, ms.HTTPReqs.Rate),
	)}
	if len(mp.PerfComms) > 0 {
		out = append(out, fmt.Sprintf("perf agrees: in the `/auth/me` run, %.0f %% of the busy CPU was authd, %.0f %% the load "+
			"generator and %.0f %% Valkey.", shareOf(mp.PerfComms, "authd"), shareOf(mp.PerfComms, "authd-load"),
			shareOf(mp.PerfComms, "redis-server")+shareOf(mp.PerfComms, "valkey-server")))
	}
	return out
}

// roundCPUs is the machine's CPU count as the busy figures suggest it
// (for the sentence only; the real count is in the Machine table).
func roundCPUs(a, b float64) int {
	n := int(max(a, b) + 0.5)
	return max(n, 1)
}

func whyLogin(b *bench, tput float64, shed int, pr Profile, variants []loginVariant) []string {
	if tput <= 0 || b.oneHashNs <= 0 {
		return nil
	}
	s := pr.Split
	out := []string{fmt.Sprintf(
		"The ideal assumes all %d cores hash at the speed of one hash alone and nothing else runs. Over the measured window "+
			"authd used %.2f CPUs, authd-load %.2f and PostgreSQL/Valkey/others %.2f; %.2f of %d were idle.",
		b.ncpu, s.Authd, s.Loadgen, s.Other, max(0, float64(b.ncpu)-s.Busy), b.ncpu)}
	if idle := float64(b.ncpu) - s.Busy; idle > 0.1 && shed > 0 {
		out = append(out, fmt.Sprintf("%.2f CPUs stayed idle while %d logins were shed for want of a hash slot: the slots were "+
			"not busy every moment (between two hashes a slot passes through the releasing request, the next waiter and the "+
			"hashing thread; the window also ends with the last requests draining).", idle, shed))
	}
	if b.parallelRate > 0 {
		hashCPU := min(tput/b.parallelRate*float64(b.ncpu), s.Authd) // CPUs hashing at the measured parallel speed
		out = append(out, fmt.Sprintf(
			"With nothing else running, %d goroutines hashing in parallel reached %s, %s of the ideal (phase 1). At that speed "+
				"the %s logins took %.2f CPUs of hashing, leaving %.2f of authd's CPU for everything else.",
			b.ncpu, fmtRate(b.parallelRate), fmtPct(b.parallelRate/b.ideal), fmtRate(tput), hashCPU, s.Authd-hashCPU))
	}
	if pr.GCPerSec > 0 {
		out = append(out, fmt.Sprintf("authd ran %.0f garbage collections a second: each hash allocates its %s KiB of Argon2 memory "+
			"afresh and leaves it as garbage.", pr.GCPerSec, b.defaults["ARGON2_MEMORY_KIB"]))
	}
	if len(pr.PerfAuthd) > 0 {
		argon := sharePrefix(pr.PerfAuthd, "golang.org/x/crypto/argon2.")
		memclr := sharePrefix(pr.PerfAuthd, "runtime.memclrNoHeapPointers")
		out = append(out, fmt.Sprintf("perf: authd had %.0f %% of the busy CPU. Of authd's samples %.0f %% are Argon2 "+
			"(`golang.org/x/crypto/argon2`), %.0f %% zeroing each hash's 19 MiB (`runtime.memclrNoHeapPointers`), %.0f %% the "+
			"rest of the Go runtime (scheduler, GC, allocation) and %.0f %% the kernel (system calls, context switches, page faults).",
			shareOf(pr.PerfComms, "authd"), argon, memclr, sharePrefix(pr.PerfAuthd, "runtime.")-memclr, sharePrefix(pr.PerfAuthd, "kernel: ")))
	}
	if tput < 0.9*b.ideal {
		msg := fmt.Sprintf("**Why the target is missed:** logins reached %s of the ideal, %.1f points below the 90 %% target.",
			fmtPct(tput/b.ideal), (0.9-tput/b.ideal)*100)
		if b.parallelRate > 0 && b.parallelRate < b.ideal {
			msg += fmt.Sprintf(" Of the %.1f points between them and the ideal, %.1f are the cores themselves (two hashes at once "+
				"run slower than one alone, with nothing else running) and %.1f the rest of the machine's work beside hashing.",
				(1-tput/b.ideal)*100, (1-b.parallelRate/b.ideal)*100, (b.parallelRate-tput)/b.ideal*100)
			if b.parallelRate < 0.9*b.ideal {
				msg += fmt.Sprintf(" Since the hasher alone in parallel reaches only %s, the target cannot be met on this machine "+
					"whatever authd does: its ideal assumes hashes on the %d vCPUs do not slow each other down, and here they do "+
					"(shared memory bandwidth or a shared physical core).", fmtPct(b.parallelRate/b.ideal), b.ncpu)
			}
		} else if b.parallelRate > 0 {
			msg += " The cores hash in parallel at the full ideal rate, so all of it is the rest of the machine's work beside hashing."
		}
		var better []string
		for _, v := range variants {
			if v.Tput > 0 {
				better = append(better, fmt.Sprintf("with `%s` (%s) %s, %s of the ideal", v.Env, v.Idea, fmtRate(v.Tput), fmtPct(v.Tput/b.ideal)))
			}
		}
		if len(better) > 0 {
			msg += " Changing one setting: " + strings.Join(better, "; ") + "."
		}
		out = append(out, msg)
	}
	return out
}

func whySaturation(b *bench, s *satRun, variants []*satRun) []string {
	as, bs := s.A.Summary, s.B.Summary
	me := bs.Endpoint("me")
	sp := s.Profile.Split
	out := []string{fmt.Sprintf(
		"Over the measured window the machine was %.2f of %d CPUs busy: authd %.2f, the two authd-load processes %.2f, "+
			"PostgreSQL/Valkey/others %.2f. `/auth/me` answered with p50 %s, p99 %s, max %s; the slowest shed 503 took %s. "+
			"A `/auth/me` needs little CPU (phase 1: %s per request serially, most of it waiting for Valkey), so its latency "+
			"under saturation is time spent waiting for a CPU, not work.",
		sp.Busy, b.ncpu, sp.Authd, sp.Loadgen, sp.Other, fmtMs(me.Latency.P50Ms), fmtMs(me.Latency.P99Ms),
		fmtMs(me.Latency.MaxMs), fmtMs(as.Shed503.MaxMs), benchNs(b, "internal/httpapi", "Me"))}
	if len(s.Profile.PerfAuthd) > 0 {
		out = append(out, fmt.Sprintf("perf: authd had %.0f %% of the busy CPU, and %.0f %% of authd's samples are in "+
			"`golang.org/x/crypto/argon2` (%.0f %% more in `runtime.memclrNoHeapPointers`).",
			shareOf(s.Profile.PerfComms, "authd"), sharePrefix(s.Profile.PerfAuthd, "golang.org/x/crypto/argon2."),
			sharePrefix(s.Profile.PerfAuthd, "runtime.memclrNoHeapPointers")))
	}
	var lines []string
	for _, v := range variants {
		if v.A.Summary == nil || v.B.Summary == nil {
			continue
		}
		vme := v.B.Summary.Endpoint("me").Latency
		lines = append(lines, fmt.Sprintf("with `%s` (%s), `/auth/me` p99 %s → %s (target %s), slowest shed 503 %s → %s (target %s), "+
			"hashes served %s → %s, served hash p50 %s → %s",
			v.Label, v.Idea, fmtMs(me.Latency.P99Ms), fmtMs(vme.P99Ms), metWord(vme.P99Ms < 10), fmtMs(as.Shed503.MaxMs),
			fmtMs(v.A.Summary.Shed503.MaxMs), metWord(v.A.Summary.Shed503.MaxMs < 50), fmtRate(s.servedRate()), fmtRate(v.servedRate()),
			fmtMs(as.ServedDuration.P50Ms), fmtMs(v.A.Summary.ServedDuration.P50Ms)))
	}
	if len(lines) > 0 {
		out = append(out, "Changing one setting at a time (table above): "+strings.Join(lines, "; ")+".")
	}
	// What the variants show, stated only where this run's numbers say so.
	for _, v := range variants {
		if v.B.Summary == nil || v.A.Summary == nil {
			continue
		}
		p99 := v.B.Summary.Endpoint("me").Latency.P99Ms
		switch {
		case strings.HasPrefix(v.Label, "GOMAXPROCS=") && p99 >= 10 && me.Latency.P99Ms < 10:
			out = append(out, fmt.Sprintf("Without spare Go processors the `/auth/me` target is missed (p99 %s): with one P per CPU and "+
				"one hash slot per CPU, Argon2 holds every P while the pool is saturated, and a request goroutine that becomes runnable "+
				"(its request arrived, a Valkey reply came back) waits for a hash to end (%s) or for Go's 10 ms preemption, once per "+
				"step. The extra Ps authd adds let request goroutines run on a thread of their own and leave the kernel to share the cores.",
				fmtMs(p99), fmtNs(b.oneHashNs)))
		case strings.HasPrefix(v.Label, "GOGC=") && p99 < 0.85*me.Latency.P99Ms:
			out = append(out, fmt.Sprintf("Fewer garbage collections shorten the tail (p99 %s with `%s`): every hash allocates its "+
				"Argon2 memory afresh, so authd collected %.0f times a second here, and each cycle takes a Go processor for its mark "+
				"worker, stops the world briefly and makes allocating requests help with marking.", fmtMs(p99), v.Label, s.Profile.GCPerSec))
		case strings.HasPrefix(v.Label, "HASH_NICE=") && p99 < 10 && me.Latency.P99Ms < 10 && p99 < 1.2*me.Latency.P99Ms:
			out = append(out, fmt.Sprintf("The hashing threads' priority changes little here (p99 %s with `%s`): with spare Go "+
				"processors the kernel already gives a waking request thread a core quickly.", fmtMs(p99), v.Label))
		case v.Label == "HASH_NICE=0" && p99 >= 10 && me.Latency.P99Ms < 10:
			out = append(out, fmt.Sprintf("With hashing threads at normal priority the target is missed (p99 %s): the kernel then "+
				"shares a core fairly between a request thread and a hashing thread, so a request can wait a full time slice; "+
				"at a lower priority the request thread preempts the hash when it wakes.", fmtMs(p99)))
		}
	}
	if me.Latency.P99Ms >= 10 || as.Shed503.MaxMs >= 50 {
		var fixes []string
		for _, v := range variants {
			if v.B.Summary != nil && v.A.Summary != nil && v.B.Summary.Endpoint("me").Latency.P99Ms < 10 && v.A.Summary.Shed503.MaxMs < 50 {
				fixes = append(fixes, "`"+v.Label+"`")
			}
		}
		msg := fmt.Sprintf("**Why a latency target is missed:** requests wait for a CPU. The cores were %.0f %% busy, shared by "+
			"the hashing threads, authd's request handling, Go's garbage collector (%.0f cycles/s: every hash allocates its Argon2 "+
			"memory afresh), the load generators (%.2f CPUs), PostgreSQL and Valkey (%.2f); ",
			sp.Busy/float64(b.ncpu)*100, s.Profile.GCPerSec, sp.Loadgen, sp.Other)
		if len(fixes) > 0 {
			msg += "it is met with " + strings.Join(fixes, ", ") + "."
		} else {
			msg += "no single setting tried here meets both latency targets."
		}
		if as.Shed503.MaxMs >= 50 {
			msg += " A shed login waits like any request: it is refused only after its lock-out check in Valkey and its account " +
				"lookup in PostgreSQL, which run before the pool is asked."
		}
		out = append(out, msg)
	}
	return out
}

func metWord(ok bool) string {
	if ok {
		return "met"
	}
	return "missed"
}

// shareOf is the share of the named process (0 when perf did not see it).
func shareOf(s []Share, name string) float64 {
	for _, x := range s {
		if x.Name == name {
			return x.Pct
		}
	}
	return 0
}

// sharePrefix sums the shares of functions whose name starts with prefix.
func sharePrefix(s []Share, prefix string) float64 {
	var t float64
	for _, x := range s {
		if strings.HasPrefix(x.Name, prefix) {
			t += x.Pct
		}
	}
	return t
}

// benchNs is a Go benchmark's time per op, or "not measured".
func benchNs(b *bench, pkg, name string) string {
	if r, ok := b.goBench.Find(pkg, name); ok {
		return fmtNs(r.NsPerOp)
	}
	return "not measured"
}

func whyMixed(b *bench, s *loadreport.Summary, pr Profile) []string {
	var parts []string
	var hashed, served int
	var hashP50 float64
	for _, e := range s.Endpoints {
		parts = append(parts, fmt.Sprintf("`%s` %s (p50 %s)", e.Name, fmtMs(e.Served.P95Ms), fmtMs(e.Served.P50Ms)))
		served += e.Served.Count
		if e.Name == "login" || e.Name == "register" {
			hashed += e.Served.Count
			hashP50 = max(hashP50, e.Served.P50Ms)
		}
	}
	out := []string{"Served p95 (p50) by endpoint: " + strings.Join(parts, ", ") + "."}
	sp := pr.Split
	out = append(out, fmt.Sprintf("Over the run the machine was %.2f of %d CPUs busy on average: authd %.2f, authd-load %.2f, PostgreSQL/Valkey/others %.2f.",
		sp.Busy, b.ncpu, sp.Authd, sp.Loadgen, sp.Other))
	budget := b.defaults["HASH_WAIT_BUDGET"]
	if budget == "" {
		budget = "its default"
	}
	if served > 0 {
		// 55 % login + 20 % register: 0.75 hashes per iteration.
		c := fmt.Sprintf("from about %.0f iterations/s on (0.75 hashes per iteration) the scenario asks for more hashes than the %s "+
			"the pool can do; the pool then admits a login or registration only if it predicts a slot within `HASH_WAIT_BUDGET` (%s) "+
			"and sheds the rest at once, so admitted hashes wait up to about the budget. Hashed requests are %s of the served ones, "+
			"more than the 5 %% a p95 leaves out, so the served p95 follows the budget plus a hash.",
			b.ideal/0.75, fmtRate(b.ideal), budget, fmtPct(float64(hashed)/float64(served)))
		if s.ServedDuration.P95Ms < 250 {
			c = "F" + c[1:]
		} else {
			c = "**Why served p95 misses 250 ms:** " + c + fmt.Sprintf(" Served hashes here had p50 up to %s; for a p95 under 250 ms "+
				"admitted hashes must wait at most about 250 ms minus a hash (%s), i.e. a smaller budget and more shedding.",
				fmtMs(hashP50), fmtNs(b.oneHashNs))
		}
		for _, v := range b.satVariants {
			if strings.HasPrefix(v.Label, "HASH_WAIT_BUDGET=") && v.A.Summary != nil && b.satMain != nil && b.satMain.A.Summary != nil {
				c += fmt.Sprintf(" In phase 4 served hashes had p50 %s and p99 %s with the default budget, and %s / %s with `%s`.",
					fmtMs(b.satMain.A.Summary.ServedDuration.P50Ms), fmtMs(b.satMain.A.Summary.ServedDuration.P99Ms),
					fmtMs(v.A.Summary.ServedDuration.P50Ms), fmtMs(v.A.Summary.ServedDuration.P99Ms), v.Label)
			}
		}
		out = append(out, c)
	}
	return out
}
