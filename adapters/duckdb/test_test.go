package duckdb

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/profilesync/profilesync/adapters"
)

func TestConnectionTestPasses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new", "folder", "warehouse.duckdb")
	wh, err := Open(t.Context(), adapters.Config{Type: Type, Settings: map[string]string{"path": path}})
	if err != nil {
		t.Fatal(err)
	}
	steps, err := wh.Test(t.Context())
	if err != nil {
		t.Fatalf("Test: %v", err)
	}
	var names []string
	for _, s := range steps {
		names = append(names, s.Name)
		if !s.OK || s.Error != "" {
			t.Errorf("step %+v failed", s)
		}
	}
	if want := []string{StepConnect, StepCreateSchema, StepCreateTable, StepWriteRead, StepCleanUp}; !slices.Equal(names, want) {
		t.Errorf("steps %v, want %v", names, want)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database file not created: %v", err)
	}
	tables, err := wh.Tables(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for name := range tables {
		if strings.HasPrefix(name, testTablePrefix) {
			t.Errorf("scratch table %s left behind", name)
		}
	}
}

func TestOpenRejectsBadSettings(t *testing.T) {
	for name, cfg := range map[string]adapters.Config{
		"no path":    {Type: Type, Settings: map[string]string{"schema": "x"}},
		"other type": {Type: "postgres", Settings: map[string]string{"path": "x.duckdb"}},
		"dsn":        {Type: Type, Settings: map[string]string{"path": "x.duckdb?access_mode=read_only"}},
	} {
		if _, err := Open(t.Context(), cfg); err == nil {
			t.Errorf("%s: Open succeeded", name)
		}
	}
}

// connectFails runs Test on path and checks that it stops at the connect
// step with an error that names the step and contains want.
func connectFails(t *testing.T, path, want string) {
	t.Helper()
	wh, err := Open(t.Context(), adapters.Config{Type: Type, Settings: map[string]string{"path": path}})
	if err != nil {
		t.Fatal(err)
	}
	steps, err := wh.Test(t.Context())
	if err == nil {
		t.Fatalf("Test succeeded on %s", path)
	}
	t.Logf("error: %v", err)
	if len(steps) != 1 || steps[0].Name != StepConnect || steps[0].OK || steps[0].Error == "" {
		t.Errorf("steps %+v, want one failed connect step", steps)
	}
	for _, s := range []string{err.Error(), steps[0].Error} {
		if !strings.Contains(s, "step connect") || !strings.Contains(s, want) {
			t.Errorf("error %q does not name the step and say %q", s, want)
		}
	}
}

func TestConnectionTestBadPaths(t *testing.T) {
	dir := t.TempDir()
	t.Run("directory", func(t *testing.T) { connectFails(t, dir, "is a directory") })

	file := filepath.Join(dir, "plain-file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("parent is a file", func(t *testing.T) { connectFails(t, filepath.Join(file, "wh.duckdb"), "not a directory") })

	garbage := filepath.Join(dir, "garbage.duckdb")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("not a database ", 1000)), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("not a database", func(t *testing.T) { connectFails(t, garbage, "open "+garbage) })
}

// holdEnv makes the test binary, run as a helper process, hold the DuckDB
// file it names open until its stdin closes.
const holdEnv = "PROFILESYNC_DUCKDB_HOLD"

func TestHelperHoldFile(t *testing.T) {
	path := os.Getenv(holdEnv)
	if path == "" {
		t.Skip("helper process only")
	}
	db, err := sql.Open("duckdb", path)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	var n int
	if err := db.QueryRow("SELECT 42").Scan(&n); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = db.Close()
	os.Exit(0)
}

// holdFile starts a process that opens path, waits until it holds the file
// and returns a function that makes it release the file and exit. The
// process reports "error: ..." instead if it cannot open the file.
func holdFile(t *testing.T, path string) (string, func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHoldFile$")
	cmd.Env = append(os.Environ(), holdEnv+"="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	release := func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	}
	t.Cleanup(release)
	return strings.TrimSpace(line), release
}

// TestFileHeldByAnotherProcess: while another process has the file open,
// every operation fails with an error that says so; once it lets go, the
// warehouse works again; and the warehouse lets go of the file when Close is
// called or it has been idle for a while, so another process can open it.
func TestFileHeldByAnotherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "held.duckdb")
	w := openAt(t, path, "main")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	status, release := holdFile(t, path)
	if status != "ready" {
		t.Fatalf("helper could not open the file after Close: %s", status)
	}
	connectFails(t, path, "another process holds the database file")
	wh, err := Open(t.Context(), adapters.Config{Settings: map[string]string{"path": path}})
	if err != nil {
		t.Fatal(err)
	}
	w = wh.(*Warehouse)
	_, err = w.Load(t.Context(), adapters.Chunk{Stream: "s", Upto: 1})
	if err == nil || !strings.Contains(err.Error(), "another process holds the database file") {
		t.Errorf("Load on a held file: %v", err)
	}
	release()

	w.idleClose = 50 * time.Millisecond
	if _, err := w.Load(t.Context(), adapters.Chunk{Stream: "s", Upto: 1}); err != nil {
		t.Fatalf("Load after the other process let go: %v", err)
	}
	if steps, err := w.Test(context.Background()); err != nil {
		t.Fatalf("Test after the other process let go: %v %+v", err, steps)
	}
	time.Sleep(w.idleClose + 100*time.Millisecond)
	status, release = holdFile(t, path)
	if status != "ready" {
		t.Errorf("another process cannot open the file once the warehouse is idle: %s", status)
	}
	release()
}
