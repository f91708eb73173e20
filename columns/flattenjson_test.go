package columns

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// referenceFlatten is what FlattenJSON must return: encoding/json into a
// map, then Flatten.
func referenceFlatten(prefix string, data []byte) ([]Field, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var obj map[string]any
	if err := d.Decode(&obj); err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(data[d.InputOffset():])) > 0 {
		return nil, errors.New("trailing data")
	}
	return Flatten(prefix, obj), nil
}

// flattenJSONCases are objects the fast path reads, and some it leaves to
// the decoder.
var flattenJSONCases = []string{
	`{}`, ` { } `, `null`, `{"a":1}`,
	`{"app": {"version": "1.2.3", "build": 42}, "userAgent": "Mozilla <5.0> & co", "traits": {"email": null}, "empty": {},
	  "list": ["a", {"b": 1, "a": [true, null]}, 1.50]}`,
	`{"firstName": "A", "first_name": "B", "first name": null}`,
	`{"a": {"b": {"c": [1, {"d": 2}]}}, "a_b_c": true, "aB": {"c": "x"}}`,
	`{"": 1, "$": {"": 2}, "🎉": [], "x": {}}`,
	`{"id": 1, "_id": 2, "ID": 3, "select": {"from": 1e400}}`,
	`{"esc\u0061ped": "a\"b\\c\/d\u00e9\ud83c\udf89", "naïve": "café", "bad": "\xff"}`,
	`{"n": -0.5e-3, "m": 0, "k": 12345678901234567890123}`,
	`{"dup": 1, "dup": {"x": 2}}`, `{"a": {"dup": 1, "b": 2, "dup": 3}}`,
	// Not objects, or not JSON.
	`[1, 2]`, `"x"`, `1`, `{"a": 01}`, `{"a": 1,}`, `{"a" 1}`, `{"a": tru}`, `{"a": 1} x`, `{"a": "\x01"}`,
	`{"a": [1, }`, `{"a": "\q"}`, `{"a": 1`, ``, `{"a": -}`, `{"a": 1.}`, `{"a": nullx}`,
}

func TestFlattenJSON(t *testing.T) {
	big := map[string]any{}
	for i := range 300 {
		big[fmt.Sprintf("p%03d", i)] = i
	}
	bigJSON, _ := json.Marshal(big)
	cases := append([]string{string(bigJSON), strings.Replace(string(bigJSON), `"p299"`, `"p000"`, 1)}, flattenJSONCases...)
	fl := NewFlattener()
	for range 2 { // the second time with the Flattener's strings
		for _, c := range cases {
			for _, prefix := range []string{"", "context"} {
				want, wantErr := referenceFlatten(prefix, []byte(c))
				got, err := FlattenJSON(prefix, []byte(c))
				if (err == nil) != (wantErr == nil) || !reflect.DeepEqual(got, want) {
					t.Errorf("FlattenJSON(%q, %.60q) = %v, %v\nwant %v, %v", prefix, c, got, err, want, wantErr)
				}
				got, err = fl.FlattenJSON(prefix, []byte(c))
				if (err == nil) != (wantErr == nil) || !reflect.DeepEqual(got, want) {
					t.Errorf("Flattener.FlattenJSON(%q, %.60q) = %v, %v\nwant %v, %v", prefix, c, got, err, want, wantErr)
				}
			}
		}
	}
}

// FuzzFlattenJSON checks that FlattenJSON returns what encoding/json and
// Flatten return, and fails exactly when they fail.
func FuzzFlattenJSON(f *testing.F) {
	for _, c := range flattenJSONCases {
		f.Add([]byte(c))
	}
	fl := NewFlattener()
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := fl.FlattenJSON("context", data)
		want, wantErr := referenceFlatten("context", data)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("FlattenJSON(%q): error %v, encoding/json: %v", data, err, wantErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("FlattenJSON(%q):\n got %v\nwant %v", data, got, want)
		}
	})
}

func BenchmarkFlattenJSON(b *testing.B) {
	data := []byte(`{"product_id": "prod-1", "sku": "sku-2", "category": "Games", "name": "Monopoly: 3rd Edition",
		"brand": "Hasbro", "variant": "200 pieces", "coupon": "MAYDEALS", "currency": "USD", "quantity": 3, "position": 4,
		"order_count": 5, "list_position": 6, "step": 1, "price": 18.99, "revenue": 12.5, "discount": 2.5, "tax": 1.25,
		"in_stock": true, "gift": false, "ordered_at": "2026-03-01T12:00:00Z", "library": {"name": "analytics.js", "version": "2.11.1"}}`)
	b.Run("FlattenJSON", func(b *testing.B) {
		for b.Loop() {
			if _, err := FlattenJSON("", data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Flattener", func(b *testing.B) {
		fl := NewFlattener()
		for b.Loop() {
			if _, err := fl.FlattenJSON("", data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode+Flatten", func(b *testing.B) {
		for b.Loop() {
			if _, err := referenceFlatten("", data); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestMembers(t *testing.T) {
	type member struct{ k, v string }
	tests := []struct {
		in   string
		ok   bool
		want []member
	}{
		{`{}`, true, nil},
		{` {"a": 1, "b" : "x\"y", "c": {"d": [1, "]"]}, "e": [], "f": null, "a": true} `, true,
			[]member{{"a", "1"}, {"b", `"x\"y"`}, {"c", `{"d": [1, "]"]}`}, {"e", "[]"}, {"f", "null"}, {"a", "true"}}},
		{`{"k\u0065y": -1.5e3}`, true, []member{{"key", "-1.5e3"}}},
		{`{"a": 1,}`, false, nil}, {`{"a": 01}`, false, nil}, {`{"a": {"b": 1}`, false, nil},
		{`[1]`, false, nil}, {`{"a": 1} 2`, false, nil}, {`{"a": tru}`, false, nil}, {``, false, nil},
	}
	for _, tt := range tests {
		var got []member
		ok := Members([]byte(tt.in), func(k string, v []byte) { got = append(got, member{k, string(v)}) })
		if ok != tt.ok || tt.ok && !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Members(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
