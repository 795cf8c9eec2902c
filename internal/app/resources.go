package app

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authd/authd/internal/buildinfo"
	"github.com/authd/authd/internal/cgroup"
)

// Resources are what the process may use, found at start.
type Resources struct {
	// CPUs is the CPUs of the process's affinity mask, lowered to a cgroup
	// CPU quota rounded up; CPUSource says which bound ("affinity",
	// "cgroup").
	CPUs      int
	CPUSource string
	// MemoryLimit is the lower of GOMEMLIMIT and the cgroup memory limit,
	// in bytes (0: neither is set); MemorySource says which ("GOMEMLIMIT",
	// "cgroup", "none"). `authd serve` keeps the Go collector's target at
	// nine tenths of it.
	MemoryLimit  int64
	MemorySource string
}

// DetectResources reads the cgroup limits and the Go runtime's memory
// limit. runtime.NumCPU is the affinity mask at start; it knows nothing of
// a CPU quota, and nothing here knows a node's core count, which is what
// sized the pool before and what a container without a CPU limit sees.
func DetectResources() Resources {
	cg := cgroup.Read(os.DirFS("/"))
	r := Resources{CPUs: runtime.NumCPU(), CPUSource: "affinity", MemorySource: "none"}
	if cg.CPUs > 0 {
		if quota := int(math.Ceil(cg.CPUs)); quota < r.CPUs {
			r.CPUs, r.CPUSource = quota, "cgroup"
		}
	}
	if goLimit := debug.SetMemoryLimit(-1); goLimit > 0 && goLimit < math.MaxInt64 {
		r.MemoryLimit, r.MemorySource = goLimit, "GOMEMLIMIT"
	}
	if cg.MemoryBytes > 0 && (r.MemoryLimit == 0 || cg.MemoryBytes < r.MemoryLimit) {
		r.MemoryLimit, r.MemorySource = cg.MemoryBytes, "cgroup"
	}
	return r
}

// logHashPool says at start how the pool was sized, so that an operator
// reading one line knows why an instance hashes 6 at a time on a 32-core
// node.
func (a *App) logHashPool(hashMemory int64) {
	r, size := a.Resources, a.HashPool
	attrs := []any{"slots", size.Slots, "cpus", r.CPUs, "cpu_source", r.CPUSource,
		"memory_limit_bytes", r.MemoryLimit, "memory_source", r.MemorySource,
		"hash_memory_bytes", hashMemory, "memory_percent", a.Config.HashMemoryPercent,
		"pool_memory_bytes", int64(size.Slots) * hashMemory}
	switch {
	case size.Clamped:
		a.Log.Warn("hash pool clamped by the memory limit", append(attrs, "wanted", size.ByCPU)...)
	case size.ByMemory == 1 && int64(float64(r.MemoryLimit)*float64(a.Config.HashMemoryPercent)/100) < hashMemory:
		a.Log.Warn("memory limit too small for one hash at HASH_MEMORY_PERCENT; one slot kept", attrs...)
	default:
		a.Log.Info("hash pool sized", attrs...)
	}
}

// registerHashPoolMetrics exposes the sizing: what was found, and the
// memory the pool may hold at once.
func (a *App) registerHashPoolMetrics(hashMemory int64) {
	r, size := a.Resources, a.HashPool
	clamped := 0.0
	if size.Clamped {
		clamped = 1
	}
	a.Registry.MustRegister(
		gauge("authd_hash_pool_cpus", "CPUs the process may use (affinity, lowered by a cgroup quota), from which the hash pool is sized.", float64(r.CPUs)),
		gauge("authd_memory_limit_bytes", "Memory limit the hash pool is bounded by (GOMEMLIMIT or the cgroup limit, the lower); 0: none.", float64(r.MemoryLimit)),
		gauge("authd_hash_pool_memory_bytes", "Argon2 memory the hash pool holds when every slot hashes (slots × ARGON2_MEMORY_KIB).", float64(int64(size.Slots)*hashMemory)),
		gauge("authd_hash_pool_clamped", "1 when the memory limit lowered the hash pool below one slot per CPU (or HASH_POOL_SIZE).", clamped),
	)
}

func gauge(name, help string, v float64) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return v })
}

// buildInfoMetric is authd_build_info: always 1, with the build in its
// labels, so that a dashboard can show which version each instance runs.
func buildInfoMetric(b buildinfo.Info) prometheus.Collector {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "authd_build_info", Help: "The running build: version, commit, date and Go version in labels; always 1.",
	}, []string{"version", "commit", "date", "goversion"})
	g.WithLabelValues(b.Version, b.Commit, b.Date, b.GoVersion).Set(1)
	return g
}
