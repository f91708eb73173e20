package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"

	"github.com/profilesync/profilesync/internal/testenv"
)

// startTemporal starts the pinned Temporal dev server for one test and
// returns its frontend address.
func startTemporal(t *testing.T) string {
	t.Helper()
	cli := testenv.TemporalCLI(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath:  cli,
		ClientOptions: &client.Options{Namespace: "default"},
		LogLevel:      "error",
	})
	if err != nil {
		t.Fatalf("starting the Temporal dev server: %v", err)
	}
	t.Cleanup(func() { srv.Stop() })
	return srv.FrontendHostPort()
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// deployment is a running worker with its Temporal server and tokens.
type deployment struct {
	t        *testing.T
	worker   *workerProc
	temporal string
	env      []string
	tokens   map[string]string // role → token
}

// deploy starts a Temporal dev server and a worker on the given store, with a
// staff, an admin and a viewer token.
func deploy(t *testing.T, storeDSN string, extraEnv ...string) *deployment {
	t.Helper()
	d := &deployment{t: t, temporal: startTemporal(t), tokens: map[string]string{}}
	var pairs []string
	for _, role := range []string{"staff", "admin", "viewer"} {
		d.tokens[role] = role + "-" + randomHex(12)
		pairs = append(pairs, role+":"+d.tokens[role])
	}
	key := make([]byte, 32)
	rand.Read(key)
	d.env = append([]string{
		"PROFILESYNC_STORE_DSN=" + storeDSN,
		"TEMPORAL_ADDRESS=" + d.temporal,
		"PROFILESYNC_TOKENS=" + strings.Join(pairs, ","),
		"PROFILESYNC_MASTER_KEY=" + base64.StdEncoding.EncodeToString(key),
		"PROFILESYNC_LOG_FORMAT=json",
	}, extraEnv...)
	d.worker = startWorker(t, freeAddr(t), d.env...)
	return d
}

// restart kills the worker with SIGKILL and starts it again.
func (d *deployment) restart() {
	d.t.Helper()
	d.worker.kill()
	d.worker = startWorker(d.t, d.worker.addr, d.env...)
}

// cliResult is the outcome of one profilesync command.
type cliResult struct {
	stdout, stderr string
	code           int
}

// cli runs the operator CLI with a role's token, optionally feeding stdin.
func (d *deployment) cli(role, stdin string, args ...string) cliResult {
	d.t.Helper()
	cmd := exec.Command(binary(d.t, "profilesync"), args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "PROFILESYNC_SERVER=http://" + d.worker.addr, "PROFILESYNC_TOKEN=" + d.tokens[role]}
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		d.t.Fatalf("running profilesync: %v", err)
	}
	return cliResult{stdout: out.String(), stderr: errb.String(), code: code}
}

// cliJSON runs a command with --json that must succeed and decodes its output.
func (d *deployment) cliJSON(role, stdin string, out any, args ...string) {
	d.t.Helper()
	r := d.cli(role, stdin, append([]string{"--json"}, args...)...)
	if r.code != 0 {
		d.t.Fatalf("profilesync %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	if err := json.Unmarshal([]byte(r.stdout), out); err != nil {
		d.t.Fatalf("profilesync %s: decoding output: %v\n%s", strings.Join(args, " "), err, r.stdout)
	}
}

// temporalCLI runs the temporal CLI against the deployment's server.
func (d *deployment) temporalCLI(args ...string) (string, error) {
	d.t.Helper()
	cmd := exec.Command(testenv.TemporalCLI(d.t), append(args, "--address", d.temporal, "--namespace", "default")...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// track sends events to the ingest API with a write key; each must be
// accepted.
func (d *deployment) track(writeKey string, events ...map[string]any) {
	d.t.Helper()
	body, _ := json.Marshal(map[string]any{"batch": events})
	req, _ := http.NewRequest(http.MethodPost, d.worker.url("/v1/batch"), bytes.NewReader(body))
	req.SetBasicAuth(writeKey, "")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatalf("sending events: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		d.t.Fatalf("sending events: HTTP %d: %s", resp.StatusCode, b.String())
	}
}

// caseStudy is the docs' four events (segment-semantics.md §2.3).
func caseStudy() []map[string]any {
	return []map[string]any{
		{"type": "page", "messageId": "E1", "anonymousId": "5285", "name": "Home"},
		{"type": "identify", "messageId": "E2", "anonymousId": "5285", "traits": map[string]any{"email": "jane@example.com"}},
		{"type": "page", "messageId": "E3", "anonymousId": "b50e", "name": "Pricing"},
		{"type": "identify", "messageId": "E4", "anonymousId": "b50e", "traits": map[string]any{"email": "jane@example.com"}},
	}
}

func fmtRows(rows [][]any) string {
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintln(&b, r...)
	}
	return b.String()
}
