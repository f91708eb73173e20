package identity

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	"testing"

	"pgregory.net/rapid"
)

// drawRules draws rules that make limit conflicts, windows and caps likely.
func drawRules(t *rapid.T) Rules {
	window := rapid.SampledFrom([]Window{WindowEver, WindowDaily, WindowWeekly, ""})
	r := Rules{
		IDTypes: []IDType{
			{Name: "user_id", Limit: rapid.SampledFrom([]int{0, 1, 2}).Draw(t, "user_id limit"), Window: window.Draw(t, "user_id window")},
			{Name: "email", Limit: rapid.SampledFrom([]int{0, 1, 2, 5}).Draw(t, "email limit"), Window: window.Draw(t, "email window")},
			{Name: "anonymous_id", Limit: rapid.SampledFrom([]int{1, 3, 5, 5}).Draw(t, "anonymous_id limit"), Window: window.Draw(t, "anonymous_id window")},
			{Name: "phone", Limit: rapid.SampledFrom([]int{1, 2}).Draw(t, "phone limit"), Window: window.Draw(t, "phone window")},
			{Name: "member", Limit: rapid.SampledFrom([]int{1, 2}).Draw(t, "member limit"), Keys: []string{"memberId"}},
		},
		RecommendedBlocked: rapid.Bool().Draw(t, "recommended blocked"),
		MaxMerges:          rapid.SampledFrom([]int{0, 0, 0, 2, 4}).Draw(t, "max merges"),
		MaxIdentifiers:     rapid.SampledFrom([]int{0, 0, 0, 6, 12}).Draw(t, "max identifiers"),
	}
	if rapid.Bool().Draw(t, "explicit priorities") {
		ranks := rapid.Permutation([]int{1, 2, 3, 4, 5}).Draw(t, "ranks")
		for i := range r.IDTypes {
			r.IDTypes[i].Priority = ranks[i]
		}
	}
	return r
}

// drawEvents draws a stream of a few people browsing on several devices and
// identifying themselves, with received-at moving forward by steps from a
// second to more than a week. Ids mostly belong to the event's person, so
// that anonymous profiles get merged; now and then one belongs to someone
// else (a shared device, a team mailbox), so that limits are hit.
func drawEvents(t *rapid.T) []Event {
	n := rapid.IntRange(1, 120).Draw(t, "events")
	step := rapid.SampledFrom([]time.Duration{0, time.Second, time.Hour, 20 * time.Hour, 3 * 24 * time.Hour, 8 * 24 * time.Hour})
	pick := func(label string, pool ...string) string { return rapid.SampledFrom(pool).Draw(t, label) }
	// rapid favours small integers, so choices that should be uniform are
	// drawn with SampledFrom.
	people := rapid.SampledFrom([]int{0, 1, 2, 3})
	oneIn := func(label string, n int) bool {
		pool := make([]bool, n)
		pool[0] = true
		return rapid.SampledFrom(pool).Draw(t, label)
	}
	at := t0()
	events := make([]Event, n)
	for i := range events {
		at = at.Add(step.Draw(t, "step"))
		person := people.Draw(t, "person")
		// id returns an id of the given kind of the event's person, or of
		// someone else one time in twenty; or nothing, one time in absent.
		id := func(label, prefix string, perPerson, absent int) string {
			if absent > 0 && !oneIn(label+" present", absent) {
				return ""
			}
			owner := person
			if oneIn(label+" shared", 20) {
				owner = people.Draw(t, label+" owner")
			}
			return fmt.Sprintf("%s%d.%d", prefix, owner, rapid.SampledFrom([]int{0, 1, 2}[:perPerson]).Draw(t, label))
		}
		ev := Event{
			Pos:         int64(i + 1),
			MessageID:   fmt.Sprintf("m%d", i+1),
			SourceID:    "src",
			Type:        pick("type", "identify", "identify", "track", "page", "page", "alias", "group"),
			AnonymousID: id("anonymousId", "a", 3, 0),
			ReceivedAt:  at,
			Timestamp:   at,
			Context:     map[string]any{},
		}
		if !oneIn("anonymous only", 2) {
			ev.UserID = id("userId", "u", 1, 0)
		}
		if oneIn("no anonymousId", 8) {
			ev.AnonymousID = ""
		}
		switch ev.Type {
		case "track":
			ev.Event = "Clicked"
		case "group":
			ev.GroupID = pick("groupId", "g1", "g2")
		}
		if email := id("email", "e", 1, 4); email != "" {
			if oneIn("blocked email", 10) {
				email = "null"
			}
			if ev.Type == "identify" {
				ev.Traits = map[string]any{"email": email}
			} else {
				ev.Context["traits"] = map[string]any{"email": email}
			}
		}
		if phone := id("phone", "p", 2, 6); phone != "" {
			ev.Context["externalIds"] = []any{
				map[string]any{"id": phone, "type": "phone", "collection": "users", "encoding": "none"},
				map[string]any{"id": id("phone", "p", 2, 0), "type": "phone"},
			}
		}
		if m := id("member", "m", 1, 8); m != "" {
			ev.Properties = map[string]any{"member_id": m}
		}
		if ev.Type == "identify" {
			if ev.Traits == nil {
				ev.Traits = map[string]any{}
			}
			for _, name := range []string{"plan", "name"} {
				switch v := pick(name, "", "x", "y", "null"); v {
				case "":
				case "null":
					ev.Traits[name] = nil
				default:
					ev.Traits[name] = v
				}
			}
		}
		events[i] = ev
	}
	return events
}

// TestResolveProperties checks the engine's invariants over random streams
// and that its output is a function of the stream, restarts included.
func TestResolveProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		rules, err := CompileRules(drawRules(t))
		if err != nil {
			t.Fatalf("CompileRules: %v", err)
		}
		events := drawEvents(t)

		e := NewEngine(rules)
		res := make([]Resolution, len(events))
		latest := map[string]string{} // id_graph: segment id → canonical
		mapped := map[string]string{} // type ‖ value → segment id of its mapping row
		rowIDs := map[string]bool{}
		for i, ev := range events {
			r := e.Resolve(ev)
			res[i] = r
			checkResolution(t, rules, ev, r)
			for _, g := range r.Graph {
				latest[g.SegmentID] = g.CanonicalSegmentID
				checkRowID(t, rowIDs, g.ID)
			}
			for _, m := range r.Mappings {
				key := m.Type + "\x00" + m.Value
				if _, dup := mapped[key]; dup {
					t.Fatalf("event %d: second mapping row for %s %q", i+1, m.Type, m.Value)
				}
				mapped[key] = m.SegmentID
				checkRowID(t, rowIDs, m.ID)
			}
			checkIndex(t, e, ev.ReceivedAt)
			checkLogs(t, e, latest, mapped)
		}

		// The same stream in a fresh engine gives the same rows.
		again := NewEngine(rules)
		for i, ev := range events {
			if r := again.Resolve(ev); !reflect.DeepEqual(r, res[i]) {
				t.Fatalf("replay differs at event %d:\n got  %+v\n want %+v", i+1, r, res[i])
			}
		}

		// An engine restored from the logs of a prefix continues exactly as
		// the uninterrupted one.
		k := rapid.IntRange(0, len(events)).Draw(t, "restart after")
		restored := NewEngine(rules)
		for _, r := range res[:k] {
			for i := range r.Graph {
				if err := restored.Load(&r.Graph[i], nil); err != nil {
					t.Fatalf("Load: %v", err)
				}
			}
			for i := range r.Mappings {
				if err := restored.Load(nil, &r.Mappings[i]); err != nil {
					t.Fatalf("Load: %v", err)
				}
			}
		}
		for i := k; i < len(events); i++ {
			if r := restored.Resolve(events[i]); !reflect.DeepEqual(r, res[i]) {
				t.Fatalf("restored after %d events differs at event %d:\n got  %+v\n want %+v", k, i+1, r, res[i])
			}
		}
		if restored.Stats() != e.Stats() {
			t.Fatalf("restored stats %+v, want %+v", restored.Stats(), e.Stats())
		}

		// Traits: rows from the latest stored snapshots (through JSON, as a
		// store keeps them) continue as the uninterrupted run.
		traits := ApplyTraits(events, res, map[string]TraitSet{})
		sets := map[string]TraitSet{}
		var after []TraitsUpdate
		for _, row := range traits {
			if row.EventPos <= int64(k) {
				sets[row.SegmentID] = jsonRoundTrip(t, row.Traits)
				continue
			}
			after = append(after, row)
			checkRowID(t, rowIDs, row.ID)
		}
		if got := ApplyTraits(events[k:], res[k:], sets); !reflect.DeepEqual(got, after) && len(got)+len(after) > 0 {
			t.Fatalf("traits after a restart at %d differ:\n got  %+v\n want %+v", k, got, after)
		}
	})
}

func checkRowID(t *rapid.T, seen map[string]bool, id string) {
	if seen[id] {
		t.Fatalf("row id %s repeats", id)
	}
	seen[id] = true
}

// checkResolution checks one event's Resolution against the event.
func checkResolution(t *rapid.T, rules *CompiledRules, ev Event, r Resolution) {
	if len(ExtractExternalIDs(ev, rules)) == 0 {
		if !reflect.DeepEqual(r, Resolution{}) {
			t.Fatalf("event %d has no ids but resolved: %+v", ev.Pos, r)
		}
		return
	}
	if r.SegmentID == "" {
		t.Fatalf("event %d has ids but resolved to no profile", ev.Pos)
	}
	want := trigger(&ev)
	for _, g := range r.Graph {
		if g.CanonicalSegmentID != r.SegmentID || g.Trigger != want {
			t.Fatalf("event %d: graph row %+v", ev.Pos, g)
		}
	}
	for _, m := range r.Mappings {
		if m.SegmentID != r.SegmentID || m.Trigger != want || m.Hash != ExternalIDHash(m.Type, m.Value) {
			t.Fatalf("event %d: mapping row %+v", ev.Pos, m)
		}
	}
	for _, m := range r.Merges {
		if m.To != r.SegmentID {
			t.Fatalf("event %d merged into %s but resolved to %s", ev.Pos, m.To, r.SegmentID)
		}
	}
	if ev.Type == "alias" && len(r.Merges) > 0 {
		t.Fatalf("alias %d merged %v", ev.Pos, r.Merges)
	}
}

// checkIndex checks the index's own invariants at time now: every
// identifier resolves to exactly one canonical profile, which holds it, and
// no canonical profile is over a cap or over a limit in the window ending
// at now.
func checkIndex(t *rapid.T, e *Engine, now time.Time) {
	type pt struct{ p, typ uint32 }
	held := map[pt]int{}
	for key, p := range e.index {
		typ, n := binary.Uvarint([]byte(key))
		if n <= 0 || int(typ) >= len(e.types) || n == len(key) {
			t.Fatalf("bad index key %q", key)
		}
		c := e.profiles[p].canon
		if e.profiles[c].canon != c {
			t.Fatalf("identifier %q resolves to %d, which is merged into %d", key, c, e.profiles[c].canon)
		}
		held[pt{c, uint32(typ)}]++
	}
	live, owned := 0, map[uint32]int{}
	for i := range e.profiles {
		p, q := &e.profiles[i], uint32(i)
		if p.canon != q {
			if p.ids != nil || p.members != nil || e.profiles[p.canon].canon != p.canon {
				t.Fatalf("merged-away profile %d holds state or points at a merged-away profile", i)
			}
			continue
		}
		live++
		if len(p.ids) > e.rules.maxIdentifiers || len(p.members) > e.rules.maxMerges {
			t.Fatalf("profile %d holds %d identifiers and %d merges", i, len(p.ids), len(p.members))
		}
		counts, inWindow := map[uint32]int{}, map[uint32]int{}
		for _, id := range p.ids {
			counts[id.typ]++
			if e.inWindow(id, unixSeconds(now)) {
				inWindow[id.typ]++
			}
		}
		for typ, c := range counts {
			if held[pt{q, typ}] != c {
				t.Fatalf("profile %d: %d identifiers of type %s, the index has %d", i, c, e.types[typ].name, held[pt{q, typ}])
			}
		}
		for typ, c := range inWindow {
			if c > e.types[typ].limit {
				t.Fatalf("profile %d holds %d %s in the window ending at %v; the limit is %d", i, c, e.types[typ].name, now, e.types[typ].limit)
			}
		}
		for _, m := range p.members {
			owned[m]++
			if e.profiles[m].canon != q {
				t.Fatalf("member %d of %d points at %d", m, i, e.profiles[m].canon)
			}
		}
	}
	for i := range e.profiles {
		if want := map[bool]int{true: 0, false: 1}[e.profiles[i].canon == uint32(i)]; owned[uint32(i)] != want {
			t.Fatalf("profile %d is a member of %d profiles", i, owned[uint32(i)])
		}
	}
	if live != e.live {
		t.Fatalf("%d canonical profiles, Stats says %d", live, e.live)
	}
}

// checkLogs checks the change logs against the index: the latest graph row
// of every segment id is its canonical profile, and every mapping row's
// segment id resolves to the profile holding the identifier.
func checkLogs(t *rapid.T, e *Engine, latest, mapped map[string]string) {
	canon := map[string]string{}
	for _, p := range e.profiles {
		canon[formatSegmentID(p.sid)] = formatSegmentID(e.profiles[p.canon].sid)
	}
	if len(canon) != len(latest) {
		t.Fatalf("%d segment ids, %d in the graph log", len(canon), len(latest))
	}
	for seg, c := range latest {
		if canon[seg] != c {
			t.Fatalf("latest graph row of %s says %s, the engine %s", seg, c, canon[seg])
		}
	}
	if len(mapped) != len(e.index) {
		t.Fatalf("%d mapping rows, %d identifiers", len(mapped), len(e.index))
	}
	for key, seg := range mapped {
		var typ, value string
		for i := range key {
			if key[i] == 0 {
				typ, value = key[:i], key[i+1:]
				break
			}
		}
		got, ok := e.Lookup(typ, value)
		if !ok || got != latest[seg] {
			t.Fatalf("%s %q: mapping says %s → %s, the engine %s", typ, value, seg, latest[seg], got)
		}
	}
}

// jsonRoundTrip stores and reads back traits as the store would.
func jsonRoundTrip(t *rapid.T, s TraitSet) TraitSet {
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var out TraitSet
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
