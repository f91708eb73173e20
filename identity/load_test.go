package identity

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestLoadMixed checks that Load works after Resolve and that the restored
// engine continues as the original.
func TestLoadMixed(t *testing.T) {
	s := newStream()
	s.add(Event{Type: "page", AnonymousID: "a1"})
	s.add(Event{Type: "page", AnonymousID: "a2"})
	s.add(Event{Type: "page", AnonymousID: "a3"})
	s.add(Event{Type: "identify", AnonymousID: "a2", UserID: "u1"})
	s.add(Event{Type: "identify", AnonymousID: "a3", UserID: "u1"})
	s.add(Event{Type: "identify", AnonymousID: "a1", UserID: "u1"})
	s.add(Event{Type: "identify", AnonymousID: "a4", UserID: "u1"})

	orig := NewEngine(nil)
	var res []Resolution
	for _, ev := range s.events {
		res = append(res, orig.Resolve(ev))
	}
	load := func(e *Engine, rs []Resolution) {
		t.Helper()
		for _, r := range rs {
			for i := range r.Graph {
				if err := e.Load(&r.Graph[i], nil); err != nil {
					t.Fatal(err)
				}
			}
			for i := range r.Mappings {
				if err := e.Load(nil, &r.Mappings[i]); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	// Restore the first two events, resolve the third, restore the next
	// three from the log, resolve the last.
	e := NewEngine(nil)
	load(e, res[:2])
	if r := e.Resolve(s.events[2]); !reflect.DeepEqual(r, res[2]) {
		t.Fatalf("event 3: %+v, want %+v", r, res[2])
	}
	load(e, res[3:6])
	if r := e.Resolve(s.events[6]); !reflect.DeepEqual(r, res[6]) {
		t.Fatalf("event 7: %+v, want %+v", r, res[6])
	}
	if e.Stats() != orig.Stats() || e.Stats() != (Stats{Profiles: 1, SegmentIDs: 3, Identifiers: 5}) {
		t.Errorf("stats %+v, want %+v", e.Stats(), orig.Stats())
	}
}

// TestLoadKeepsAddedAt checks that a restored engine counts windows from the
// times the identifiers were first attached.
func TestLoadKeepsAddedAt(t *testing.T) {
	rules := mustCompile(t, Rules{IDTypes: []IDType{{Name: "anonymous_id", Limit: 1, Window: WindowDaily}}})
	s := newStream()
	s.add(Event{Type: "identify", UserID: "u1", AnonymousID: "a1", ReceivedAt: t0()})
	s.add(Event{Type: "identify", UserID: "u1", AnonymousID: "a2", ReceivedAt: t0().Add(time.Hour)})
	s.add(Event{Type: "identify", UserID: "u1", AnonymousID: "a3", ReceivedAt: t0().Add(25 * time.Hour)})
	orig := NewEngine(rules)
	var res []Resolution
	for _, ev := range s.events {
		res = append(res, orig.Resolve(ev))
	}
	if len(res[1].Mappings) != 0 || len(res[2].Mappings) != 1 {
		t.Fatalf("a2 should be demoted and a3 attached: %+v %+v", res[1].Mappings, res[2].Mappings)
	}
	e := NewEngine(rules)
	for i := range res[0].Graph {
		if err := e.Load(&res[0].Graph[i], nil); err != nil {
			t.Fatal(err)
		}
	}
	for i := range res[0].Mappings {
		if err := e.Load(nil, &res[0].Mappings[i]); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i < 3; i++ {
		if r := e.Resolve(s.events[i]); !reflect.DeepEqual(r, res[i]) {
			t.Errorf("restored engine, event %d: %+v, want %+v", i+1, r, res[i])
		}
	}
}

func TestLoadErrors(t *testing.T) {
	ev := Event{Pos: 1, MessageID: "m1", Type: "page", AnonymousID: "a1", ReceivedAt: t0()}
	r1 := NewEngine(nil).Resolve(ev)
	ev2 := Event{Pos: 2, MessageID: "m2", Type: "page", AnonymousID: "a2", ReceivedAt: t0()}
	r2 := NewEngine(nil).Resolve(ev2)
	p1, p2 := r1.SegmentID, r2.SegmentID
	self := r1.Graph[0]
	mapping := r1.Mappings[0]
	graph := func(seg, canon string) *GraphUpdate {
		return &GraphUpdate{ID: "g", SegmentID: seg, CanonicalSegmentID: canon}
	}
	for _, tc := range []struct {
		name string
		rows []any
		err  string
	}{
		{"neither row", []any{nil}, "exactly one"},
		{"both rows", []any{[2]any{&self, &mapping}}, "exactly one"},
		{"not a segment id", []any{graph("P1", "P1")}, `segment id "P1" does not start with "use_"`},
		{"not a ksuid", []any{graph("use_x", "use_x")}, `segment id "use_x"`},
		{"created twice", []any{&self, &self}, "exists"},
		{"merge of unknown", []any{&self, graph(p2, p1)}, "merges unknown profile"},
		{"merge into unknown", []any{&self, graph(p1, p2)}, "merges into unknown profile"},
		{"merge into merged-away", []any{&self, graph(p2, p2), graph(p2, p1), graph(p1, p2)}, "which was merged away"},
		{"mapping to unknown", []any{&mapping}, "attaches to unknown profile"},
		{"mapping twice", []any{&self, &mapping, &mapping}, "attached already"},
		{"empty mapping", []any{&self, &MappingUpdate{ID: "m", SegmentID: p1}}, "empty type or value"},
		{"bad mapping segment id", []any{&MappingUpdate{ID: "m", SegmentID: "nope"}}, "does not start"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := NewEngine(nil)
			var err error
			for _, row := range tc.rows {
				switch row := row.(type) {
				case *GraphUpdate:
					err = e.Load(row, nil)
				case *MappingUpdate:
					err = e.Load(nil, row)
				case [2]any:
					err = e.Load(row[0].(*GraphUpdate), row[1].(*MappingUpdate))
				default:
					err = e.Load(nil, nil)
				}
				if err != nil {
					break
				}
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("err = %v, want one containing %q", err, tc.err)
			}
		})
	}
	// A merged-away profile cannot be merged again.
	e := NewEngine(nil)
	p3 := NewEngine(nil).Resolve(Event{Pos: 3, MessageID: "m3", Type: "page", AnonymousID: "a3", ReceivedAt: t0()}).SegmentID
	for _, g := range []*GraphUpdate{graph(p1, p1), graph(p2, p2), graph(p3, p3), graph(p2, p1)} {
		if err := e.Load(g, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Load(graph(p2, p3), nil); err == nil || !strings.Contains(err.Error(), "which was merged into") {
		t.Errorf("re-merge: %v", err)
	}
	if err := e.Load(graph(p2, p1), nil); err != nil {
		t.Errorf("a repeated recursive row: %v", err)
	}
}
