package identity

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestTraitSetApply(t *testing.T) {
	s := TraitSet{}
	if !s.Apply(map[string]any{"plan": "free", "age": json.Number("30")}, 1) {
		t.Fatal("first traits are a change")
	}
	if s.Apply(map[string]any{"plan": "free", "age": 30.0}, 2) {
		t.Error("equal values (30 as json.Number and float64) are not a change")
	}
	if s["plan"].Pos != 1 {
		t.Errorf("an equal value moved Pos to %d", s["plan"].Pos)
	}
	if !s.Apply(map[string]any{"plan": "pro"}, 3) || s["plan"] != (Trait{Value: "pro", Pos: 3}) {
		t.Errorf("last value wins: %+v", s["plan"])
	}
	// A null removes the trait and leaves a tombstone.
	if !s.Apply(map[string]any{"plan": nil}, 4) {
		t.Error("removing a trait is a change")
	}
	if s["plan"] != (Trait{Pos: 4, Deleted: true}) {
		t.Errorf("tombstone = %+v", s["plan"])
	}
	if got := s.Snapshot(); !reflect.DeepEqual(got, map[string]any{"age": json.Number("30")}) {
		t.Errorf("snapshot = %v", got)
	}
	if s.Apply(map[string]any{"plan": nil, "never": nil}, 5) {
		t.Error("removing an absent trait is not a change")
	}
	if _, ok := s["never"]; ok {
		t.Error("a null for a trait never set left a tombstone")
	}
	if !s.Apply(map[string]any{"plan": ""}, 6) || s.Snapshot()["plan"] != "" {
		t.Error(`"" sets an empty string`)
	}
}

func TestTraitSetMerge(t *testing.T) {
	to := TraitSet{
		"plan":  {Value: "free", Pos: 2},
		"name":  {Value: "Ann", Pos: 5},
		"city":  {Value: "Oslo", Pos: 1},
		"phone": {Pos: 9, Deleted: true},
	}
	from := TraitSet{
		"plan":  {Value: "pro", Pos: 4},           // newer: wins
		"name":  {Value: "Anne", Pos: 3},          // older: loses
		"city":  {Pos: 6, Deleted: true},          // newer tombstone: removes
		"phone": {Value: "555", Pos: 7},           // older than the tombstone: stays removed
		"team":  {Value: "blue", Pos: 1},          // new trait
		"gone":  {Pos: 8, Deleted: true},          // tombstone of a trait to lacks: not copied
		"tags":  {Value: []any{"a", "b"}, Pos: 3}, // deep-copied
	}
	if !to.Merge(from) {
		t.Fatal("merge changed nothing")
	}
	want := map[string]any{"plan": "pro", "name": "Ann", "team": "blue", "tags": []any{"a", "b"}}
	if got := to.Snapshot(); !reflect.DeepEqual(got, want) {
		t.Errorf("merged = %v, want %v", got, want)
	}
	if to["city"] != (Trait{Pos: 6, Deleted: true}) {
		t.Errorf("city = %+v", to["city"])
	}
	if _, ok := to["gone"]; ok {
		t.Error("copied a tombstone for a trait it never had")
	}
	from["tags"].Value.([]any)[0] = "changed"
	if to["tags"].Value.([]any)[0] != "a" {
		t.Error("merge shares values with its source")
	}
	if to.Merge(from) {
		t.Error("merging the same traits twice is a change")
	}
	// "1" the string and 1 the number differ.
	if !(TraitSet{"x": {Value: "1", Pos: 5}}).Merge(TraitSet{"x": {Value: json.Number("1"), Pos: 9}}) {
		t.Error("a string and a number with the same digits compare equal")
	}
}

func TestTraitSetClone(t *testing.T) {
	s := TraitSet{"a": {Value: map[string]any{"b": []any{1.0}}, Pos: 1}}
	c := s.Clone()
	c["a"].Value.(map[string]any)["b"].([]any)[0] = 2.0
	c["z"] = Trait{Value: "z"}
	if s["a"].Value.(map[string]any)["b"].([]any)[0] != 1.0 || len(s) != 1 {
		t.Error("Clone shares state")
	}
	if TraitSet(nil).Clone() != nil {
		t.Error("Clone of nil")
	}
}

// TestApplyTraits checks rows for identify traits, nulls and merges.
func TestApplyTraits(t *testing.T) {
	s := newStream()
	s.add(Event{Type: "identify", UserID: "u1", Traits: map[string]any{"plan": "free", "name": "Ann"}})
	s.add(Event{Type: "identify", AnonymousID: "a1", Traits: map[string]any{"plan": "pro", "city": "Oslo"}})
	s.add(Event{Type: "identify", UserID: "u1", Traits: map[string]any{"name": nil}})
	s.add(Event{Type: "group", UserID: "u1", GroupID: "g1", Traits: map[string]any{"plan": "enterprise"}})
	s.add(Event{Type: "track", UserID: "u1", Event: "x", Context: map[string]any{"traits": map[string]any{"plan": "ctx"}}})
	s.add(Event{Type: "identify", UserID: "u1", AnonymousID: "a1", Traits: map[string]any{"city": "Oslo"}})
	s.add(Event{Type: "identify", Traits: map[string]any{"plan": "nobody"}})

	e := NewEngine(nil)
	n := newNames()
	var res []Resolution
	for _, ev := range s.events {
		res = append(res, n.resolve(e, ev))
	}
	sets := map[string]TraitSet{}
	rows := ApplyTraits(s.events, res, sets)
	type row struct {
		seg, event string
		traits     map[string]any
	}
	var got []row
	for _, r := range rows {
		got = append(got, row{n.of(r.SegmentID), r.EventID, r.Traits.Snapshot()})
	}
	want := []row{
		{"P1", "E1", map[string]any{"plan": "free", "name": "Ann"}},
		{"P2", "E2", map[string]any{"plan": "pro", "city": "Oslo"}},
		{"P1", "E3", map[string]any{"plan": "free"}},
		// E4 (group traits) and E5 (context.traits) are not profile traits.
		// E6 merges P2 into P1: P2's newer plan wins; the identify's city
		// is unchanged, so one row.
		{"P1", "E6", map[string]any{"plan": "pro", "city": "Oslo"}},
		// E7 has no identifier: no profile, no row.
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rows:\n got  %v\n want %v", got, want)
	}
	if _, ok := sets[n.id("P2")]; ok {
		t.Error("the merged-away profile keeps a trait set")
	}
	if rows[2].Traits["name"] != (Trait{Pos: 3, Deleted: true}) {
		t.Errorf("E3 row carries %+v for name, want a tombstone", rows[2].Traits["name"])
	}
	// Rows are snapshots: later changes do not reach earlier rows.
	if rows[0].Traits["plan"].Value != "free" {
		t.Error("row 1 was modified by later events")
	}
	ids := map[string]bool{}
	for _, r := range rows {
		ids[r.ID] = true
		if r.Trigger != trigger(&s.events[r.EventPos-1]) {
			t.Errorf("row %s has trigger %+v", r.ID, r.Trigger)
		}
	}
	if len(ids) != len(rows) {
		t.Error("row ids repeat")
	}
	// Determinism: the same input gives the same rows.
	if again := ApplyTraits(s.events, res, map[string]TraitSet{}); !reflect.DeepEqual(again, rows) {
		t.Error("ApplyTraits is not deterministic")
	}
}
