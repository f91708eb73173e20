package duckdb

import (
	"context"
	"database/sql"
	"testing"

	"github.com/profilesync/profilesync/adapters"
)

func TestEnsureTableKeysAndCase(t *testing.T) {
	w := openTemp(t, "main")
	ctx := t.Context()
	// A landed table without "id" gets it, first, as its primary key.
	if err := w.EnsureTable(ctx, adapters.Table{Name: "Events", Columns: []adapters.Column{{Name: "Email", Type: adapters.String}}}); err != nil {
		t.Fatal(err)
	}
	wantRows(t, w, `SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'Events' ORDER BY ordinal_position`,
		"id|VARCHAR", "Email|VARCHAR")
	wantRows(t, w, primaryKey("Events"), "id")

	// Names compare case-insensitively, as DuckDB's do: "email" is present,
	// "events" is the same table.
	err := w.EnsureTable(ctx, adapters.Table{Name: "events", Columns: []adapters.Column{
		{Name: "email", Type: adapters.String}, {Name: "Age", Type: adapters.Int}}})
	if err != nil {
		t.Fatal(err)
	}
	tables, err := w.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := tables["Events"]; len(got) != 3 || got[1].Name != "Email" || got[2] != (adapters.Column{Name: "Age", Type: adapters.Int}) {
		t.Errorf("columns %v", got)
	}
	// Two columns that differ only in case are refused.
	err = w.EnsureTable(ctx, adapters.Table{Name: "dup", Columns: []adapters.Column{
		{Name: "id", Type: adapters.String}, {Name: "a", Type: adapters.String}, {Name: "A", Type: adapters.Int}}})
	if err == nil {
		t.Error("EnsureTable accepted columns a and A")
	}
	if err := w.EnsureTable(ctx, adapters.Table{Name: "t", Columns: []adapters.Column{{Name: "x", Type: "decimal"}}}); err == nil {
		t.Error("EnsureTable accepted an unknown type")
	}

	// A current-state table gets its own key and columns.
	if err := w.EnsureTable(ctx, adapters.Table{Name: adapters.TableUserTraits}); err != nil {
		t.Fatal(err)
	}
	wantRows(t, w, primaryKey("user_traits"), "canonical_segment_id,name")
}

// primaryKey is a query of the primary key columns of a table.
func primaryKey(table string) string {
	return `SELECT array_to_string(constraint_column_names, ',') FROM duckdb_constraints()
		WHERE table_name = '` + table + `' AND constraint_type = 'PRIMARY KEY'`
}

func TestTablesListsOnlyTheSchema(t *testing.T) {
	w := openTemp(t, "Space One")
	other := openAt(t, w.Path(), "other")
	ctx := t.Context()
	for _, wh := range []*Warehouse{w, other} {
		if err := wh.EnsureTable(ctx, adapters.Table{Name: "t_" + wh.Schema(), Columns: []adapters.Column{{Name: "id", Type: adapters.String}}}); err != nil {
			t.Fatal(err)
		}
	}
	// A column of a type the adapter never creates keeps DuckDB's name.
	if err := w.do(ctx, "alter", func(c *sql.Conn) error {
		_, err := c.ExecContext(ctx, "ALTER TABLE "+w.table("t_Space One")+" ADD COLUMN amount DECIMAL(10, 2)")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	tables, err := w.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) != 2 || tables[WatermarksTable] == nil {
		t.Errorf("tables %v", tables)
	}
	if got := tables["t_Space One"]; len(got) != 2 || got[1].Type != adapters.Float {
		t.Errorf("t_Space One: %v", got)
	}
	if err := w.do(ctx, "alter", func(c *sql.Conn) error {
		_, err := c.ExecContext(context.Background(), "ALTER TABLE "+w.table("t_Space One")+" ADD COLUMN tags VARCHAR[]")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	tables, _ = w.Tables(ctx)
	if got := tables["t_Space One"]; len(got) != 3 || got[2].Type != "varchar[]" {
		t.Errorf("t_Space One: %v", got)
	}
}

// TestHostileSchema: the whole life cycle works in a schema whose name is
// SQL, with tables and trait columns whose names are reserved words or SQL.
func TestHostileSchema(t *testing.T) {
	for _, schema := range []string{`"; DROP TABLE x; --`, "select", "MixedCase"} {
		t.Run(schema, func(t *testing.T) {
			w := openTemp(t, schema)
			if steps, err := w.Test(t.Context()); err != nil {
				t.Fatalf("Test: %v %+v", err, steps)
			}
			l := newChangeLog(
				adapters.Column{Name: `"; DROP TABLE x; --`, Type: adapters.String},
				adapters.Column{Name: "select", Type: adapters.Int},
				adapters.Column{Name: "MixedCase", Type: adapters.Bool},
				adapters.Column{Name: "name", Type: adapters.String},
				adapters.Column{Name: "value", Type: adapters.String},
			)
			l.graph(1, "P1", "P1")
			l.mapping(2, "P1", "email", "a@b.c")
			l.snapshot(3, "P1", map[string]any{`"; DROP TABLE x; --`: "x", "select": int64(7), "MixedCase": true, "name": "Ann", "value": "v"})
			l.load(t, w, 0, 3)
			materialize(t, w, 3)
			wantRows(t, w, "SELECT canonical_segment_id, name, value FROM "+w.table("user_traits"),
				`P1|"; DROP TABLE x; --|x`, "P1|select|7", "P1|MixedCase|true", "P1|name|Ann", "P1|value|v")
			wantRows(t, w, `SELECT "select", "MixedCase", "name", "value" FROM `+w.table("profile_traits"), "7|true|Ann|v")
		})
	}
}
