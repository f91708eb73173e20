package columns

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// A Field is one value of a flattened object: a leaf, or an array.
type Field struct {
	// Path is the keys from the object's root, the prefix first when there
	// is one: ["context", "app", "version"].
	Path []string
	// Key is the dialect-independent column name of Path (see Key):
	// "context_app_version". It is "" when no key of Path has an ASCII
	// letter or digit; Namer.Column then gives the path a fallback column of
	// its own.
	Key string
	// Value is the value as decoded: nil, bool, json.Number (or float64),
	// string, or any other non-object value as the caller passed it. An
	// array ([]any or any other slice) is its JSON text, a string.
	Value any
	// ShadowedBy is nil when the value lands in the column of Key. Otherwise
	// another Field of the same row has the same Key and won the column:
	// ShadowedBy is that Field's Path, and this value belongs in discards.
	ShadowedBy []string
}

// Flatten flattens an object into Fields, sorted by Key, as Segment
// flattens properties, traits and context into columns:
//
//   - Nested objects are flattened, their snake_cased keys joined with "_":
//     properties.product_id.sku → product_id_sku. The prefix, if not empty,
//     is the first key of every Path: Flatten("context", ctx) gives
//     context_app_version; properties and traits take no prefix.
//   - Arrays are stored as their JSON text: ["a","b"] → `["a","b"]`.
//   - A null is a Field with a nil Value, so that a caller can null a
//     trait; it must never create a column (Plan skips it).
//   - An empty object has no values and yields no Field.
//
// When two keys convert to the same Key (firstName and first_name), one
// Field wins and the others are returned too, with ShadowedBy set; see
// Resolve for which one wins.
func Flatten(prefix string, obj map[string]any) []Field {
	f := flattener{}
	if prefix != "" {
		f.path = append(f.path, prefix)
		f.key = append(f.key, SnakeCase(prefix)...)
	}
	f.object(obj)
	return Resolve(f.fields)
}

// flattener walks an object depth first. path and key are stacks, the Path
// and Key of the object being walked, so that walking a deeply nested
// object allocates only for its values.
type flattener struct {
	path   []string
	key    []byte
	fields []Field
	// paths backs the Paths of the fields, a block at a time, so that a
	// field's Path costs no allocation of its own.
	paths []string
}

// pathCopy returns a copy of the current path that nothing else appends to.
func (f *flattener) pathCopy() []string {
	if cap(f.paths)-len(f.paths) < len(f.path) {
		f.paths = make([]string, 0, max(128, 4*len(f.path)))
	}
	start := len(f.paths)
	f.paths = append(f.paths, f.path...)
	return f.paths[start:len(f.paths):len(f.paths)]
}

// object appends the Fields of obj.
func (f *flattener) object(obj map[string]any) {
	depth, keyLen := len(f.path), len(f.key)
	for k, v := range obj {
		f.path = append(f.path[:depth], k)
		f.key = f.key[:keyLen]
		if s := SnakeCase(k); s != "" {
			if len(f.key) > 0 {
				f.key = append(f.key, '_')
			}
			f.key = append(f.key, s...)
		}
		if m, ok := v.(map[string]any); ok {
			f.object(m)
			continue
		}
		if isArray(v) {
			v = jsonText(v)
		}
		f.fields = append(f.fields, Field{Path: f.pathCopy(), Key: string(f.key), Value: v})
	}
	f.path, f.key = f.path[:depth], f.key[:keyLen]
}

// Resolve sorts Fields of one row by Key and decides, for every Key that
// several Fields share, which one lands in the column; it sets ShadowedBy on
// the others. Call it on the Fields of all groups that land in one table
// (properties and context, say), since a property context_ip and the context
// key ip share a column. The winner of a Key is, in order:
//
//  1. a Field with a value over one with null;
//  2. a Field whose keys already spell the column (first_name over
//     firstName);
//  3. the Field with the smallest Path, comparing keys byte by byte.
//
// Fields with an empty Key share a column only when their Paths are equal.
// Resolve returns a new slice and leaves fields as they were.
func Resolve(fields []Field) []Field {
	out := make([]Field, len(fields))
	copy(out, fields)
	resolve(out)
	return out
}

// resolve is Resolve in place.
func resolve(out []Field) {
	slices.SortStableFunc(out, func(a, b Field) int {
		if c := cmp.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		if a.Key == "" {
			if c := slices.Compare(a.Path, b.Path); c != 0 {
				return c
			}
		}
		return compareRank(a, b)
	})
	for i := range out {
		out[i].ShadowedBy = nil
		if i == 0 || !sameColumn(out[i-1], out[i]) {
			continue
		}
		w := out[i-1].ShadowedBy
		if w == nil {
			w = out[i-1].Path
		}
		out[i].ShadowedBy = w
	}
}

// compareRank orders two Fields of the same Key, the winner first.
func compareRank(a, b Field) int {
	if an, bn := a.Value == nil, b.Value == nil; an != bn {
		if an {
			return 1
		}
		return -1
	}
	if ae, be := strings.Join(a.Path, "_") == a.Key, strings.Join(b.Path, "_") == b.Key; ae != be {
		if ae {
			return -1
		}
		return 1
	}
	return slices.Compare(a.Path, b.Path)
}

// sameColumn reports whether two Fields land in the same column.
func sameColumn(a, b Field) bool {
	if a.Key != b.Key {
		return false
	}
	return a.Key != "" || slices.Equal(a.Path, b.Path)
}

// isArray reports whether v is a slice or array, other than []byte and
// json.RawMessage, which are left as they are.
func isArray(v any) bool {
	switch v.(type) {
	case []any:
		return true
	case nil, []byte, json.RawMessage:
		return false
	}
	k := reflect.TypeOf(v).Kind()
	return k == reflect.Slice || k == reflect.Array
}

// jsonText returns v as compact JSON, object keys sorted and <, > and &
// left as they are. A value JSON cannot encode (a NaN inside an array, a
// channel) is formatted with fmt instead.
func jsonText(v any) string {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
