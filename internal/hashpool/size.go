package hashpool

import (
	"fmt"
	"math"
)

// Machine is what the process may use, as found at start.
type Machine struct {
	// CPUs the process may run on: its affinity mask, lowered by a cgroup
	// CPU quota (rounded up: a quota of 1.5 cores keeps 2 hashes busy).
	CPUs int
	// MemoryLimit in bytes (GOMEMLIMIT or the cgroup limit, the lower); 0
	// when there is none.
	MemoryLimit int64
}

// Sizing is the rule the pool size follows.
type Sizing struct {
	// Requested is HASH_POOL_SIZE; 0 means one slot per CPU.
	Requested int
	// HashMemory is what one hash holds, in bytes (Argon2 memory).
	HashMemory int64
	// MemoryShare is the part of the memory limit hashes may hold at once
	// (0.5: half); the rest is the process, its connections and the
	// garbage the collector has not yet returned.
	MemoryShare float64
}

// Size is a pool size with the reasons for it, for the start-up log and
// the metrics.
type Size struct {
	Slots int
	// ByCPU is the size before the memory bound: Requested, or the CPUs.
	ByCPU int
	// ByMemory is the most slots the memory limit allows (0: no limit).
	ByMemory int
	// Clamped says the memory limit lowered the size.
	Clamped bool
}

// Plan sizes a pool for m: one slot per CPU (or what was requested), then
// no more than MemoryShare of the memory limit can hold. Without the bound
// a pool sized from a large node's cores, under a container's memory
// limit, is killed by the first burst of logins (64 concurrent logins took
// 658 MB with 8 cores and 2.4 GB with 32). At least one slot is always
// kept: a limit too small for even one hash is reported, not obeyed by
// refusing every login.
func Plan(m Machine, s Sizing) Size {
	size := Size{ByCPU: s.Requested}
	if size.ByCPU <= 0 {
		size.ByCPU = max(m.CPUs, 1)
	}
	size.Slots = size.ByCPU
	if m.MemoryLimit > 0 && s.HashMemory > 0 && s.MemoryShare > 0 {
		size.ByMemory = max(int(math.Floor(float64(m.MemoryLimit)*s.MemoryShare/float64(s.HashMemory))), 1)
		if size.ByMemory < size.Slots {
			size.Slots, size.Clamped = size.ByMemory, true
		}
	}
	return size
}

// String is the size in words, for logs.
func (s Size) String() string {
	if s.Clamped {
		return fmt.Sprintf("%d (clamped from %d by the memory limit)", s.Slots, s.ByCPU)
	}
	return fmt.Sprint(s.Slots)
}
