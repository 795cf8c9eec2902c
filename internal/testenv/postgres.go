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
		// A link on PATH (Debian's /usr/local/bin/initdb) stands for its
		// directory, which has pg_basebackup too.
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
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

// StartStandby makes a streaming replica of s with pg_basebackup (-R, so
// it follows s from the start) on a free port and starts it as a hot
// standby: it answers reads and refuses writes until Promote.
func (s *PostgresServer) StartStandby() (*PostgresServer, error) {
	dir, err := os.MkdirTemp("", "authd-pg-standby-")
	if err != nil {
		return nil, err
	}
	r := &PostgresServer{bin: s.bin, dir: dir, cred: s.cred}
	if r.cred != nil {
		if err := os.Chown(dir, int(r.cred.Uid), int(r.cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	backup := exec.Command(filepath.Join(s.bin, "pg_basebackup"), "-h", "127.0.0.1", "-p", strconv.Itoa(s.Port), "-U", "postgres",
		"-D", filepath.Join(dir, "data"), "-R", "-X", "stream", "-c", "fast", "--no-sync")
	backup.SysProcAttr = &syscall.SysProcAttr{Credential: r.cred}
	if out, err := backup.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("testenv: pg_basebackup: %v: %s", err, out)
	}
	if r.Port, err = FreePort(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := r.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("%w (log: %s)", err, r.Log())
	}
	return r, nil
}

// CaughtUp waits until standby has replayed everything s has written so
// far.
func (s *PostgresServer) CaughtUp(standby *PostgresServer, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	var lsn string
	if err := s.query(ctx, `SELECT pg_current_wal_lsn()::text`, &lsn); err != nil {
		return err
	}
	return waitFor(limit, func() error {
		var done bool
		if err := standby.query(ctx, `SELECT coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false)`, &done, lsn); err != nil {
			return err
		}
		if !done {
			return fmt.Errorf("testenv: the standby has not replayed %s yet", lsn)
		}
		return nil
	})
}

// Promote ends a standby's recovery (pg_promote) and waits until it
// accepts writes.
func (s *PostgresServer) Promote() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var promoted bool
	if err := s.query(ctx, `SELECT pg_promote(true, 50)`, &promoted); err != nil {
		return fmt.Errorf("testenv: promote: %w", err)
	}
	if !promoted {
		return fmt.Errorf("testenv: the standby was not promoted within 50 s (log: %s)", s.Log())
	}
	return waitFor(30*time.Second, func() error {
		var recovering bool
		if err := s.query(ctx, `SELECT pg_is_in_recovery()`, &recovering); err != nil {
			return err
		}
		if recovering {
			return errors.New("testenv: still in recovery")
		}
		return nil
	})
}

// query runs one query returning one value on a connection of its own.
func (s *PostgresServer) query(ctx context.Context, sql string, dest any, args ...any) error {
	c, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	return c.QueryRow(ctx, sql, args...).Scan(dest)
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
