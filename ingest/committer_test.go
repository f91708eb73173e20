package ingest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/profilesync/profilesync/store"
)

// batchOf returns a batch body of n track events with the given messageIds
// prefix.
func batchOf(t testing.TB, prefix string, n int) []byte {
	items := make([]obj, n)
	for i := range items {
		items[i] = trackEvent(fmt.Sprintf("%s-%d", prefix, i))
	}
	return mustJSON(t, obj{"batch": items})
}

// waitFor polls cond until it holds or a few seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// messageIDs lists the messageIds of events.
func messageIDs(events []store.InboxEvent) []string {
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.MessageID
	}
	slices.Sort(ids)
	return ids
}

// TestGroupCommit sends many requests at once: they share few Append calls,
// and each answers 200 only once its own events are stored.
func TestGroupCommit(t *testing.T) {
	const requests = 200
	inbox := &fakeInbox{delay: 3 * time.Millisecond}
	s := newTestServer(t, Config{FlushLinger: 2 * time.Millisecond}, inbox)

	var wg sync.WaitGroup
	errs := make(chan error, requests)
	for r := range requests {
		wg.Go(func() {
			n := 1 + r%5
			prefix := fmt.Sprintf("r%d", r)
			w := do(s, call{path: "/v1/batch", body: batchOf(t, prefix, n)})
			if w.Code != 200 {
				errs <- fmt.Errorf("request %d: status %d: %s", r, w.Code, w.Body)
				return
			}
			for i := range n {
				if id := fmt.Sprintf("%s-%d", prefix, i); !inbox.isStored("src_1", id) {
					errs <- fmt.Errorf("request %d answered 200 before %s was stored", r, id)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	calls := inbox.Calls()
	if calls*4 > requests {
		t.Errorf("%d requests took %d Append calls; want at most %d", requests, calls, requests/4)
	}
	if n := len(inbox.Stored()); n != 600 {
		t.Errorf("stored %d events, want 600", n)
	}
	t.Logf("%d requests, %d Append calls", requests, calls)
}

// TestFlushEventsCap checks that a flush stops at FlushEvents, and that a
// request's events are never split between flushes.
func TestFlushEventsCap(t *testing.T) {
	inbox := &fakeInbox{delay: time.Millisecond}
	s := newTestServer(t, Config{FlushEvents: 10, FlushLinger: 5 * time.Millisecond}, inbox)
	var wg sync.WaitGroup
	for r := range 30 {
		wg.Go(func() {
			if w := do(s, call{path: "/v1/batch", body: batchOf(t, fmt.Sprintf("r%d", r), 3)}); w.Code != 200 {
				t.Errorf("status %d", w.Code)
			}
		})
	}
	// One request larger than FlushEvents goes alone.
	if w := do(s, call{path: "/v1/batch", body: batchOf(t, "big", 25)}); w.Code != 200 {
		t.Errorf("status %d", w.Code)
	}
	wg.Wait()
	inbox.mu.Lock()
	defer inbox.mu.Unlock()
	for i, c := range inbox.calls {
		if len(c) > 10 && len(c) != 25 {
			t.Errorf("call %d appended %d events", i, len(c))
		}
		if len(c)%3 != 0 && len(c) != 25 {
			t.Errorf("call %d appended %d events: a request was split", i, len(c))
		}
	}
}

// gatedInbox holds its first Append call until released, and fails the
// second.
func gatedInbox() (inbox *fakeInbox, started <-chan int, release func()) {
	gate := make(chan struct{})
	calls := make(chan int, 16)
	inbox = &fakeInbox{before: func(call int, _ []store.InboxEvent) error {
		calls <- call
		switch call {
		case 1:
			<-gate
		case 2:
			return errors.New("disk full")
		}
		return nil
	}}
	return inbox, calls, func() { close(gate) }
}

type answer struct {
	name string
	code int
}

// TestAppendErrorFailsItsFlushOnly checks that a failed Append answers 503 to
// exactly the requests whose events it carried.
func TestAppendErrorFailsItsFlushOnly(t *testing.T) {
	inbox, started, release := gatedInbox()
	s := newTestServer(t, Config{FlushLinger: -1}, inbox)
	answers := make(chan answer, 8)
	send := func(name string) {
		go func() {
			w := do(s, call{path: "/v1/batch", body: batchOf(t, name, 2)})
			answers <- answer{name, w.Code}
		}()
	}

	send("A")
	if call := <-started; call != 1 {
		t.Fatalf("first Append is call %d", call)
	}
	// B, C and D queue while A's append is held; they are appended together.
	send("B")
	send("C")
	send("D")
	waitFor(t, "three queued requests", func() bool { return len(s.committer.in) == 3 })
	release()

	got := map[string]int{}
	for range 4 {
		a := <-answers
		got[a.name] = a.code
	}
	if want := map[string]int{"A": 200, "B": 503, "C": 503, "D": 503}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("answers %v, want %v", got, want)
	}
	inbox.mu.Lock()
	failed := messageIDs(inbox.calls[1])
	inbox.mu.Unlock()
	if want := []string{"B-0", "B-1", "C-0", "C-1", "D-0", "D-1"}; !slices.Equal(failed, want) {
		t.Errorf("the failed Append carried %v, want %v", failed, want)
	}

	send("E")
	if a := <-answers; a.code != 200 {
		t.Errorf("E after the failure: %d", a.code)
	}
	if ids := messageIDs(inbox.Stored()); !slices.Equal(ids, []string{"A-0", "A-1", "E-0", "E-1"}) {
		t.Errorf("stored %v", ids)
	}
	if st := s.Stats(); st.AppendErrors != 1 || st.Flushes != 3 {
		t.Errorf("stats %+v", st)
	}
}

// TestCancelledRequest checks that a request cancelled while queued is left
// out of the append, and the others are not disturbed.
func TestCancelledRequest(t *testing.T) {
	inbox, started, release := gatedInbox()
	s := newTestServer(t, Config{FlushLinger: -1}, inbox)
	answers := make(chan answer, 8)
	send := func(ctx context.Context, name string) {
		go func() {
			w := do(s, call{path: "/v1/batch", body: batchOf(t, name, 2), ctx: ctx})
			answers <- answer{name, w.Code}
		}()
	}
	send(context.Background(), "A")
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	send(ctx, "B")
	waitFor(t, "B queued", func() bool { return len(s.committer.in) == 1 })
	cancel()
	if a := <-answers; a.name != "B" || a.code != 503 {
		t.Errorf("cancelled request answered %+v", a)
	}
	send(context.Background(), "C")
	waitFor(t, "C queued", func() bool { return len(s.committer.in) == 2 })
	release()
	got := map[string]int{}
	for range 2 {
		a := <-answers
		got[a.name] = a.code
	}
	// C shares the second Append, which the gated inbox fails.
	if want := map[string]int{"A": 200, "C": 503}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("answers %v, want %v", got, want)
	}
	inbox.mu.Lock()
	defer inbox.mu.Unlock()
	if len(inbox.calls) != 2 {
		t.Fatalf("%d Append calls, want 2", len(inbox.calls))
	}
	// The second call (which the gated inbox fails) carried only C.
	if ids := messageIDs(inbox.calls[1]); !slices.Equal(ids, []string{"C-0", "C-1"}) {
		t.Errorf("second Append carried %v, want C's events only", ids)
	}
}

// TestCloseDrains checks that Close appends what is queued before
// returning, and that later requests answer 503.
func TestCloseDrains(t *testing.T) {
	inbox := &fakeInbox{}
	gate := make(chan struct{})
	inbox.before = func(call int, _ []store.InboxEvent) error {
		if call == 1 {
			<-gate
		}
		return nil
	}
	s := newTestServer(t, Config{FlushLinger: -1}, inbox)
	answers := make(chan answer, 8)
	for _, name := range []string{"A", "B", "C"} {
		go func() {
			w := do(s, call{path: "/v1/batch", body: batchOf(t, name, 1)})
			answers <- answer{name, w.Code}
		}()
		if name == "A" {
			waitFor(t, "A appending", func() bool { return inbox.Calls() == 1 })
		}
	}
	waitFor(t, "B and C queued", func() bool { return len(s.committer.in) == 2 })
	closed := make(chan error)
	go func() { closed <- s.Close(context.Background()) }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) before the queue was appended", err)
	case <-time.After(20 * time.Millisecond):
	}
	close(gate)
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	for range 3 {
		if a := <-answers; a.code != 200 {
			t.Errorf("%s answered %d", a.name, a.code)
		}
	}
	if n := len(inbox.Stored()); n != 3 {
		t.Errorf("stored %d events, want 3", n)
	}
	w, resp := post(t, s, call{path: "/v1/batch", body: batchOf(t, "late", 1)})
	if w.Code != 503 || resp.Error != "the server is shutting down; retry" {
		t.Errorf("after Close: %d %q", w.Code, resp.Error)
	}
}

// TestNotStarted checks that a server never started refuses events with 503.
func TestNotStarted(t *testing.T) {
	s := NewServer(Config{}, testSources(), &fakeInbox{}, nil)
	if w, _ := post(t, s, call{path: "/v1/batch", body: batchOf(t, "x", 1)}); w.Code != 503 {
		t.Errorf("status %d", w.Code)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// TestInboxContractViolation checks that an inbox answering the wrong number
// of results is treated as a failure.
func TestInboxContractViolation(t *testing.T) {
	s := newTestServer(t, Config{}, inboxFunc(func([]store.InboxEvent) ([]bool, error) { return []bool{true}, nil }))
	if w, _ := post(t, s, call{path: "/v1/batch", body: batchOf(t, "x", 3)}); w.Code != 503 {
		t.Errorf("status %d", w.Code)
	}
}
