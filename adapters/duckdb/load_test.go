package duckdb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/profilesync/profilesync/adapters"
)

func widgets() adapters.Table {
	return adapters.Table{Name: "widgets", Columns: []adapters.Column{
		{Name: "id", Type: adapters.String},
		{Name: "name", Type: adapters.String},
		{Name: "n", Type: adapters.Int},
		{Name: "f", Type: adapters.Float},
		{Name: "ok", Type: adapters.Bool},
		{Name: "at", Type: adapters.Timestamp},
	}}
}

func widgetChunk(after, upto int64, values ...[]any) adapters.Chunk {
	return adapters.Chunk{Stream: "widgets", After: after, Upto: upto, Tables: []adapters.Rows{{
		Table: "widgets", Columns: []string{"id", "name", "n", "f", "ok", "at"}, Values: values}}}
}

func TestLoadTypesAndConversions(t *testing.T) {
	w := openTemp(t, "main")
	ctx := t.Context()
	if err := w.EnsureTable(ctx, widgets()); err != nil {
		t.Fatal(err)
	}
	ist := time.FixedZone("IST", 5*3600+1800)
	at := time.Date(2024, 2, 29, 23, 59, 59, 123456000, ist)
	// Go ints of any size fit int and float columns.
	res, err := w.Load(ctx, widgetChunk(0, 1,
		[]any{"a", "α", int64(-7), 1.25, true, at},
		[]any{"b", "", 3, int32(2), false, time.Unix(0, 0)},
		[]any{"c", nil, nil, nil, nil, nil},
	))
	if err != nil || res.Rows["widgets"] != 3 || res.Skipped {
		t.Fatalf("Load: %+v, %v", res, err)
	}
	got := rows(t, w, `SELECT id, name, n, f, ok, "at" FROM widgets ORDER BY id`)
	want := [][]any{
		{"a", "α", int64(-7), 1.25, true, at.UTC()},
		{"b", "", int64(3), 2.0, false, time.Unix(0, 0).UTC()},
		{"c", nil, nil, nil, nil, nil},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("rows\n got  %v\n want %v", got, want)
	}
	if ts := got[0][5].(time.Time); !ts.Equal(at) || ts.Location() != time.UTC {
		t.Errorf("timestamp %v, want %v in UTC", ts, at)
	}

	// A value of the wrong type fails the load, and the error names the
	// column and the Go type but never the value.
	for _, bad := range [][]any{
		{"d", "x", "secret-1", nil, nil, nil},
		{"d", "x", nil, "secret-2", nil, nil},
		{"d", "x", nil, nil, "secret-3", nil},
		{"d", "x", nil, nil, nil, "secret-4"},
		{"d", "x", 1.5, nil, nil, nil},
		{"d", []byte("secret-5"), nil, nil, nil, nil},
	} {
		_, err := w.Load(ctx, widgetChunk(1, 2, bad))
		if err == nil {
			t.Errorf("Load of %v succeeded", bad)
			continue
		}
		if strings.Contains(err.Error(), "secret") || !strings.Contains(err.Error(), "does not fit") {
			t.Errorf("error %q", err)
		}
	}
	wantRows(t, w, "SELECT count(*) FROM widgets", "3")
}

func TestLoadChecksChunks(t *testing.T) {
	w := openTemp(t, "main")
	ctx := t.Context()
	if _, err := w.Load(ctx, adapters.Chunk{Upto: 1}); err == nil {
		t.Error("Load without a stream succeeded")
	}
	if _, err := w.Load(ctx, adapters.Chunk{Stream: "s", After: 5, Upto: 4}); err == nil {
		t.Error("Load of a backwards chunk succeeded")
	}
	_, err := w.Load(ctx, adapters.Chunk{Stream: "s", After: 3, Upto: 4})
	if !errors.Is(err, adapters.ErrWatermarkGap) {
		t.Errorf("Load past a gap: %v", err)
	}
}

// TestLoadIsOneTransaction: a load that fails after its rows are appended,
// merged and its watermark set, just before the commit, leaves target and
// watermark unchanged: the appender writes within the load's transaction.
func TestLoadIsOneTransaction(t *testing.T) {
	w := openTemp(t, "main")
	ctx := t.Context()
	if err := w.EnsureTable(ctx, widgets()); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Load(ctx, widgetChunk(0, 1, []any{"a", "first", 1, nil, nil, nil})); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	w.beforeCommit = func(op string) error {
		if op != "load" {
			t.Errorf("hook op %q", op)
		}
		// Inside the transaction the new rows and watermark are there.
		return boom
	}
	big := widgetChunk(1, 2)
	for i := range 10_000 {
		big.Tables[0].Values = append(big.Tables[0].Values, []any{fmt.Sprint("w", i), "new", i, nil, nil, nil})
	}
	big.Tables[0].Values = append(big.Tables[0].Values, []any{"a", "replaced", 2, nil, nil, nil})
	if _, err := w.Load(ctx, big); !errors.Is(err, boom) {
		t.Fatalf("Load: %v, want boom", err)
	}
	w.beforeCommit = nil
	wantRows(t, w, "SELECT id, name, n FROM widgets", "a|first|1")
	if wm, _ := w.Watermark(ctx, "widgets"); wm != 1 {
		t.Errorf("watermark %d, want 1", wm)
	}
	wantRows(t, w, "SELECT count(*) FROM duckdb_tables() WHERE temporary", "0")

	res, err := w.Load(ctx, big)
	if err != nil || res.Rows["widgets"] != 10_001 {
		t.Fatalf("Load: %+v, %v", res, err)
	}
	wantRows(t, w, "SELECT count(*), max(n) FILTER (WHERE id = 'a') FROM widgets", "10001|2")
}

// TestLoadReplacesIndexedRowsRepeatedly: DuckDB has had limits on updating
// rows of a primary-key index several times in one transaction; a chunk
// that replaces the same ids in several runs, and many existing ids, works.
func TestLoadReplacesIndexedRowsRepeatedly(t *testing.T) {
	w := openTemp(t, "main")
	ctx := t.Context()
	if err := w.EnsureTable(ctx, widgets()); err != nil {
		t.Fatal(err)
	}
	run := func(name string, n int) adapters.Rows {
		r := adapters.Rows{Table: "widgets", Columns: []string{"id", "name", "n"}}
		for i := range n {
			r.Values = append(r.Values, []any{fmt.Sprint("w", i), name, i})
		}
		return r
	}
	if _, err := w.Load(ctx, adapters.Chunk{Stream: "s", Upto: 1, Tables: []adapters.Rows{run("v1", 50_000)}}); err != nil {
		t.Fatal(err)
	}
	res, err := w.Load(ctx, adapters.Chunk{Stream: "s", After: 1, Upto: 2, Tables: []adapters.Rows{
		run("v2", 50_000), run("v3", 20_000), run("v4", 100), run("v5", 60_000),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows["widgets"] != 130_100 {
		t.Errorf("Rows %v", res.Rows)
	}
	wantRows(t, w, "SELECT name, count(*) FROM widgets GROUP BY name", "v5|60000")
}

// TestConcurrentLoads: loads of different streams into different tables,
// or different ids of one table, of one file, from two Warehouses in one
// process, all succeed.
func TestConcurrentLoads(t *testing.T) {
	w := openTemp(t, "main")
	other := openAt(t, w.Path(), "main")
	ctx := t.Context()
	for i, wh := range []*Warehouse{w, other} {
		tb := widgets()
		tb.Name = fmt.Sprint("widgets_", i)
		if err := wh.EnsureTable(ctx, tb); err != nil {
			t.Fatal(err)
		}
	}
	load := func(phase string, table func(i int) string) {
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for i, wh := range []*Warehouse{w, other} {
			wg.Go(func() {
				stream := fmt.Sprint(phase, "_", i)
				for c := range int64(10) {
					ch := adapters.Chunk{Stream: stream, After: c, Upto: c + 1, Tables: []adapters.Rows{{
						Table: table(i), Columns: []string{"id", "n"}, Values: [][]any{{fmt.Sprint(phase, i, "_", c), c}}}}}
					if _, err := wh.Load(context.Background(), ch); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}
	load("own", func(i int) string { return fmt.Sprint("widgets_", i) })
	load("shared", func(int) string { return "widgets_0" })
	wantRows(t, w, "SELECT stream, watermark FROM _profilesync_watermarks", "own_0|10", "own_1|10", "shared_0|10", "shared_1|10")
	wantRows(t, w, "SELECT (SELECT count(*) FROM widgets_0), (SELECT count(*) FROM widgets_1)", "30|10")
}
