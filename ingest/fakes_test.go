package ingest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/profilesync/profilesync/store"
)

// The store satisfies the narrow interfaces ingest declares.
var (
	_ Sources = store.Store(nil)
	_ Inbox   = store.Store(nil)
)

// Write keys the fake sources know.
const (
	testKey  = "wk_test_1"
	otherKey = "wk_other_2"
)

// fakeSources knows a fixed set of write keys.
type fakeSources map[string]store.Source

func (f fakeSources) SourceByWriteKey(_ context.Context, key string) (store.Source, error) {
	src, ok := f[key]
	if !ok {
		return store.Source{}, fmt.Errorf("source by write key: %w", store.ErrNotFound)
	}
	return src, nil
}

func testSources() fakeSources {
	return fakeSources{
		testKey:  {ID: "src_1", SpaceID: "space_a", Name: "Web"},
		otherKey: {ID: "src_2", SpaceID: "space_b", Name: "Server"},
	}
}

// fakeInbox records what is appended and deduplicates like the store: by
// (SourceID, MessageID) within the window, and within one call.
type fakeInbox struct {
	mu       sync.Mutex
	calls    [][]store.InboxEvent // every Append call, as given
	stored   []store.InboxEvent   // the events accepted, in order
	seen     map[string]time.Time
	delay    time.Duration
	failWith error
	// before, when set, runs at the start of each call (1-based) and may
	// fail it.
	before func(call int, events []store.InboxEvent) error
}

func (f *fakeInbox) Append(_ context.Context, events []store.InboxEvent, window time.Duration) ([]bool, error) {
	f.mu.Lock()
	f.calls = append(f.calls, append([]store.InboxEvent(nil), events...))
	call, before, fail := len(f.calls), f.before, f.failWith
	f.mu.Unlock()
	if before != nil {
		if err := before(call, events); err != nil {
			return nil, err
		}
	}
	if fail != nil {
		return nil, fail
	}
	time.Sleep(f.delay)

	f.mu.Lock()
	defer f.mu.Unlock()
	if f.seen == nil {
		f.seen = make(map[string]time.Time)
	}
	accepted := make([]bool, len(events))
	for i, e := range events {
		k := e.SourceID + "\x00" + e.MessageID
		if at, ok := f.seen[k]; ok && e.ReceivedAt.Sub(at) < window {
			continue
		}
		f.seen[k] = e.ReceivedAt
		f.stored = append(f.stored, e)
		accepted[i] = true
	}
	return accepted, nil
}

// Stored returns the events accepted so far.
func (f *fakeInbox) Stored() []store.InboxEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]store.InboxEvent(nil), f.stored...)
}

// Calls returns the number of Append calls so far.
func (f *fakeInbox) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// isStored reports whether an event of a source is stored.
func (f *fakeInbox) isStored(sourceID, messageID string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range f.stored {
		if e.SourceID == sourceID && e.MessageID == messageID {
			return true
		}
	}
	return false
}

// newTestServer starts a server on the fake sources and inbox.
func newTestServer(t testing.TB, cfg Config, inbox Inbox) *Server {
	t.Helper()
	s := NewServer(cfg, testSources(), inbox, nil)
	s.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// fixedClock is a Config.Now that always answers t.
func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

// basic returns an Authorization header value for a write key.
func basic(userpass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(userpass))
}

// call is one request to the handler.
type call struct {
	path    string
	body    []byte
	headers map[string]string // Content-Type defaults to application/json
	ctx     context.Context
}

// post sends a call with Basic auth for testKey unless the call sets its own
// Authorization header ("" for none).
func post(t testing.TB, h http.Handler, c call) (*httptest.ResponseRecorder, Response) {
	t.Helper()
	w := do(h, c)
	var resp Response
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
		t.Fatalf("POST %s: answer is not JSON: %v: %q", c.path, err, w.Body.String())
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("POST %s: Content-Type %q", c.path, ct)
	}
	return w, resp
}

// do sends a call and returns the recorded answer; it is safe to use from
// any goroutine.
func do(h http.Handler, c call) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, c.path, bytes.NewReader(c.body))
	if c.ctx != nil {
		r = r.WithContext(c.ctx)
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", basic(testKey+":"))
	for k, v := range c.headers {
		if v == "" {
			r.Header.Del(k)
		} else {
			r.Header.Set(k, v)
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// mustJSON marshals v.
func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// payload decodes a stored event's payload.
func payload(t testing.TB, e store.InboxEvent) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(e.Payload, &m); err != nil {
		t.Fatalf("payload of %s is not JSON: %v", e.MessageID, err)
	}
	return m
}

// obj is a JSON object literal.
type obj = map[string]any

// trackEvent returns a valid track item.
func trackEvent(messageID string) obj {
	return obj{"type": "track", "messageId": messageID, "userId": "u1", "event": "Clicked",
		"properties": obj{"n": 1}, "timestamp": "2024-06-01T10:00:00.000Z"}
}

// sourcesFunc is a Sources that calls a function per lookup and knows every
// key as src_1 of space_a.
type sourcesFunc func(key string) error

func (f sourcesFunc) SourceByWriteKey(_ context.Context, key string) (store.Source, error) {
	if err := f(key); err != nil {
		return store.Source{}, err
	}
	return store.Source{ID: "src_1", SpaceID: "space_a"}, nil
}

// inboxFunc is an Inbox made of a function.
type inboxFunc func(events []store.InboxEvent) ([]bool, error)

func (f inboxFunc) Append(_ context.Context, events []store.InboxEvent, _ time.Duration) ([]bool, error) {
	return f(events)
}
