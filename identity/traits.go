package identity

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
)

// Trait is one trait of a profile with the inbox position of the event that
// last set it. A trait removed by a null keeps a tombstone (Deleted) so that a
// merge does not bring back an older value.
type Trait struct {
	Value   any   `json:"v,omitempty"`
	Pos     int64 `json:"p"`
	Deleted bool  `json:"d,omitempty"`
}

// TraitSet is the traits of one profile, by name.
type TraitSet map[string]Trait

// Apply sets traits on s as of the event at inbox position pos and reports
// whether s changed. The last value wins; a nil value (a JSON null) removes
// the trait, leaving a tombstone with pos so that a merge cannot bring back
// an older value. Setting a value equal to the current one, or removing a
// trait that is not set, is not a change and leaves its Pos as it was. s must
// not be nil if traits holds anything that changes it.
func (s TraitSet) Apply(traits map[string]any, pos int64) (changed bool) {
	for name, v := range traits {
		old, had := s[name]
		live := had && !old.Deleted
		switch {
		case v == nil:
			if live {
				s[name] = Trait{Pos: pos, Deleted: true}
				changed = true
			}
		case !live || !equalValues(old.Value, v):
			s[name] = Trait{Value: cloneValue(v), Pos: pos}
			changed = true
		}
	}
	return changed
}

// Merge merges the traits of from into s and reports whether s changed.
// Per trait the one with the higher Pos wins, tombstones included; on a tie
// s keeps its own. A tombstone only matters against a live value: one for a
// trait s does not hold is not copied. s must not be nil if from changes it.
func (s TraitSet) Merge(from TraitSet) (changed bool) {
	for name, ft := range from {
		st, had := s[name]
		switch {
		case had && st.Pos >= ft.Pos:
		case !had && ft.Deleted:
		case had && st.Deleted && ft.Deleted:
		case had && !st.Deleted && !ft.Deleted && equalValues(st.Value, ft.Value):
		default:
			s[name] = Trait{Value: cloneValue(ft.Value), Pos: ft.Pos, Deleted: ft.Deleted}
			changed = true
		}
	}
	return changed
}

// Snapshot returns the live traits of s by name, without tombstones.
func (s TraitSet) Snapshot() map[string]any {
	out := make(map[string]any, len(s))
	for name, t := range s {
		if !t.Deleted {
			out[name] = t.Value
		}
	}
	return out
}

// Clone returns a deep copy of s.
func (s TraitSet) Clone() TraitSet {
	if s == nil {
		return nil
	}
	out := make(TraitSet, len(s))
	for name, t := range s {
		t.Value = cloneValue(t.Value)
		out[name] = t
	}
	return out
}

// ApplyTraits computes the profile_traits_updates rows of a run of resolved
// events: res[i] is the Resolution of events[i]. sets holds the current
// traits of the canonical profiles the events touch (a missing entry means
// no traits yet) and is updated in place.
//
// For each event, in order, every merge {From, To} first merges sets[From]
// into sets[To] and deletes sets[From]; if To's traits changed, To (the
// canonical profile, the only one that gets a row, §1.2) gets a row. Then an
// identify's traits are applied to the profile it resolved to, which gets a
// row if they changed anything. Only identify traits are profile traits:
// group traits describe the account and context.traits are not stored. Each
// row is a full snapshot, carries the event's Trigger and a stable id.
// ApplyTraits panics if events and res differ in length.
func ApplyTraits(events []Event, res []Resolution, sets map[string]TraitSet) []TraitsUpdate {
	if len(events) != len(res) {
		panic(fmt.Sprintf("identity: ApplyTraits with %d events and %d resolutions", len(events), len(res)))
	}
	var out []TraitsUpdate
	for i := range events {
		ev, r := &events[i], &res[i]
		ordinal := 0
		update := func(seg string, change func(TraitSet) bool) {
			ts := sets[seg]
			if ts == nil {
				ts = TraitSet{}
			}
			if !change(ts) {
				return
			}
			sets[seg] = ts
			out = append(out, TraitsUpdate{
				ID:        rowID(tableTraits, ev, ordinal),
				SegmentID: seg,
				Traits:    ts.Clone(),
				Trigger:   trigger(ev),
			})
			ordinal++
		}
		for _, m := range r.Merges {
			from := sets[m.From]
			delete(sets, m.From)
			update(m.To, func(ts TraitSet) bool { return ts.Merge(from) })
		}
		if ev.Type == "identify" && r.SegmentID != "" && len(ev.Traits) > 0 {
			update(r.SegmentID, func(ts TraitSet) bool { return ts.Apply(ev.Traits, ev.Pos) })
		}
	}
	return out
}

// equalValues reports whether two decoded JSON values are equal. Numbers
// compare by value whatever their Go type (json.Number, float64, int), so a
// snapshot read back from the store compares equal to the event that wrote
// it.
func equalValues(a, b any) bool {
	if fa, ok := numberValue(a); ok {
		fb, ok := numberValue(b)
		if !ok {
			return false
		}
		if na, ok := a.(json.Number); ok {
			if nb, ok := b.(json.Number); ok && na == nb {
				return true
			}
		}
		return fa == fb
	}
	switch a := a.(type) {
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, va := range a {
			vb, ok := b[k]
			if !ok || !equalValues(va, vb) {
				return false
			}
		}
		return true
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !equalValues(a[i], b[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

// numberValue returns a numeric value as a float64.
func numberValue(v any) (float64, bool) {
	switch v := v.(type) {
	case json.Number:
		f, err := v.Float64()
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return 0, false
		}
		return f, true
	case float64:
		return v, true
	case float32:
		return float64(v), true
	case int:
		return float64(v), true
	case int64:
		return float64(v), true
	case int32:
		return float64(v), true
	case uint64:
		return float64(v), true
	case uint32:
		return float64(v), true
	}
	return 0, false
}

// cloneValue deep-copies the objects and arrays of a decoded JSON value.
func cloneValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = cloneValue(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = cloneValue(x)
		}
		return out
	}
	return v
}
