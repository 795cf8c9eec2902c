//go:build unix

package testenv

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// RedisServer is a redis-server (or valkey-server) started by a test on a
// free loopback port, in a directory of its own, and stopped by its PID.
type RedisServer struct {
	Port int
	// password is sent with AUTH before each command of Do (a sentinel's
	// requirepass).
	password string
	proc     *Process
	dir      string
	log      *os.File
}

// Addr is host:port of the server.
func (s *RedisServer) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// RedisBinary finds valkey-server or redis-server.
func RedisBinary() (string, error) {
	for _, name := range []string{"valkey-server", "redis-server"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("testenv: neither valkey-server nor redis-server is installed (apt-get install redis-server)")
}

// StartRedis starts a server with persistence off and args added to its
// command line (e.g. "--cluster-enabled", "yes"), and waits until it
// answers PING.
func StartRedis(args ...string) (*RedisServer, error) {
	bin, err := RedisBinary()
	if err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "authd-redis-")
	if err != nil {
		return nil, err
	}
	return startRedisIn(bin, dir, port, "", args...)
}

func startRedisIn(bin, dir string, port int, password string, args ...string) (*RedisServer, error) {
	log, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		return nil, err
	}
	base := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--protected-mode", "no", "--daemonize", "no"}
	// A sentinel's configuration file must come first.
	if len(args) > 0 && strings.HasSuffix(args[0], ".conf") {
		base = append([]string{args[0]}, base...)
		args = args[1:]
	}
	cmd := exec.Command(bin, append(base, args...)...)
	cmd.Stdout, cmd.Stderr = log, log
	proc, err := StartProcess(cmd)
	if err != nil {
		log.Close()
		return nil, err
	}
	s := &RedisServer{Port: port, password: password, proc: proc, dir: dir, log: log}
	if err := waitFor(10*time.Second, func() error { _, err := s.Do("PING"); return err }); err != nil {
		s.Stop()
		return nil, fmt.Errorf("testenv: redis on port %d did not answer: %w (log: %s)", port, err, s.Log())
	}
	return s, nil
}

// Stop kills the server (a test's servers hold nothing worth a clean
// shutdown) and removes its directory.
func (s *RedisServer) Stop() {
	if s.proc != nil {
		_ = s.proc.Stop(2 * time.Second)
	}
	if s.log != nil {
		s.log.Close()
	}
	os.RemoveAll(s.dir)
}

// Kill ends the server at once, as a crash would, keeping its directory.
func (s *RedisServer) Kill() {
	_ = s.proc.cmd.Process.Kill()
	<-s.proc.Exited()
}

// Log is what the server wrote.
func (s *RedisServer) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
	return string(b)
}

// Do sends one command and returns its reply as text: a status or bulk
// string, an integer, or an error reply as an error. Arrays are not read.
func (s *RedisServer) Do(args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	if s.password != "" {
		if _, err := roundTrip(c, r, "AUTH", s.password); err != nil {
			return "", err
		}
	}
	return roundTrip(c, r, args...)
}

// roundTrip writes one command and reads its reply.
func roundTrip(c net.Conn, r *bufio.Reader, args ...string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	switch {
	case strings.HasPrefix(line, "-"):
		return "", errors.New(line[1:])
	case strings.HasPrefix(line, "$"):
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", err
		}
		buf := make([]byte, n+2)
		if _, err := ioReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return line[1:], nil
}

func ioReadFull(r *bufio.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// waitFor polls check until it succeeds or limit passes.
func waitFor(limit time.Duration, check func() error) error {
	deadline := time.Now().Add(limit)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// RedisCluster is a Redis Cluster of masters with replicas each, on
// loopback ports.
type RedisCluster struct {
	Nodes []*RedisServer
}

// StartRedisCluster starts masters × (1 + replicas) nodes and joins them
// with redis-cli --cluster create, then waits until every node reports
// the cluster ok.
func StartRedisCluster(masters, replicas int) (*RedisCluster, error) {
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		if cli, err = exec.LookPath("valkey-cli"); err != nil {
			return nil, errors.New("testenv: redis-cli is not installed")
		}
	}
	c := &RedisCluster{}
	for range masters * (1 + replicas) {
		n, err := StartRedis("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000")
		if err != nil {
			c.Stop()
			return nil, err
		}
		c.Nodes = append(c.Nodes, n)
	}
	args := []string{"--cluster", "create"}
	for _, n := range c.Nodes {
		args = append(args, n.Addr())
	}
	args = append(args, "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		c.Stop()
		return nil, fmt.Errorf("testenv: redis-cli --cluster create: %v: %s", err, out)
	}
	for _, n := range c.Nodes {
		err := waitFor(20*time.Second, func() error {
			info, err := n.Do("CLUSTER", "INFO")
			if err != nil {
				return err
			}
			if !strings.Contains(info, "cluster_state:ok") {
				return errors.New("cluster not ok yet")
			}
			return nil
		})
		if err != nil {
			c.Stop()
			return nil, fmt.Errorf("testenv: cluster node %s: %w", n.Addr(), err)
		}
	}
	return c, nil
}

// URL is a VALKEY_URL naming every node as a seed.
func (c *RedisCluster) URL() string {
	u := "redis://" + c.Nodes[0].Addr() + "/0"
	for i, n := range c.Nodes[1:] {
		if i == 0 {
			u += "?"
		} else {
			u += "&"
		}
		u += "addr=" + n.Addr()
	}
	return u
}

// Stop stops every node.
func (c *RedisCluster) Stop() {
	for _, n := range c.Nodes {
		n.Stop()
	}
}

// Sentinels is one master, its replica and three sentinels watching the
// master under the name "authd".
type Sentinels struct {
	Master, Replica *RedisServer
	Watchers        []*RedisServer
}

// StartSentinels starts the master, a replica of it and three sentinels
// that fail over after the master is down for a second.
func StartSentinels() (*Sentinels, error) { return StartSentinelsWithPassword("") }

// StartSentinelsWithPassword is StartSentinels with sentinels that require
// password (their requirepass; the data nodes need none).
func StartSentinelsWithPassword(password string) (*Sentinels, error) {
	s := &Sentinels{}
	var err error
	if s.Master, err = StartRedis(); err != nil {
		return nil, err
	}
	if s.Replica, err = StartRedis("--replicaof", "127.0.0.1", strconv.Itoa(s.Master.Port)); err != nil {
		s.Stop()
		return nil, err
	}
	if err := waitFor(10*time.Second, func() error {
		info, err := s.Replica.Do("INFO", "replication")
		if err != nil || !strings.Contains(info, "master_link_status:up") {
			return errors.New("replica not linked yet")
		}
		return nil
	}); err != nil {
		s.Stop()
		return nil, fmt.Errorf("testenv: replica: %w", err)
	}
	bin, err := RedisBinary()
	if err != nil {
		s.Stop()
		return nil, err
	}
	for range 3 {
		dir, err := os.MkdirTemp("", "authd-sentinel-")
		if err != nil {
			s.Stop()
			return nil, err
		}
		conf := filepath.Join(dir, "sentinel.conf")
		text := fmt.Sprintf("sentinel monitor authd 127.0.0.1 %d 2\nsentinel down-after-milliseconds authd 1000\n"+
			"sentinel failover-timeout authd 5000\nsentinel parallel-syncs authd 1\n", s.Master.Port)
		if password != "" {
			text += "requirepass " + password + "\n"
		}
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			s.Stop()
			return nil, err
		}
		port, err := FreePort()
		if err != nil {
			s.Stop()
			return nil, err
		}
		w, err := startRedisIn(bin, dir, port, password, conf, "--sentinel")
		if err != nil {
			s.Stop()
			return nil, err
		}
		s.Watchers = append(s.Watchers, w)
	}
	return s, nil
}

// URL is a VALKEY_URL naming the sentinels and the master set.
func (s *Sentinels) URL() string {
	u := "redis://" + s.Watchers[0].Addr() + "/0?master_set=authd"
	for _, w := range s.Watchers[1:] {
		u += "&addr=" + w.Addr()
	}
	return u
}

// MasterAddr is the master the sentinels name now.
func (s *Sentinels) MasterAddr() (string, error) {
	// SENTINEL GET-MASTER-ADDR-BY-NAME replies with an array, which Do
	// does not read; the replication info of the watchers names it too.
	info, err := s.Watchers[0].Do("INFO", "sentinel")
	if err != nil {
		return "", err
	}
	i := strings.Index(info, "address=")
	if i < 0 {
		return "", errors.New("testenv: sentinel names no master")
	}
	addr, _, _ := strings.Cut(info[i+len("address="):], ",")
	return addr, nil
}

// Stop stops every server.
func (s *Sentinels) Stop() {
	for _, w := range s.Watchers {
		w.Stop()
	}
	if s.Replica != nil {
		s.Replica.Stop()
	}
	if s.Master != nil {
		s.Master.Stop()
	}
}

// Restart starts a killed or stopped server again on its port and in its
// directory, as an operator's restart would.
func (s *RedisServer) Restart(args ...string) error {
	bin, err := RedisBinary()
	if err != nil {
		return err
	}
	if s.log != nil {
		s.log.Close()
	}
	n, err := startRedisIn(bin, s.dir, s.Port, s.password, args...)
	if err != nil {
		return err
	}
	*s = *n
	return nil
}
