package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/profilesync/profilesync/internal/testenv"
)

// binaries builds the commands once per test run.
type binaries struct {
	once   sync.Once
	dir    string
	err    error
	output []byte
}

var bins binaries

// TestMain removes the built binaries after the run.
func TestMain(m *testing.M) {
	code := m.Run()
	if bins.dir != "" {
		os.RemoveAll(bins.dir)
	}
	os.Exit(code)
}

// binary returns the path of a command built from the repository.
func binary(t *testing.T, name string) string {
	t.Helper()
	bins.once.Do(func() {
		bins.dir, bins.err = os.MkdirTemp("", "profilesync-e2e-bin")
		if bins.err != nil {
			return
		}
		root := testenv.RepoRoot(t)
		for pkg, out := range map[string]string{"./worker": "profilesync-worker", "./starter": "profilesync"} {
			if files, _ := filepath.Glob(filepath.Join(root, pkg, "*.go")); len(files) == 0 {
				continue
			}
			cmd := exec.Command("go", "build", "-o", filepath.Join(bins.dir, out), pkg)
			cmd.Dir = root
			if bins.output, bins.err = cmd.CombinedOutput(); bins.err != nil {
				return
			}
		}
	})
	if bins.err != nil {
		t.Fatalf("building commands: %v\n%s", bins.err, bins.output)
	}
	return filepath.Join(bins.dir, name)
}

// freeAddr returns a local address nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// workerProc is a running profilesync-worker.
type workerProc struct {
	t    *testing.T
	cmd  *exec.Cmd
	addr string
	logs *testenv.SyncBuffer
	done chan struct{}
}

// startWorker starts the worker with the given environment (on top of a
// minimal one) and waits until it serves HTTP.
func startWorker(t *testing.T, addr string, env ...string) *workerProc {
	t.Helper()
	cmd := exec.Command(binary(t, "profilesync-worker"))
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"PROFILESYNC_HTTP_ADDR=" + addr}, env...)
	p := &workerProc{t: t, cmd: cmd, addr: addr, logs: &testenv.SyncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting worker: %v", err)
	}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("worker logs:\n%s", p.logs.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			t.Fatalf("worker exited at start:\n%s", p.logs.String())
		default:
		}
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("worker not healthy after 30s:\n%s", p.logs.String())
	return nil
}

func (p *workerProc) url(path string) string { return "http://" + p.addr + path }

// kill sends SIGKILL and waits for the process to be gone.
func (p *workerProc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop asks the worker to shut down gracefully.
func (p *workerProc) stop() error {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(30 * time.Second):
		p.kill()
		return fmt.Errorf("worker did not stop within 30s")
	}
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		ok, err := cond(ctx)
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
