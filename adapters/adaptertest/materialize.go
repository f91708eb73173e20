package adaptertest

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/profilesync/profilesync/adapters"
)

// caseStudy builds the change-log rows of segment-semantics.md §2.3 and the
// incremental second window after it.
type caseStudy struct {
	base time.Time
}

// at is the event time of seq.
func (c caseStudy) at(seq int64) time.Time { return c.base.Add(time.Duration(seq) * time.Minute) }

// meta is the seq, timestamp, received_at and uuid_ts of a change-log row.
func (c caseStudy) meta(seq int64) []any {
	return []any{seq, c.at(seq), c.at(seq).Add(time.Second), c.at(seq).Add(time.Hour)}
}

// metaNames are the columns of meta.
func metaNames() []string { return []string{"seq", "timestamp", "received_at", "uuid_ts"} }

func (c caseStudy) graph(seq int64, seg, canonical, eventType, event string) []any {
	return append([]any{fmt.Sprintf("g%d", seq), seg, canonical, eventType, event}, c.meta(seq)...)
}

// graphColumns are the columns of graph.
func graphColumns() []string {
	return append([]string{"id", "segment_id", "canonical_segment_id", "triggering_event_type", "triggering_event_id"}, metaNames()...)
}

func (c caseStudy) mapping(seq int64, seg, typ, value string) []any {
	return append([]any{fmt.Sprintf("m%d", seq), seg, "hash(" + typ + ":" + value + ")", typ, value}, c.meta(seq)...)
}

// mappingColumns are the columns of mapping.
func mappingColumns() []string {
	return append([]string{"id", "segment_id", "external_id_hash", "external_id_type", "external_id_value"}, metaNames()...)
}

// traits returns a profile_traits_updates row; values follow traitNames.
func (c caseStudy) traits(seq int64, seg string, values ...any) []any {
	return append(append([]any{fmt.Sprintf("t%d", seq), seg}, c.meta(seq)...), values...)
}

// traitsColumns are the columns of traits before the trait values.
func traitsColumns() []string { return append([]string{"id", "segment_id"}, metaNames()...) }

// testMaterializeCaseStudy: the docs' case study, then a recursive merge, a
// removed trait and a new identifier in an incremental second window, then
// a re-run that changes nothing.
func testMaterializeCaseStudy(t *testing.T, open Open) {
	e := setup(t, open)
	c := caseStudy{base: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)}
	traitTable := adapters.ProfileTraitsUpdates()
	traitTable.Columns = append(traitTable.Columns, adapters.Column{Name: "email", Type: adapters.String})
	e.ensure(adapters.IDGraphUpdates(), adapters.ExternalIDMappingUpdates(), traitTable)

	// Window 1 (seq 1..4): P1 is created by page E1, gets an email by
	// identify E2; P2 is created by page E3; identify E4 merges P2 into P1.
	e.load(adapters.Chunk{Stream: "identity", After: 0, Upto: 4, Tables: []adapters.Rows{
		{Table: adapters.TableIDGraphUpdates, Columns: graphColumns(), Values: [][]any{
			c.graph(1, "P1", "P1", "page", "E1"),
			c.graph(3, "P2", "P2", "page", "E3"),
			c.graph(4, "P2", "P1", "identify", "E4"),
		}},
		{Table: adapters.TableExternalIDMappingUpdates, Columns: mappingColumns(), Values: [][]any{
			c.mapping(1, "P1", "anonymous_id", "5285"),
			c.mapping(2, "P1", "email", "jane@example.com"),
			c.mapping(3, "P2", "anonymous_id", "b50e"),
		}},
		{Table: adapters.TableProfileTraitsUpdates, Columns: append(traitsColumns(), "email"), Values: [][]any{
			c.traits(2, "P1", "jane@example.com"),
			c.traits(4, "P1", "jane@example.com"), // the merge's snapshot
		}},
	}})
	written := e.materialize(4)
	for _, table := range adapters.MaterializedTables() {
		if written[table] <= 0 {
			t.Errorf("window 1: Materialize wrote %d rows to %s, want some (%v)", written[table], table, written)
		}
	}

	graph := [][]any{
		append([]any{"P1", "P1"}, c.meta(1)...),
		append([]any{"P2", "P1"}, c.meta(4)...),
	}
	e.wantRows("window 1: id_graph", e.rows(adapters.TableIDGraph, append([]string{"segment_id", "canonical_segment_id"}, metaNames()...)...), graph)
	e.wantRows("window 1: profile_merges", e.rows(adapters.TableProfileMerges, append([]string{"segment_id", "canonical_segment_id"}, metaNames()...)...), graph)
	e.wantRows("window 1: external_id_mapping", e.rows(adapters.TableExternalIDMapping,
		"external_id_hash", "external_id_type", "external_id_value", "segment_id", "canonical_segment_id", "seq", "timestamp"), [][]any{
		{"hash(anonymous_id:5285)", "anonymous_id", "5285", "P1", "P1", 1, c.at(1)},
		{"hash(email:jane@example.com)", "email", "jane@example.com", "P1", "P1", 2, c.at(2)},
		{"hash(anonymous_id:b50e)", "anonymous_id", "b50e", "P2", "P1", 3, c.at(3)},
	})
	e.wantRows("window 1: user_identifiers", e.rows(adapters.TableUserIdentifiers, "canonical_segment_id", "type", "value", "seq"), [][]any{
		{"P1", "anonymous_id", "5285", 1},
		{"P1", "email", "jane@example.com", 2},
		{"P1", "anonymous_id", "b50e", 3},
	})
	e.wantRows("window 1: profile_traits", e.rows(adapters.TableProfileTraits, "canonical_segment_id", "merged_to", "email", "seq"), [][]any{
		{"P1", nil, "jane@example.com", 4},
		{"P2", "P1", nil, 4},
	})
	e.wantTraits("window 1", map[string]map[string]any{"P1": {"email": "jane@example.com"}}, 4)

	// Window 2 (seq 5..10): P0 is created (with a plan), then P1, which had
	// absorbed P2, merges into P0 (the recursive rows P1→P0 and P2→P0). P0's
	// new snapshot has lost its plan and gained typed traits; a new
	// identifier arrives.
	traitTable.Columns = append(traitTable.Columns,
		adapters.Column{Name: "plan", Type: adapters.String},
		adapters.Column{Name: "age", Type: adapters.Int},
		adapters.Column{Name: "score", Type: adapters.Float},
		adapters.Column{Name: "vip", Type: adapters.Bool},
		adapters.Column{Name: "last_seen", Type: adapters.Timestamp},
	)
	e.ensure(traitTable)
	lastSeen := time.Date(2024, 4, 30, 8, 30, 0, 0, time.FixedZone("CEST", 2*3600))
	e.load(adapters.Chunk{Stream: "identity", After: 4, Upto: 10, Tables: []adapters.Rows{
		{Table: adapters.TableIDGraphUpdates, Columns: graphColumns(), Values: [][]any{
			c.graph(5, "P0", "P0", "page", "E5"),
			c.graph(7, "P1", "P0", "identify", "E6"),
			c.graph(8, "P2", "P0", "identify", "E6"),
		}},
		{Table: adapters.TableExternalIDMappingUpdates, Columns: mappingColumns(), Values: [][]any{
			c.mapping(6, "P0", "anonymous_id", "c0ff"),
			c.mapping(10, "P0", "phone", "+15550100"),
		}},
		{Table: adapters.TableProfileTraitsUpdates, Columns: append(traitsColumns(), "email", "plan", "age", "score", "vip", "last_seen"), Values: [][]any{
			c.traits(6, "P0", nil, "pro", nil, nil, nil, nil),
			c.traits(9, "P0", "jane@example.com", nil, int64(42), 2.5, true, lastSeen),
		}},
	}})
	written = e.materialize(10)
	for _, table := range adapters.MaterializedTables() {
		if written[table] <= 0 {
			t.Errorf("window 2: Materialize wrote %d rows to %s, want some (%v)", written[table], table, written)
		}
	}
	e.checkWindow2(c, lastSeen)

	// Materializing again up to the same or an older seq changes nothing.
	for _, upto := range []int64{10, 4} {
		written = e.materialize(upto)
		for table, n := range written {
			if n != 0 {
				t.Errorf("re-run up to %d wrote %d rows to %s", upto, n, table)
			}
		}
		e.checkWindow2(c, lastSeen)
	}
	// A window with no changes only moves the watermark.
	written = e.materialize(12)
	if n := sum(written); n != 0 {
		t.Errorf("empty window wrote %v", written)
	}
	e.checkWindow2(c, lastSeen)

	// Window 3 (seq 13): P0's next snapshot drops vip and last_seen, changes
	// age and keeps the rest; every trait row then carries its seq.
	e.load(adapters.Chunk{Stream: "identity", After: 10, Upto: 13, Tables: []adapters.Rows{
		{Table: adapters.TableProfileTraitsUpdates, Columns: append(traitsColumns(), "email", "plan", "age", "score", "vip", "last_seen"), Values: [][]any{
			c.traits(13, "P0", "jane@example.com", nil, int64(43), 2.5, nil, nil),
		}},
	}})
	e.materialize(13)
	e.wantRows("window 3: profile_traits", e.rows(adapters.TableProfileTraits,
		"canonical_segment_id", "merged_to", "email", "plan", "age", "score", "vip", "last_seen", "seq"), [][]any{
		{"P0", nil, "jane@example.com", nil, 43, 2.5, nil, nil, 13},
		{"P1", "P0", nil, nil, nil, nil, nil, nil, 7},
		{"P2", "P0", nil, nil, nil, nil, nil, nil, 8},
	})
	e.wantTraits("window 3", map[string]map[string]any{"P0": {
		"email": "jane@example.com", "age": int64(43), "score": 2.5,
	}}, 13)
}

func (e *env) checkWindow2(c caseStudy, lastSeen time.Time) {
	e.t.Helper()
	graph := [][]any{
		append([]any{"P0", "P0"}, c.meta(5)...),
		append([]any{"P1", "P0"}, c.meta(7)...),
		append([]any{"P2", "P0"}, c.meta(8)...),
	}
	e.wantRows("window 2: id_graph", e.rows(adapters.TableIDGraph, append([]string{"segment_id", "canonical_segment_id"}, metaNames()...)...), graph)
	e.wantRows("window 2: profile_merges", e.rows(adapters.TableProfileMerges, append([]string{"segment_id", "canonical_segment_id"}, metaNames()...)...), graph)
	e.wantRows("window 2: external_id_mapping", e.rows(adapters.TableExternalIDMapping,
		"external_id_hash", "external_id_type", "external_id_value", "segment_id", "canonical_segment_id"), [][]any{
		{"hash(anonymous_id:5285)", "anonymous_id", "5285", "P1", "P0"},
		{"hash(email:jane@example.com)", "email", "jane@example.com", "P1", "P0"},
		{"hash(anonymous_id:b50e)", "anonymous_id", "b50e", "P2", "P0"},
		{"hash(anonymous_id:c0ff)", "anonymous_id", "c0ff", "P0", "P0"},
		{"hash(phone:+15550100)", "phone", "+15550100", "P0", "P0"},
	})
	e.wantRows("window 2: user_identifiers", e.rows(adapters.TableUserIdentifiers, "canonical_segment_id", "type", "value"), [][]any{
		{"P0", "anonymous_id", "5285"},
		{"P0", "email", "jane@example.com"},
		{"P0", "anonymous_id", "b50e"},
		{"P0", "anonymous_id", "c0ff"},
		{"P0", "phone", "+15550100"},
	})
	e.wantRows("window 2: profile_traits", e.rows(adapters.TableProfileTraits,
		"canonical_segment_id", "merged_to", "email", "plan", "age", "score", "vip", "last_seen", "seq"), [][]any{
		{"P0", nil, "jane@example.com", nil, 42, 2.5, true, lastSeen, 9},
		{"P1", "P0", nil, nil, nil, nil, nil, nil, 7},
		{"P2", "P0", nil, nil, nil, nil, nil, nil, 8},
	})
	e.wantTraits("window 2", map[string]map[string]any{"P0": {
		"email": "jane@example.com", "age": int64(42), "score": 2.5, "vip": true, "last_seen": lastSeen,
	}}, 9)
}

func (e *env) materialize(upto int64) map[string]int64 {
	e.t.Helper()
	written, err := e.w.Materialize(e.ctx, upto)
	if err != nil {
		e.t.Fatalf("Materialize(%d): %v", upto, err)
	}
	return written
}

// wantTraits checks user_traits against the typed trait values of each
// profile, all written by the snapshot at seq.
func (e *env) wantTraits(what string, want map[string]map[string]any, seq int64) {
	e.t.Helper()
	got := e.rows(adapters.TableUserTraits, "canonical_segment_id", "name", "value", "seq")
	n := 0
	for _, profile := range slices.Sorted(maps.Keys(want)) {
		n += len(want[profile])
	}
	if len(got) != n {
		e.t.Errorf("%s: user_traits has %d rows, want %d:\n got %s", what, len(got), n, formatRows(got))
	}
	for _, r := range got {
		profile, name, value := r[0].(string), r[1].(string), r[2]
		w, ok := want[profile][name]
		if !ok {
			e.t.Errorf("%s: unexpected user_traits row %s", what, formatRows([][]any{r}))
			continue
		}
		text, ok := value.(string)
		if !ok || !traitTextEqual(text, w) {
			e.t.Errorf("%s: user_traits %s.%s = %#v, want the text of %#v", what, profile, name, value, w)
		}
		if r[3] != seq {
			e.t.Errorf("%s: user_traits %s.%s seq %v, want %d", what, profile, name, r[3], seq)
		}
	}
}

// traitTextEqual reports whether text renders v as user_traits must.
func traitTextEqual(text string, v any) bool {
	switch v := v.(type) {
	case string:
		return text == v
	case int64:
		return text == strconv.FormatInt(v, 10)
	case bool:
		return text == strconv.FormatBool(v)
	case float64:
		f, err := strconv.ParseFloat(text, 64)
		return err == nil && (f == v || math.IsNaN(f) && math.IsNaN(v))
	case time.Time:
		ts, err := time.Parse(time.RFC3339Nano, text)
		return err == nil && ts.Equal(v) && strings.HasSuffix(text, "Z")
	}
	return false
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}
