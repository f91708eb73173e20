package store

import (
	"context"
	"reflect"
	"testing"
	"time"
)

func testWarehouseSettings(t *testing.T, b backend) {
	ctx := context.Background()
	s := fresh(t, b)
	mustSpace(t, s, "sp1")
	for _, id := range []string{"wh1", "wh2"} {
		if err := s.CreateWarehouse(ctx, Warehouse{ID: id, SpaceID: "sp1", Name: id, Type: "duckdb", Config: map[string]string{}}); err != nil {
			t.Fatal(err)
		}
	}

	// The schema cache: adds and retypes, replace replaces.
	if got, err := s.WarehouseSchema(ctx, "wh1"); err != nil || len(got) != 0 {
		t.Fatalf("empty schema = %v, %v", got, err)
	}
	if err := s.SaveWarehouseSchema(ctx, "wh1", map[string][]SchemaColumn{
		"pages":  {{Name: "id", Type: "string"}, {Name: "count", Type: "int"}},
		"tracks": {{Name: "id", Type: "string"}},
	}, false); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveWarehouseSchema(ctx, "wh1", map[string][]SchemaColumn{"pages": {{Name: "count", Type: "float"}, {Name: "a", Type: "bool"}}}, false); err != nil {
		t.Fatal(err)
	}
	want := map[string][]SchemaColumn{
		"pages":  {{Name: "a", Type: "bool"}, {Name: "count", Type: "float"}, {Name: "id", Type: "string"}},
		"tracks": {{Name: "id", Type: "string"}},
	}
	if got, err := s.WarehouseSchema(ctx, "wh1"); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("schema = %v, %v; want %v", got, err, want)
	}
	if got, _ := s.WarehouseSchema(ctx, "wh2"); len(got) != 0 {
		t.Errorf("another warehouse's schema = %v", got)
	}
	if err := s.SaveWarehouseSchema(ctx, "wh1", map[string][]SchemaColumn{"tracks": {{Name: "id", Type: "string"}}}, true); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.WarehouseSchema(ctx, "wh1"); !reflect.DeepEqual(got, map[string][]SchemaColumn{"tracks": {{Name: "id", Type: "string"}}}) {
		t.Errorf("schema after replace = %v", got)
	}

	// Selections: the previous state comes back.
	prev, err := s.SetSelection(ctx, "wh1", Selection{Table: "pages", Enabled: false})
	if err != nil || !prev.Enabled || !prev.ChangedAt.IsZero() {
		t.Fatalf("first SetSelection: previous %+v, %v", prev, err)
	}
	later := t0.Add(time.Hour)
	prev, err = s.SetSelection(ctx, "wh1", Selection{Table: "pages", Enabled: true, ChangedAt: later})
	if err != nil || prev.Enabled || !prev.ChangedAt.Equal(t0) {
		t.Fatalf("second SetSelection: previous %+v, %v; want disabled at %v", prev, err, t0)
	}
	if _, err := s.SetSelection(ctx, "wh1", Selection{Table: "pages", Column: "title", Enabled: false}); err != nil {
		t.Fatal(err)
	}
	wantSel := []Selection{{Table: "pages", Enabled: true, ChangedAt: later}, {Table: "pages", Column: "title", ChangedAt: t0}}
	if got, err := s.Selections(ctx, "wh1"); err != nil || !reflect.DeepEqual(got, wantSel) {
		t.Errorf("Selections = %+v, %v; want %+v", got, err, wantSel)
	}
	_, err = s.SetSelection(ctx, "nope", Selection{Table: "pages"})
	wantErr(t, err, ErrNotFound)

	// Both go with the warehouse.
	if err := s.DeleteWarehouse(ctx, "wh1"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.WarehouseSchema(ctx, "wh1"); len(got) != 0 {
		t.Errorf("schema after delete = %v", got)
	}
	if got, _ := s.Selections(ctx, "wh1"); len(got) != 0 {
		t.Errorf("selections after delete = %v", got)
	}
}
