package duckdb

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/profilesync/profilesync/adapters"
)

// openTemp opens a warehouse on a new file under t.TempDir.
func openTemp(t testing.TB, schema string) *Warehouse {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "wh", "warehouse.duckdb"), schema)
}

// openAt opens a warehouse on path with its schema prepared.
func openAt(t testing.TB, path, schema string) *Warehouse {
	t.Helper()
	wh, err := Open(context.Background(), adapters.Config{Type: Type, Settings: map[string]string{"path": path, "schema": schema}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = wh.Close() })
	w := wh.(*Warehouse)
	if err := w.EnsureSchema(context.Background()); err != nil {
		t.Fatal(err)
	}
	return w
}

// rows runs q and returns its rows.
func rows(t testing.TB, w *Warehouse, q string) [][]any {
	t.Helper()
	out, err := w.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("query %s: %v", q, err)
	}
	return out
}

// strs renders rows as sorted strings for comparison; NULL is "∅".
func strs(rs [][]any) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		s := ""
		for i, v := range r {
			if i > 0 {
				s += "|"
			}
			if v == nil {
				s += "∅"
			} else {
				s += fmt.Sprint(v)
			}
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// wantRows compares the rows of q, as strs renders them, with want.
func wantRows(t testing.TB, w *Warehouse, q string, want ...string) {
	t.Helper()
	got := strs(rows(t, w, q))
	sort.Strings(want)
	if len(want) == 0 {
		want = []string{}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %q\n want %q", q, got, want)
	}
}

// base is the time of the first change in fixtures.
var base = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// changeLog builds change-log rows for fixtures.
type changeLog struct {
	idg, eim, ptu adapters.Rows
	traits        []adapters.Column
}

func newChangeLog(traits ...adapters.Column) *changeLog {
	names := func(t adapters.Table) []string {
		var out []string
		for _, c := range t.Columns {
			out = append(out, c.Name)
		}
		return out
	}
	l := &changeLog{traits: traits}
	l.idg = adapters.Rows{Table: adapters.TableIDGraphUpdates, Columns: names(adapters.IDGraphUpdates())}
	l.eim = adapters.Rows{Table: adapters.TableExternalIDMappingUpdates, Columns: names(adapters.ExternalIDMappingUpdates())}
	l.ptu = adapters.Rows{Table: adapters.TableProfileTraitsUpdates, Columns: names(adapters.ProfileTraitsUpdates())}
	for _, c := range traits {
		l.ptu.Columns = append(l.ptu.Columns, c.Name)
	}
	return l
}

// values fills a row of the given columns from the named values; the
// trigger columns are filled from seq.
func row(cols []string, seq int64, named map[string]any) []any {
	ts := base.Add(time.Duration(seq) * time.Minute)
	std := map[string]any{
		"id": fmt.Sprintf("row-%d", seq), "seq": seq,
		"triggering_event_id": fmt.Sprintf("E%d", seq), "triggering_event_type": "identify",
		"timestamp": ts, "received_at": ts.Add(time.Second), "uuid_ts": ts.Add(2 * time.Second),
	}
	out := make([]any, len(cols))
	for i, c := range cols {
		if v, ok := named[c]; ok {
			out[i] = v
		} else {
			out[i] = std[c]
		}
	}
	return out
}

func (l *changeLog) graph(seq int64, seg, canon string) {
	l.idg.Values = append(l.idg.Values, row(l.idg.Columns, seq, map[string]any{"segment_id": seg, "canonical_segment_id": canon}))
}

func (l *changeLog) mapping(seq int64, seg, typ, value string) {
	sum := sha1.Sum([]byte(typ + value))
	l.eim.Values = append(l.eim.Values, row(l.eim.Columns, seq, map[string]any{
		"segment_id": seg, "external_id_hash": hex.EncodeToString(sum[:]), "external_id_type": typ, "external_id_value": value}))
}

func (l *changeLog) snapshot(seq int64, seg string, traits map[string]any) {
	named := map[string]any{"segment_id": seg}
	for k, v := range traits {
		named[k] = v
	}
	l.ptu.Values = append(l.ptu.Values, row(l.ptu.Columns, seq, named))
}

// window returns the rows of the log with after < seq <= upto.
func (l *changeLog) window(after, upto int64) []adapters.Rows {
	var out []adapters.Rows
	for _, r := range []adapters.Rows{l.idg, l.eim, l.ptu} {
		w := adapters.Rows{Table: r.Table, Columns: r.Columns}
		for _, v := range r.Values {
			if s := v[1].(int64); s > after && s <= upto {
				w.Values = append(w.Values, v)
			}
		}
		out = append(out, w)
	}
	return out
}

// load creates the change-log tables and loads the log's rows of the window
// as one chunk of stream "identity".
func (l *changeLog) load(t testing.TB, w *Warehouse, after, upto int64) adapters.LoadResult {
	t.Helper()
	ctx := context.Background()
	for _, tb := range adapters.IdentityTables() {
		if tb.Name == adapters.TableProfileTraitsUpdates {
			tb.Columns = append(tb.Columns, l.traits...)
		}
		if err := w.EnsureTable(ctx, tb); err != nil {
			t.Fatal(err)
		}
	}
	res, err := w.Load(ctx, adapters.Chunk{Stream: "identity", After: after, Upto: upto, Tables: l.window(after, upto)})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// materialize runs Materialize and fails the test on error.
func materialize(t testing.TB, w *Warehouse, upto int64) map[string]int64 {
	t.Helper()
	n, err := w.Materialize(context.Background(), upto)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
