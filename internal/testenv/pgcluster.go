package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is a private PostgreSQL server that checks passwords
// (scram-sha-256), started by a test so that it can see wrong passwords
// refused and the server go away and come back. The shared test server trusts
// every local connection, so it can show neither.
type Cluster struct {
	Host     string
	Port     int
	User     string // a role with a password, owner of Database
	Password string
	Database string

	dir    string
	bindir string
	asUser string // run the server's commands as this OS user ("" = as ourselves)
	t      testing.TB
}

// PasswordCluster initdbs and starts a private PostgreSQL server on a free
// local port, with a role and a database for a warehouse. It is stopped and
// removed when the test ends. It skips (fails under CI) without PostgreSQL's
// server binaries.
func PasswordCluster(t testing.TB) *Cluster {
	t.Helper()
	bindir, err := postgresBinDir()
	if err != nil {
		missing(t, "PostgreSQL server binaries not found: %v", err)
		return nil
	}
	c := &Cluster{Host: "127.0.0.1", User: "warehouse", Password: "pw-" + randomHex(8), Database: "warehouse",
		bindir: bindir, t: t}
	if os.Geteuid() == 0 {
		c.asUser = "postgres" // the server refuses to run as root
	}
	c.dir, err = os.MkdirTemp("", "profilesync-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.stop("immediate")
		os.RemoveAll(c.dir)
	})
	if c.asUser != "" {
		u, err := user.Lookup(c.asUser)
		if err != nil {
			missing(t, "OS user %s not found: %v", c.asUser, err)
			return nil
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(c.dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	pwfile := filepath.Join(c.dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte("bootstrap-"+c.Password+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(c.dir, "data")
	if out, err := c.command("initdb", "-D", data, "-U", "postgres", "--auth=scram-sha-256",
		"--pwfile="+pwfile, "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.Port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	conf := fmt.Sprintf("listen_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = '%s'\nfsync = off\nmax_connections = 50\n", c.Port, c.dir)
	f, err := os.OpenFile(filepath.Join(data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(conf)
	f.Close()
	c.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, c.dsn("postgres", "bootstrap-"+c.Password, "postgres"))
	if err != nil {
		t.Fatalf("connecting to the private cluster: %v", err)
	}
	defer admin.Close(ctx)
	for _, q := range []string{
		fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", c.User, c.Password),
		fmt.Sprintf("CREATE DATABASE %s OWNER %s", c.Database, c.User),
	} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatalf("preparing the private cluster: %v", err)
		}
	}
	return c
}

// DSN returns a URL for the warehouse role and database.
func (c *Cluster) DSN() string { return c.dsn(c.User, c.Password, c.Database) }

func (c *Cluster) dsn(user, password, db string) string {
	return fmt.Sprintf("postgres://%s:%s@%s:%d/%s?sslmode=disable", user, password, c.Host, c.Port, db)
}

// Start starts the server (again) and waits until it accepts connections.
func (c *Cluster) Start() {
	c.t.Helper()
	logfile := filepath.Join(c.dir, "server.log")
	if out, err := c.command("pg_ctl", "-D", filepath.Join(c.dir, "data"), "-l", logfile, "-w", "-t", "30", "start").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(logfile)
		c.t.Fatalf("starting the private cluster: %v\n%s\n%s", err, out, log)
	}
}

// Stop stops the server the hard way, like a crash or a lost host: open
// connections break mid-statement.
func (c *Cluster) Stop() {
	c.t.Helper()
	if out, err := c.stop("immediate"); err != nil {
		c.t.Fatalf("stopping the private cluster: %v\n%s", err, out)
	}
}

func (c *Cluster) stop(mode string) ([]byte, error) {
	return c.command("pg_ctl", "-D", filepath.Join(c.dir, "data"), "-m", mode, "-w", "stop").CombinedOutput()
}

// command runs a server binary, as the server's OS user when we are root.
func (c *Cluster) command(name string, args ...string) *exec.Cmd {
	bin := filepath.Join(c.bindir, name)
	if c.asUser != "" {
		return exec.Command("runuser", append([]string{"-u", c.asUser, "--", bin}, args...)...)
	}
	return exec.Command(bin, args...)
}

// postgresBinDir finds initdb and pg_ctl: pg_config's bindir, the PATH, or
// Debian's /usr/lib/postgresql/<version>/bin (newest first).
func postgresBinDir() (string, error) {
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dir := strings.TrimSpace(string(out))
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("no initdb in pg_config --bindir, PATH or /usr/lib/postgresql/*/bin")
}
