package identity

import (
	"maps"
	"reflect"
	"testing"
	"time"
)

// TestCaseStudy replays the four events of the docs case study
// (segment-semantics §2.3) and checks the three change logs.
func TestCaseStudy(t *testing.T) {
	s := newStream()
	s.add(Event{Type: "page", AnonymousID: "5285-A"})
	s.add(Event{Type: "identify", AnonymousID: "5285-A", Traits: map[string]any{"email": "jane@example.com"}})
	s.add(Event{Type: "page", AnonymousID: "b50e-B"})
	s.add(Event{Type: "identify", AnonymousID: "b50e-B", Traits: map[string]any{"email": "jane@example.com"}})

	e := NewEngine(nil)
	var res []Resolution
	var graph []GraphUpdate
	var mappings []MappingUpdate
	for _, ev := range s.events {
		r := e.Resolve(ev)
		res = append(res, r)
		graph = append(graph, r.Graph...)
		mappings = append(mappings, r.Mappings...)
	}
	n := newNames()
	equalStrings(t, "id_graph_updates", n.graphRows(graph), []string{
		"P1->P1 page E1",
		"P2->P2 page E3",
		"P2->P1 identify E4",
	})
	equalStrings(t, "external_id_mapping_updates", n.mappingRows(mappings), []string{
		"anonymous_id:5285-A->P1 E1",
		"email:jane@example.com->P1 E2",
		"anonymous_id:b50e-B->P2 E3",
	})
	for i, want := range []string{"P1", "P1", "P2", "P1"} {
		if got := n.of(res[i].SegmentID); got != want {
			t.Errorf("E%d resolved to %s, want %s", i+1, got, want)
		}
	}
	if m := res[3].Merges; len(m) != 1 || n.of(m[0].From) != "P2" || n.of(m[0].To) != "P1" {
		t.Errorf("E4 merges = %v, want P2 into P1", m)
	}
	for _, m := range mappings {
		if m.Hash != ExternalIDHash(m.Type, m.Value) || len(m.Hash) != 40 {
			t.Errorf("mapping %s:%s has hash %q", m.Type, m.Value, m.Hash)
		}
	}

	// Traits. E2 sets email on P1: one row, P1 {email: jane}. At E4 P2 has
	// no traits, so merging it into P1 changes nothing, and the identify's
	// email equals the one P1 holds: no row at all. A row on a merge is
	// written only when the merge changes the canonical profile's traits.
	sets := map[string]TraitSet{}
	var traits []TraitsUpdate
	for i := range s.events {
		rows := ApplyTraits(s.events[i:i+1], res[i:i+1], sets)
		traits = append(traits, rows...)
		switch i {
		case 1:
			if len(rows) != 1 || n.of(rows[0].SegmentID) != "P1" ||
				!reflect.DeepEqual(rows[0].Traits.Snapshot(), map[string]any{"email": "jane@example.com"}) {
				t.Errorf("E2 traits rows = %+v, want one snapshot P1 {email: jane}", rows)
			}
		default:
			if len(rows) != 0 {
				t.Errorf("E%d traits rows = %+v, want none", i+1, rows)
			}
		}
	}
	if got := sets[n.id("P1")].Snapshot(); !reflect.DeepEqual(got, map[string]any{"email": "jane@example.com"}) {
		t.Errorf("P1 traits = %v, want email=jane", got)
	}
	if got := sets[n.id("P2")].Snapshot(); len(got) != 0 {
		t.Errorf("P2 has live traits %v", got)
	}
	if len(traits) != 1 || traits[0].EventID != "E2" || traits[0].EventType != "identify" {
		t.Errorf("traits rows = %+v", traits)
	}
}

// TestMergeProtectionExample replays the worked example of
// segment-semantics §4.4, checking every outcome the table states.
func TestMergeProtectionExample(t *testing.T) {
	rules := mustCompile(t, Rules{IDTypes: []IDType{
		{Name: "user_id", Limit: 1, Window: WindowEver, Priority: 1},
		{Name: "email", Limit: 5, Window: WindowAnnually, Priority: 2},
		{Name: "anonymous_id", Limit: 5, Window: WindowWeekly, Priority: 3},
	}})
	s := newStream()
	s.add(Event{Type: "page", AnonymousID: "a1"})
	s.add(Event{Type: "identify", AnonymousID: "a1", UserID: "u1", Traits: map[string]any{"email": "j@x"}})
	s.add(Event{Type: "identify", AnonymousID: "a1", UserID: "u2"})
	s.add(Event{Type: "page", AnonymousID: "a5"})
	s.add(Event{Type: "identify", AnonymousID: "a5", Traits: map[string]any{"email": "j@x"}})
	s.add(Event{Type: "identify", UserID: "u2", Traits: map[string]any{"email": "j@x"}})

	e := NewEngine(rules)
	n := newNames()
	sets := map[string]TraitSet{}
	var graph []GraphUpdate
	var mappings []MappingUpdate
	step := func(i int) (Resolution, []TraitsUpdate) {
		r := e.Resolve(s.events[i])
		graph = append(graph, r.Graph...)
		mappings = append(mappings, r.Mappings...)
		return r, ApplyTraits(s.events[i:i+1], []Resolution{r}, sets)
	}

	// E1: no match, create P1{a1}.
	r, tr := step(0)
	equalStrings(t, "E1 graph", n.graphRows(r.Graph), []string{"P1->P1 page E1"})
	equalStrings(t, "E1 mappings", n.mappingRows(r.Mappings), []string{"anonymous_id:a1->P1 E1"})
	if len(tr) != 0 {
		t.Errorf("E1 traits rows: %+v", tr)
	}

	// E2: matches P1; P1{a1,u1,j@x} is within limits; a snapshot for P1.
	r, tr = step(1)
	if n.of(r.SegmentID) != "P1" || len(r.Graph) != 0 {
		t.Errorf("E2 resolved to %s with graph %v", n.of(r.SegmentID), n.graphRows(r.Graph))
	}
	equalStrings(t, "E2 mappings", n.mappingRows(r.Mappings), []string{"user_id:u1->P1 E2", "email:j@x->P1 E2"})
	if len(tr) != 1 || n.of(tr[0].SegmentID) != "P1" || !reflect.DeepEqual(tr[0].Traits.Snapshot(), map[string]any{"email": "j@x"}) {
		t.Errorf("E2 traits rows = %+v, want P1 {email: j@x}", tr)
	}

	// E3: P1 would hold two user ids: anonymous_id is dropped, {u2}
	// matches nothing and creates P2{u2}; a1 stays on P1 only.
	r, _ = step(2)
	if n.of(r.SegmentID) != "P2" {
		t.Errorf("E3 resolved to %s, want P2", n.of(r.SegmentID))
	}
	equalStrings(t, "E3 graph", n.graphRows(r.Graph), []string{"P2->P2 identify E3"})
	equalStrings(t, "E3 mappings", n.mappingRows(r.Mappings), []string{"user_id:u2->P2 E3"})
	if got := n.lookup(e, "anonymous_id", "a1"); got != "P1" {
		t.Errorf("after E3 a1 is on %s, want P1", got)
	}

	// E4: no match, create P3{a5}.
	r, _ = step(3)
	equalStrings(t, "E4 graph", n.graphRows(r.Graph), []string{"P3->P3 page E4"})
	equalStrings(t, "E4 mappings", n.mappingRows(r.Mappings), []string{"anonymous_id:a5->P3 E4"})

	// E5: matches P1 (email) and P3 (a5); the merged profile is within
	// limits, so P3 merges into the older P1. No mapping rows. No traits
	// row for P3; none for P1 either, since neither the merge (P3 has no
	// traits) nor the identify (same email) changes P1's traits.
	r, tr = step(4)
	if n.of(r.SegmentID) != "P1" {
		t.Errorf("E5 resolved to %s, want P1", n.of(r.SegmentID))
	}
	equalStrings(t, "E5 graph", n.graphRows(r.Graph), []string{"P3->P1 identify E5"})
	if len(r.Mappings) != 0 {
		t.Errorf("E5 mappings: %v", n.mappingRows(r.Mappings))
	}
	if len(r.Merges) != 1 || n.of(r.Merges[0].From) != "P3" || n.of(r.Merges[0].To) != "P1" {
		t.Errorf("E5 merges = %v", r.Merges)
	}
	for _, row := range tr {
		if n.of(row.SegmentID) != "P1" {
			t.Errorf("E5 traits row for %s; only the canonical P1 may get one", n.of(row.SegmentID))
		}
	}
	if len(tr) != 0 {
		t.Errorf("E5 traits rows = %+v, want none (nothing changed)", tr)
	}

	// E6: merging P2 into P1 would give user_ids {u1,u2}: email is dropped
	// and {u2} resolves to P2. The email is not added to P2.
	r, _ = step(5)
	if n.of(r.SegmentID) != "P2" || len(r.Graph) != 0 || len(r.Mappings) != 0 || len(r.Merges) != 0 {
		t.Errorf("E6: resolved to %s, graph %v, mappings %v, merges %v",
			n.of(r.SegmentID), n.graphRows(r.Graph), n.mappingRows(r.Mappings), r.Merges)
	}
	if got := n.lookup(e, "email", "j@x"); got != "P1" {
		t.Errorf("after E6 j@x is on %s, want P1", got)
	}

	// End state.
	idGraph := map[string]string{}
	for seg, canon := range latestGraph(graph) {
		idGraph[n.of(seg)] = n.of(canon)
	}
	if want := map[string]string{"P1": "P1", "P2": "P2", "P3": "P1"}; !maps.Equal(idGraph, want) {
		t.Errorf("id_graph = %v, want %v", idGraph, want)
	}
	latest := latestGraph(graph)
	mapping := map[string]string{}
	for _, m := range mappings {
		mapping[m.Value] = n.of(latest[m.SegmentID])
	}
	if want := map[string]string{"a1": "P1", "u1": "P1", "j@x": "P1", "a5": "P1", "u2": "P2"}; !maps.Equal(mapping, want) {
		t.Errorf("external_id_mapping = %v, want %v", mapping, want)
	}
	if st := e.Stats(); st != (Stats{Profiles: 2, SegmentIDs: 3, Identifiers: 5}) {
		t.Errorf("Stats = %+v", st)
	}

	// The same E5 with a new trait: the merge's traits row goes to the
	// canonical P1 only.
	e2 := NewEngine(rules)
	s.events[4].Traits = map[string]any{"email": "j@x", "plan": "pro"}
	sets2 := map[string]TraitSet{}
	for i, ev := range s.events[:5] {
		r := e2.Resolve(ev)
		rows := ApplyTraits([]Event{ev}, []Resolution{r}, sets2)
		if i == 4 && (len(rows) != 1 || n.of(rows[0].SegmentID) != "P1" ||
			!reflect.DeepEqual(rows[0].Traits.Snapshot(), map[string]any{"email": "j@x", "plan": "pro"})) {
			t.Errorf("E5 with a new trait: rows %+v, want one for P1", rows)
		}
	}
}

// TestRecursiveGraphRows checks that merging a profile that had absorbed
// others re-points all of them.
func TestRecursiveGraphRows(t *testing.T) {
	s := newStream()
	s.add(Event{Type: "page", AnonymousID: "a0"})                   // P0
	s.add(Event{Type: "page", AnonymousID: "a1"})                   // P1
	s.add(Event{Type: "page", AnonymousID: "a3"})                   // P3
	s.add(Event{Type: "page", AnonymousID: "a1", UserID: "u1"})     // P1 gets u1
	s.add(Event{Type: "identify", AnonymousID: "a3", UserID: "u1"}) // P3 into P1
	s.add(Event{Type: "identify", AnonymousID: "a0", UserID: "u1"}) // P1 into P0, and P3 with it
	s.add(Event{Type: "identify", AnonymousID: "a3", Traits: nil})  // resolves to P0
	n := newNames()
	n.label = func(i int) string { return []string{"P0", "P1", "P3"}[i-1] }
	e := NewEngine(nil)
	var all []GraphUpdate
	var last Resolution
	for _, ev := range s.events {
		last = e.Resolve(ev)
		all = append(all, last.Graph...)
	}
	equalStrings(t, "id_graph_updates", n.graphRows(all), []string{
		"P0->P0 page E1",
		"P1->P1 page E2",
		"P3->P3 page E3",
		"P3->P1 identify E5",
		"P1->P0 identify E6",
		"P3->P0 identify E6",
	})
	if n.of(last.SegmentID) != "P0" {
		t.Errorf("a3 resolves to %s, want P0", n.of(last.SegmentID))
	}
	for seg, canon := range latestGraph(all) {
		if n.of(canon) != "P0" {
			t.Errorf("latest row of %s points at %s", n.of(seg), n.of(canon))
		}
	}
}

// TestWindows checks that a limit counts only values added within its
// window.
func TestWindows(t *testing.T) {
	rules := mustCompile(t, Rules{IDTypes: []IDType{{Name: "anonymous_id", Limit: 1, Window: WindowWeekly}}})
	week := 7 * 24 * time.Hour
	s := newStream()
	s.add(Event{Type: "identify", UserID: "u1", AnonymousID: "a1", ReceivedAt: t0()})
	s.add(Event{Type: "identify", UserID: "u1", AnonymousID: "a2", ReceivedAt: t0().Add(week)})               // a1 is a week old: allowed
	s.add(Event{Type: "identify", UserID: "u1", AnonymousID: "a3", ReceivedAt: t0().Add(week + time.Hour)})   // a2 is an hour old: demoted
	s.add(Event{Type: "page", AnonymousID: "a4", ReceivedAt: t0().Add(week + 2*time.Hour)})                   // P2{a4}
	s.add(Event{Type: "identify", UserID: "u1", AnonymousID: "a4", ReceivedAt: t0().Add(week + 3*time.Hour)}) // merge would hold a2 and a4: demoted
	s.add(Event{Type: "identify", UserID: "u1", AnonymousID: "a4", ReceivedAt: t0().Add(2*week + time.Hour)}) // a2 has left the window: merge

	e := NewEngine(rules)
	n := newNames()
	var rs []Resolution
	for _, ev := range s.events {
		rs = append(rs, n.resolve(e, ev))
	}
	equalStrings(t, "E2 mappings", n.mappingRows(rs[1].Mappings), []string{"anonymous_id:a2->P1 E2"})
	if len(rs[2].Mappings) != 0 || n.of(rs[2].SegmentID) != "P1" {
		t.Errorf("E3: %v on %s; a3 should be demoted", n.mappingRows(rs[2].Mappings), n.of(rs[2].SegmentID))
	}
	if got := n.lookup(e, "anonymous_id", "a3"); got != "-" {
		t.Errorf("a3 is on %s, want nowhere", got)
	}
	if len(rs[4].Merges) != 0 || n.of(rs[4].SegmentID) != "P1" {
		t.Errorf("E5 merged %v into %s; the merge breaks the weekly limit", rs[4].Merges, n.of(rs[4].SegmentID))
	}
	if len(rs[5].Merges) != 1 || n.of(rs[5].SegmentID) != "P1" {
		t.Errorf("E6 merges %v; want P2 into P1 once a2 is older than a week", rs[5].Merges)
	}

	// An event with an earlier clock sees a2 and a4 (added after it) in
	// its window: P1 is over the limit only because of the clock, so an
	// event that adds no anonymous id is not demoted.
	r := n.resolve(e, Event{Pos: 7, MessageID: "E7", Type: "identify", AnonymousID: "a2",
		Traits: map[string]any{"email": "j@x"}, ReceivedAt: t0().Add(week + time.Hour)})
	if n.of(r.SegmentID) != "P1" || len(r.Mappings) != 1 {
		t.Errorf("E7 with an earlier clock: %v on %s; want the email attached to P1", n.mappingRows(r.Mappings), n.of(r.SegmentID))
	}
	// But one that adds an anonymous id within the window is.
	r = n.resolve(e, Event{Pos: 8, MessageID: "E8", Type: "identify", AnonymousID: "a9",
		Traits: map[string]any{"email": "j@x"}, ReceivedAt: t0().Add(week + time.Hour)})
	if n.of(r.SegmentID) != "P1" || len(r.Mappings) != 0 {
		t.Errorf("E8: %v on %s; want a9 demoted", n.mappingRows(r.Mappings), n.of(r.SegmentID))
	}
}

// TestCaps checks MaxMerges and MaxIdentifiers.
func TestCaps(t *testing.T) {
	t.Run("merges", func(t *testing.T) {
		e := NewEngine(mustCompile(t, Rules{MaxMerges: 2}))
		s := newStream()
		s.add(Event{Type: "identify", UserID: "u0"})
		for _, a := range []string{"a1", "a2", "a3", "a4"} {
			s.add(Event{Type: "page", AnonymousID: a})
		}
		s.add(Event{Type: "identify", UserID: "u0", AnonymousID: "a1"}) // merge 1
		s.add(Event{Type: "identify", UserID: "u0", AnonymousID: "a2"}) // merge 2
		s.add(Event{Type: "identify", UserID: "u0", AnonymousID: "a3"}) // blocked
		s.add(Event{Type: "track", AnonymousID: "a3", Event: "x"})      // still its own profile
		s.add(Event{Type: "identify", AnonymousID: "a3", UserID: "u9"}) // P4 itself can still grow
		n := newNames()
		var rs []Resolution
		for _, ev := range s.events {
			rs = append(rs, n.resolve(e, ev))
		}
		if len(rs[5].Merges) != 1 || len(rs[6].Merges) != 1 {
			t.Fatalf("first two merges did not happen: %v %v", rs[5].Merges, rs[6].Merges)
		}
		r := rs[7]
		if len(r.Merges) != 0 || len(r.Graph) != 0 || len(r.Mappings) != 0 || n.of(r.SegmentID) != "P1" {
			t.Errorf("third merge: merges %v graph %v mappings %v, resolved to %s; want blocked, resolved to P1",
				r.Merges, n.graphRows(r.Graph), n.mappingRows(r.Mappings), n.of(r.SegmentID))
		}
		if got := n.lookup(e, "anonymous_id", "a3"); got != "P4" {
			t.Errorf("a3 is on %s, want P4", got)
		}
		if len(rs[9].Mappings) != 1 {
			t.Errorf("P4 should take u9: %v", n.mappingRows(rs[9].Mappings))
		}
	})
	t.Run("merges count recursively", func(t *testing.T) {
		for _, tc := range []struct {
			maxMerges int
			merged    bool
		}{{2, false}, {3, true}} {
			e := NewEngine(mustCompile(t, Rules{MaxMerges: tc.maxMerges}))
			s := newStream()
			email := func(e string) map[string]any { return map[string]any{"email": e} }
			s.add(Event{Type: "page", AnonymousID: "a0"})                          // P1
			s.add(Event{Type: "page", AnonymousID: "a1"})                          // P2
			s.add(Event{Type: "page", AnonymousID: "a2"})                          // P3
			s.add(Event{Type: "page", AnonymousID: "a3"})                          // P4
			s.add(Event{Type: "identify", AnonymousID: "a0", Traits: email("e0")}) // P1 gets e0
			s.add(Event{Type: "identify", AnonymousID: "a3", Traits: email("e0")}) // P4 into P1
			s.add(Event{Type: "identify", AnonymousID: "a1", Traits: email("e1")}) // P2 gets e1
			s.add(Event{Type: "identify", AnonymousID: "a2", Traits: email("e1")}) // P3 into P2
			// P2 into P1 makes P1 absorb P2, P3 and P4.
			s.add(Event{Type: "identify", AnonymousID: "a1", Traits: email("e0")})
			n := newNames()
			var r Resolution
			for _, ev := range s.events {
				r = n.resolve(e, ev)
			}
			if merged := len(r.Merges) == 1; merged != tc.merged || n.of(r.SegmentID) != "P1" {
				t.Errorf("MaxMerges %d: merges %v, resolved to %s; want merged=%v, P1", tc.maxMerges, r.Merges, n.of(r.SegmentID), tc.merged)
			}
		}
	})
	t.Run("identifiers", func(t *testing.T) {
		e := NewEngine(mustCompile(t, Rules{MaxIdentifiers: 3}))
		s := newStream()
		s.add(Event{Type: "identify", UserID: "u1", AnonymousID: "a1", Traits: map[string]any{"email": "e1"}})
		s.add(Event{Type: "identify", UserID: "u1", AnonymousID: "a2"}) // full: a2 not attached
		s.add(Event{Type: "page", AnonymousID: "a3"})
		s.add(Event{Type: "identify", UserID: "u1", AnonymousID: "a3"}) // merge would hold 4: blocked
		s.add(Event{Type: "identify", AnonymousID: "b1", Context: map[string]any{"externalIds": []any{
			map[string]any{"id": "p1", "type": "phone", "collection": "users", "encoding": "none"},
			map[string]any{"id": "p2", "type": "phone", "collection": "users", "encoding": "none"},
			map[string]any{"id": "p3", "type": "phone", "collection": "users", "encoding": "none"},
		}}}) // a new profile keeps the first three in priority order
		n := newNames()
		var rs []Resolution
		for _, ev := range s.events {
			rs = append(rs, n.resolve(e, ev))
		}
		if len(rs[1].Mappings) != 0 || n.of(rs[1].SegmentID) != "P1" {
			t.Errorf("a2 attached to a full profile: %v", n.mappingRows(rs[1].Mappings))
		}
		if len(rs[3].Merges) != 0 || n.of(rs[3].SegmentID) != "P1" {
			t.Errorf("merge past the identifier cap: %v, resolved to %s", rs[3].Merges, n.of(rs[3].SegmentID))
		}
		equalStrings(t, "new profile at the cap", n.mappingRows(rs[4].Mappings), []string{
			"anonymous_id:b1->P3 E5", "phone:p1->P3 E5", "phone:p2->P3 E5",
		})
	})
}

// TestAliasNeverMerges checks that an alias neither merges profiles nor uses
// previousId.
func TestAliasNeverMerges(t *testing.T) {
	s := newStream()
	s.add(Event{Type: "identify", UserID: "u1"})
	s.add(Event{Type: "page", AnonymousID: "a1"})
	s.add(Event{Type: "alias", UserID: "u1", AnonymousID: "a1", PreviousID: "a1"})
	s.add(Event{Type: "alias", UserID: "u9", PreviousID: "u1"})
	e := NewEngine(nil)
	n := newNames()
	var rs []Resolution
	for _, ev := range s.events {
		rs = append(rs, n.resolve(e, ev))
	}
	if r := rs[2]; len(r.Merges) != 0 || len(r.Graph) != 0 || n.of(r.SegmentID) != "P1" {
		t.Errorf("alias: merges %v, graph %v, resolved to %s; want no merge, P1", r.Merges, n.graphRows(r.Graph), n.of(r.SegmentID))
	}
	if got := n.lookup(e, "anonymous_id", "a1"); got != "P2" {
		t.Errorf("a1 is on %s, want P2", got)
	}
	if r := rs[3]; n.of(r.SegmentID) != "P3" || len(r.Merges) != 0 {
		t.Errorf("alias with previousId u1 resolved to %s with merges %v; want a new P3", n.of(r.SegmentID), r.Merges)
	}
	if got := n.lookup(e, "user_id", "u1"); got != "P1" {
		t.Errorf("u1 is on %s, want P1", got)
	}
}

// TestNoIdentifiers checks that an event without usable ids resolves to no
// profile and changes nothing.
func TestNoIdentifiers(t *testing.T) {
	e := NewEngine(mustCompile(t, Rules{RecommendedBlocked: true}))
	r := e.Resolve(Event{Type: "track", Event: "x", UserID: "null", AnonymousID: "  "})
	if !reflect.DeepEqual(r, Resolution{}) || e.Stats() != (Stats{}) {
		t.Errorf("got %+v, stats %+v", r, e.Stats())
	}
}

// TestRowIdentity checks the stable row ids, triggers and minted ids.
func TestRowIdentity(t *testing.T) {
	ev := Event{Pos: 7, MessageID: "m7", SourceID: "src", Type: "track", Event: "Signed Up",
		UserID: "u1", AnonymousID: "a1", ReceivedAt: t0(), Timestamp: t0().Add(-time.Second)}
	r1 := NewEngine(nil).Resolve(ev)
	r2 := NewEngine(nil).Resolve(ev)
	if !reflect.DeepEqual(r1, r2) {
		t.Fatalf("same event, different rows:\n%+v\n%+v", r1, r2)
	}
	want := Trigger{EventPos: 7, EventID: "m7", EventType: "track", EventName: "Signed Up", SourceID: "src",
		Timestamp: t0().Add(-time.Second), ReceivedAt: t0()}
	ids := map[string]bool{}
	for _, g := range r1.Graph {
		if g.Trigger != want || g.Seq != 0 {
			t.Errorf("graph row trigger %+v seq %d", g.Trigger, g.Seq)
		}
		ids[g.ID] = true
	}
	for _, m := range r1.Mappings {
		if m.Trigger != want || m.Seq != 0 {
			t.Errorf("mapping row trigger %+v seq %d", m.Trigger, m.Seq)
		}
		ids[m.ID] = true
	}
	if len(ids) != 3 {
		t.Errorf("row ids not distinct: %v", ids)
	}
	for id := range ids {
		if len(id) != 32 {
			t.Errorf("row id %q is not 32 hex digits", id)
		}
	}
	sid, err := parseSegmentID(r1.SegmentID)
	if err != nil || !sid.Time().Equal(t0()) {
		t.Errorf("segment id %q: time %v, err %v", r1.SegmentID, sid.Time(), err)
	}
	ev.Pos = 8
	if r3 := NewEngine(nil).Resolve(ev); r3.SegmentID == r1.SegmentID || r3.Graph[0].ID == r1.Graph[0].ID {
		t.Errorf("another position minted the same ids")
	}
	if got, want := ExternalIDHash("email", "jane@example.com"), "4e0dd44dae25208f5dddcae60c7e0cddb3fd1e0d"; got != want {
		t.Errorf("hash %q, want %q", got, want)
	}
}

// TestNewProfileRespectsLimits checks that an event whose own ids break a
// limit creates a profile within it, demoting from the lowest priority.
func TestNewProfileRespectsLimits(t *testing.T) {
	e := NewEngine(mustCompile(t, Rules{IDTypes: []IDType{{Name: "phone", Limit: 2}}}))
	phones := func(vs ...string) map[string]any {
		var list []any
		for _, v := range vs {
			list = append(list, map[string]any{"id": v, "type": "phone", "collection": "users", "encoding": "none"})
		}
		return map[string]any{"externalIds": list}
	}
	n := newNames()
	r := n.resolve(e, Event{Pos: 1, MessageID: "E1", Type: "identify", AnonymousID: "b1", Context: phones("p3", "p1", "p2"), ReceivedAt: t0()})
	equalStrings(t, "three phones, limit 2", n.mappingRows(r.Mappings), []string{
		"anonymous_id:b1->P1 E1", "phone:p1->P1 E1", "phone:p2->P1 E1",
	})
	// Two user ids with limit 1: the rule drops the lowest-priority id
	// first, so the anonymous id goes before the second user id does.
	ctx := map[string]any{"externalIds": []any{map[string]any{"id": "u2", "type": "user_id", "collection": "users"}}}
	r = n.resolve(e, Event{Pos: 2, MessageID: "E2", Type: "identify", UserID: "u1", AnonymousID: "a1", Context: ctx, ReceivedAt: t0()})
	equalStrings(t, "two user ids", n.mappingRows(r.Mappings), []string{"user_id:u1->P2 E2"})
}
