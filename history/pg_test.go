package history

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The PostgreSQL tests use the server named by BITAUDIT_TEST_POSTGRES (a
// DSN without password, as .ci/run exports it), or else start a throwaway
// cluster of the installed server in a temporary directory. They skip only
// when no server binary is installed.

var (
	pgOnce    sync.Once
	pgBase    string
	pgSkip    string
	pgStop    func()
	pgCounter atomic.Int64
)

func TestMain(m *testing.M) {
	code := m.Run()
	if pgStop != nil {
		pgStop()
	}
	os.Exit(code)
}

// postgresDSN returns the URL of a fresh, empty database for this test.
func postgresDSN(tb testing.TB) string {
	tb.Helper()
	pgOnce.Do(func() { pgBase, pgSkip = startPostgres() })
	if pgBase == "" {
		tb.Skip(pgSkip)
	}
	db, err := sql.Open("pgx", pgBase)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	name := fmt.Sprintf("bitaudit_test_%d_%d", os.Getpid(), pgCounter.Add(1))
	if _, err := db.ExecContext(context.Background(), "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("creating a test database on %s: %v", pgBase, err)
	}
	tb.Cleanup(func() {
		db, err := sql.Open("pgx", pgBase)
		if err == nil {
			_, _ = db.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
			db.Close()
		}
	})
	u, _ := url.Parse(pgBase)
	u.Path = "/" + name
	return u.String()
}

func startPostgres() (dsn, skip string) {
	if v := os.Getenv("BITAUDIT_TEST_POSTGRES"); v != "" {
		return v, ""
	}
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Strings(bins)
	var bin string
	if len(bins) > 0 {
		bin = filepath.Dir(bins[len(bins)-1])
	} else if p, err := exec.LookPath("initdb"); err == nil {
		bin = filepath.Dir(p)
	} else {
		return "", "no PostgreSQL server installed (Debian package postgresql) and BITAUDIT_TEST_POSTGRES not set: PostgreSQL store tests skipped"
	}
	dir, err := os.MkdirTemp("", "bitaudit-pg-")
	if err != nil {
		return "", err.Error()
	}
	// The server refuses to run as root: run it as the postgres account.
	wrap := func(name string, args ...string) *exec.Cmd { return exec.Command(name, args...) }
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return "", "running as root and no postgres account to run the server as: " + err.Error()
		}
		uid, _ := strconv.Atoi(u.Uid)
		if err := os.Chown(dir, uid, -1); err != nil {
			return "", err.Error()
		}
		wrap = func(name string, args ...string) *exec.Cmd {
			c := exec.Command("runuser", append([]string{"-u", "postgres", "--", name}, args...)...)
			c.Dir = dir // the postgres account may not enter the test's directory
			return c
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err.Error()
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	data := filepath.Join(dir, "data")
	if out, err := wrap(filepath.Join(bin, "initdb"), "-D", data, "-U", "bitaudit", "-A", "trust", "--no-sync", "-E", "UTF8").CombinedOutput(); err != nil {
		panic(fmt.Sprintf("initdb: %v\n%s", err, out))
	}
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off", port, dir)
	if out, err := wrap(filepath.Join(bin, "pg_ctl"), "-D", data, "-l", filepath.Join(dir, "server.log"), "-w", "-t", "60", "-o", opts, "start").CombinedOutput(); err != nil {
		panic(fmt.Sprintf("pg_ctl start: %v\n%s", err, out))
	}
	pgStop = func() {
		_ = wrap(filepath.Join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop").Run()
		time.Sleep(100 * time.Millisecond)
		os.RemoveAll(dir)
	}
	return fmt.Sprintf("postgres://bitaudit@127.0.0.1:%d/postgres?sslmode=disable", port), ""
}
