package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/profilesync/profilesync/internal/testenv"
)

// nodeResult is what testdata/analytics-node/send.cjs prints.
type nodeResult struct {
	Sent []struct {
		Type        string  `json:"type"`
		MessageID   string  `json:"messageId"`
		UserID      *string `json:"userId"`
		AnonymousID *string `json:"anonymousId"`
	} `json:"sent"`
	Failed []struct {
		MessageID string `json:"messageId"`
		Reason    string `json:"reason"`
	} `json:"failed"`
	Statuses []int `json:"statuses"`
}

// runNodeClient runs send.cjs against host and returns what it reports and
// its exit code.
func runNodeClient(t *testing.T, host, writeKey string, extraEvents int) (nodeResult, int) {
	t.Helper()
	node, dir := testenv.Node(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	script, err := filepath.Abs(filepath.Join("testdata", "analytics-node", "send.cjs"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, node, script,
		"--host", host, "--write-key", writeKey, "--events", fmt.Sprint(extraEvents),
		"--flush-at", "10", "--prefix", "nt", "--max-retries", "0")
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	code := 0
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running node: %v\n%s", err, stderr.String())
	}
	var res nodeResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("send.cjs output %q: %v\nstderr: %s", stdout.String(), err, stderr.String())
	}
	return res, code
}

// recordingHandler notes the method, path and headers of each request.
type recordingHandler struct {
	next http.Handler
	mu   sync.Mutex
	seen []string
}

func (h *recordingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.seen = append(h.seen, fmt.Sprintf("%s %s auth=%t type=%s", r.Method, r.URL.Path,
		strings.HasPrefix(r.Header.Get("Authorization"), "Basic "), r.Header.Get("Content-Type")))
	h.mu.Unlock()
	h.next.ServeHTTP(w, r)
}

// TestAnalyticsNode drives the real @segment/analytics-node client against
// the API and checks what reaches the inbox.
func TestAnalyticsNode(t *testing.T) {
	const extra = 20
	inbox := &fakeInbox{}
	// The server's clock runs an hour ahead of the client's: timestamps must
	// be corrected into the server's time.
	const skew = time.Hour
	s := newTestServer(t, Config{Now: func() time.Time { return time.Now().Add(skew) }}, inbox)
	rec := &recordingHandler{next: s}
	srv := httptest.NewServer(rec)
	defer srv.Close()

	start := time.Now()
	res, code := runNodeClient(t, srv.URL, testKey, extra)
	end := time.Now()
	if code != 0 || len(res.Failed) != 0 {
		t.Fatalf("send.cjs exit %d, failed %+v", code, res.Failed)
	}
	if len(res.Sent) != 7+extra {
		t.Fatalf("send.cjs sent %d events, want %d", len(res.Sent), 7+extra)
	}

	// The client posts batches to /v1/batch, with Basic auth and JSON.
	rec.mu.Lock()
	for _, r := range rec.seen {
		if r != "POST /v1/batch auth=true type=application/json" {
			t.Errorf("request %s", r)
		}
	}
	if len(rec.seen) < 3 {
		t.Errorf("%d requests for %d events with flushAt 10", len(rec.seen), 7+extra)
	}
	rec.mu.Unlock()

	stored := map[string]map[string]any{}
	for _, e := range inbox.Stored() {
		p := payload(t, e)
		stored[e.MessageID] = p
		if e.SourceID != "src_1" || e.SpaceID != "space_a" || p["type"] != e.Type {
			t.Errorf("%s: source %s space %s type %s/%v", e.MessageID, e.SourceID, e.SpaceID, e.Type, p["type"])
		}
		checkNodeTimestamps(t, e.MessageID, p, start, end, skew)
	}
	if len(stored) != len(res.Sent) {
		t.Errorf("stored %d events, sent %d", len(stored), len(res.Sent))
	}

	var types []string
	for _, sent := range res.Sent {
		p, ok := stored[sent.MessageID]
		if !ok {
			t.Errorf("%s %s not stored", sent.Type, sent.MessageID)
			continue
		}
		types = append(types, sent.Type)
		if sent.MessageID != "nt-historical-1" && !strings.HasPrefix(sent.MessageID, "node-next-") {
			t.Errorf("messageId %q not the client's", sent.MessageID)
		}
		if p["type"] != sent.Type || !sameID(p["userId"], sent.UserID) || !sameID(p["anonymousId"], sent.AnonymousID) {
			t.Errorf("%s: stored type %v userId %v anonymousId %v", sent.MessageID, p["type"], p["userId"], p["anonymousId"])
		}
		lib, _ := p["context"].(map[string]any)["library"].(map[string]any)
		if lib["name"] != "@segment/analytics-node" || lib["version"] == "" {
			t.Errorf("%s: context.library %v", sent.MessageID, lib)
		}
	}
	if want := "identify track page screen group alias track"; strings.Join(types[:7], " ") != want {
		t.Errorf("types %v, want %s", types[:7], want)
	}

	byType := func(typ string) map[string]any {
		for _, sent := range res.Sent {
			if sent.Type == typ {
				return stored[sent.MessageID]
			}
		}
		return nil
	}
	checks := []struct {
		typ, field string
		want       any
	}{
		{"identify", "traits", map[string]any{"email": "nt-ada@example.com", "name": "Ada Lovelace", "plan": "pro", "logins": 3.0}},
		{"identify", "userId", "nt-user-1"},
		{"identify", "anonymousId", "nt-anon-1"},
		{"track", "event", "Order Completed"},
		{"track", "properties", map[string]any{"order_id": "nt-o-1", "revenue": 42.5, "currency": "EUR",
			"items": []any{map[string]any{"sku": "a", "qty": 2.0}}}},
		{"page", "name", "Quickstart"},
		{"page", "category", "Docs"},
		{"page", "properties", map[string]any{"category": "Docs", "url": "https://example.com/docs/quickstart", "path": "/docs/quickstart"}},
		{"screen", "name", "Home"},
		{"group", "groupId", "nt-org-1"},
		{"group", "traits", map[string]any{"name": "Acme", "employees": 50.0}},
		{"alias", "previousId", "nt-anon-1"},
		{"alias", "userId", "nt-user-1"},
	}
	for _, c := range checks {
		if got := byType(c.typ)[c.field]; !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s.%s = %#v, want %#v", c.typ, c.field, got, c.want)
		}
	}

	// The historical event keeps its timestamp, shifted by the clock skew.
	h := stored["nt-historical-1"]
	if h == nil {
		t.Fatal("the historical event was not stored")
	}
	if h["originalTimestamp"] != "2024-01-02T03:04:05.678Z" {
		t.Errorf("historical originalTimestamp %v", h["originalTimestamp"])
	}
	ts := mustTime(t, h["timestamp"])
	if lo := time.Date(2024, 1, 2, 3, 4, 5, 678e6, time.UTC).Add(skew); ts.Before(lo) || ts.After(lo.Add(time.Minute)) {
		t.Errorf("historical timestamp %v, want about %v", ts, lo)
	}
	if c := h["context"].(map[string]any)["campaign"]; !reflect.DeepEqual(c, map[string]any{"source": "import"}) {
		t.Errorf("historical context.campaign %v", c)
	}
}

// checkNodeTimestamps checks the timestamps of an event sent by the client
// between start and end (client clock) and received by a server whose clock
// is skew ahead.
func checkNodeTimestamps(t *testing.T, id string, p map[string]any, start, end time.Time, skew time.Duration) {
	t.Helper()
	received, sent := mustTime(t, p["receivedAt"]), mustTime(t, p["sentAt"])
	original, ts := mustTime(t, p["originalTimestamp"]), mustTime(t, p["timestamp"])
	if want := received.Add(-sent.Sub(original)); !ts.Equal(want) {
		t.Errorf("%s: timestamp %v, want receivedAt − (sentAt − originalTimestamp) = %v", id, ts, want)
	}
	slack := time.Second
	if sent.Before(start.Add(-slack)) || sent.After(end.Add(slack)) {
		t.Errorf("%s: sentAt %v outside the client's run [%v, %v]", id, sent, start, end)
	}
	if received.Before(start.Add(skew-slack)) || received.After(end.Add(skew+slack)) {
		t.Errorf("%s: receivedAt %v not on the server's clock", id, received)
	}
	if id == "nt-historical-1" {
		return
	}
	// Sent moments after it was made, the event lands moments before it
	// was received, on the server's clock.
	if d := received.Sub(ts); d < 0 || d > 30*time.Second {
		t.Errorf("%s: timestamp %v is %v before receivedAt %v", id, ts, d, received)
	}
}

func mustTime(t *testing.T, v any) time.Time {
	t.Helper()
	s, _ := v.(string)
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("time %v: %v", v, err)
	}
	return ts
}

// sameID compares a stored identifier with one the client reported.
func sameID(stored any, sent *string) bool {
	if sent == nil {
		return stored == nil
	}
	return stored == *sent
}

// TestAnalyticsNodeUnknownKey checks that the client, given a wrong write
// key, sees its events fail and nothing is stored.
func TestAnalyticsNodeUnknownKey(t *testing.T) {
	inbox := &fakeInbox{}
	s := newTestServer(t, Config{}, inbox)
	srv := httptest.NewServer(s)
	defer srv.Close()
	res, code := runNodeClient(t, srv.URL, "wk_not_a_key", 0)
	if code != 1 || len(res.Failed) != 7 {
		t.Errorf("exit %d, %d failed; want 1 and 7", code, len(res.Failed))
	}
	for _, st := range res.Statuses {
		if st != 401 {
			t.Errorf("status %d, want 401", st)
		}
	}
	if n := inbox.Calls(); n != 0 {
		t.Errorf("%d Append calls", n)
	}
}
