package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// fakeAPI records the requests it gets and answers with a fixed body.
func fakeAPI(t *testing.T, status int, body string) (*httptest.Server, *[]*http.Request, *[]string) {
	var reqs []*http.Request
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		b.ReadFrom(r.Body)
		reqs = append(reqs, r)
		bodies = append(bodies, b.String())
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, &reqs, &bodies
}

func runCLI(t *testing.T, env map[string]string, stdin string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	c := &cli{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, getenv: func(k string) string { return env[k] }}
	code := c.run(context.Background(), args)
	return code, out.String(), errb.String()
}

func TestFlagsAnywhere(t *testing.T) {
	srv, reqs, bodies := fakeAPI(t, 201, `{"warehouse":{"id":"wh_1"},"status":{"state":"awaiting_approval","schedule":"1h","last_test":{"ok":true}}}`)
	env := map[string]string{"PROFILESYNC_SERVER": srv.URL}
	code, out, errs := runCLI(t, env, "s3cret\n", "--token", "tok", "--json", "warehouse", "add", "pg", "--space", "main",
		"--type", "postgres", "--host", "h", "--user", "u", "--database", "d", "--password-stdin")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if len(*reqs) != 1 || (*reqs)[0].URL.Path != "/admin/v1/warehouses" || (*reqs)[0].Header.Get("Authorization") != "Bearer tok" {
		t.Fatalf("requests: %+v", *reqs)
	}
	var sent map[string]any
	json.Unmarshal([]byte((*bodies)[0]), &sent)
	if sent["password"] != "s3cret" || sent["space_id"] != "main" || sent["name"] != "pg" {
		t.Errorf("body sent: %v", sent)
	}
	if !strings.Contains(out, `"id": "wh_1"`) {
		t.Errorf("--json before the verb was lost: %s", out)
	}
}

func TestUsageErrors(t *testing.T) {
	env := map[string]string{"PROFILESYNC_TOKEN": "tok", "PROFILESYNC_SERVER": "http://127.0.0.1:1"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"warehouse", "frobnicate"}, "unknown command"},
		{[]string{"warehouse", "approve"}, "takes 1 argument"},
		{[]string{"backfill", "wh_1", "--from", "yesterday", "--to", "2026-01-01T00:00:00Z"}, "--from"},
		{[]string{"warehouse", "add", "x", "--space", "s", "--type", "postgres"}, "--password-stdin"},
	} {
		code, _, errs := runCLI(t, env, "", c.args...)
		if code != 2 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, errs, c.want)
		}
	}
	if code, _, errs := runCLI(t, map[string]string{}, "", "space", "list"); code != 2 || !strings.Contains(errs, "no token") {
		t.Errorf("without a token: exit %d %q", code, errs)
	}
}

func TestAPIErrors(t *testing.T) {
	srv, _, _ := fakeAPI(t, 409, `{"error":"approve is not allowed while the warehouse is test_failed"}`)
	code, _, errs := runCLI(t, map[string]string{"PROFILESYNC_TOKEN": "tok", "PROFILESYNC_SERVER": srv.URL}, "", "warehouse", "approve", "wh_1")
	if code != 1 || !strings.Contains(errs, "not allowed while the warehouse is test_failed (HTTP 409)") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}

func TestPasswordNeverInArgs(t *testing.T) {
	// There is no --password flag: a password on the command line is refused.
	code, _, errs := runCLI(t, map[string]string{"PROFILESYNC_TOKEN": "tok"}, "", "warehouse", "add", "x", "--space", "s",
		"--type", "postgres", "--password", "hunter2")
	if code != 2 || !strings.Contains(errs, "password") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}
