package adaptertest

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/profilesync/profilesync/adapters"
)

// testConnection: every step of the connection test passes on a good
// connection, and the scratch table is gone afterwards.
func testConnection(t *testing.T, open Open) {
	e := setup(t, open)
	before, err := e.w.Tables(e.ctx)
	if err != nil {
		t.Fatalf("Tables: %v", err)
	}
	steps, err := e.w.Test(e.ctx)
	if err != nil {
		t.Fatalf("Test: %v (steps %+v)", err, steps)
	}
	var names []string
	for _, s := range steps {
		names = append(names, s.Name)
		if !s.OK || s.Error != "" {
			t.Errorf("step %s: ok=%v error=%q", s.Name, s.OK, s.Error)
		}
		if s.Duration < 0 {
			t.Errorf("step %s: negative duration %v", s.Name, s.Duration)
		}
	}
	want := []string{"connect", "create_schema", "create_table", "write_read", "clean_up"}
	if !slices.Equal(names, want) {
		t.Errorf("steps %v, want %v", names, want)
	}
	after, err := e.w.Tables(e.ctx)
	if err != nil {
		t.Fatalf("Tables: %v", err)
	}
	for name := range after {
		if _, ok := before[name]; !ok {
			t.Errorf("Test left table %q behind", name)
		}
	}
}

// testEnsureSchema: EnsureSchema is idempotent and a fresh schema has no
// watermarks.
func testEnsureSchema(t *testing.T, open Open) {
	e := setup(t, open)
	for range 2 {
		if err := e.w.EnsureSchema(e.ctx); err != nil {
			t.Fatalf("EnsureSchema again: %v", err)
		}
	}
	tables, err := e.w.Tables(e.ctx)
	if err != nil {
		t.Fatalf("Tables: %v", err)
	}
	for name := range tables {
		if !strings.HasPrefix(name, "_") {
			t.Errorf("fresh schema lists table %q", name)
		}
	}
	if wm := e.watermark("never_loaded"); wm != 0 {
		t.Errorf("Watermark of a new stream = %d, want 0", wm)
	}
}

// testEnsureTable: create, add columns in several batches keeping the data,
// never drop or retype.
func testEnsureTable(t *testing.T, open Open) {
	e := setup(t, open)
	base := adapters.Table{Name: "widgets", Columns: []adapters.Column{
		{Name: "id", Type: adapters.String},
		{Name: "name", Type: adapters.String},
	}}
	e.ensure(base, base) // idempotent
	if got := columnMap(e.columns("widgets")); !(got["id"] == adapters.String && got["name"] == adapters.String && len(got) == 2) {
		t.Fatalf("columns after create: %v", got)
	}
	e.load(adapters.Chunk{Stream: "widgets", Upto: 1, Tables: []adapters.Rows{{
		Table: "widgets", Columns: []string{"id", "name"}, Values: [][]any{{"w1", "first"}},
	}}})

	// Add one column of each type and enough others to need several batches.
	wider := base
	wider.Columns = append(slices.Clone(base.Columns),
		adapters.Column{Name: "count", Type: adapters.Int},
		adapters.Column{Name: "ratio", Type: adapters.Float},
		adapters.Column{Name: "active", Type: adapters.Bool},
		adapters.Column{Name: "seen_at", Type: adapters.Timestamp},
	)
	for i := range 250 {
		wider.Columns = append(wider.Columns, adapters.Column{Name: "extra_" + strings.Repeat("x", i%7) + strconv.Itoa(i), Type: adapters.String})
	}
	e.ensure(wider, wider)
	got := columnMap(e.columns("widgets"))
	for _, c := range wider.Columns {
		if got[c.Name] != c.Type {
			t.Errorf("column %s: type %q, want %q", c.Name, got[c.Name], c.Type)
		}
	}
	if len(got) != len(wider.Columns) {
		t.Errorf("%d columns, want %d", len(got), len(wider.Columns))
	}
	e.wantRows("existing data after adding columns", e.rows("widgets", "id", "name", "count", "active"),
		[][]any{{"w1", "first", nil, nil}})

	// A narrower table or a different type changes nothing.
	narrow := adapters.Table{Name: "widgets", Columns: []adapters.Column{
		{Name: "id", Type: adapters.String},
		{Name: "count", Type: adapters.String}, // was int
	}}
	_ = e.w.EnsureTable(e.ctx, narrow) // an adapter may refuse or ignore a retype
	got = columnMap(e.columns("widgets"))
	if len(got) != len(wider.Columns) || got["count"] != adapters.Int || got["name"] != adapters.String {
		t.Errorf("EnsureTable dropped or retyped columns: count=%q name=%q, %d columns", got["count"], got["name"], len(got))
	}
	e.wantRows("data after narrower EnsureTable", e.rows("widgets", "id", "name"), [][]any{{"w1", "first"}})
}

// testIdentifierLimits: a name the warehouse would truncate is refused, not
// silently shortened; one at the limit works.
func testIdentifierLimits(t *testing.T, open Open) {
	e := setup(t, open)
	limit := e.d.MaxIdentLength()
	if limit <= 0 {
		t.Skip("dialect has no identifier length limit")
	}
	atLimit := strings.Repeat("c", limit)
	e.ensure(adapters.Table{Name: "limits", Columns: []adapters.Column{
		{Name: "id", Type: adapters.String},
		{Name: atLimit, Type: adapters.String},
	}})
	if got := columnMap(e.columns("limits")); got[atLimit] != adapters.String {
		t.Errorf("column of %d bytes missing: %v", limit, columnNames(e.columns("limits")))
	}
	tooLong := adapters.Table{Name: "limits", Columns: []adapters.Column{
		{Name: "id", Type: adapters.String},
		{Name: strings.Repeat("d", limit+1), Type: adapters.String},
	}}
	if err := e.w.EnsureTable(e.ctx, tooLong); err == nil {
		t.Errorf("EnsureTable accepted a column name of %d bytes (limit %d)", limit+1, limit)
	}
	if err := e.w.EnsureTable(e.ctx, adapters.Table{Name: strings.Repeat("t", limit+1), Columns: base()}); err == nil {
		t.Errorf("EnsureTable accepted a table name of %d bytes (limit %d)", limit+1, limit)
	}
	if n := e.d.MaxColumns(); n > 0 {
		wide := adapters.Table{Name: "too_wide", Columns: base()}
		for i := range n {
			wide.Columns = append(wide.Columns, adapters.Column{Name: "c" + strconv.Itoa(i), Type: adapters.Bool})
		}
		if err := e.w.EnsureTable(e.ctx, wide); err == nil {
			t.Errorf("EnsureTable accepted %d columns (limit %d)", len(wide.Columns), n)
		}
	}
}

// testHostileIdentifiers: names with quotes, SQL, reserved words, mixed case,
// spaces and non-ASCII letters work because every name is quoted.
func testHostileIdentifiers(t *testing.T, open Open) {
	e := setup(t, open)
	names := []string{`"; DROP TABLE x; --`, "select", "from", "order", "user", "MixedCase", "with space", "it's", `back\slash`, "a.b", "café", "`tick`", "[bracket]"}
	for _, table := range []string{`Hostile "Table"; --`, "select"} {
		tb := adapters.Table{Name: table, Columns: base()}
		row := []any{"r1"}
		for _, n := range names {
			tb.Columns = append(tb.Columns, adapters.Column{Name: n, Type: adapters.String})
			row = append(row, "value of "+n)
		}
		e.ensure(tb)
		got := columnMap(e.columns(table))
		for _, n := range names {
			if got[n] != adapters.String {
				t.Errorf("table %q: column %q missing from Tables: %v", table, n, columnNames(e.columns(table)))
			}
		}
		res := e.load(adapters.Chunk{Stream: "hostile " + table, Upto: 1, Tables: []adapters.Rows{{
			Table: table, Columns: columnNames(tb.Columns), Values: [][]any{row},
		}}})
		if res.Rows[table] != 1 {
			t.Errorf("table %q: Rows = %v", table, res.Rows)
		}
		e.wantRows("hostile "+table, e.rows(table, columnNames(tb.Columns)...), [][]any{row})
	}
}

func base() []adapters.Column {
	return []adapters.Column{{Name: "id", Type: adapters.String}}
}
