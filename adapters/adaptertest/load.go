package adaptertest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/profilesync/profilesync/adapters"
)

// typesTable has a column of every type.
func typesTable(name string) adapters.Table {
	return adapters.Table{Name: name, Columns: []adapters.Column{
		{Name: "id", Type: adapters.String},
		{Name: "s", Type: adapters.String},
		{Name: "i", Type: adapters.Int},
		{Name: "f", Type: adapters.Float},
		{Name: "b", Type: adapters.Bool},
		{Name: "ts", Type: adapters.Timestamp},
	}}
}

// typesColumns are the columns of typesTable.
func typesColumns() []string { return []string{"id", "s", "i", "f", "b", "ts"} }

// testTypesRoundTrip: values of every type come back as loaded; timestamps
// come back as the same instant (microseconds kept), in UTC.
func testTypesRoundTrip(t *testing.T, open Open) {
	e := setup(t, open)
	e.ensure(typesTable("types"))
	kolkata := time.FixedZone("IST", 5*3600+1800)
	pacific := time.FixedZone("PDT", -7*3600)
	rows := [][]any{
		{"nulls", nil, nil, nil, nil, nil},
		{"empty", "", int64(0), 0.0, false, time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"unicode", "héllo wörld 👋 日本語 \t tab \n newline \\ backslash ' single \" double , comma | pipe", int64(-1), -1.5, true, time.Date(2024, 2, 29, 23, 59, 59, 999999000, kolkata)},
		{"big", "x", int64(math.MaxInt64), math.MaxFloat64, true, time.Date(2038, 1, 19, 3, 14, 8, 123456000, pacific)},
		{"small", "y", int64(math.MinInt64), math.SmallestNonzeroFloat64, false, time.Date(1900, 6, 1, 0, 0, 0, 1000, time.UTC)},
		{"pi", "\\N", int64(1) << 53, math.Pi, true, time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)},
		{"tenth", "NULL", int64(42), 0.1, false, time.Date(2000, 1, 1, 0, 0, 0, 0, pacific)},
	}
	res := e.load(adapters.Chunk{Stream: "types", Upto: 1, Tables: []adapters.Rows{{Table: "types", Columns: typesColumns(), Values: rows}}})
	if res.Rows["types"] != int64(len(rows)) || res.Skipped {
		t.Errorf("LoadResult = %+v, want %d rows", res, len(rows))
	}
	want := normalizeRows(rows) // times to UTC
	e.wantRows("round trip", e.rows("types", typesColumns()...), want)
	got := e.rows("types", "id", "ts")
	for _, r := range got {
		if ts, ok := r[1].(time.Time); ok && ts.Location() != time.UTC {
			t.Errorf("%v: timestamp location %v, want UTC", r[0], ts.Location())
		}
	}

	// Replacing rows with NULLs and a subset of the columns: the row is
	// replaced as a whole.
	e.load(adapters.Chunk{Stream: "types", After: 1, Upto: 2, Tables: []adapters.Rows{{
		Table: "types", Columns: []string{"id", "s"}, Values: [][]any{{"big", nil}, {"pi", "π"}},
	}}})
	for i, r := range want {
		switch r[0] {
		case "big":
			want[i] = []any{"big", nil, nil, nil, nil, nil}
		case "pi":
			want[i] = []any{"pi", "π", nil, nil, nil, nil}
		}
	}
	e.wantRows("after replacing rows", e.rows("types", typesColumns()...), want)
}

func widgetRows(values ...[]any) adapters.Rows {
	return adapters.Rows{Table: "widgets", Columns: []string{"id", "name", "n"}, Values: values}
}

func widgetsTable() adapters.Table {
	return adapters.Table{Name: "widgets", Columns: []adapters.Column{
		{Name: "id", Type: adapters.String},
		{Name: "name", Type: adapters.String},
		{Name: "n", Type: adapters.Int},
	}}
}

// testLoadMergesByID: rows merge by id, a chunk at or below the watermark is
// skipped, and the last row of an id within a chunk wins.
func testLoadMergesByID(t *testing.T, open Open) {
	e := setup(t, open)
	e.ensure(widgetsTable())
	c1 := adapters.Chunk{Stream: "widgets", After: 0, Upto: 10, Tables: []adapters.Rows{
		widgetRows([]any{"a", "alpha", int64(1)}, []any{"b", "beta", int64(2)}, []any{"c", "gamma", int64(3)}),
	}}
	if res := e.load(c1); res.Skipped || res.Rows["widgets"] != 3 {
		t.Errorf("first load: %+v", res)
	}
	if wm := e.watermark("widgets"); wm != 10 {
		t.Errorf("watermark %d, want 10", wm)
	}
	want := [][]any{{"a", "alpha", 1}, {"b", "beta", 2}, {"c", "gamma", 3}}
	e.wantRows("after first load", e.rows("widgets", "id", "name", "n"), want)

	if res := e.load(c1); !res.Skipped || res.Rows["widgets"] != 0 {
		t.Errorf("reload of the same chunk: %+v, want Skipped", res)
	}
	e.wantRows("after reload", e.rows("widgets", "id", "name", "n"), want)

	c2 := adapters.Chunk{Stream: "widgets", After: 10, Upto: 20, Tables: []adapters.Rows{
		widgetRows([]any{"b", "beta v2", int64(20)}, []any{"d", "delta", int64(4)},
			[]any{"d", "delta v2", int64(40)}, []any{"b", "beta v3", int64(30)}),
	}}
	if res := e.load(c2); res.Skipped || res.Rows["widgets"] != 2 {
		t.Errorf("second load: %+v, want 2 rows merged", res)
	}
	want = [][]any{{"a", "alpha", 1}, {"b", "beta v3", 30}, {"c", "gamma", 3}, {"d", "delta v2", 40}}
	e.wantRows("after merge", e.rows("widgets", "id", "name", "n"), want)
	if wm := e.watermark("widgets"); wm != 20 {
		t.Errorf("watermark %d, want 20", wm)
	}

	// A chunk that ends at or before the watermark is skipped whatever it holds.
	stale := adapters.Chunk{Stream: "widgets", After: 5, Upto: 15, Tables: []adapters.Rows{widgetRows([]any{"a", "stale", int64(0)})}}
	if res := e.load(stale); !res.Skipped {
		t.Errorf("stale chunk: %+v, want Skipped", res)
	}
	// An overlapping chunk past the watermark is applied.
	overlap := adapters.Chunk{Stream: "widgets", After: 15, Upto: 25, Tables: []adapters.Rows{widgetRows([]any{"e", "epsilon", int64(5)})}}
	if res := e.load(overlap); res.Skipped || res.Rows["widgets"] != 1 {
		t.Errorf("overlapping chunk: %+v", res)
	}
	want = append(want, []any{"e", "epsilon", 5})
	e.wantRows("after overlapping chunk", e.rows("widgets", "id", "name", "n"), want)

	// Streams have their own watermarks; an empty chunk moves one.
	if res := e.load(adapters.Chunk{Stream: "other", Upto: 7}); res.Skipped {
		t.Errorf("empty chunk on a new stream: %+v", res)
	}
	if a, b := e.watermark("widgets"), e.watermark("other"); a != 25 || b != 7 {
		t.Errorf("watermarks widgets=%d other=%d, want 25 and 7", a, b)
	}
}

// testLoadSeveralTables: one chunk lands rows in several tables, and several
// runs of the same table apply in order.
func testLoadSeveralTables(t *testing.T, open Open) {
	e := setup(t, open)
	e.ensure(widgetsTable(), typesTable("types"))
	res := e.load(adapters.Chunk{Stream: "mixed", Upto: 3, Tables: []adapters.Rows{
		widgetRows([]any{"a", "alpha", int64(1)}),
		{Table: "types", Columns: []string{"id", "s"}, Values: [][]any{{"t1", "one"}, {"t2", "two"}}},
		widgetRows([]any{"a", "alpha v2", int64(2)}, []any{"b", "beta", nil}),
	}})
	if res.Rows["widgets"] != 3 || res.Rows["types"] != 2 {
		t.Errorf("Rows = %v, want widgets 3 (1+2) and types 2", res.Rows)
	}
	e.wantRows("widgets", e.rows("widgets", "id", "name", "n"), [][]any{{"a", "alpha v2", 2}, {"b", "beta", nil}})
	e.wantRows("types", e.rows("types", "id", "s"), [][]any{{"t1", "one"}, {"t2", "two"}})
}

// testLoadWatermarkGap: a chunk that starts past the watermark is refused.
func testLoadWatermarkGap(t *testing.T, open Open) {
	e := setup(t, open)
	e.ensure(widgetsTable())
	e.load(adapters.Chunk{Stream: "widgets", Upto: 10, Tables: []adapters.Rows{widgetRows([]any{"a", "alpha", int64(1)})}})
	_, err := e.w.Load(e.ctx, adapters.Chunk{Stream: "widgets", After: 20, Upto: 30, Tables: []adapters.Rows{widgetRows([]any{"b", "beta", int64(2)})}})
	if !errors.Is(err, adapters.ErrWatermarkGap) {
		t.Errorf("Load past a gap: %v, want ErrWatermarkGap", err)
	}
	if wm := e.watermark("widgets"); wm != 10 {
		t.Errorf("watermark %d, want 10", wm)
	}
	if n := e.count("widgets"); n != 1 {
		t.Errorf("%d rows, want 1", n)
	}
}

// testFailedLoad: a load that fails anywhere leaves data and watermark as
// they were, and the same chunk, fixed, loads afterwards.
func testFailedLoad(t *testing.T, open Open) {
	e := setup(t, open)
	e.ensure(widgetsTable(), typesTable("types"))
	e.load(adapters.Chunk{Stream: "s", Upto: 10, Tables: []adapters.Rows{widgetRows([]any{"a", "alpha", int64(1)})}})
	want := [][]any{{"a", "alpha", 1}}

	good := widgetRows([]any{"a", "changed", int64(9)}, []any{"b", "beta", int64(2)})
	goodTypes := adapters.Rows{Table: "types", Columns: []string{"id", "s"}, Values: [][]any{{"t1", "one"}}}
	bad := map[string][]adapters.Rows{
		"missing column":    {good, {Table: "types", Columns: []string{"id", "no_such_column"}, Values: [][]any{{"t1", "x"}}}},
		"missing table":     {good, goodTypes, {Table: "no_such_table", Columns: []string{"id"}, Values: [][]any{{"x"}}}},
		"short row":         {good, {Table: "types", Columns: []string{"id", "s"}, Values: [][]any{{"t1", "one"}, {"t2"}}}},
		"null id":           {good, {Table: "types", Columns: []string{"id", "s"}, Values: [][]any{{"t1", "one"}, {nil, "two"}}}},
		"no id column":      {good, {Table: "types", Columns: []string{"s"}, Values: [][]any{{"one"}}}},
		"unsupported value": {good, {Table: "types", Columns: []string{"id", "s"}, Values: [][]any{{"t1", struct{}{}}}}},
		// The warehouse itself refuses these, after the first run was written.
		"rejected value":     {good, {Table: "types", Columns: []string{"id", "i"}, Values: [][]any{{"t1", int64(1)}, {"t2", "not a number"}}}},
		"rejected in merged": {goodTypes, widgetRows([]any{"a", "fine", int64(1)}, []any{"z", "bad", "not a number"})},
	}
	for name, tables := range bad {
		_, err := e.w.Load(e.ctx, adapters.Chunk{Stream: "s", After: 10, Upto: 20, Tables: tables})
		if err == nil {
			t.Errorf("%s: Load succeeded", name)
		}
		if wm := e.watermark("s"); wm != 10 {
			t.Errorf("%s: watermark %d, want 10", name, wm)
		}
		e.wantRows(name+": widgets", e.rows("widgets", "id", "name", "n"), want)
		if n := e.count("types"); n != 0 {
			t.Errorf("%s: types has %d rows, want 0", name, n)
		}
	}
	e.load(adapters.Chunk{Stream: "s", After: 10, Upto: 20, Tables: []adapters.Rows{good, goodTypes}})
	e.wantRows("after the fixed load", e.rows("widgets", "id", "name", "n"), [][]any{{"a", "changed", 9}, {"b", "beta", 2}})
	if wm := e.watermark("s"); wm != 20 {
		t.Errorf("watermark %d, want 20", wm)
	}
}

// testCancelledLoad: cancelling the context before or during a large load
// leaves nothing applied; the load then succeeds exactly once.
func testCancelledLoad(t *testing.T, open Open) {
	e := setup(t, open)
	e.ensure(widgetsTable(), typesTable("types"))
	const n = 50_000
	widgets := widgetRows()
	types := adapters.Rows{Table: "types", Columns: typesColumns()}
	ts := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		widgets.Values = append(widgets.Values, []any{fmt.Sprintf("w%07d", i), fmt.Sprintf("widget number %d", i), int64(i)})
		types.Values = append(types.Values, []any{fmt.Sprintf("t%07d", i), "some text", int64(i), float64(i) / 3, i%2 == 0, ts.Add(time.Duration(i) * time.Second)})
	}
	chunk := adapters.Chunk{Stream: "big", Upto: 100, Tables: []adapters.Rows{widgets, types}}

	cancelled, cancel := context.WithCancel(e.ctx)
	cancel()
	if _, err := e.w.Load(cancelled, chunk); err == nil {
		t.Errorf("Load with a cancelled context succeeded")
	}
	checkNothing := func(when string) {
		t.Helper()
		if wm := e.watermark("big"); wm != 0 {
			t.Fatalf("%s: watermark %d, want 0", when, wm)
		}
		if a, b := e.count("widgets"), e.count("types"); a != 0 || b != 0 {
			t.Fatalf("%s: %d widgets and %d types rows, want none", when, a, b)
		}
	}
	checkNothing("after a cancelled load")

	interrupted := 0
	for _, delay := range []time.Duration{time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond} {
		ctx, cancel := context.WithCancel(e.ctx)
		timer := time.AfterFunc(delay, cancel)
		_, err := e.w.Load(ctx, chunk)
		timer.Stop()
		cancel()
		if err == nil {
			break
		}
		interrupted++
		checkNothing(fmt.Sprintf("after a load cancelled at %v (%v)", delay, err))
	}
	t.Logf("%d loads interrupted by cancellation", interrupted)
	res := e.load(chunk) // loaded already if the last attempt finished: then skipped
	if !res.Skipped && (res.Rows["widgets"] != n || res.Rows["types"] != n) {
		t.Errorf("final load: %+v", res)
	}
	if a, b := e.count("widgets"), e.count("types"); a != n || b != n {
		t.Errorf("%d widgets and %d types rows, want %d each", a, b, n)
	}
	if wm := e.watermark("big"); wm != 100 {
		t.Errorf("watermark %d, want 100", wm)
	}
}
