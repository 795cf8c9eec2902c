package hashpool

import "testing"

func TestPlan(t *testing.T) {
	const (
		mib  = int64(1) << 20
		hash = 19 * mib // Argon2id at the default 19456 KiB
	)
	tests := []struct {
		name string
		m    Machine
		s    Sizing
		want Size
	}{
		{"one per CPU without a limit", Machine{CPUs: 8}, Sizing{HashMemory: hash, MemoryShare: 0.5},
			Size{Slots: 8, ByCPU: 8}},
		{"32 cores under 512Mi: half of it holds 13 hashes", Machine{CPUs: 32, MemoryLimit: 512 * mib}, Sizing{HashMemory: hash, MemoryShare: 0.5},
			Size{Slots: 13, ByCPU: 32, ByMemory: 13, Clamped: true}},
		{"2 cores under 512Mi: the CPUs bind first", Machine{CPUs: 2, MemoryLimit: 512 * mib}, Sizing{HashMemory: hash, MemoryShare: 0.5},
			Size{Slots: 2, ByCPU: 2, ByMemory: 13}},
		{"a requested size is bounded too", Machine{CPUs: 2, MemoryLimit: 256 * mib}, Sizing{Requested: 32, HashMemory: hash, MemoryShare: 0.5},
			Size{Slots: 6, ByCPU: 32, ByMemory: 6, Clamped: true}},
		{"a limit too small for one hash keeps one slot", Machine{CPUs: 4, MemoryLimit: 16 * mib}, Sizing{HashMemory: hash, MemoryShare: 0.5},
			Size{Slots: 1, ByCPU: 4, ByMemory: 1, Clamped: true}},
		{"no CPUs known is one slot", Machine{}, Sizing{HashMemory: hash, MemoryShare: 0.5},
			Size{Slots: 1, ByCPU: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Plan(tt.m, tt.s)
			if got != tt.want {
				t.Errorf("Plan = %+v, want %+v", got, tt.want)
			}
			if tt.m.MemoryLimit > 0 && got.Slots > 1 && int64(got.Slots)*tt.s.HashMemory > int64(float64(tt.m.MemoryLimit)*tt.s.MemoryShare) {
				t.Errorf("%d slots × %d bytes exceed %.0f%% of %d", got.Slots, tt.s.HashMemory, tt.s.MemoryShare*100, tt.m.MemoryLimit)
			}
		})
	}
}
