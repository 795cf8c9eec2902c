// Package cgroup reads the CPU quota and memory limit that Linux control
// groups (v1 or v2) put on the process, as a container runtime or a
// Kubernetes resource limit sets them. authd sizes its hash pool from them:
// the node's core count says nothing about what a container may use.
//
// Everything is read through an fs.FS rooted at "/", so the rules are
// tested on made-up trees; a file that is missing or unreadable means "no
// limit", never an error: a process outside any cgroup simply has none.
package cgroup

import (
	"bufio"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// Limits are what the cgroups of the process allow.
type Limits struct {
	// CPUs is the CPU quota in cores (quota ÷ period; 1.5 is one and a
	// half cores); 0 when there is none.
	CPUs float64
	// MemoryBytes is the hard memory limit; 0 when there is none.
	MemoryBytes int64
	// Version is 1 or 2, the cgroup hierarchy the limits came from; 0 when
	// the process is in no cgroup hierarchy that could be read.
	Version int
}

// unlimitedV1 is the smallest value cgroup v1 uses for "no memory limit"
// (the page-aligned maximum); anything this large is no limit.
const unlimitedV1 = int64(1) << 62

// Read returns the limits of the process whose /proc/self/cgroup and
// /sys/fs/cgroup are in fsys (os.DirFS("/") for the real ones). Nested
// groups each bound the process, so the tightest limit on the path from
// the process's group up to the root wins.
func Read(fsys fs.FS) Limits {
	b, err := fs.ReadFile(fsys, "proc/self/cgroup")
	if err != nil {
		return Limits{}
	}
	groups := parseProcCgroup(string(b))
	if p, ok := groups[""]; ok && exists(fsys, "sys/fs/cgroup/cgroup.controllers") {
		return v2(fsys, p)
	}
	var l Limits
	if p, ok := groups["memory"]; ok {
		l.Version = 1
		l.MemoryBytes = int64(tightest(fsys, "sys/fs/cgroup/memory", p, func(dir string) float64 {
			return memoryV1(fsys, dir)
		}))
	}
	if p, ok := groups["cpu"]; ok {
		// Distributions mount cpu and cpuacct together, under either name.
		for _, mount := range []string{"sys/fs/cgroup/cpu", "sys/fs/cgroup/cpu,cpuacct", "sys/fs/cgroup/cpuacct,cpu"} {
			if exists(fsys, mount) {
				l.Version = 1
				l.CPUs = tightest(fsys, mount, p, func(dir string) float64 { return cpuV1(fsys, dir) })
				break
			}
		}
	}
	return l
}

// v2 reads the unified hierarchy: cpu.max ("max 100000" or "150000
// 100000") and memory.max ("max" or bytes).
func v2(fsys fs.FS, group string) Limits {
	l := Limits{Version: 2}
	l.MemoryBytes = int64(tightest(fsys, "sys/fs/cgroup", group, func(dir string) float64 {
		v, ok := readWord(fsys, path.Join(dir, "memory.max"), 0)
		if !ok || v == "max" {
			return 0
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return 0
		}
		return float64(n)
	}))
	l.CPUs = tightest(fsys, "sys/fs/cgroup", group, func(dir string) float64 {
		quota, ok := readWord(fsys, path.Join(dir, "cpu.max"), 0)
		if !ok || quota == "max" {
			return 0
		}
		period, _ := readWord(fsys, path.Join(dir, "cpu.max"), 1)
		return ratio(quota, period)
	})
	return l
}

func memoryV1(fsys fs.FS, dir string) float64 {
	v, ok := readWord(fsys, path.Join(dir, "memory.limit_in_bytes"), 0)
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 || n >= unlimitedV1 {
		return 0
	}
	return float64(n)
}

func cpuV1(fsys fs.FS, dir string) float64 {
	quota, ok := readWord(fsys, path.Join(dir, "cpu.cfs_quota_us"), 0)
	if !ok {
		return 0
	}
	period, _ := readWord(fsys, path.Join(dir, "cpu.cfs_period_us"), 0)
	return ratio(quota, period) // a quota of -1 is no limit: ratio gives 0
}

func ratio(quota, period string) float64 {
	q, err1 := strconv.ParseFloat(quota, 64)
	p, err2 := strconv.ParseFloat(period, 64)
	if err1 != nil || err2 != nil || q <= 0 || p <= 0 {
		return 0
	}
	return q / p
}

// tightest applies limit to the process's group and each of its parents
// below mount, and returns the smallest limit found (0: none). Inside a
// container the group path usually names the host's hierarchy while the
// container sees its own group at the mount point; a path that is not
// there falls back to the mount point itself.
func tightest(fsys fs.FS, mount, group string, limit func(dir string) float64) float64 {
	dir := path.Join(mount, group)
	if !exists(fsys, dir) {
		dir = mount
	}
	best := 0.0
	for {
		if v := limit(dir); v > 0 && (best == 0 || v < best) {
			best = v
		}
		if dir == mount || !strings.HasPrefix(dir, mount+"/") {
			break
		}
		dir = path.Dir(dir)
	}
	return best
}

// parseProcCgroup maps each controller list of /proc/self/cgroup
// ("4:memory:/a/b", "0::/a" for v2 under the key "") to its group path.
func parseProcCgroup(s string) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		out[parts[1]] = parts[2]
		for _, c := range strings.Split(parts[1], ",") {
			if _, dup := out[c]; !dup {
				out[c] = parts[2]
			}
		}
	}
	return out
}

func readWord(fsys fs.FS, name string, i int) (string, bool) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return "", false
	}
	f := strings.Fields(string(b))
	if i >= len(f) {
		return "", false
	}
	return f[i], true
}

func exists(fsys fs.FS, name string) bool {
	_, err := fs.Stat(fsys, name)
	return err == nil
}
