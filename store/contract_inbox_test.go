package store

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"
)

// event builds an inbox event of source "<space>_src".
func event(space, msgID string, at time.Time) InboxEvent {
	return InboxEvent{
		SpaceID: space, SourceID: space + "_src", MessageID: msgID, Type: "track",
		ReceivedAt: at, Timestamp: at.Add(-time.Second),
		Payload: []byte(fmt.Sprintf(`{"type":"track","messageId":%q}`, msgID)),
	}
}

func mustAppend(t *testing.T, s Store, window time.Duration, events ...InboxEvent) []bool {
	t.Helper()
	accepted, err := s.Append(context.Background(), events, window)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	if len(accepted) != len(events) {
		t.Fatalf("Append returned %d flags for %d events", len(accepted), len(events))
	}
	return accepted
}

func mustRead(t *testing.T, s Store, space string, after int64, limit int) []InboxEvent {
	t.Helper()
	got, err := s.ReadInbox(context.Background(), space, after, limit)
	if err != nil {
		t.Fatalf("ReadInbox: %v", err)
	}
	return got
}

func testAppendOrderAndRead(t *testing.T, b backend) {
	s := fresh(t, b)
	var events []InboxEvent
	for i := range 20 {
		events = append(events, event("sp", fmt.Sprintf("m%02d", 19-i), t0.Add(time.Duration(i)*time.Millisecond)))
	}
	events[3].Timestamp = time.Time{}  // no timestamp
	events[4].ReceivedAt = time.Time{} // gets the store's clock
	accepted := mustAppend(t, s, 24*time.Hour, events...)
	for i, e := range events {
		if !accepted[i] {
			t.Fatalf("event %d not accepted", i)
		}
		if i > 0 && e.Pos <= events[i-1].Pos {
			t.Fatalf("positions not increasing in call order: %d then %d", events[i-1].Pos, e.Pos)
		}
	}
	if !events[4].ReceivedAt.Equal(t0) {
		t.Errorf("zero ReceivedAt became %v, want the clock's %v", events[4].ReceivedAt, t0)
	}
	got := mustRead(t, s, "sp", 0, 0)
	if !reflect.DeepEqual(got, events) {
		t.Fatalf("ReadInbox =\n%+v\nwant\n%+v", got, events)
	}
	if got := mustRead(t, s, "other", 0, 0); len(got) != 0 {
		t.Errorf("another space reads %d events", len(got))
	}
	if got, err := s.Append(context.Background(), nil, time.Hour); err != nil || len(got) != 0 {
		t.Errorf("Append(nil) = %v, %v", got, err)
	}
}

func testAppendDedupe(t *testing.T, b backend) {
	s := fresh(t, b)
	a := event("sp", "a", t0)
	aAgain := event("sp", "a", t0.Add(time.Second))
	aOtherSource := event("sp", "a", t0)
	aOtherSource.SourceID = "sp_src2"
	c := event("sp", "c", t0)
	events := []InboxEvent{a, aAgain, aOtherSource, c, c}
	accepted := mustAppend(t, s, time.Hour, events...)
	if want := []bool{true, false, true, true, false}; !reflect.DeepEqual(accepted, want) {
		t.Errorf("accepted = %v, want %v", accepted, want)
	}
	if events[1].Pos != 0 || events[4].Pos != 0 {
		t.Errorf("duplicates got positions %d, %d", events[1].Pos, events[4].Pos)
	}

	// Across calls, within the window.
	d := event("sp", "d", t0.Add(time.Minute))
	later := []InboxEvent{event("sp", "a", t0.Add(59*time.Minute)), d, event("sp", "c", t0.Add(time.Minute))}
	if got, want := mustAppend(t, s, time.Hour, later...), []bool{false, true, false}; !reflect.DeepEqual(got, want) {
		t.Errorf("second call accepted = %v, want %v", got, want)
	}
	if n := len(mustRead(t, s, "sp", 0, 0)); n != 4 {
		t.Errorf("inbox holds %d events, want 4", n)
	}
}

func testAppendDedupeWindow(t *testing.T, b backend) {
	ctx := context.Background()
	s := fresh(t, b)
	const w = time.Hour
	check := func(at time.Time, want bool) {
		t.Helper()
		if got := mustAppend(t, s, w, event("sp", "m", at))[0]; got != want {
			t.Errorf("message at %v accepted = %v, want %v", at.Sub(t0), got, want)
		}
	}
	check(t0, true)
	check(t0.Add(w-time.Microsecond), false) // just inside the window
	check(t0.Add(-time.Minute), false)       // arrives "before" the first: still a duplicate
	check(t0.Add(w), true)                   // older than the window: new, refreshes the entry
	check(t0.Add(w+time.Minute), false)      // a duplicate of the refreshed entry
	check(t0.Add(2*w), true)

	// A zero window turns cross-call dedupe off; within a call it still holds.
	if got := mustAppend(t, s, 0, event("sp", "m", t0.Add(2*w)), event("sp", "m", t0.Add(2*w))); !reflect.DeepEqual(got, []bool{true, false}) {
		t.Errorf("zero window accepted = %v", got)
	}

	// Pruning forgets ids received before the cutoff.
	check(t0.Add(3*w), true)
	check(t0.Add(3*w+time.Minute), false)
	if err := s.PruneDedupe(ctx, t0.Add(3*w+time.Second)); err != nil {
		t.Fatal(err)
	}
	check(t0.Add(3*w+2*time.Minute), true)
}

func testAppendMultiSpace(t *testing.T, b backend) {
	s := fresh(t, b)
	var events []InboxEvent
	for i := range 30 {
		space := []string{"a", "b", "c"}[i%3]
		events = append(events, event(space, fmt.Sprintf("m%d", i), t0))
	}
	events = append(events, event("b", "m1", t0)) // duplicate of events[1], same source
	accepted := mustAppend(t, s, time.Hour, events...)
	if accepted[len(accepted)-1] {
		t.Error("duplicate in a multi-space call accepted")
	}
	for _, space := range []string{"a", "b", "c"} {
		got := mustRead(t, s, space, 0, 0)
		var want []InboxEvent
		for i, e := range events {
			if e.SpaceID == space && accepted[i] {
				want = append(want, e)
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("space %s reads\n%+v\nwant\n%+v", space, got, want)
		}
	}
}

func testReadInboxPaging(t *testing.T, b backend) {
	s := fresh(t, b)
	var events []InboxEvent
	for i := range 25 {
		events = append(events, event("sp", fmt.Sprintf("m%d", i), t0))
		events = append(events, event("noise", fmt.Sprintf("m%d", i), t0))
	}
	mustAppend(t, s, time.Hour, events...)
	var seen []int64
	after := int64(0)
	for pages := 0; ; pages++ {
		page := mustRead(t, s, "sp", after, 10)
		if len(page) == 0 {
			if pages != 3 {
				t.Errorf("read %d pages, want 3", pages)
			}
			break
		}
		if len(page) > 10 {
			t.Fatalf("page of %d events with limit 10", len(page))
		}
		for _, e := range page {
			seen = append(seen, e.Pos)
		}
		after = page[len(page)-1].Pos
	}
	var want []int64
	for _, e := range events {
		if e.SpaceID == "sp" {
			want = append(want, e.Pos)
		}
	}
	if !reflect.DeepEqual(seen, want) {
		t.Errorf("paged positions %v, want %v", seen, want)
	}
}

func testEventPosAt(t *testing.T, b backend) {
	ctx := context.Background()
	s := fresh(t, b)
	// Events over a few minutes, some in the same minute, one arriving late
	// with an old ReceivedAt, and another space in between.
	offsets := []time.Duration{0, 10 * time.Second, 59 * time.Second, 61 * time.Second, 61 * time.Second,
		5 * time.Minute, 30 * time.Second /* late */, 5*time.Minute + time.Microsecond}
	var all []InboxEvent
	for i, d := range offsets {
		call := []InboxEvent{
			event("sp", fmt.Sprintf("m%d", i), t0.Add(d)),
			event("other", fmt.Sprintf("m%d", i), t0.Add(d-time.Hour)),
		}
		mustAppend(t, s, time.Hour, call...)
		all = append(all, call[0])
	}
	old := []InboxEvent{event("old", "x", time.Date(1969, 12, 31, 23, 59, 30, 0, time.UTC))}
	mustAppend(t, s, time.Hour, old...)
	before1970 := old[0]

	brute := func(at time.Time) int64 {
		var p int64
		for _, e := range all {
			if e.ReceivedAt.Before(at) {
				p = max(p, e.Pos)
			}
		}
		return p
	}
	probes := []time.Duration{-time.Hour, 0, time.Microsecond, 10 * time.Second, 30*time.Second + time.Microsecond,
		time.Minute, 61 * time.Second, 62 * time.Second, 3 * time.Minute, 5 * time.Minute,
		5*time.Minute + time.Microsecond, 5*time.Minute + 2*time.Microsecond, 24 * time.Hour}
	for _, d := range probes {
		got, err := s.EventPosAt(ctx, "sp", t0.Add(d))
		if err != nil {
			t.Fatal(err)
		}
		if want := brute(t0.Add(d)); got != want {
			t.Errorf("EventPosAt(t0%+v) = %d, want %d", d, got, want)
		}
	}
	if got, _ := s.EventPosAt(ctx, "old", time.Date(1969, 12, 31, 23, 59, 31, 0, time.UTC)); got != before1970.Pos {
		t.Errorf("EventPosAt before 1970 = %d, want %d", got, before1970.Pos)
	}
	if got, _ := s.EventPosAt(ctx, "old", time.Date(1969, 12, 31, 23, 59, 30, 0, time.UTC)); got != 0 {
		t.Errorf("EventPosAt at the first event = %d, want 0", got)
	}
	if got, _ := s.EventPosAt(ctx, "none", t0); got != 0 {
		t.Errorf("EventPosAt of an empty space = %d", got)
	}
}
