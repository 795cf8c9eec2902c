package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// MemoryCgroup is a cgroup of this test run's own with a hard memory
// limit, for a test that runs a process under a container's limits on a
// machine without containers.
type MemoryCgroup struct {
	dir     string
	version int
}

// NewMemoryCgroup makes a cgroup with the given memory limit in bytes,
// under the unified hierarchy (v2) or the memory controller (v1). It fails
// where the process may not make one (not root, or no writable cgroup
// file system); the caller decides whether that is a reason to skip.
func NewMemoryCgroup(name string, limit int64) (*MemoryCgroup, error) {
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		cg := &MemoryCgroup{dir: filepath.Join("/sys/fs/cgroup", name), version: 2}
		if err := cg.make("memory.max", limit); err != nil {
			return nil, err
		}
		return cg, nil
	}
	if _, err := os.Stat("/sys/fs/cgroup/memory/memory.limit_in_bytes"); err == nil {
		cg := &MemoryCgroup{dir: filepath.Join("/sys/fs/cgroup/memory", name), version: 1}
		if err := cg.make("memory.limit_in_bytes", limit); err != nil {
			return nil, err
		}
		return cg, nil
	}
	return nil, errors.New("testenv: no cgroup memory controller is mounted")
}

func (cg *MemoryCgroup) make(limitFile string, limit int64) error {
	if err := os.Mkdir(cg.dir, 0o755); err != nil {
		return fmt.Errorf("testenv: make cgroup: %w", err)
	}
	if err := os.WriteFile(filepath.Join(cg.dir, limitFile), []byte(strconv.FormatInt(limit, 10)), 0o644); err != nil {
		_ = os.Remove(cg.dir)
		return fmt.Errorf("testenv: set the cgroup's memory limit: %w", err)
	}
	return nil
}

// Version is 1 or 2.
func (cg *MemoryCgroup) Version() int { return cg.version }

// Procs is the file a process writes its pid to, to move into the group
// (`echo $$ > procs; exec …` runs a program inside it from its start).
func (cg *MemoryCgroup) Procs() string { return filepath.Join(cg.dir, "cgroup.procs") }

// OOMKills is how often the kernel killed a process of the group for
// memory.
func (cg *MemoryCgroup) OOMKills() (int, error) {
	if cg.version == 2 {
		return cg.counter("memory.events", "oom_kill")
	}
	return cg.counter("memory.oom_control", "oom_kill")
}

// counter reads the value of key from a cgroup file of "key value"
// lines; a key the file does not list is 0.
func (cg *MemoryCgroup) counter(file, key string) (int, error) {
	b, err := os.ReadFile(filepath.Join(cg.dir, file))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key+" "); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, nil
}

// Peak is the most memory the group was charged at once, in bytes.
func (cg *MemoryCgroup) Peak() (int64, error) {
	name := "memory.max_usage_in_bytes"
	if cg.version == 2 {
		name = "memory.peak"
	}
	b, err := os.ReadFile(filepath.Join(cg.dir, name))
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

// LimitHits is how often the group's usage reached its limit (and the
// kernel had to reclaim or kill): 0 means memory never ran up to it.
func (cg *MemoryCgroup) LimitHits() (int, error) {
	if cg.version == 2 {
		return cg.counter("memory.events", "max")
	}
	b, err := os.ReadFile(filepath.Join(cg.dir, "memory.failcnt"))
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// Remove deletes the group; its processes must have exited.
func (cg *MemoryCgroup) Remove() error { return os.Remove(cg.dir) }

// Memory is a process's resident memory now, from /proc/<pid>/status: the
// anonymous part (heap, stacks: what the process allocated), the peak of
// the whole resident set (VmHWM, which also counts the mapped binary,
// whose pages a cgroup may have charged to another group), in bytes.
type Memory struct {
	Anon, PeakRSS int64
}

// ReadMemory reads pid's Memory.
func ReadMemory(pid int) (Memory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, err
	}
	var m Memory
	found := 0
	for _, line := range strings.Split(string(b), "\n") {
		key, v, ok := strings.Cut(line, ":")
		if !ok || (key != "RssAnon" && key != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("testenv: %s: %w", key, err)
		}
		found++
		if key == "RssAnon" {
			m.Anon = kb * 1024
		} else {
			m.PeakRSS = kb * 1024
		}
	}
	if found != 2 {
		return Memory{}, errors.New("testenv: no RssAnon or VmHWM in /proc/<pid>/status")
	}
	return m, nil
}
