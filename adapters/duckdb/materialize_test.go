package duckdb

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/profilesync/profilesync/adapters"
)

// caseStudy is the docs' case study (segment-semantics.md §2.3): P1 is
// created by a page view, gets an email by an identify; P2 is created by a
// page view and merged into P1 by an identify with the same email.
func caseStudy() *changeLog {
	l := newChangeLog(adapters.Column{Name: "email", Type: adapters.String})
	l.graph(1, "P1", "P1")
	l.mapping(2, "P1", "anonymous_id", "5285")
	l.mapping(3, "P1", "email", "jane@x.com")
	l.snapshot(4, "P1", map[string]any{"email": "jane"})
	l.graph(5, "P2", "P2")
	l.mapping(6, "P2", "anonymous_id", "b50e")
	l.graph(7, "P2", "P1")
	l.snapshot(8, "P1", map[string]any{"email": "jane"})
	return l
}

// Queries of the end state of each current-state table.
const (
	qIDGraph       = "SELECT segment_id, canonical_segment_id, seq FROM id_graph"
	qProfileMerges = "SELECT segment_id, canonical_segment_id, seq FROM profile_merges"
	qMappings      = "SELECT external_id_type, external_id_value, segment_id, canonical_segment_id FROM external_id_mapping"
	qIdentifiers   = "SELECT canonical_segment_id, type, value FROM user_identifiers"
	qUserTraits    = "SELECT canonical_segment_id, name, value, seq FROM user_traits"
)

func TestMaterializeCaseStudy(t *testing.T) {
	w := openTemp(t, "main")
	l := caseStudy()
	l.load(t, w, 0, 8)
	counts := materialize(t, w, 8)

	wantRows(t, w, qIDGraph, "P1|P1|1", "P2|P1|7")
	wantRows(t, w, qProfileMerges, "P1|P1|1", "P2|P1|7")
	wantRows(t, w, qMappings,
		"anonymous_id|5285|P1|P1", "email|jane@x.com|P1|P1", "anonymous_id|b50e|P2|P1")
	wantRows(t, w, qIdentifiers, "P1|anonymous_id|5285", "P1|email|jane@x.com", "P1|anonymous_id|b50e")
	wantRows(t, w, "SELECT canonical_segment_id, email, merged_to, seq FROM profile_traits",
		"P1|jane|∅|8", "P2|∅|P1|7")
	wantRows(t, w, qUserTraits, "P1|email|jane|8")

	want := map[string]int64{
		adapters.TableIDGraph: 2, adapters.TableProfileMerges: 2, adapters.TableExternalIDMapping: 3,
		adapters.TableUserIdentifiers: 3, adapters.TableProfileTraits: 2, adapters.TableUserTraits: 1,
	}
	if !reflect.DeepEqual(counts, want) {
		t.Errorf("counts %v, want %v", counts, want)
	}
	if wm, err := w.Watermark(t.Context(), MaterializeStream); err != nil || wm != 8 {
		t.Errorf("materialize watermark %d, %v; want 8", wm, err)
	}
}

// recursiveMerge extends the case study with a second window (seq 9..16):
// P3 is created with a user_id and traits, then P1, which had absorbed P2,
// merges into P3 with the recursive rows P1→P3 and P2→P3 and a snapshot of
// P3 that has lost the trait "plan"; a phone number arrives for P1's old
// self after the merge.
func recursiveMerge() *changeLog {
	l := caseStudy()
	traits := []adapters.Column{
		{Name: "name", Type: adapters.String}, {Name: "plan", Type: adapters.String},
		{Name: "age", Type: adapters.Int}, {Name: "score", Type: adapters.Float},
		{Name: "vip", Type: adapters.Bool}, {Name: "seen_at", Type: adapters.Timestamp},
	}
	l.traits = append(l.traits, traits...)
	for _, c := range traits {
		l.ptu.Columns = append(l.ptu.Columns, c.Name)
		for i := range l.ptu.Values {
			l.ptu.Values[i] = append(l.ptu.Values[i], nil)
		}
	}
	l.graph(9, "P3", "P3")
	l.mapping(10, "P3", "user_id", "u3")
	l.snapshot(11, "P3", map[string]any{"name": "Bob", "plan": "pro"})
	l.graph(12, "P1", "P3")
	l.graph(13, "P2", "P3")
	l.snapshot(14, "P3", map[string]any{"email": "jane", "name": "Bob", "age": int64(42), "score": 0.1, "vip": true,
		"seen_at": time.Date(2024, 4, 30, 8, 30, 0, 250000000, time.FixedZone("CEST", 2*3600))})
	l.mapping(15, "P1", "phone", "+15550100")
	l.graph(16, "P4", "P4")
	return l
}

// wantRecursiveMerge checks the end state of recursiveMerge.
func wantRecursiveMerge(t *testing.T, w *Warehouse) {
	t.Helper()
	wantRows(t, w, qIDGraph, "P1|P3|12", "P2|P3|13", "P3|P3|9", "P4|P4|16")
	wantRows(t, w, qProfileMerges, "P1|P3|12", "P2|P3|13", "P3|P3|9", "P4|P4|16")
	wantRows(t, w, qMappings, "anonymous_id|5285|P1|P3", "email|jane@x.com|P1|P3", "anonymous_id|b50e|P2|P3",
		"user_id|u3|P3|P3", "phone|+15550100|P1|P3")
	wantRows(t, w, qIdentifiers, "P3|anonymous_id|5285", "P3|email|jane@x.com", "P3|anonymous_id|b50e",
		"P3|user_id|u3", "P3|phone|+15550100")
	wantRows(t, w, "SELECT canonical_segment_id, merged_to, email, name, plan, age, score, vip, seq FROM profile_traits",
		"P1|P3|∅|∅|∅|∅|∅|∅|12", "P2|P3|∅|∅|∅|∅|∅|∅|13", "P3|∅|jane|Bob|∅|42|0.1|true|14", "P4|∅|∅|∅|∅|∅|∅|∅|16")
	wantRows(t, w, qUserTraits, "P3|email|jane|14", "P3|name|Bob|14", "P3|age|42|14", "P3|score|0.1|14",
		"P3|vip|true|14", "P3|seen_at|2024-04-30T06:30:00.250000Z|14")
}

func TestMaterializeIncremental(t *testing.T) {
	w := openTemp(t, "main")
	l := recursiveMerge()
	l.load(t, w, 0, 8)
	materialize(t, w, 8)
	l.load(t, w, 8, 16)
	counts := materialize(t, w, 16)
	wantRecursiveMerge(t, w)
	want := map[string]int64{
		// P3 created, P1 and P2 re-pointed, P4 created.
		adapters.TableIDGraph: 4, adapters.TableProfileMerges: 4,
		// u3 and the phone new, three old mappings re-pointed.
		adapters.TableExternalIDMapping: 5, adapters.TableUserIdentifiers: 5,
		// P1, P2 merged away, P3 snapshot, P4 created.
		adapters.TableProfileTraits: 4,
		// P3's six traits written, P1's email deleted.
		adapters.TableUserTraits: 7,
	}
	if !reflect.DeepEqual(counts, want) {
		t.Errorf("counts %v, want %v", counts, want)
	}

	// Re-running is a no-op.
	for _, upto := range []int64{16, 3} {
		counts := materialize(t, w, upto)
		for table, n := range counts {
			if n != 0 {
				t.Errorf("re-run to %d wrote %d rows to %s", upto, n, table)
			}
		}
	}
	wantRecursiveMerge(t, w)
	if wm, _ := w.Watermark(t.Context(), MaterializeStream); wm != 16 {
		t.Errorf("watermark %d, want 16", wm)
	}
}

// TestMaterializeAnyWindows: materializing in any windows gives the same
// tables as materializing everything at once.
func TestMaterializeAnyWindows(t *testing.T) {
	l := recursiveMerge()
	dump := func(w *Warehouse) []string {
		var out []string
		for _, table := range adapters.MaterializedTables() {
			for _, r := range strs(rows(t, w, "SELECT * FROM "+table)) {
				out = append(out, table+": "+r)
			}
		}
		return out
	}
	whole := openTemp(t, "main")
	l.load(t, whole, 0, 16)
	materialize(t, whole, 16)
	want := dump(whole)

	rng := rand.New(rand.NewPCG(1, 2))
	for range 4 {
		var cuts []int64
		for s := int64(1); s < 16; s++ {
			if rng.IntN(3) == 0 {
				cuts = append(cuts, s)
			}
		}
		cuts = append(cuts, 16)
		t.Run(fmt.Sprint(cuts), func(t *testing.T) {
			w := openTemp(t, "main")
			after := int64(0)
			for _, upto := range cuts {
				l.load(t, w, after, upto)
				materialize(t, w, upto)
				after = upto
			}
			if got := dump(w); !reflect.DeepEqual(got, want) {
				t.Errorf("tables differ:\n got  %q\n want %q", got, want)
			}
		})
	}
}

// TestMaterializeIsOneTransaction: a failure just before the commit leaves
// every table and the watermark as they were.
func TestMaterializeIsOneTransaction(t *testing.T) {
	w := openTemp(t, "main")
	l := recursiveMerge()
	l.load(t, w, 0, 16)
	materialize(t, w, 8)
	before := rows(t, w, "SELECT (SELECT count(*) FROM id_graph), (SELECT count(*) FROM user_traits), (SELECT string_agg(canonical_segment_id, ',' ORDER BY external_id_hash) FROM external_id_mapping)")
	boom := errors.New("boom")
	w.beforeCommit = func(string) error { return boom }
	if _, err := w.Materialize(t.Context(), 16); !errors.Is(err, boom) {
		t.Fatalf("Materialize: %v, want boom", err)
	}
	w.beforeCommit = nil
	if after := rows(t, w, "SELECT (SELECT count(*) FROM id_graph), (SELECT count(*) FROM user_traits), (SELECT string_agg(canonical_segment_id, ',' ORDER BY external_id_hash) FROM external_id_mapping)"); !reflect.DeepEqual(before, after) {
		t.Errorf("tables changed: %v → %v", before, after)
	}
	if wm, _ := w.Watermark(t.Context(), MaterializeStream); wm != 8 {
		t.Errorf("watermark %d, want 8", wm)
	}
	materialize(t, w, 16)
	wantRecursiveMerge(t, w)
}

// TestMaterializeEmpty: on a schema without change logs Materialize creates
// the tables and writes nothing.
func TestMaterializeEmpty(t *testing.T) {
	w := openTemp(t, "main")
	counts := materialize(t, w, 5)
	if len(counts) != 6 {
		t.Errorf("counts %v", counts)
	}
	for table, n := range counts {
		if n != 0 {
			t.Errorf("%s: %d rows", table, n)
		}
	}
	tables, err := w.Tables(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range append(adapters.MaterializedTables(), adapters.TableIDGraphUpdates, adapters.TableProfileTraitsUpdates) {
		if tables[table] == nil {
			t.Errorf("table %s missing", table)
		}
	}
}
