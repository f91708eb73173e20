package duckdb

import (
	"reflect"
	"testing"

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
