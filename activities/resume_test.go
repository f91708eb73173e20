package activities

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/profilesync/profilesync/adapters"
	"github.com/profilesync/profilesync/store"
	"github.com/profilesync/profilesync/workflows"
)

// flakyWarehouse fails its failAt-th Load: before the adapter loads the
// chunk, or after it committed it (a lost response).
type flakyWarehouse struct {
	adapters.Warehouse
	loads       *atomic.Int32
	failAt      int32
	afterCommit bool
}

var errInjected = errors.New("injected failure")

func (f *flakyWarehouse) Load(ctx context.Context, c adapters.Chunk) (adapters.LoadResult, error) {
	if f.loads.Add(1) != f.failAt {
		return f.Warehouse.Load(ctx, c)
	}
	if f.afterCommit {
		if _, err := f.Warehouse.Load(ctx, c); err != nil {
			return adapters.LoadResult{}, err
		}
	}
	return adapters.LoadResult{}, errInjected
}

// Dialect passes the adapter's dialect through, so names are cut the same.
func (f *flakyWarehouse) Dialect() adapters.Dialect {
	return f.Warehouse.(interface{ Dialect() adapters.Dialect }).Dialect()
}

// flakyOpen opens warehouses whose failAt-th Load fails.
func flakyOpen(failAt int32, afterCommit bool) OpenFunc {
	var loads atomic.Int32
	return func(ctx context.Context, cfg adapters.Config) (adapters.Warehouse, error) {
		w, err := OpenAdapter(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return &flakyWarehouse{Warehouse: w, loads: &loads, failAt: failAt, afterCommit: afterCommit}, nil
	}
}

// TestChunkedLoadResumes loads the same history into three warehouses with a
// small chunk size: one uninterrupted, one whose loads each fail on their
// third chunk before it commits, one after it commits. Retried from their
// heartbeat details, the interrupted loads resume from the watermark and end
// with the same tables, no duplicate ids, and (when the failed chunk did not
// commit) the same row counts as the uninterrupted load.
func TestChunkedLoadResumes(t *testing.T) {
	for _, kind := range kinds() {
		t.Run(kind.name, func(t *testing.T) {
			st := openStore(t)
			ingest(t, st, stream(1, 36)...)
			for _, id := range []string{"ref", "before", "after"} {
				kind.create(t, st, id)
			}
			acts := newActivities(st)
			acts.ChunkSize = 4
			h := newHarness(t, acts)
			plan := must[workflows.Plan](h, acts.PlanSync, workflows.PlanInput{WarehouseID: "ref"})

			type load struct {
				name string
				fn   func(a *Activities) any
				in   func(id string) any
			}
			var loads []load
			for _, table := range workflows.IdentityTables() {
				loads = append(loads, load{table,
					func(a *Activities) any { return a.LoadIdentity },
					func(id string) any { return workflows.LoadInput{WarehouseID: id, Table: table, UptoSeq: plan.UptoSeq} }})
			}
			loads = append(loads, load{"events",
				func(a *Activities) any { return a.LoadEvents },
				func(id string) any { return workflows.LoadEventsInput{WarehouseID: id, UptoPos: plan.UptoPos} }})

			ref := map[string]workflows.LoadOutput{}
			for _, id := range []string{"ref", "before", "after"} {
				must[struct{}](h, acts.PrepareSchema, workflows.WarehouseRef{WarehouseID: id})
			}
			for _, l := range loads {
				ref[l.name] = must[workflows.LoadOutput](h, l.fn(acts), l.in("ref"))
				if ref[l.name].Rows <= 3*4 {
					t.Fatalf("%s: only %d rows: the test needs more than three chunks", l.name, ref[l.name].Rows)
				}
			}

			for _, variant := range []struct {
				id          string
				afterCommit bool
			}{{"before", false}, {"after", true}} {
				for _, l := range loads {
					failing := newActivities(st)
					failing.ChunkSize = 4
					failing.Open = flakyOpen(3, variant.afterCommit)
					fh := newHarness(t, failing)
					_, err := run[workflows.LoadOutput](fh, l.fn(failing), l.in(variant.id))
					var appErr *temporal.ApplicationError
					if !errors.As(err, &appErr) || appErr.NonRetryable() || !strings.Contains(appErr.Message(), errInjected.Error()) {
						t.Fatalf("%s %s: failing attempt returned %v, want a retryable error", variant.id, l.name, err)
					}
					var partial workflows.LoadOutput
					if err := appErr.Details(&partial); err != nil || partial.Rows == 0 {
						t.Errorf("%s %s: error details %+v (%v), want the rows of the two chunks loaded", variant.id, l.name, partial, err)
					}
					details := fh.lastHeartbeat()
					if details == nil {
						t.Fatalf("%s %s: no heartbeat", variant.id, l.name)
					}
					checkNumbersOnly(t, details)
					var p progress
					if err := json.Unmarshal(details, &p); err != nil || p.Chunks != 2 || p.Rows != partial.Rows {
						t.Errorf("%s %s: heartbeat %s, want 2 chunks and the %d rows loaded", variant.id, l.name, details, partial.Rows)
					}

					// The retry: a new attempt with the last heartbeat details.
					var d map[string]any
					if err := json.Unmarshal(details, &d); err != nil {
						t.Fatal(err)
					}
					rh := newHarness(t, acts)
					val, err := rh.env(d).ExecuteActivity(l.fn(acts), l.in(variant.id))
					if err != nil {
						t.Fatalf("%s %s: retry failed: %v", variant.id, l.name, err)
					}
					var out workflows.LoadOutput
					if err := val.Get(&out); err != nil {
						t.Fatal(err)
					}
					if !variant.afterCommit && !reflect.DeepEqual(out, ref[l.name]) {
						t.Errorf("%s %s: resumed load = %+v, want %+v as uninterrupted", variant.id, l.name, out, ref[l.name])
					}
					if variant.afterCommit && (out.Rows >= ref[l.name].Rows || out.Rows < ref[l.name].Rows-4) {
						// The chunk committed without a heartbeat is not
						// counted: at most one chunk short.
						t.Errorf("%s %s: resumed load counted %d rows, want up to one chunk fewer than %d", variant.id, l.name, out.Rows, ref[l.name].Rows)
					}
				}
				compareWarehouses(t, st, "ref", variant.id)
			}
		})
	}
}

// checkNumbersOnly fails unless a JSON value holds nothing but numbers
// (in objects and arrays).
func checkNumbersOnly(t *testing.T, raw json.RawMessage) {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("heartbeat details %s: %v", raw, err)
	}
	var walk func(v any) bool
	walk = func(v any) bool {
		switch x := v.(type) {
		case float64:
			return true
		case []any:
			for _, e := range x {
				if !walk(e) {
					return false
				}
			}
			return true
		case map[string]any:
			for _, e := range x {
				if !walk(e) {
					return false
				}
			}
			return true
		}
		return false
	}
	if !walk(v) {
		t.Errorf("heartbeat details %s hold more than numbers", raw)
	}
}

// compareWarehouses checks that two warehouses hold the same landed tables:
// the same columns and the same rows, without duplicate ids.
func compareWarehouses(t *testing.T, st store.Store, a, b string) {
	t.Helper()
	dbA, dbB := warehouseDB(t, st, a), warehouseDB(t, st, b)
	colsA, err := dbA.Tables(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	colsB, err := dbB.Tables(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range loadedTables() {
		names := func(cols []adapters.Column) []string {
			var out []string
			for _, c := range cols {
				out = append(out, c.Name+" "+string(c.Type))
			}
			slices.Sort(out)
			return out
		}
		if na, nb := names(colsA[table]), names(colsB[table]); !slices.Equal(na, nb) {
			t.Errorf("%s: columns of %s %v, of %s %v", table, a, na, b, nb)
			continue
		}
		var list []string
		for _, c := range colsA[table] {
			list = append(list, dbA.Dialect().QuoteIdent(c.Name))
		}
		slices.Sort(list)
		sel := "SELECT " + strings.Join(list, ", ") + " FROM "
		rowsA := query(t, dbA, sel+dbA.QualifiedName(table)+" ORDER BY id")
		rowsB := query(t, dbB, sel+dbB.QualifiedName(table)+" ORDER BY id")
		if !reflect.DeepEqual(rowsA, rowsB) {
			t.Errorf("%s: %s has %d rows, %s %d, or they differ", table, a, len(rowsA), b, len(rowsB))
		}
		ids(t, dbB, table) // no duplicates
	}
}
