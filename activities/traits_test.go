package activities

import (
	"reflect"
	"testing"

	"github.com/profilesync/profilesync/adapters"
	"github.com/profilesync/profilesync/workflows"
)

// TestTraitColumns lands trait snapshots with nested, reserved, colliding
// and differently typed traits: the columns are named and typed by the
// columns package, and what does not fit goes to the discards table
// instead of failing the load.
func TestTraitColumns(t *testing.T) {
	for _, kind := range kinds() {
		t.Run(kind.name, func(t *testing.T) {
			st := openStore(t)
			kind.create(t, st, "wh1")
			acts := newActivities(st)
			h := newHarness(t, acts)
			db := warehouseDB(t, st, "wh1")
			must[struct{}](h, acts.PrepareSchema, workflows.WarehouseRef{WarehouseID: "wh1"})
			load := func() workflows.LoadOutput {
				plan := must[workflows.Plan](h, acts.PlanSync, workflows.PlanInput{WarehouseID: "wh1"})
				return must[workflows.LoadOutput](h, acts.LoadIdentity, workflows.LoadInput{
					WarehouseID: "wh1", Table: workflows.TableProfileTraitsUpdates, UptoSeq: plan.UptoSeq})
			}

			ingest(t, st,
				event(1, "identify", map[string]any{"anonymousId": "x1", "traits": map[string]any{
					"seq": 5, "id": "custom", "firstName": "A", "first_name": "B",
					"address": map[string]any{"street": "Main St", "zip": 12345}, "tags": []any{"a", "b"},
					"logins": 3, "score": 2.5, "vip": true, "birthday": "1990-01-01T00:00:00Z",
				}}),
				event(2, "identify", map[string]any{"anonymousId": "x1", "traits": map[string]any{"logins": "many", "score": 4}}),
			)
			out := load()
			if want := map[string]int64{"profile_traits_updates": 2, "discards": 3}; !reflect.DeepEqual(out.Tables, want) {
				t.Errorf("first load = %+v, want %v", out, want)
			}
			tables, err := db.Tables(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			types := map[string]adapters.Type{}
			for _, c := range adapters.TraitColumns(tables["profile_traits_updates"]) {
				types[c.Name] = c.Type
			}
			wantTypes := map[string]adapters.Type{
				"_seq": adapters.Int, "_id": adapters.String, "first_name": adapters.String,
				"address_street": adapters.String, "address_zip": adapters.Int, "tags": adapters.String,
				"logins": adapters.Int, "score": adapters.Float, "vip": adapters.Bool, "birthday": adapters.Timestamp,
			}
			if !reflect.DeepEqual(types, wantTypes) {
				t.Errorf("trait columns %v, want %v", types, wantTypes)
			}
			rows := query(t, db, `SELECT _seq, _id, first_name, address_street, address_zip, tags, logins, score, vip, birthday, triggering_event_id
				FROM `+db.QualifiedName("profile_traits_updates")+` ORDER BY seq`)
			want := [][]string{
				{"5", "custom", "B", "Main St", "12345", `["a","b"]`, "3", "2.5", "true", "1990-01-01T00:00:00Z", "m1"},
				{"5", "custom", "B", "Main St", "12345", `["a","b"]`, "∅", "4", "true", "1990-01-01T00:00:00Z", "m2"},
			}
			if !reflect.DeepEqual(rows, want) {
				t.Errorf("profile_traits_updates:\n got %v\nwant %v", rows, want)
			}
			discards := func() [][]string {
				return query(t, db, `SELECT d.column_name, d.column_value, d.reason, u.triggering_event_id
					FROM `+db.QualifiedName("discards")+` d JOIN `+db.QualifiedName("profile_traits_updates")+` u ON u.id = d.row_id
					WHERE d.table_name = 'profile_traits_updates' ORDER BY u.seq, d.column_name, d.reason`)
			}
			wantDiscards := [][]string{
				{"first_name", "A", "trait firstName has the same column as trait first_name", "m1"},
				{"first_name", "A", "trait firstName has the same column as trait first_name", "m2"},
				{"logins", "many", "string in integer column", "m2"},
			}
			if got := discards(); !reflect.DeepEqual(got, wantDiscards) {
				t.Errorf("discards:\n got %v\nwant %v", got, wantDiscards)
			}

			// profile_traits takes the trait columns and their types.
			plan := must[workflows.Plan](h, acts.PlanSync, workflows.PlanInput{WarehouseID: "wh1"})
			for _, table := range []string{workflows.TableIDGraphUpdates, workflows.TableExternalIDMappingUpdates} {
				must[workflows.LoadOutput](h, acts.LoadIdentity, workflows.LoadInput{WarehouseID: "wh1", Table: table, UptoSeq: plan.UptoSeq})
			}
			must[workflows.LoadOutput](h, acts.Materialize, workflows.MaterializeInput{WarehouseID: "wh1", UptoSeq: plan.UptoSeq})

			// The next load meets the columns as they are: a fraction in an
			// int column widens it to float (where the warehouse can: or
			// else it is discarded), a string in a float column is
			// discarded, a new trait adds a column.
			_, canWiden := db.(adapters.Widener)
			ingest(t, st, event(3, "identify", map[string]any{"anonymousId": "x1", "traits": map[string]any{"logins": 7.5, "score": "high", "plan": "pro"}}))
			out = load()
			wantOut, logins := map[string]int64{"profile_traits_updates": 1, "discards": 3}, "∅"
			if canWiden {
				wantOut, logins = map[string]int64{"profile_traits_updates": 1, "discards": 2}, "7.5"
			}
			if !reflect.DeepEqual(out.Tables, wantOut) {
				t.Errorf("second load = %+v, want %v", out, wantOut)
			}
			rows = query(t, db, `SELECT logins, score, plan FROM `+db.QualifiedName("profile_traits_updates")+` WHERE triggering_event_id = 'm3'`)
			if want := [][]string{{logins, "∅", "pro"}}; !reflect.DeepEqual(rows, want) {
				t.Errorf("third snapshot = %v, want %v", rows, want)
			}
			wantDiscards = append(wantDiscards,
				[]string{"first_name", "A", "trait firstName has the same column as trait first_name", "m3"})
			if !canWiden {
				wantDiscards = append(wantDiscards, []string{"logins", "7.5", "fractional number in integer column", "m3"})
			}
			wantDiscards = append(wantDiscards, []string{"score", "high", "string in float column", "m3"})
			if got := discards(); !reflect.DeepEqual(got, wantDiscards) {
				t.Errorf("discards:\n got %v\nwant %v", got, wantDiscards)
			}
			if canWiden {
				tables, err := db.Tables(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				for _, table := range []string{"profile_traits_updates", "profile_traits"} {
					for _, c := range tables[table] {
						if c.Name == "logins" && c.Type != adapters.Float {
							t.Errorf("%s.logins is %s, want float", table, c.Type)
						}
					}
				}
				plan = must[workflows.Plan](h, acts.PlanSync, workflows.PlanInput{WarehouseID: "wh1"})
				must[workflows.LoadOutput](h, acts.Materialize, workflows.MaterializeInput{WarehouseID: "wh1", UptoSeq: plan.UptoSeq})
				if got := query(t, db, `SELECT logins FROM `+db.QualifiedName("profile_traits")+` WHERE merged_to IS NULL`); !reflect.DeepEqual(got, [][]string{{"7.5"}}) {
					t.Errorf("profile_traits.logins = %v, want 7.5", got)
				}
			}
		})
	}
}
