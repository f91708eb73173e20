package adaptertest

import (
	"testing"

	"github.com/profilesync/profilesync/adapters"
)

// testWidenColumn: an Int column widens to Float in place, keeping its
// values and taking fractions afterwards; widening again changes nothing;
// other changes, and missing tables and columns, are errors that change
// nothing. Warehouses without adapters.Widener skip it.
func testWidenColumn(t *testing.T, open Open) {
	e := setup(t, open)
	wd, ok := e.w.(adapters.Widener)
	if !ok {
		t.Skipf("%T does not implement adapters.Widener", e.w)
	}
	e.ensure(adapters.Table{Name: "orders", Columns: []adapters.Column{
		{Name: "id", Type: adapters.String},
		{Name: "revenue", Type: adapters.Int},
		{Name: "note", Type: adapters.String},
	}})
	e.load(adapters.Chunk{Stream: "s", After: 0, Upto: 1, Tables: []adapters.Rows{{
		Table: "orders", Columns: []string{"id", "revenue", "note"},
		Values: [][]any{{"a", int64(10), "x"}, {"b", int64(-3), nil}, {"c", nil, "y"}},
	}}})
	for range 2 { // the second time, a no-op
		if err := wd.WidenColumn(e.ctx, "orders", "revenue", adapters.Float); err != nil {
			t.Fatalf("WidenColumn(orders.revenue, float): %v", err)
		}
	}
	types := map[string]adapters.Type{}
	for _, c := range e.columns("orders") {
		types[c.Name] = c.Type
	}
	if types["revenue"] != adapters.Float || types["note"] != adapters.String || len(types) != 3 {
		t.Errorf("columns after widening: %v, want revenue float", types)
	}
	e.load(adapters.Chunk{Stream: "s", After: 1, Upto: 2, Tables: []adapters.Rows{{
		Table: "orders", Columns: []string{"id", "revenue"}, Values: [][]any{{"d", 12.5}},
	}}})
	e.wantRows("orders after widening", e.rows("orders", "id", "revenue", "note"), [][]any{
		{"a", 10.0, "x"}, {"b", -3.0, nil}, {"c", nil, "y"}, {"d", 12.5, nil},
	})

	for _, bad := range []struct {
		table, column string
		to            adapters.Type
	}{
		{"orders", "note", adapters.Int},       // string to int: no
		{"orders", "revenue", adapters.Int},    // narrowing: no
		{"orders", "note", adapters.Float},     // string to float: no
		{"orders", "missing", adapters.Float},  // no such column
		{"missing", "revenue", adapters.Float}, // no such table
	} {
		if err := wd.WidenColumn(e.ctx, bad.table, bad.column, bad.to); err == nil {
			t.Errorf("WidenColumn(%s.%s, %s) succeeded", bad.table, bad.column, bad.to)
		}
	}
	for _, c := range e.columns("orders") {
		if c.Type != types[c.Name] {
			t.Errorf("a refused widening changed %s to %s", c.Name, c.Type)
		}
	}
}
