//go:build unix

package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresServer is a PostgreSQL server of a test's own (initdb in a
// temporary directory, a free loopback port), for tests that stop, kill
// or restart the database: the shared one must never be.
type PostgresServer struct {
	Port int
	bin  string
	dir  string
	cred *syscall.Credential
	proc *Process
	log  *os.File
}

// postgresBin finds the directory of initdb and postgres.
func postgresBin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) == 0 {
		return "", errors.New("testenv: initdb is not installed (apt-get install postgresql)")
	}
	return filepath.Dir(matches[len(matches)-1]), nil
}

// StartPostgres initialises a cluster (trust authentication, user
// postgres) and starts it. PostgreSQL refuses to run as root, so as root
// the server runs as the system user postgres.
func StartPostgres() (*PostgresServer, error) {
	bin, err := postgresBin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "authd-pg-")
	if err != nil {
		return nil, err
	}
	s := &PostgresServer{bin: bin, dir: dir}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("testenv: running as root needs the postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", filepath.Join(dir, "data"), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("testenv: initdb: %v: %s", err, out)
	}
	if s.Port, err = FreePort(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := s.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// URL is the connection URL of database name on the server.
func (s *PostgresServer) URL(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.Port, name)
}

// Start starts the server on its port and data directory (again, after
// Kill or Stop) and waits until it accepts connections.
func (s *PostgresServer) Start() error {
	log, err := os.OpenFile(filepath.Join(s.dir, "server.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o666)
	if err != nil {
		return err
	}
	if s.cred != nil {
		_ = os.Chown(log.Name(), int(s.cred.Uid), int(s.cred.Gid))
	}
	cmd := exec.Command(filepath.Join(s.bin, "postgres"), "-D", filepath.Join(s.dir, "data"), "-p", strconv.Itoa(s.Port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "fsync=off", "-c", "max_connections=50")
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	proc, err := StartProcess(cmd)
	if err != nil {
		log.Close()
		return err
	}
	s.proc, s.log = proc, log
	return waitFor(30*time.Second, func() error {
		select {
		case <-proc.Exited():
			return errors.New("testenv: postgres exited at start")
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, s.URL("postgres"))
		if err != nil {
			return err
		}
		return c.Close(ctx)
	})
}

// Kill ends the server with SIGKILL, as a crash of the machine would:
// the postmaster and every backend at once (they share its process
// group). Killing the postmaster alone leaves its backends serving the
// connections they have until they notice. The data directory stays for
// Start.
func (s *PostgresServer) Kill() {
	_ = syscall.Kill(-s.proc.PID(), syscall.SIGKILL)
	<-s.proc.Exited()
	s.log.Close()
	// Wait until no process of the group is left.
	_ = waitFor(10*time.Second, func() error {
		if err := syscall.Kill(-s.proc.PID(), 0); err == nil {
			return errors.New("backends still running")
		}
		return nil
	})
}

// Stop shuts the server down and removes its directory.
func (s *PostgresServer) Stop() {
	if s.proc != nil {
		_ = s.proc.Stop(10 * time.Second)
	}
	if s.log != nil {
		s.log.Close()
	}
	os.RemoveAll(s.dir)
}

// Log is what the server wrote.
func (s *PostgresServer) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
	return string(b)
}
