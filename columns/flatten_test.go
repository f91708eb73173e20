package columns

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/profilesync/profilesync/adapters/duckdb"
	"github.com/profilesync/profilesync/adapters/postgres"
)

// decode decodes a JSON object as the loader does, numbers as json.Number.
func decode(t testing.TB, s string) map[string]any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestFlatten(t *testing.T) {
	ctx := decode(t, `{
		"app": {"version": "1.2.3", "build": 42},
		"userAgent": "Mozilla <5.0> & co",
		"traits": {"email": null},
		"empty": {},
		"list": ["a", {"b": 1, "a": [true, null]}, 1.50]
	}`)
	got := Flatten("context", ctx)
	want := []Field{
		{Path: []string{"context", "app", "build"}, Key: "context_app_build", Value: json.Number("42")},
		{Path: []string{"context", "app", "version"}, Key: "context_app_version", Value: "1.2.3"},
		{Path: []string{"context", "list"}, Key: "context_list", Value: `["a",{"a":[true,null],"b":1},1.50]`},
		{Path: []string{"context", "traits", "email"}, Key: "context_traits_email", Value: nil},
		{Path: []string{"context", "userAgent"}, Key: "context_user_agent", Value: "Mozilla <5.0> & co"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Flatten(context):\n got %v\nwant %v", got, want)
	}

	traits := decode(t, `{"address": {"street": "Main St", "zipCode": "02134"}, "name": "Ada"}`)
	got = Flatten("", traits)
	var keys []string
	for _, f := range got {
		keys = append(keys, f.Key)
	}
	if want := []string{"address_street", "address_zip_code", "name"}; !slices.Equal(keys, want) {
		t.Errorf("Flatten(traits) keys = %v, want %v", keys, want)
	}
	if len(Flatten("", nil)) != 0 || len(Flatten("context", map[string]any{})) != 0 {
		t.Error("empty objects flattened into fields")
	}
}

func TestFlattenCollisions(t *testing.T) {
	tests := []struct {
		name   string
		json   string
		winner []string
		value  any
	}{
		{"snake_case spelling wins", `{"firstName": "A", "first_name": "B", "First Name": "C"}`, []string{"first_name"}, "B"},
		{"a value beats null", `{"firstName": "A", "first_name": null}`, []string{"firstName"}, "A"},
		{"smallest path otherwise", `{"FirstName": "A", "firstName": "B"}`, []string{"FirstName"}, "A"},
		{"nested against flat", `{"a": {"b": 1}, "a_b": 2}`, []string{"a", "b"}, json.Number("1")},
		{"nested against camelCase", `{"a": {"b": 1}, "aB": 2}`, []string{"a", "b"}, json.Number("1")},
	}
	for _, tt := range tests {
		fields := Flatten("", decode(t, tt.json))
		var winners int
		for _, f := range fields {
			if f.ShadowedBy == nil {
				winners++
				if !slices.Equal(f.Path, tt.winner) || !reflect.DeepEqual(f.Value, tt.value) {
					t.Errorf("%s: winner %v = %v, want %v = %v", tt.name, f.Path, f.Value, tt.winner, tt.value)
				}
			} else if !slices.Equal(f.ShadowedBy, tt.winner) {
				t.Errorf("%s: %v shadowed by %v, want %v", tt.name, f.Path, f.ShadowedBy, tt.winner)
			}
		}
		if winners != 1 {
			t.Errorf("%s: %d winners in %v", tt.name, winners, fields)
		}
	}
}

func TestResolveAcrossGroups(t *testing.T) {
	props := Flatten("", decode(t, `{"context_ip": "1.1.1.1", "price": 3}`))
	ctx := Flatten("context", decode(t, `{"ip": "2.2.2.2"}`))
	row := Resolve(append(props, ctx...))
	if len(row) != 3 {
		t.Fatalf("row = %v", row)
	}
	// Both spell context_ip exactly; ["context", "ip"] < ["context_ip"].
	if !slices.Equal(row[0].Path, []string{"context", "ip"}) || row[0].ShadowedBy != nil {
		t.Errorf("winner = %+v", row[0])
	}
	if !slices.Equal(row[1].ShadowedBy, []string{"context", "ip"}) || row[1].Value != "1.1.1.1" {
		t.Errorf("loser = %+v", row[1])
	}
	if row[2].Key != "price" || row[2].ShadowedBy != nil {
		t.Errorf("price = %+v", row[2])
	}
	// Fallback columns collide only for equal paths.
	a := Flatten("", map[string]any{"🎉": 1, "🔥": 2})
	if a[0].ShadowedBy != nil || a[1].ShadowedBy != nil {
		t.Errorf("different all-symbol keys collided: %+v", a)
	}
	b := Resolve(append(slices.Clone(a), Field{Path: []string{"🎉"}, Value: 3}))
	var shadowed int
	for _, f := range b {
		if f.ShadowedBy != nil {
			shadowed++
		}
	}
	if shadowed != 1 {
		t.Errorf("equal all-symbol paths: %+v", b)
	}
}

// FuzzFlatten flattens arbitrary JSON objects and checks that nothing
// panics and that every value lands in exactly one column or is reported
// as shadowed by the value that took its column.
func FuzzFlatten(f *testing.F) {
	for _, s := range []string{
		`{}`,
		`{"a": 1}`,
		`{"firstName": "A", "first_name": "B", "first name": null}`,
		`{"a": {"b": {"c": [1, {"d": 2}]}}, "a_b_c": true, "aB": {"c": "x"}}`,
		`{"": 1, "$": {"": 2}, "🎉": [], "x": {}}`,
		`{"id": 1, "_id": 2, "ID": 3, "select": {"from": 1e400}}`,
	} {
		f.Add([]byte(s))
	}
	namers := []Namer{
		NewNamer(RulesFor(postgres.Dialect{})).ForEventTable("tracks"),
		NewNamer(RulesFor(duckdb.Dialect{})).ForEventTable("tracks"),
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := json.NewDecoder(bytes.NewReader(data))
		d.UseNumber()
		var obj map[string]any
		if d.Decode(&obj) != nil || obj == nil {
			return
		}
		props, ctx := Flatten("", obj), Flatten("context", obj)
		if again := Flatten("", obj); !reflect.DeepEqual(props, again) {
			t.Fatalf("Flatten not deterministic:\n%v\n%v", props, again)
		}
		leaves := countLeaves(obj)
		row := Resolve(append(slices.Clone(props), ctx...))
		if len(props) != leaves || len(ctx) != leaves || len(row) != 2*leaves {
			t.Fatalf("%d, %d and %d fields for %d values", len(props), len(ctx), len(row), leaves)
		}
		for _, fields := range [][]Field{props, ctx, row} {
			checkFields(t, fields, namers)
		}
	})
}

// countLeaves counts the values of an object: every non-object value,
// arrays as one, empty objects as none.
func countLeaves(v any) int {
	m, ok := v.(map[string]any)
	if !ok {
		return 1
	}
	n := 0
	for _, c := range m {
		n += countLeaves(c)
	}
	return n
}

// checkFields checks a resolved row: sorted by Key, Keys right, one winner
// per column and every other Field shadowed by it, values of the JSON kinds,
// and distinct warehouse columns for the winners.
func checkFields(t *testing.T, fields []Field, namers []Namer) {
	t.Helper()
	winners := map[string][]string{} // column identity → winning path
	for i, f := range fields {
		if i > 0 && fields[i-1].Key > f.Key {
			t.Fatalf("fields not sorted: %q before %q", fields[i-1].Key, f.Key)
		}
		if k := Key(f.Path...); k != f.Key {
			t.Fatalf("Key(%q) = %q, field says %q", f.Path, k, f.Key)
		}
		switch f.Value.(type) {
		case nil, bool, json.Number, string:
		default:
			t.Fatalf("value %#v of %q", f.Value, f.Path)
		}
		id := f.Key
		if id == "" {
			id = "\x00" + encodePath(f.Path)
		}
		w, seen := winners[id]
		switch {
		case !seen && f.ShadowedBy != nil:
			t.Fatalf("%q shadowed by %q, which does not come first", f.Path, f.ShadowedBy)
		case !seen:
			winners[id] = f.Path
		case f.ShadowedBy == nil:
			t.Fatalf("%q and %q both land in column %q", w, f.Path, f.Key)
		case !slices.Equal(f.ShadowedBy, w):
			t.Fatalf("%q shadowed by %q, want %q", f.Path, f.ShadowedBy, w)
		}
	}
	for _, n := range namers {
		cols := map[string][]string{}
		for _, f := range fields {
			if got, want := n.ColumnOf(f), n.Column(f.Path...); got != want {
				t.Fatalf("ColumnOf(%q) = %q, Column = %q", f.Path, got, want)
			}
		}
		for _, path := range winners {
			c := n.Column(path...)
			if other, dup := cols[c]; dup {
				t.Fatalf("%q and %q both named %q", other, path, c)
			}
			cols[c] = path
		}
	}
}
