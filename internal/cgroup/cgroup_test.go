package cgroup

import (
	"os"
	"testing"
	"testing/fstest"
)

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }

func TestRead(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name string
		fs   fstest.MapFS
		want Limits
	}{
		{"no cgroup file", fstest.MapFS{}, Limits{}},
		{"v2 without limits", fstest.MapFS{
			"proc/self/cgroup":                 file("0::/\n"),
			"sys/fs/cgroup/cgroup.controllers": file("cpu memory\n"),
			"sys/fs/cgroup/cpu.max":            file("max 100000\n"),
			"sys/fs/cgroup/memory.max":         file("max\n"),
		}, Limits{Version: 2}},
		{"v2 container (own group at the mount point)", fstest.MapFS{
			"proc/self/cgroup":                 file("0::/kubepods/burstable/pod1/abc\n"),
			"sys/fs/cgroup/cgroup.controllers": file("cpu memory\n"),
			"sys/fs/cgroup/cpu.max":            file("150000 100000\n"),
			"sys/fs/cgroup/memory.max":         file("536870912\n"),
		}, Limits{CPUs: 1.5, MemoryBytes: 512 * mib, Version: 2}},
		{"v2 nested: the tightest ancestor wins", fstest.MapFS{
			"proc/self/cgroup":                   file("0::/a/b\n"),
			"sys/fs/cgroup/cgroup.controllers":   file("cpu memory\n"),
			"sys/fs/cgroup/a/cpu.max":            file("200000 100000\n"),
			"sys/fs/cgroup/a/memory.max":         file("268435456\n"),
			"sys/fs/cgroup/a/b/cpu.max":          file("400000 100000\n"),
			"sys/fs/cgroup/a/b/memory.max":       file("max\n"),
			"sys/fs/cgroup/a/b/cgroup.procs":     file("1\n"),
			"sys/fs/cgroup/a/cgroup.controllers": file("cpu memory\n"),
		}, Limits{CPUs: 2, MemoryBytes: 256 * mib, Version: 2}},
		{"v1 with a quota and a limit", fstest.MapFS{
			"proc/self/cgroup": file("5:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n0::/\n"),
			"sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes":  file("1073741824\n"),
			"sys/fs/cgroup/memory/memory.limit_in_bytes":             file("9223372036854771712\n"),
			"sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us":  file("50000\n"),
			"sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us": file("100000\n"),
		}, Limits{CPUs: 0.5, MemoryBytes: 1024 * mib, Version: 1}},
		{"v1 unlimited", fstest.MapFS{
			"proc/self/cgroup":                           file("4:memory:/\n1:cpu:/\n"),
			"sys/fs/cgroup/memory/memory.limit_in_bytes": file("9223372036854771712\n"),
			"sys/fs/cgroup/cpu/cpu.cfs_quota_us":         file("-1\n"),
			"sys/fs/cgroup/cpu/cpu.cfs_period_us":        file("100000\n"),
		}, Limits{Version: 1}},
		{"v1 path of the host's hierarchy, not mounted here", fstest.MapFS{
			"proc/self/cgroup":                           file("4:memory:/host/path\n"),
			"sys/fs/cgroup/memory/memory.limit_in_bytes": file("134217728\n"),
		}, Limits{MemoryBytes: 128 * mib, Version: 1}},
		{"garbage is no limit", fstest.MapFS{
			"proc/self/cgroup":                 file("0::/\n"),
			"sys/fs/cgroup/cgroup.controllers": file(""),
			"sys/fs/cgroup/cpu.max":            file("lots\n"),
			"sys/fs/cgroup/memory.max":         file("-5\n"),
		}, Limits{Version: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Read(tt.fs); got != tt.want {
				t.Errorf("Read = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestReadThisMachine reads the real files: whatever this machine's limits
// are, they must come back sane rather than as garbage.
func TestReadThisMachine(t *testing.T) {
	l := Read(os.DirFS("/"))
	if l.CPUs < 0 || l.MemoryBytes < 0 || l.Version < 0 || l.Version > 2 {
		t.Errorf("Read(/) = %+v", l)
	}
	t.Logf("this machine: %+v", l)
}
