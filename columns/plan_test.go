package columns

import (
	"reflect"
	"testing"

	"github.com/profilesync/profilesync/adapters"
)

func TestPlan(t *testing.T) {
	existing := []adapters.Column{
		{Name: "id", Type: adapters.String},
		{Name: "price", Type: adapters.Int},
		{Name: "ratio", Type: adapters.Float},
		{Name: "name", Type: adapters.String},
		{Name: "big", Type: "hugeint"}, // a type we never create
	}
	incoming := map[string]adapters.Type{
		"price":   adapters.Float,  // widens
		"ratio":   adapters.Int,    // fits
		"name":    adapters.Int,    // coerced to text
		"big":     adapters.Float,  // left alone
		"zeta":    adapters.Bool,   // new
		"alpha":   adapters.String, // new
		"nothing": "",              // only nulls: no column
	}
	add, widen, overflow := Plan(existing, incoming, 0)
	wantAdd := []adapters.Column{{Name: "alpha", Type: adapters.String}, {Name: "zeta", Type: adapters.Bool}}
	wantWiden := []adapters.Column{{Name: "price", Type: adapters.Float}}
	if !reflect.DeepEqual(add, wantAdd) || !reflect.DeepEqual(widen, wantWiden) || overflow != nil {
		t.Errorf("Plan = %v, %v, %v; want %v, %v, none", add, widen, overflow, wantAdd, wantWiden)
	}

	// Seven columns allowed: five exist, so alpha and beta fit, in name
	// order, and the rest overflow.
	incoming = map[string]adapters.Type{
		"delta": adapters.Int, "alpha": adapters.Int, "gamma": adapters.Int, "beta": adapters.Int,
		"price": adapters.Float,
	}
	add, widen, overflow = Plan(existing, incoming, 7)
	if want := []adapters.Column{{Name: "alpha", Type: adapters.Int}, {Name: "beta", Type: adapters.Int}}; !reflect.DeepEqual(add, want) {
		t.Errorf("add = %v, want %v", add, want)
	}
	if !reflect.DeepEqual(widen, wantWiden) {
		t.Errorf("widen = %v, want %v", widen, wantWiden)
	}
	if want := []string{"delta", "gamma"}; !reflect.DeepEqual(overflow, want) {
		t.Errorf("overflow = %v, want %v", overflow, want)
	}

	// A table already at (or past) its limit takes no new column.
	add, _, overflow = Plan(existing, map[string]adapters.Type{"x": adapters.Int}, 3)
	if add != nil || !reflect.DeepEqual(overflow, []string{"x"}) {
		t.Errorf("full table: add %v, overflow %v", add, overflow)
	}

	// Nothing incoming, nothing to do; a new table takes everything.
	if a, w, o := Plan(existing, nil, 10); a != nil || w != nil || o != nil {
		t.Errorf("empty batch: %v %v %v", a, w, o)
	}
	if a, _, _ := Plan(nil, map[string]adapters.Type{"b": adapters.Bool, "a": adapters.Timestamp}, 0); len(a) != 2 || a[0].Name != "a" {
		t.Errorf("new table: %v", a)
	}
}
