package activities

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/profilesync/profilesync/adapters"
	"github.com/profilesync/profilesync/columns"
	"github.com/profilesync/profilesync/resolver"
	"github.com/profilesync/profilesync/store"
	"github.com/profilesync/profilesync/workflows"
)

// eventSync runs what a sync runs for events: PlanSync, PrepareSchema,
// LoadEvents.
func eventSync(h *harness, warehouseID string) workflows.LoadOutput {
	h.t.Helper()
	a := h.acts
	plan := must[workflows.Plan](h, a.PlanSync, workflows.PlanInput{WarehouseID: warehouseID, EventsLookback: workflows.DefaultEventsLookback})
	must[struct{}](h, a.PrepareSchema, workflows.WarehouseRef{WarehouseID: warehouseID})
	return must[workflows.LoadOutput](h, a.LoadEvents, workflows.LoadEventsInput{WarehouseID: warehouseID, After: plan.EventsAfter, UptoPos: plan.UptoPos})
}

// infoColumns reads a table's columns and their types from
// information_schema.columns.
func infoColumns(t *testing.T, db queryer, schema, table string) map[string]adapters.Type {
	t.Helper()
	rows := query(t, db, fmt.Sprintf(`SELECT column_name, data_type FROM information_schema.columns
		WHERE table_schema = '%s' AND table_name = '%s'`, schema, table))
	out := make(map[string]adapters.Type, len(rows))
	for _, r := range rows {
		out[r[0]] = infoType(r[1])
	}
	return out
}

// infoType maps a data_type of PostgreSQL's or DuckDB's
// information_schema.columns to a column type.
func infoType(dataType string) adapters.Type {
	switch strings.ToLower(dataType) {
	case "bigint":
		return adapters.Int
	case "double precision", "double":
		return adapters.Float
	case "text", "varchar", "character varying":
		return adapters.String
	case "boolean":
		return adapters.Bool
	case "timestamp with time zone":
		return adapters.Timestamp
	}
	return adapters.Type("?" + dataType)
}

// infoTables lists the tables of a schema from information_schema.tables.
func infoTables(t *testing.T, db queryer, schema string) []string {
	t.Helper()
	var out []string
	for _, r := range query(t, db, fmt.Sprintf(`SELECT table_name FROM information_schema.tables WHERE table_schema = '%s'`, schema)) {
		out = append(out, r[0])
	}
	slices.Sort(out)
	return out
}

// schemaOf is the warehouse schema of a test warehouse.
func schemaOf(t *testing.T, st store.Store, id string) string {
	t.Helper()
	rec, err := st.GetWarehouse(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return rec.Config["schema"]
}

// ingestBatched appends events and resolves them in batches of size.
func ingestBatched(t *testing.T, st store.Store, size int, evs []store.InboxEvent) {
	t.Helper()
	for part := range slices.Chunk(evs, 5000) {
		if _, err := st.Append(t.Context(), part, 24*time.Hour); err != nil {
			t.Fatalf("appending: %v", err)
		}
	}
	r := resolver.New(st, spaceID, resolver.Options{Logger: quietLogger(), BatchSize: size})
	for {
		n, err := r.Step(t.Context())
		if err != nil {
			t.Fatalf("resolving: %v", err)
		}
		if n == 0 {
			return
		}
	}
}

// discardRow is a row of the discards table: table, column, value, reason,
// row id.
type discardRow [5]string

func discardRows(t *testing.T, db queryer) []discardRow {
	t.Helper()
	var out []discardRow
	for _, r := range query(t, db, `SELECT table_name, column_name, column_value, reason, row_id, received_at
		FROM `+db.QualifiedName("discards")) {
		if r[5] == "∅" {
			t.Errorf("discard %v has no received_at", r)
		}
		v := r[2]
		if len(v) > 40 {
			v = fmt.Sprintf("%.10s…(%d bytes)", v, len(v))
		}
		out = append(out, discardRow{r[0], r[1], v, r[3], r[4]})
	}
	slices.SortFunc(out, func(a, b discardRow) int { return slices.Compare(a[:], b[:]) })
	return out
}

// TestEventTables lands events of every type with properties, traits and
// nested context over three syncs, in each warehouse, and checks the
// tables and columns (from information_schema), the values, the discards
// (each one), and that the row counts add up: every event in its event type
// table, every Track event also in its own table, every value either in a
// column or in discards.
func TestEventTables(t *testing.T) {
	for _, kind := range kinds() {
		t.Run(kind.name, func(t *testing.T) {
			st := openStore(t)
			kind.create(t, st, "wh1")
			acts := newActivities(st)
			h := newHarness(t, acts)
			db := warehouseDB(t, st, "wh1")
			schema := schemaOf(t, st, "wh1")
			_, canWiden := db.(adapters.Widener)
			big := strings.Repeat("x", 65536)
			wide := map[string]any{}
			for i := range 300 {
				wide[fmt.Sprintf("p%03d", i)] = i
			}

			// Sync 1.
			sync1 := []store.InboxEvent{
				event(1, "track", map[string]any{"userId": "u1", "event": "Order Completed",
					"properties": map[string]any{
						"revenue": 10, "when": "2026-01-01T00:00:00Z", "tags": []any{"a", "b"},
						"product": map[string]any{"sku": "s1", "price": 9.5},
						"id":      "custom", "3d": true, "select": "x", "firstName": "A", "first_name": "B",
						"big": big, "note": nil, "context_ip": "9.9.9.9",
					},
					"context": map[string]any{"ip": "1.2.3.4", "page": map[string]any{"path": "/checkout", "title": "Checkout"},
						"library": map[string]any{"name": "analytics.js", "version": "2.1"},
						"a":       map[string]any{"b": map[string]any{"c": map[string]any{"d": 1}}}},
				}),
				event(2, "track", map[string]any{"userId": "u1", "event": "Wide Event", "properties": wide}),
				event(3, "identify", map[string]any{"userId": "u1", "traits": map[string]any{
					"email": "jane@example.com", "plan": "pro", "address": map[string]any{"city": "Paris"}, "logins": 3, "user_id": "x"},
					"context": map[string]any{"ip": "1.2.3.4", "traits": map[string]any{"email": "jane@example.com"}}}),
				event(4, "page", map[string]any{"userId": "u1", "name": "Home", "properties": map[string]any{
					"name": "Home", "path": "/", "referrer": "https://r.example", "search": "?q=1", "title": "Home page",
					"url": "https://x.example/", "keywords": []any{"a", "b"}}}),
				event(5, "page", map[string]any{"userId": "u1", "properties": map[string]any{"name": "Pricing", "path": "/pricing"}}),
				event(6, "page", map[string]any{"userId": "u1", "name": "Docs", "properties": map[string]any{"name": "Other"}}),
				event(7, "screen", map[string]any{"userId": "u1", "name": "Settings", "properties": map[string]any{"theme": "dark"}}),
				event(8, "group", map[string]any{"userId": "u1", "groupId": "g1", "traits": map[string]any{"name": "Acme", "employees": 100}}),
				event(9, "alias", map[string]any{"userId": "u1", "previousId": "a1"}),
				event(10, "track", map[string]any{"userId": "u1", "event": "Tracks", "properties": map[string]any{"x": 1}}),
				event(11, "track", map[string]any{"userId": "u1", "event": "Events", "properties": map[string]any{"x": 1}}),
				event(12, "track", map[string]any{"userId": "u1", "event": "3 Doctors", "properties": map[string]any{"x": 1}}),
				// Within a chunk, the first value decides a new column's type
				// (but integers and floats make a float).
				event(13, "track", map[string]any{"userId": "u1", "event": "Signed Up", "properties": map[string]any{"mixed": "abc", "mixed2": 5, "n": 1}}),
				event(14, "track", map[string]any{"userId": "u1", "event": "Signed Up", "properties": map[string]any{"mixed": 5, "mixed2": "abc", "n": 1.5}}),
			}
			ingest(t, st, sync1...)
			out1 := eventSync(h, "wh1")

			// The event tables, and what PrepareSchema creates.
			wantTables := []string{"_3_doctors", "_events", "_profilesync_watermarks", "_tracks", "aliases", "discards",
				"external_id_mapping_updates", "groups", "id_graph_updates", "identifies", "order_completed", "pages",
				"profile_traits_updates", "screens", "signed_up", "tracks", "wide_event"}
			if got := infoTables(t, db, schema); !reflect.DeepEqual(got, wantTables) {
				t.Errorf("tables %v, want %v", got, wantTables)
			}
			std := stdColumns
			ctxCols := map[string]adapters.Type{
				"context_ip": adapters.String, "context_page_path": adapters.String, "context_page_title": adapters.String,
				"context_library_name": adapters.String, "context_library_version": adapters.String, "context_a_b_c_d": adapters.Int,
			}
			orderCols := with(std("order_completed"), ctxCols)
			maps.Copy(orderCols, map[string]adapters.Type{
				"revenue": adapters.Int, "_when": adapters.Timestamp, "tags": adapters.String, "product_sku": adapters.String,
				"product_price": adapters.Float, "_id": adapters.String, "_3d": adapters.Bool, "_select": adapters.String,
				"first_name": adapters.String,
			})
			wideCols := std("wide_event")
			for i := range 300 {
				wideCols[fmt.Sprintf("p%03d", i)] = adapters.Int
			}
			wantCols := map[string]map[string]adapters.Type{
				// tracks: the standard columns and the context only.
				"tracks":          with(std("tracks"), ctxCols),
				"order_completed": orderCols,
				"wide_event":      wideCols,
				"identifies": with(std("identifies"), map[string]adapters.Type{
					"email": adapters.String, "plan": adapters.String, "address_city": adapters.String, "logins": adapters.Int,
					"_user_id": adapters.String, "context_ip": adapters.String, "context_traits_email": adapters.String}),
				"pages": with(std("pages"), map[string]adapters.Type{
					"path": adapters.String, "referrer": adapters.String, "search": adapters.String, "title": adapters.String,
					"url": adapters.String, "keywords": adapters.String}),
				"screens":    with(std("screens"), map[string]adapters.Type{"theme": adapters.String}),
				"groups":     with(std("groups"), map[string]adapters.Type{"name": adapters.String, "employees": adapters.Int}),
				"aliases":    std("aliases"),
				"_tracks":    with(std("_tracks"), map[string]adapters.Type{"x": adapters.Int}),
				"_events":    with(std("_events"), map[string]adapters.Type{"x": adapters.Int}),
				"_3_doctors": with(std("_3_doctors"), map[string]adapters.Type{"x": adapters.Int}),
				"signed_up":  with(std("signed_up"), map[string]adapters.Type{"mixed": adapters.String, "mixed2": adapters.Int, "n": adapters.Float}),
			}
			for table, want := range wantCols {
				if got := infoColumns(t, db, schema, table); !reflect.DeepEqual(got, want) {
					t.Errorf("%s columns:\n got %v\nwant %v", table, got, want)
				}
			}

			q := func(cols, table string) [][]string {
				return query(t, db, "SELECT "+cols+" FROM "+db.QualifiedName(table)+" ORDER BY id")
			}
			check := func(name string, got, want [][]string) {
				t.Helper()
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s:\n got %v\nwant %v", name, got, want)
				}
			}
			check("order_completed", q(`id, event, event_text, user_id, revenue, _when, tags, product_sku, product_price, _id, _3d, _select,
				first_name, context_ip, context_page_path, context_library_version, context_a_b_c_d`, "order_completed"), [][]string{
				{"m1", "order_completed", "Order Completed", "u1", "10", "2026-01-01T00:00:00Z", `["a","b"]`, "s1", "9.5", "custom", "true", "x",
					"B", "1.2.3.4", "/checkout", "2.1", "1"},
			})
			check("tracks", q("id, event, event_text, context_ip, context_a_b_c_d", "tracks"), [][]string{
				{"m1", "order_completed", "Order Completed", "1.2.3.4", "1"},
				{"m10", "_tracks", "Tracks", "∅", "∅"},
				{"m11", "_events", "Events", "∅", "∅"},
				{"m12", "_3_doctors", "3 Doctors", "∅", "∅"},
				{"m13", "signed_up", "Signed Up", "∅", "∅"},
				{"m14", "signed_up", "Signed Up", "∅", "∅"},
				{"m2", "wide_event", "Wide Event", "∅", "∅"},
			})
			check("wide_event", q("id, p000, p150, p299", "wide_event"), [][]string{{"m2", "0", "150", "299"}})
			check("identifies", q("id, email, plan, address_city, logins, _user_id, context_traits_email", "identifies"), [][]string{
				{"m3", "jane@example.com", "pro", "Paris", "3", "x", "jane@example.com"},
			})
			check("pages", q("id, name, path, referrer, search, title, url, keywords", "pages"), [][]string{
				{"m4", "Home", "/", "https://r.example", "?q=1", "Home page", "https://x.example/", `["a","b"]`},
				{"m5", "Pricing", "/pricing", "∅", "∅", "∅", "∅", "∅"},
				{"m6", "Docs", "∅", "∅", "∅", "∅", "∅", "∅"},
			})
			check("screens", q("id, name, theme", "screens"), [][]string{{"m7", "Settings", "dark"}})
			check("groups", q("id, group_id, name, employees", "groups"), [][]string{{"m8", "g1", "Acme", "100"}})
			check("aliases", q("id, previous_id, segment_id IS NOT NULL, event_source_id", "aliases"), [][]string{{"m9", "a1", "true", sourceID}})
			check("signed_up", q("id, mixed, mixed2, n", "signed_up"), [][]string{{"m13", "abc", "5", "1"}, {"m14", "5", "∅", "1.5"}})
			check("segment_id everywhere", query(t, db, `SELECT count(*) FROM `+db.QualifiedName("order_completed")+` WHERE segment_id IS NULL OR event_source_id IS NULL`),
				[][]string{{"0"}})

			wantDiscards := []discardRow{
				{"order_completed", "big", "xxxxxxxxxx…(65536 bytes)", "string longer than 65535 bytes", "m1"},
				{"order_completed", "context_ip", "9.9.9.9", "property context_ip has the same column as context.ip", "m1"},
				{"order_completed", "first_name", "A", "property firstName has the same column as property first_name", "m1"},
				{"pages", "name", "Other", "property name differs from the name of the page", "m6"},
				{"signed_up", "mixed2", "abc", "string in integer column", "m14"},
			}
			if got := discardRows(t, db); !reflect.DeepEqual(got, wantDiscards) {
				t.Errorf("discards after sync 1:\n got %v\nwant %v", got, wantDiscards)
			}
			checkCounts(t, db, out1, sync1, len(wantDiscards))

			// Sync 2: a whole float and a fraction for the integer revenue, a
			// plain string for the timestamp when, an integer for the float
			// price.
			sync2 := []store.InboxEvent{
				event(15, "track", map[string]any{"userId": "u1", "event": "Order Completed", "properties": map[string]any{
					"revenue": json.Number("12.0"), "when": "tomorrow", "product": map[string]any{"price": 10}}}),
				event(16, "track", map[string]any{"userId": "u1", "event": "Order Completed", "properties": map[string]any{"revenue": 12.5}}),
			}
			ingest(t, st, sync2...)
			out2 := eventSync(h, "wh1")
			revenueType, revenue := adapters.Int, [][]string{{"m1", "10"}, {"m15", "12"}, {"m16", "∅"}}
			wantDiscards = append(wantDiscards,
				discardRow{"order_completed", "_when", "tomorrow", "string is not an RFC 3339 timestamp", "m15"})
			if canWiden {
				revenueType, revenue = adapters.Float, [][]string{{"m1", "10"}, {"m15", "12"}, {"m16", "12.5"}}
			} else {
				wantDiscards = append(wantDiscards,
					discardRow{"order_completed", "revenue", "12.5", "fractional number in integer column", "m16"})
			}
			cols := infoColumns(t, db, schema, "order_completed")
			if cols["revenue"] != revenueType || cols["_when"] != adapters.Timestamp || cols["product_price"] != adapters.Float {
				t.Errorf("after sync 2: revenue %s, when %s, product_price %s; want %s, timestamp, float",
					cols["revenue"], cols["_when"], cols["product_price"], revenueType)
			}
			check("revenue", q("id, revenue", "order_completed"), revenue)
			check("when, price", q(`id, _when, product_price`, "order_completed"), [][]string{
				{"m1", "2026-01-01T00:00:00Z", "9.5"}, {"m15", "∅", "10"}, {"m16", "∅", "∅"}})
			slices.SortFunc(wantDiscards, func(a, b discardRow) int { return slices.Compare(a[:], b[:]) })
			if got := discardRows(t, db); !reflect.DeepEqual(got, wantDiscards) {
				t.Errorf("discards after sync 2:\n got %v\nwant %v", got, wantDiscards)
			}
			checkCounts(t, db, out2, sync2, len(wantDiscards)-5)

			// Sync 3: a string for revenue and for the integer trait logins,
			// and a new property.
			sync3 := []store.InboxEvent{
				event(17, "track", map[string]any{"userId": "u1", "event": "Order Completed", "properties": map[string]any{"revenue": "lots", "coupon": "SAVE"}}),
				event(18, "identify", map[string]any{"userId": "u1", "traits": map[string]any{"logins": "many"}}),
			}
			ingest(t, st, sync3...)
			before := len(wantDiscards)
			out3 := eventSync(h, "wh1")
			reason := "string in integer column"
			if canWiden {
				reason = "string in float column"
			}
			wantDiscards = append(wantDiscards,
				discardRow{"order_completed", "revenue", "lots", reason, "m17"},
				discardRow{"identifies", "logins", "many", "string in integer column", "m18"})
			slices.SortFunc(wantDiscards, func(a, b discardRow) int { return slices.Compare(a[:], b[:]) })
			if got := discardRows(t, db); !reflect.DeepEqual(got, wantDiscards) {
				t.Errorf("discards after sync 3:\n got %v\nwant %v", got, wantDiscards)
			}
			if got := infoColumns(t, db, schema, "order_completed")["coupon"]; got != adapters.String {
				t.Errorf("coupon column: %q", got)
			}
			check("coupon", q("id, coupon, revenue", "order_completed"), [][]string{
				{"m1", "∅", "10"}, {"m15", "∅", "12"}, {"m16", "∅", revenue[2][1]}, {"m17", "SAVE", "∅"}})
			checkCounts(t, db, out3, sync3, len(wantDiscards)-before)

			// Every table's rows, over the three syncs: each event once in
			// its event type table, each Track event once more in its own.
			total := map[string]int64{}
			for _, o := range []workflows.LoadOutput{out1, out2, out3} {
				for table, n := range o.Tables {
					total[table] += n
				}
			}
			for table, n := range total {
				if got := count(t, db, table); got != n {
					t.Errorf("%s has %d rows, the loads reported %d", table, got, n)
				}
			}
			if total["discards"] != int64(len(wantDiscards)) {
				t.Errorf("discards reported %d, want %d", total["discards"], len(wantDiscards))
			}
		})
	}
}

// checkCounts checks one load's output against the events it loaded: each
// event in its event type table, each Track event in its own table too (and
// the report puts those in the event group, the others in the event type
// group), and n discarded values.
func checkCounts(t *testing.T, db queryer, out workflows.LoadOutput, evs []store.InboxEvent, discards int) {
	t.Helper()
	want := map[string]int64{}
	for _, ev := range evs {
		want[eventTables[ev.Type]]++
		if ev.Type == "track" {
			var p struct{ Event string }
			if err := json.Unmarshal(ev.Payload, &p); err != nil {
				t.Fatal(err)
			}
			want[trackTable(p.Event)]++
		}
	}
	if discards > 0 {
		want["discards"] = int64(discards)
	}
	if !reflect.DeepEqual(out.Tables, want) {
		t.Errorf("LoadOutput.Tables = %v, want %v", out.Tables, want)
	}
	var sum, typeRows, eventRows int64
	for table, n := range out.Tables {
		sum += n
		switch workflows.TableGroup(table) {
		case workflows.GroupEventType:
			if table != "discards" {
				typeRows += n
			}
		case workflows.GroupEvent:
			eventRows += n
		default:
			t.Errorf("table %s in report group %s", table, workflows.TableGroup(table))
		}
	}
	tracks := want["tracks"]
	if sum != out.Rows || typeRows != int64(len(evs)) || eventRows != tracks {
		t.Errorf("rows %d (reported %d): %d in event type tables for %d events, %d in event tables for %d Track events",
			sum, out.Rows, typeRows, len(evs), eventRows, tracks)
	}
}

// trackTable is the table the tests expect for a Track event name.
func trackTable(event string) string {
	switch event {
	case "Tracks":
		return "_tracks"
	case "Events":
		return "_events"
	case "3 Doctors":
		return "_3_doctors"
	}
	return strings.ReplaceAll(strings.ToLower(event), " ", "_")
}

// TestManyEventTables lands Track events of 2,000 names, then one more
// event of each with a new property: 2,000 tables created, then 2,000
// altered, with the row counts per table and in total, on both warehouses.
// PROFILESYNC_TEST_EVENT_NAMES sets fewer names for a quick local run
// (DuckDB spends about 20 ms of statements per table and load, so 2,000
// names take it over a minute).
func TestManyEventTables(t *testing.T) {
	for _, kind := range kinds() {
		t.Run(kind.name, func(t *testing.T) {
			names := 2000
			if n, err := strconv.Atoi(os.Getenv("PROFILESYNC_TEST_EVENT_NAMES")); err == nil && n > 0 && n <= 10000 {
				names = n // fewer for a quick local run
			}
			st := openStore(t)
			kind.create(t, st, "wh1")
			acts := newActivities(st)
			h := newHarness(t, acts)
			db := warehouseDB(t, st, "wh1")
			schema := schemaOf(t, st, "wh1")
			batch := func(first int, props func(i int) map[string]any) []store.InboxEvent {
				evs := make([]store.InboxEvent, names)
				for i := range evs {
					evs[i] = event(first+i, "track", map[string]any{"userId": fmt.Sprintf("u%d", i%50),
						"event": fmt.Sprintf("Event %04d", i), "properties": props(i),
						"context": map[string]any{"library": map[string]any{"name": "analytics.js"}}})
				}
				return evs
			}
			ingestBatched(t, st, 500, batch(1, func(i int) map[string]any { return map[string]any{"n": i} }))
			start := time.Now()
			out1 := eventSync(h, "wh1")
			first := time.Since(start)
			ingestBatched(t, st, 500, batch(1+names, func(i int) map[string]any { return map[string]any{"n": i, "added": "yes"} }))
			start = time.Now()
			out2 := eventSync(h, "wh1")
			second := time.Since(start)
			t.Logf("%s: %d event names: first sync (tables created) %v, second (a column added to each) %v",
				kind.name, names, first.Round(time.Millisecond), second.Round(time.Millisecond))

			var tables []string
			for _, name := range infoTables(t, db, schema) {
				if strings.HasPrefix(name, "event_") {
					tables = append(tables, name)
				}
			}
			if len(tables) != names || tables[0] != "event_0000" || tables[len(tables)-1] != fmt.Sprintf("event_%04d", names-1) {
				t.Fatalf("%d event tables (%v ... ), want %d", len(tables), tables[:min(3, len(tables))], names)
			}
			for _, out := range []workflows.LoadOutput{out1, out2} {
				if len(out.Tables) != names+1 || out.Tables["tracks"] != int64(names) || out.Rows != 2*int64(names) {
					t.Errorf("LoadOutput: %d tables, %d rows, tracks %d; want %d, %d, %d", len(out.Tables), out.Rows, out.Tables["tracks"], names+1, 2*names, names)
				}
				for _, table := range tables {
					if out.Tables[table] != 1 {
						t.Errorf("LoadOutput.Tables[%s] = %d, want 1", table, out.Tables[table])
					}
				}
			}
			// Every table's rows and columns, a few hundred tables per query.
			var rows int64
			for part := range slices.Chunk(tables, 250) {
				var sel []string
				for _, table := range part {
					sel = append(sel, "SELECT count(*) AS n, count(added) AS a, sum(n) AS s FROM "+db.QualifiedName(table))
				}
				for _, r := range query(t, db, "SELECT sum(n), sum(a), count(*) FROM ("+strings.Join(sel, " UNION ALL ")+") AS t") {
					var n, a, c int64
					fmt.Sscan(r[0], &n)
					fmt.Sscan(r[1], &a)
					fmt.Sscan(r[2], &c)
					if a != int64(len(part)) || c != int64(len(part)) {
						t.Errorf("%d tables, %d with the added value; want %d", c, a, len(part))
					}
					rows += n
				}
			}
			if rows != 2*int64(names) || count(t, db, "tracks") != 2*int64(names) {
				t.Errorf("%d rows in the event tables, %d in tracks; want %d each", rows, count(t, db, "tracks"), 2*names)
			}
			k := names * 3 / 5
			table := fmt.Sprintf("event_%04d", k)
			want := with(stdColumns(table), map[string]adapters.Type{"n": adapters.Int, "added": adapters.String, "context_library_name": adapters.String})
			if got := infoColumns(t, db, schema, table); !reflect.DeepEqual(got, want) {
				t.Errorf("%s columns:\n got %v\nwant %v", table, got, want)
			}
			if got := query(t, db, "SELECT id, n, added FROM "+db.QualifiedName(table)+" ORDER BY n, id"); !reflect.DeepEqual(got, [][]string{
				{fmt.Sprintf("m%d", k+1), strconv.Itoa(k), "∅"}, {fmt.Sprintf("m%d", k+1+names), strconv.Itoa(k), "yes"}}) {
				t.Errorf("%s rows: %v", table, got)
			}
		})
	}
}

// TestColumnLimit sends an event with more properties than a PostgreSQL
// table takes: the columns past the limit are left out, in name order, and
// their values discarded; the rest of the row lands.
func TestColumnLimit(t *testing.T) {
	st := openStore(t)
	kinds()[0].create(t, st, "wh1")
	h := newHarness(t, newActivities(st))
	db := warehouseDB(t, st, "wh1")
	props := map[string]any{}
	for i := range 1600 {
		props[fmt.Sprintf("p%04d", i)] = "v"
	}
	ingest(t, st, event(1, "track", map[string]any{"userId": "u1", "event": "Too Wide", "properties": props}))
	out := eventSync(h, "wh1")
	std := len(adapters.EventTable("too_wide").Columns)
	kept := db.Dialect().MaxColumns() - std
	cols := infoColumns(t, db, schemaOf(t, st, "wh1"), "too_wide")
	if len(cols) != db.Dialect().MaxColumns() || cols[fmt.Sprintf("p%04d", kept-1)] != adapters.String || cols[fmt.Sprintf("p%04d", kept)] != "" {
		t.Errorf("too_wide has %d columns, want %d up to p%04d", len(cols), db.Dialect().MaxColumns(), kept-1)
	}
	var want []discardRow
	for i := kept; i < 1600; i++ {
		want = append(want, discardRow{"too_wide", fmt.Sprintf("p%04d", i), "v", "table too_wide has the most columns the warehouse allows (1600)", "m1"})
	}
	if got := discardRows(t, db); !reflect.DeepEqual(got, want) {
		t.Errorf("discards:\n got %v\nwant %v", got, want)
	}
	if out.Tables["too_wide"] != 1 || out.Tables["discards"] != int64(1600-kept) {
		t.Errorf("LoadOutput = %+v", out)
	}
	if got := query(t, db, "SELECT p0000, p1000 FROM "+db.QualifiedName("too_wide")); !reflect.DeepEqual(got, [][]string{{"v", "v"}}) {
		t.Errorf("too_wide row: %v", got)
	}
}

// stdColumns are the standard columns of an event table.
func stdColumns(table string) map[string]adapters.Type {
	m := map[string]adapters.Type{}
	for _, c := range adapters.EventTable(table).Columns {
		m[c.Name] = c.Type
	}
	return m
}

// with returns m with cols added.
func with(m map[string]adapters.Type, cols map[string]adapters.Type) map[string]adapters.Type {
	m = maps.Clone(m)
	maps.Copy(m, cols)
	return m
}

// TestLongNames sends an event name and property names longer than
// PostgreSQL keeps: the table and columns get shortened names that keep
// them apart (columns.Namer), and the values land in them.
func TestLongNames(t *testing.T) {
	for _, kind := range kinds() {
		t.Run(kind.name, func(t *testing.T) {
			st := openStore(t)
			kind.create(t, st, "wh1")
			h := newHarness(t, newActivities(st))
			db := warehouseDB(t, st, "wh1")
			long := strings.Repeat("Very Long Name ", 20) // 300 bytes
			ingest(t, st, event(1, "track", map[string]any{"userId": "u1", "event": long + "Event",
				"properties": map[string]any{long + "A": "a", long + "B": "b"}}))
			out := eventSync(h, "wh1")

			names := columns.NewNamer(columns.RulesFor(db.Dialect())).ReservingTables(workflows.ReportEvents, workflows.ReportMaterialize)
			table := names.Table(long + "Event")
			colA, colB := names.ForEventTable(table).Column(long+"A"), names.ForEventTable(table).Column(long+"B")
			limit := db.Dialect().MaxIdentLength()
			if len(table) > limit || len(colA) > limit || colA == colB {
				t.Fatalf("names %q, %q, %q for a limit of %d", table, colA, colB, limit)
			}
			if out.Tables[table] != 1 {
				t.Errorf("LoadOutput = %+v, want a row in %s", out, table)
			}
			cols := infoColumns(t, db, schemaOf(t, st, "wh1"), table)
			if cols[colA] != adapters.String || cols[colB] != adapters.String {
				t.Errorf("%s columns: %v, want %s and %s", table, cols, colA, colB)
			}
			q := fmt.Sprintf("SELECT %s, %s FROM %s", db.Dialect().QuoteIdent(colA), db.Dialect().QuoteIdent(colB), db.QualifiedName(table))
			if got := query(t, db, q); !reflect.DeepEqual(got, [][]string{{"a", "b"}}) {
				t.Errorf("%s: %v", table, got)
			}
		})
	}
}
