package activities

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/profilesync/profilesync/adapters"
	"github.com/profilesync/profilesync/store"
	"github.com/profilesync/profilesync/workflows"
)

// TestCaseStudyAndIncremental runs the docs' case study (segment-semantics
// §2.3) through the store, the resolver and the sync activities into each
// warehouse, checks the landed rows and the current-state tables, then
// sends more events and checks that a second pass moves exactly the new
// rows, and a third nothing.
func TestCaseStudyAndIncremental(t *testing.T) {
	for _, kind := range kinds() {
		t.Run(kind.name, func(t *testing.T) {
			st := openStore(t)
			kind.create(t, st, "wh1")
			ingest(t, st, caseStudy()...)
			h := newHarness(t, newActivities(st))
			db := warehouseDB(t, st, "wh1")

			graph, err := st.GraphUpdates(t.Context(), spaceID, 0, 1<<62, 100)
			if err != nil || len(graph) != 3 {
				t.Fatalf("store id_graph_updates: %v, %+v", err, graph)
			}
			p1, p2 := graph[0].SegmentID, graph[1].SegmentID

			out := h.syncPass("wh1")
			if !out.plan.FirstSync || out.plan.EventsAfter != 0 || out.plan.UptoPos != 4 || out.plan.UptoSeq == 0 {
				t.Errorf("plan = %+v, want a first sync of positions (0, 4]", out.plan)
			}
			wantRows := storeRows(t, st, 0, out.plan.UptoSeq)
			for table, want := range wantRows {
				if got := out.identity[table]; got.Rows != want || got.Tables[table] != want {
					t.Errorf("LoadIdentity(%s) = %+v, want %d rows", table, got, want)
				}
			}
			if wantRows[adapters.TableIDGraphUpdates] != 3 || wantRows[adapters.TableExternalIDMappingUpdates] != 3 {
				t.Errorf("store change logs = %v", wantRows)
			}
			if want := map[string]int64{"pages": 2, "identifies": 2}; !reflect.DeepEqual(out.events.Tables, want) || out.events.Rows != 4 {
				t.Errorf("LoadEvents = %+v, want %v", out.events, want)
			}
			if out.materialize.Rows == 0 || len(out.materialize.Tables) != len(adapters.MaterializedTables()) {
				t.Errorf("Materialize = %+v", out.materialize)
			}

			ts := func(n int) string { return t0.Add(time.Duration(n) * time.Second).Format(time.RFC3339Nano) }
			q := func(cols, table, order string) [][]string {
				return query(t, db, "SELECT "+cols+" FROM "+db.QualifiedName(table)+" ORDER BY "+order)
			}
			check := func(name string, got, want [][]string) {
				t.Helper()
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s:\n got %v\nwant %v", name, got, want)
				}
			}
			// The landed change logs.
			check("id_graph_updates", q(`segment_id, canonical_segment_id, triggering_event_type, triggering_event_id,
				triggering_event_source_id, triggering_event_source_name, triggering_event_source_slug, "timestamp", received_at`,
				"id_graph_updates", "seq"), [][]string{
				{p1, p1, "page", "m1", sourceID, "Web Site", "web_site", ts(1), ts(1)},
				{p2, p2, "page", "m3", sourceID, "Web Site", "web_site", ts(3), ts(3)},
				{p2, p1, "identify", "m4", sourceID, "Web Site", "web_site", ts(4), ts(4)},
			})
			check("external_id_mapping_updates", q("external_id_type, external_id_value, segment_id, triggering_event_id",
				"external_id_mapping_updates", "seq"), [][]string{
				{"anonymous_id", "5285", p1, "m1"},
				{"email", "jane@example.com", p1, "m2"},
				{"anonymous_id", "b50e", p2, "m3"},
			})
			check("profile_traits_updates", q("segment_id, email, triggering_event_id", "profile_traits_updates", "seq"),
				[][]string{{p1, "jane@example.com", "m2"}})
			uuidTS := t0.Add(24 * time.Hour).Format(time.RFC3339Nano)
			check("uuid_ts", query(t, db, "SELECT DISTINCT uuid_ts FROM "+db.QualifiedName("id_graph_updates")), [][]string{{uuidTS}})
			// The event tables.
			check("pages", q("id, segment_id, event_source_id, anonymous_id, user_id, name, received_at, sent_at, \"timestamp\", original_timestamp",
				"pages", "id"), [][]string{
				{"m1", p1, sourceID, "5285", "∅", "Home", ts(1), ts(0), ts(1), ts(-1)},
				{"m3", p2, sourceID, "b50e", "∅", "Pricing", ts(3), ts(2), ts(3), ts(1)},
			})
			check("identifies", q("id, segment_id, anonymous_id", "identifies", "id"), [][]string{
				{"m2", p1, "5285"}, {"m4", p1, "b50e"},
			})
			// The current-state tables of §2.3.
			check("id_graph", q("segment_id, canonical_segment_id", "id_graph", "segment_id"), sorted([][]string{{p1, p1}, {p2, p1}}))
			check("profile_merges", q("segment_id, canonical_segment_id", "profile_merges", "segment_id"), sorted([][]string{{p1, p1}, {p2, p1}}))
			check("external_id_mapping", q("external_id_type, external_id_value, segment_id, canonical_segment_id", "external_id_mapping", "external_id_type, external_id_value"), [][]string{
				{"anonymous_id", "5285", p1, p1}, {"anonymous_id", "b50e", p2, p1}, {"email", "jane@example.com", p1, p1},
			})
			check("user_identifiers", q("type, value, canonical_segment_id", "user_identifiers", "type, value"), [][]string{
				{"anonymous_id", "5285", p1}, {"anonymous_id", "b50e", p1}, {"email", "jane@example.com", p1},
			})
			check("profile_traits", q("canonical_segment_id, email, merged_to", "profile_traits", "canonical_segment_id"), sorted([][]string{
				{p1, "jane@example.com", "∅"}, {p2, "∅", p1},
			}))
			check("user_traits", q("canonical_segment_id, name, value", "user_traits", "name"), [][]string{{p1, "email", "jane@example.com"}})

			// Incremental: five more events; the second pass moves only them.
			ingest(t, st,
				event(5, "identify", map[string]any{"anonymousId": "5285", "userId": "u1", "traits": map[string]any{"name": "Jane Doe", "plan": "pro", "logins": 3, "vip": true}}),
				event(6, "track", map[string]any{"anonymousId": "b50e", "event": "Order Completed", "properties": map[string]any{"total": 30}}),
				event(7, "group", map[string]any{"userId": "u1", "groupId": "g1"}),
				event(8, "alias", map[string]any{"userId": "u1", "previousId": "5285"}),
				event(9, "page", map[string]any{"anonymousId": "c0ff"}),
			)
			before := map[string]int64{}
			for _, table := range loadedTables() {
				before[table] = count(t, db, table)
			}
			out2 := h.syncPass("wh1")
			if out2.plan.FirstSync || out2.plan.EventsAfter != 0 || out2.plan.UptoPos != 9 {
				t.Errorf("second plan = %+v", out2.plan)
			}
			newRows := storeRows(t, st, out.plan.UptoSeq, out2.plan.UptoSeq)
			for table, want := range newRows {
				if got := out2.identity[table].Rows; got != want || want == 0 {
					t.Errorf("second LoadIdentity(%s) = %d rows, want the %d new ones", table, got, want)
				}
				if got := count(t, db, table) - before[table]; got != want {
					t.Errorf("%s grew by %d rows, want %d", table, got, want)
				}
			}
			wantEvents := map[string]int64{"identifies": 1, "tracks": 1, "order_completed": 1, "groups": 1, "aliases": 1, "pages": 1}
			if !reflect.DeepEqual(out2.events.Tables, wantEvents) || out2.events.Rows != 6 {
				t.Errorf("second LoadEvents = %+v, want %v", out2.events, wantEvents)
			}
			for table, want := range wantEvents {
				if got := count(t, db, table) - before[table]; got != want {
					t.Errorf("%s grew by %d rows, want %d", table, got, want)
				}
			}
			check("tracks", q("id, segment_id, event, event_text", "tracks", "id"), [][]string{{"m6", p1, "order_completed", "Order Completed"}})
			check("order_completed", q("id, segment_id, event_source_id, event, event_text, total", "order_completed", "id"),
				[][]string{{"m6", p1, sourceID, "order_completed", "Order Completed", "30"}})
			check("groups", q("id, user_id, group_id", "groups", "id"), [][]string{{"m7", "u1", "g1"}})
			check("aliases", q("id, user_id, previous_id", "aliases", "id"), [][]string{{"m8", "u1", "5285"}})
			// Trait values land as text until the columns package infers
			// types.
			check("user_traits after", q("name, value", "user_traits", "name"), [][]string{
				{"email", "jane@example.com"}, {"logins", "3"}, {"name", "Jane Doe"}, {"plan", "pro"}, {"vip", "true"},
			})

			// Nothing new: a third pass loads nothing.
			out3 := h.syncPass("wh1")
			for table, o := range out3.identity {
				if o.Rows != 0 {
					t.Errorf("third LoadIdentity(%s) = %+v, want no rows", table, o)
				}
			}
			if out3.events.Rows != 0 || out3.materialize.Rows != 0 {
				t.Errorf("third pass loaded %+v and materialized %+v, want nothing", out3.events, out3.materialize)
			}
		})
	}
}

// TestFirstSyncLookback checks that a first sync carries only the events of
// the lookback, and that the next sync goes on from the cut.
func TestFirstSyncLookback(t *testing.T) {
	st := openStore(t)
	kinds()[1].create(t, st, "wh1")
	ingest(t, st, caseStudy()...)
	acts := newActivities(st)
	// With the clock at 5.5 s and a 3 s lookback, only events 3 and 4
	// (received at 3 s and 4 s) are in it...
	acts.Now = func() time.Time { return t0.Add(5500 * time.Millisecond) }
	h := newHarness(t, acts)
	plan := must[workflows.Plan](h, acts.PlanSync, workflows.PlanInput{WarehouseID: "wh1", EventsLookback: 3 * time.Second})
	if !plan.FirstSync || plan.EventsAfter != 2 || plan.UptoPos != 4 {
		t.Fatalf("plan = %+v, want a first sync after position 2", plan)
	}
	must[struct{}](h, acts.PrepareSchema, workflows.WarehouseRef{WarehouseID: "wh1"})
	out := must[workflows.LoadOutput](h, acts.LoadEvents, workflows.LoadEventsInput{WarehouseID: "wh1", After: plan.EventsAfter, UptoPos: plan.UptoPos})
	if want := map[string]int64{"pages": 1, "identifies": 1}; !reflect.DeepEqual(out.Tables, want) {
		t.Errorf("LoadEvents = %+v, want %v", out, want)
	}
	db := warehouseDB(t, st, "wh1")
	if got := ids(t, db, "pages"); !slices.Equal(got, []string{"m3"}) {
		t.Errorf("pages ids = %v, want [m3]", got)
	}
	// ...and the next sync is not a first one.
	plan = must[workflows.Plan](h, acts.PlanSync, workflows.PlanInput{WarehouseID: "wh1", EventsLookback: 3 * time.Second})
	if plan.FirstSync || plan.EventsAfter != 0 {
		t.Errorf("second plan = %+v, want an incremental sync", plan)
	}
}

// storeRows counts the store's change-log rows with after < seq <= upto.
func storeRows(t *testing.T, st store.Store, after, upto int64) map[string]int64 {
	t.Helper()
	ctx := t.Context()
	g, err := st.GraphUpdates(ctx, spaceID, after, upto, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.MappingUpdates(ctx, spaceID, after, upto, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := st.TraitsUpdates(ctx, spaceID, after, upto, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]int64{
		adapters.TableIDGraphUpdates:           int64(len(g)),
		adapters.TableExternalIDMappingUpdates: int64(len(m)),
		adapters.TableProfileTraitsUpdates:     int64(len(tr)),
	}
}

func sorted(rows [][]string) [][]string {
	slices.SortFunc(rows, func(a, b []string) int { return slices.Compare(a, b) })
	return rows
}
