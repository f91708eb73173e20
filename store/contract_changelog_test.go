package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/profilesync/profilesync/identity"
)

// trig is the trigger of a change row caused by the event at pos.
func trig(pos int64) identity.Trigger {
	return identity.Trigger{EventPos: pos, EventID: fmt.Sprintf("msg%d", pos), EventType: "identify",
		SourceID: "src", Timestamp: t0.Add(-time.Second), ReceivedAt: t0}
}

func graph(id string, pos int64, seg, canon string) identity.GraphUpdate {
	return identity.GraphUpdate{ID: id, SegmentID: seg, CanonicalSegmentID: canon, Trigger: trig(pos)}
}

func mapping(id string, pos int64, seg, value string) identity.MappingUpdate {
	return identity.MappingUpdate{ID: id, SegmentID: seg, Type: "email", Value: value, Hash: "h_" + value, Trigger: trig(pos)}
}

func traits(id string, pos int64, seg string, ts identity.TraitSet) identity.TraitsUpdate {
	return identity.TraitsUpdate{ID: id, SegmentID: seg, Traits: ts, Trigger: trig(pos)}
}

// appendN appends n events to a space and returns their positions.
func appendN(t *testing.T, s Store, space string, n int) []int64 {
	t.Helper()
	var events []InboxEvent
	for range n {
		events = append(events, event(space, fmt.Sprintf("%s-%d", space, time.Now().UnixNano()), t0))
	}
	mustAppend(t, s, 0, events...)
	var pos []int64
	for _, e := range events {
		pos = append(pos, e.Pos)
	}
	return pos
}

func mustCommit(t *testing.T, s Store, b *Batch) {
	t.Helper()
	if err := s.CommitBatch(context.Background(), b); err != nil {
		t.Fatalf("CommitBatch: %v", err)
	}
}

func mustPosition(t *testing.T, s Store, space string) Position {
	t.Helper()
	p, err := s.ResolverPosition(context.Background(), space)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func testCommitBatchSeqOrder(t *testing.T, b backend) {
	s := fresh(t, b)
	if p := mustPosition(t, s, "sp"); p != (Position{}) {
		t.Errorf("position of a new space = %+v", p)
	}
	p := appendN(t, s, "sp", 3)
	batch := &Batch{
		SpaceID: "sp", FromPos: 0, ToPos: p[2],
		Graph:    []identity.GraphUpdate{graph("g_b", p[1], "u2", "u2"), graph("g_a", p[0], "u1", "u1")},
		Mappings: []identity.MappingUpdate{mapping("m_b", p[1], "u2", "b@x"), mapping("m_a", p[0], "u1", "a@x")},
		Traits: []identity.TraitsUpdate{
			traits("t_a", p[0], "u1", identity.TraitSet{"n": {Value: "a", Pos: p[0]}}),
			traits("t_b", p[1], "u2", identity.TraitSet{"n": {Value: "b", Pos: p[1]}}),
			traits("t_a2", p[0], "u1", identity.TraitSet{"n": {Value: "a2", Pos: p[0]}}),
		},
		Events: []EventSegment{{p[0], "u1"}, {p[1], "u2"}, {p[2], ""}},
	}
	mustCommit(t, s, batch)

	// By event position, then graph, mapping, traits, then order in b.
	order := []int64{
		batch.Graph[1].Seq, batch.Mappings[1].Seq, batch.Traits[0].Seq, batch.Traits[2].Seq, // p0
		batch.Graph[0].Seq, batch.Mappings[0].Seq, batch.Traits[1].Seq, // p1
	}
	if order[0] <= 0 || !slices.IsSorted(order) || len(slices.Compact(slices.Clone(order))) != len(order) {
		t.Errorf("seqs in documented order = %v, want strictly increasing", order)
	}
	pos := mustPosition(t, s, "sp")
	if want := (Position{Pos: p[2], LastSeq: slices.Max(order)}); pos != want {
		t.Errorf("position = %+v, want %+v", pos, want)
	}

	// Seqs are store-wide: another space, then this one again, continue.
	q := appendN(t, s, "other", 1)
	other := &Batch{SpaceID: "other", ToPos: q[0], Graph: []identity.GraphUpdate{graph("o", q[0], "v", "v")}}
	mustCommit(t, s, other)
	p2 := appendN(t, s, "sp", 1)
	next := &Batch{SpaceID: "sp", FromPos: p[2], ToPos: p2[0], Mappings: []identity.MappingUpdate{mapping("m_c", p2[0], "u1", "c@x")}}
	mustCommit(t, s, next)
	if !(other.Graph[0].Seq > pos.LastSeq && next.Mappings[0].Seq > other.Graph[0].Seq) {
		t.Errorf("seqs not store-wide increasing: %d, then %d, then %d", pos.LastSeq, other.Graph[0].Seq, next.Mappings[0].Seq)
	}
	if got := mustPosition(t, s, "sp"); got != (Position{Pos: p2[0], LastSeq: next.Mappings[0].Seq}) {
		t.Errorf("position = %+v", got)
	}

	// A batch without change rows moves the position and keeps LastSeq.
	p3 := appendN(t, s, "sp", 1)
	mustCommit(t, s, &Batch{SpaceID: "sp", FromPos: p2[0], ToPos: p3[0], Events: []EventSegment{{p3[0], ""}}})
	if got := mustPosition(t, s, "sp"); got != (Position{Pos: p3[0], LastSeq: next.Mappings[0].Seq}) {
		t.Errorf("position after an empty batch = %+v", got)
	}
}

// countRows counts the change rows of a space through the range readers.
func countRows(t *testing.T, s Store, space string) (g, m, tr, stamped int) {
	t.Helper()
	ctx := context.Background()
	gs, err1 := s.GraphUpdates(ctx, space, 0, 1<<62, 0)
	ms, err2 := s.MappingUpdates(ctx, space, 0, 1<<62, 0)
	ts, err3 := s.TraitsUpdates(ctx, space, 0, 1<<62, 0)
	es, err4 := s.Events(ctx, space, 0, 1<<62, 0)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.SegmentID != "" {
			stamped++
		}
	}
	return len(gs), len(ms), len(ts), stamped
}

func testCommitBatchConflict(t *testing.T, b backend) {
	ctx := context.Background()
	s := fresh(t, b)
	p := appendN(t, s, "sp", 3)
	mustCommit(t, s, &Batch{SpaceID: "sp", ToPos: p[0], Graph: []identity.GraphUpdate{graph("g1", p[0], "u1", "u1")},
		Events: []EventSegment{{p[0], "u1"}}})
	before := mustPosition(t, s, "sp")

	stale := []*Batch{
		{SpaceID: "sp", FromPos: 0, ToPos: p[1]},    // someone else already moved on
		{SpaceID: "sp", FromPos: p[1], ToPos: p[2]}, // from a position never reached
		{SpaceID: "new", FromPos: 7, ToPos: 9},      // a space never resolved starts at 0
	}
	for _, bt := range stale {
		bt.Graph = []identity.GraphUpdate{graph("gx", bt.ToPos, "ux", "ux")}
		bt.Mappings = []identity.MappingUpdate{mapping("mx", bt.ToPos, "ux", "x@x")}
		bt.Traits = []identity.TraitsUpdate{traits("tx", bt.ToPos, "ux", identity.TraitSet{})}
		bt.Events = []EventSegment{{bt.ToPos, "ux"}}
		err := s.CommitBatch(ctx, bt)
		wantErr(t, err, ErrConflict)
		if bt.Graph[0].Seq != 0 || bt.Mappings[0].Seq != 0 || bt.Traits[0].Seq != 0 {
			t.Errorf("a conflicting batch got seqs written back")
		}
	}
	if got := mustPosition(t, s, "sp"); got != before {
		t.Errorf("position moved to %+v by conflicting batches, want %+v", got, before)
	}
	if g, m, tr, st := countRows(t, s, "sp"); g != 1 || m != 0 || tr != 0 || st != 1 {
		t.Errorf("rows after conflicts: graph %d, mapping %d, traits %d, stamps %d; want 1 0 0 1", g, m, tr, st)
	}
	if got := mustPosition(t, s, "new"); got != (Position{}) {
		t.Errorf("position of a space whose only batch conflicted = %+v", got)
	}

	// Malformed batches are refused before touching anything.
	for _, bad := range []*Batch{
		{SpaceID: "sp", FromPos: p[0], ToPos: p[0] - 1},
		{SpaceID: "sp", FromPos: p[0], ToPos: p[1], Events: []EventSegment{{p[2], "u"}}},
		{FromPos: 0, ToPos: 1},
	} {
		if err := s.CommitBatch(ctx, bad); err == nil || errors.Is(err, ErrConflict) {
			t.Errorf("CommitBatch(%+v) = %v, want a validation error", bad, err)
		}
	}
}

func testCommitBatchRetry(t *testing.T, b backend) {
	ctx := context.Background()
	s := fresh(t, b)
	p := appendN(t, s, "sp", 2)
	build := func() *Batch {
		return &Batch{SpaceID: "sp", FromPos: 0, ToPos: p[0],
			Graph:    []identity.GraphUpdate{graph("g1", p[0], "u1", "u1")},
			Mappings: []identity.MappingUpdate{mapping("m1", p[0], "u1", "a@x")},
			Events:   []EventSegment{{p[0], "u1"}}}
	}
	mustCommit(t, s, build())
	// The commit went through but the resolver never heard back, so it
	// retries the same batch: it conflicts, and the position says the batch
	// is in.
	err := s.CommitBatch(ctx, build())
	wantErr(t, err, ErrConflict)
	if pos := mustPosition(t, s, "sp"); pos.Pos != p[0] {
		t.Errorf("position after retry = %+v, want %d", pos, p[0])
	}
	if g, m, _, st := countRows(t, s, "sp"); g != 1 || m != 1 || st != 1 {
		t.Errorf("rows after a retried batch: graph %d, mapping %d, stamps %d; want 1 each", g, m, st)
	}
	// The resolver carries on from the committed position.
	mustCommit(t, s, &Batch{SpaceID: "sp", FromPos: p[0], ToPos: p[1], Events: []EventSegment{{p[1], "u1"}}})
}

func testScanIdentity(t *testing.T, b backend) {
	ctx := context.Background()
	s := fresh(t, b)
	p := appendN(t, s, "sp", 4)
	q := appendN(t, s, "other", 1)
	b1 := &Batch{SpaceID: "sp", ToPos: p[1],
		Graph:    []identity.GraphUpdate{graph("g1", p[0], "u1", "u1"), graph("g2", p[1], "u2", "u2")},
		Mappings: []identity.MappingUpdate{mapping("m1", p[0], "u1", "a@x"), mapping("m2", p[1], "u2", "b@x")},
	}
	mustCommit(t, s, b1)
	mustCommit(t, s, &Batch{SpaceID: "other", ToPos: q[0], Graph: []identity.GraphUpdate{graph("o1", q[0], "v", "v")},
		Mappings: []identity.MappingUpdate{mapping("o2", q[0], "v", "v@x")}})
	merge := graph("g3", p[3], "u2", "u1")
	merge.Timestamp, merge.ReceivedAt = time.Time{}, time.Time{} // as for a backfilled row
	b2 := &Batch{SpaceID: "sp", FromPos: p[1], ToPos: p[3],
		Graph:    []identity.GraphUpdate{merge, graph("g4", p[3], "u3", "u1")},
		Mappings: []identity.MappingUpdate{mapping("m3", p[2], "u1", "c@x")},
	}
	mustCommit(t, s, b2)

	// What the scan must return, in seq order.
	type row struct {
		g *identity.GraphUpdate
		m *identity.MappingUpdate
	}
	var want []row
	for _, bt := range []*Batch{b1, b2} {
		for i := range bt.Graph {
			want = append(want, row{g: &bt.Graph[i]})
		}
		for i := range bt.Mappings {
			want = append(want, row{m: &bt.Mappings[i]})
		}
	}
	seqOf := func(r row) int64 {
		if r.g != nil {
			return r.g.Seq
		}
		return r.m.Seq
	}
	slices.SortFunc(want, func(a, b row) int { return int(seqOf(a) - seqOf(b)) })

	var got []row
	err := s.ScanIdentity(ctx, "sp", func(g *identity.GraphUpdate, m *identity.MappingUpdate) error {
		if (g == nil) == (m == nil) {
			t.Fatalf("ScanIdentity passed g=%v m=%v", g, m)
		}
		got = append(got, row{g, m})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ScanIdentity rows differ")
		for i := range max(len(got), len(want)) {
			if i < len(got) && i < len(want) {
				t.Logf("%d: got %+v %+v want %+v %+v", i, got[i].g, got[i].m, want[i].g, want[i].m)
			}
		}
	}

	// Enough rows for the scan to page through them.
	big := &Batch{SpaceID: "big", ToPos: 3000}
	for i := range 3000 {
		pos := int64(i + 1)
		seg := fmt.Sprintf("u%d", pos)
		switch i % 3 {
		case 0, 1:
			big.Graph = append(big.Graph, graph(fmt.Sprint(i), pos, seg, seg))
		default:
			big.Mappings = append(big.Mappings, mapping(fmt.Sprint(i), pos, seg, seg))
		}
	}
	mustCommit(t, s, big)
	var seqs []int64
	err = s.ScanIdentity(ctx, "big", func(g *identity.GraphUpdate, m *identity.MappingUpdate) error {
		if g != nil {
			seqs = append(seqs, g.Seq)
		} else {
			seqs = append(seqs, m.Seq)
		}
		return nil
	})
	if err != nil || len(seqs) != 3000 || !slices.IsSorted(seqs) {
		t.Errorf("ScanIdentity of 3000 rows: %d rows, sorted %v, err %v", len(seqs), slices.IsSorted(seqs), err)
	}

	stop := errors.New("stop")
	n := 0
	err = s.ScanIdentity(ctx, "sp", func(*identity.GraphUpdate, *identity.MappingUpdate) error {
		n++
		return stop
	})
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("ScanIdentity with a failing fn = %v after %d calls, want stop after 1", err, n)
	}
}

func testLatestTraits(t *testing.T, b backend) {
	ctx := context.Background()
	s := fresh(t, b)
	p := appendN(t, s, "sp", 3)
	big := json.Number("9007199254740993") // not a float64
	mustCommit(t, s, &Batch{SpaceID: "sp", ToPos: p[1], Traits: []identity.TraitsUpdate{
		traits("t1", p[0], "u1", identity.TraitSet{"plan": {Value: "free", Pos: p[0]}}),
		traits("t2", p[0], "u2", identity.TraitSet{"n": {Value: json.Number("1"), Pos: p[0]}}),
		traits("t3", p[1], "u1", identity.TraitSet{
			"plan":    {Value: "pro", Pos: p[1]},
			"id":      {Value: big, Pos: p[1]},
			"address": {Value: map[string]any{"city": "Oslo", "tags": []any{"a", true}}, Pos: p[0]},
			"gone":    {Pos: p[1], Deleted: true},
		}),
	}})
	mustCommit(t, s, &Batch{SpaceID: "sp", FromPos: p[1], ToPos: p[2], Traits: []identity.TraitsUpdate{
		traits("t4", p[2], "u2", identity.TraitSet{"n": {Value: json.Number("2"), Pos: p[2]}}),
	}})
	got, err := s.LatestTraits(ctx, "sp", []string{"u1", "u2", "u3"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]identity.TraitSet{
		"u1": {
			"plan":    {Value: "pro", Pos: p[1]},
			"id":      {Value: big, Pos: p[1]},
			"address": {Value: map[string]any{"city": "Oslo", "tags": []any{"a", true}}, Pos: p[0]},
			"gone":    {Pos: p[1], Deleted: true},
		},
		"u2": {"n": {Value: json.Number("2"), Pos: p[2]}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("LatestTraits = %#v\nwant %#v", got, want)
	}
	if got, err := s.LatestTraits(ctx, "other", []string{"u1"}); err != nil || len(got) != 0 {
		t.Errorf("LatestTraits of another space = %v, %v", got, err)
	}
	if got, err := s.LatestTraits(ctx, "sp", nil); err != nil || len(got) != 0 {
		t.Errorf("LatestTraits(nil) = %v, %v", got, err)
	}
}

func testRangeReaders(t *testing.T, b backend) {
	ctx := context.Background()
	s := fresh(t, b)
	p := appendN(t, s, "sp", 6)
	var gs []identity.GraphUpdate
	var ms []identity.MappingUpdate
	var ts []identity.TraitsUpdate
	for i := range 4 {
		gs = append(gs, graph(fmt.Sprintf("g%d", i), p[i], fmt.Sprintf("u%d", i), "u0"))
		ms = append(ms, mapping(fmt.Sprintf("m%d", i), p[i], fmt.Sprintf("u%d", i), fmt.Sprintf("%d@x", i)))
		ts = append(ts, traits(fmt.Sprintf("t%d", i), p[i], "u0", identity.TraitSet{"i": {Value: json.Number(fmt.Sprint(i)), Pos: p[i]}}))
	}
	ms[2].Timestamp = time.Time{}
	b1 := &Batch{SpaceID: "sp", ToPos: p[3], Graph: gs, Mappings: ms, Traits: ts,
		Events: []EventSegment{{p[0], "u0"}, {p[1], "u1"}, {p[2], ""}, {p[3], "u0"}}}
	mustCommit(t, s, b1)
	last := mustPosition(t, s, "sp").LastSeq

	g, err := s.GraphUpdates(ctx, "sp", gs[0].Seq, last, 2)
	if err != nil || !reflect.DeepEqual(g, gs[1:3]) {
		t.Errorf("GraphUpdates(after first, limit 2) = %+v, %v; want %+v", g, err, gs[1:3])
	}
	m, err := s.MappingUpdates(ctx, "sp", 0, ms[2].Seq, 0)
	if err != nil || !reflect.DeepEqual(m, ms[:3]) {
		t.Errorf("MappingUpdates(upto third) = %+v, %v; want %+v", m, err, ms[:3])
	}
	tr, err := s.TraitsUpdates(ctx, "sp", ts[1].Seq, last, 0)
	if err != nil || !reflect.DeepEqual(tr, ts[2:]) {
		t.Errorf("TraitsUpdates(after second) = %+v, %v; want %+v", tr, err, ts[2:])
	}
	if g, _ := s.GraphUpdates(ctx, "other", 0, last, 0); len(g) != 0 {
		t.Errorf("another space reads %d graph rows", len(g))
	}

	inbox := mustRead(t, s, "sp", 0, 0)
	events, err := s.Events(ctx, "sp", p[0], p[5], 0)
	if err != nil {
		t.Fatal(err)
	}
	// Only resolved events: p[4] and p[5] are past the resolver's position.
	want := []StoredEvent{{inbox[1], "u1"}, {inbox[2], ""}, {inbox[3], "u0"}}
	if !reflect.DeepEqual(events, want) {
		t.Errorf("Events =\n%+v\nwant\n%+v", events, want)
	}
	if events, _ := s.Events(ctx, "sp", 0, p[3], 2); len(events) != 2 || events[0].SegmentID != "u0" {
		t.Errorf("Events(limit 2) = %+v", events)
	}
}
