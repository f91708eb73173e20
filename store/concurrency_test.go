package store

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestAppendConcurrentReader has writers append to a space (and, in the same
// calls, to a second space in varying order) while a reader follows the
// space with ReadInbox from its last position, as a resolver does. If a
// position could become visible before a smaller one, the reader would step
// over the smaller one and never see it.
func TestAppendConcurrentReader(t *testing.T) {
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		testAppendConcurrentReader(t, postgresBackend(t), 8, 30)
	})
	// SQLite orders writes by construction; a smaller run checks the same
	// contract without the cost of its transpiled C under -race.
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		testAppendConcurrentReader(t, sqliteBackend(), 4, 10)
	})
}

func testAppendConcurrentReader(t *testing.T, b backend, writers, calls int) {
	ctx := context.Background()
	s := openStore(t, b.dsn(t), Options{})
	const perCall = 20

	var (
		mu       sync.Mutex
		accepted = map[int64]string{} // position in "sp" → message id
		stop     atomic.Bool
		wg       sync.WaitGroup
	)
	for w := range writers {
		wg.Go(func() {
			for c := range calls {
				var events []InboxEvent
				for i := range perCall {
					space := "sp"
					if (i+w+c)%3 == 0 {
						space = "sp2"
					}
					id := fmt.Sprintf("w%d-c%d-%d", w, c, i)
					if i == perCall-1 && c > 0 {
						// A resend of a message of the previous call.
						id = fmt.Sprintf("w%d-c%d-%d", w, c-1, 0)
					}
					events = append(events, event(space, id, time.Now()))
				}
				ok, err := s.Append(ctx, events, time.Hour)
				if err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				mu.Lock()
				for i, e := range events {
					if ok[i] && e.SpaceID == "sp" {
						accepted[e.Pos] = e.MessageID
					}
				}
				mu.Unlock()
			}
		})
	}
	go func() { wg.Wait(); stop.Store(true) }()

	seen := map[int64]string{}
	var after int64
	for {
		finished := stop.Load() // read before polling, so a last poll sees everything
		events, err := s.ReadInbox(ctx, "sp", after, 50)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range events {
			if e.Pos <= after {
				t.Fatalf("ReadInbox returned position %d after %d", e.Pos, after)
			}
			if _, dup := seen[e.Pos]; dup {
				t.Fatalf("position %d read twice", e.Pos)
			}
			seen[e.Pos] = e.MessageID
			after = e.Pos
		}
		if finished && len(events) == 0 {
			break
		}
	}

	mu.Lock()
	defer mu.Unlock()
	if len(accepted) == 0 {
		t.Fatal("nothing accepted")
	}
	for pos, id := range accepted {
		if seen[pos] != id {
			t.Errorf("accepted event %s at %d was not read (the reader skipped it)", id, pos)
		}
	}
	if len(seen) != len(accepted) {
		t.Errorf("read %d events, %d accepted", len(seen), len(accepted))
	}
}
