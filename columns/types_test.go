package columns

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/profilesync/profilesync/adapters"
)

func TestInfer(t *testing.T) {
	tests := []struct {
		v    any
		want adapters.Type
	}{
		{nil, ""},
		{true, adapters.Bool},
		{json.Number("42"), adapters.Int},
		{json.Number("-0"), adapters.Int},
		{json.Number("9223372036854775807"), adapters.Int},
		{json.Number("-9223372036854775808"), adapters.Int},
		{json.Number("9223372036854775808"), adapters.Float}, // beyond int64
		{json.Number("123456789012345678901234567890"), adapters.Float},
		{json.Number("1.0"), adapters.Float},
		{json.Number("1e2"), adapters.Float},
		{json.Number("1e400"), adapters.Float}, // a number, if not a float64 one
		{json.Number("NaN"), adapters.String},  // not JSON: text
		{json.Number("0x10"), adapters.String},
		{json.Number("+1"), adapters.String},
		{json.Number(""), adapters.String},
		{42, adapters.Int},
		{int8(-1), adapters.Int},
		{uint64(math.MaxInt64), adapters.Int},
		{uint64(math.MaxUint64), adapters.Float},
		{42.0, adapters.Float},
		{float32(1), adapters.Float},
		{math.NaN(), adapters.Float},
		{"hello", adapters.String},
		{"NaN", adapters.String},
		{"Infinity", adapters.String},
		{"1e400", adapters.String},
		{"42", adapters.String},
		{"true", adapters.String},
		{"", adapters.String},
		{"2024-01-02T03:04:05Z", adapters.Timestamp},
		{"2024-01-02T03:04:05.123Z", adapters.Timestamp},
		{"2024-01-02T03:04:05.123456789+05:30", adapters.Timestamp},
		{"2024-01-02T03:04:05-08:00", adapters.Timestamp},
		{"2024-01-02t03:04:05z", adapters.Timestamp},
		{"2016-12-31T23:59:60Z", adapters.Timestamp},           // leap second
		{"2024-01-02", adapters.String},                        // a date, not a date-time
		{"2024-01-02T03:04:05", adapters.String},               // no zone
		{"2024-01-02 03:04:05Z", adapters.String},              // space
		{"2024-01-02T03:04:05,5Z", adapters.String},            // comma fraction
		{"2024-01-02T03:04:05.Z", adapters.String},             // empty fraction
		{"2024-01-02T03:04:05+0100", adapters.String},          // offset without colon
		{"2024-01-02T03:04:05+24:00", adapters.String},         // offset out of range
		{"2024-02-30T03:04:05Z", adapters.String},              // no such day
		{"2024-01-02T24:00:00Z", adapters.String},              // hour 24
		{"0000-01-01T00:00:00Z", adapters.String},              // year 0
		{"0001-01-01T00:00:00+01:00", adapters.String},         // year 0 in UTC
		{"9999-12-31T23:00:00-05:00", adapters.String},         // year 10000 in UTC
		{"9999-12-31T23:59:59.999999999Z", adapters.Timestamp}, // last instant
		{time.Now(), adapters.Timestamp},
		{[]any{1, 2}, adapters.String},
		{map[string]any{"a": 1}, adapters.String},
		{struct{}{}, adapters.String},
	}
	for _, tt := range tests {
		if got := Infer(tt.v); got != tt.want {
			t.Errorf("Infer(%#v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestCoerce(t *testing.T) {
	utc := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UTC()
	}
	big := strings.Repeat("x", 513)
	tests := []struct {
		v      any
		t      adapters.Type
		want   any
		reason string // "" for success
	}{
		// nil in any column
		{nil, adapters.Int, nil, ""},
		{nil, adapters.Timestamp, nil, ""},

		// anything into String
		{"héllo", adapters.String, "héllo", ""},
		{true, adapters.String, "true", ""},
		{false, adapters.String, "false", ""},
		{json.Number("42"), adapters.String, "42", ""},
		{json.Number("-0"), adapters.String, "0", ""},
		{json.Number("1.50"), adapters.String, "1.5", ""},
		{json.Number("1e2"), adapters.String, "100", ""},
		{json.Number("1E21"), adapters.String, "1e+21", ""},
		{json.Number("0.00000015"), adapters.String, "1.5e-7", ""},
		{json.Number("123456789012345678901234567890"), adapters.String, "123456789012345678901234567890", ""},
		{json.Number("1e400"), adapters.String, "1e400", ""},
		{json.Number("NaN"), adapters.String, "NaN", ""},
		{42, adapters.String, "42", ""},
		{uint64(math.MaxUint64), adapters.String, "18446744073709551615", ""},
		{0.1, adapters.String, "0.1", ""},
		{float32(0.1), adapters.String, "0.1", ""},
		{1e21, adapters.String, "1e+21", ""},
		{math.Inf(1), adapters.String, "+Inf", ""},
		{[]any{"a", json.Number("1"), nil}, adapters.String, `["a",1,null]`, ""},
		{map[string]any{"b": "<&>", "a": 1}, adapters.String, `{"a":1,"b":"<&>"}`, ""},
		{utc("2024-01-02T03:04:05+01:00"), adapters.String, "2024-01-02T02:04:05Z", ""},
		{strings.Repeat("é", 256), adapters.String, strings.Repeat("é", 256), ""}, // 512 bytes
		{big, adapters.String, nil, "string longer than 512 bytes"},
		{strings.Repeat("é", 257), adapters.String, nil, "string longer than 512 bytes"},

		// Int
		{json.Number("42"), adapters.Int, int64(42), ""},
		{json.Number("-9223372036854775808"), adapters.Int, int64(math.MinInt64), ""},
		{json.Number("9223372036854775808"), adapters.Int, nil, "number out of integer range"},
		{json.Number("1e2"), adapters.Int, int64(100), ""},
		{json.Number("2.0"), adapters.Int, int64(2), ""},
		{json.Number("2.5"), adapters.Int, nil, "fractional number in integer column"},
		{json.Number("1e19"), adapters.Int, nil, "number out of integer range"},
		{json.Number("1e400"), adapters.Int, nil, "number out of integer range"},
		{json.Number("NaN"), adapters.Int, nil, "string in integer column"},
		{3.0, adapters.Int, int64(3), ""},
		{-9.223372036854775808e18, adapters.Int, int64(math.MinInt64), ""},
		{9.223372036854775808e18, adapters.Int, nil, "number out of integer range"},
		{math.NaN(), adapters.Int, nil, "not a finite number"},
		{uint64(math.MaxUint64), adapters.Int, nil, "number out of integer range"},
		{int32(-7), adapters.Int, int64(-7), ""},
		{"42", adapters.Int, nil, "string in integer column"},
		{true, adapters.Int, nil, "boolean in integer column"},
		{[]any{1}, adapters.Int, nil, "array in integer column"},
		{map[string]any{}, adapters.Int, nil, "object in integer column"},

		// Float
		{json.Number("1.5"), adapters.Float, 1.5, ""},
		{json.Number("42"), adapters.Float, 42.0, ""}, // int widens
		{json.Number("123456789012345678901234567890"), adapters.Float, 1.2345678901234568e29, ""},
		{json.Number("1e400"), adapters.Float, nil, "number out of float range"},
		{json.Number("-1e400"), adapters.Float, nil, "number out of float range"},
		{json.Number("1e-400"), adapters.Float, 0.0, ""}, // underflows to zero
		{int64(math.MaxInt64), adapters.Float, 9.223372036854775807e18, ""},
		{float32(0.1), adapters.Float, 0.1, ""},
		{math.Inf(-1), adapters.Float, nil, "not a finite number"},
		{"NaN", adapters.Float, nil, "string in float column"},
		{"1.5", adapters.Float, nil, "string in float column"},
		{false, adapters.Float, nil, "boolean in float column"},

		// Bool
		{true, adapters.Bool, true, ""},
		{"true", adapters.Bool, nil, "string in boolean column"},
		{json.Number("1"), adapters.Bool, nil, "number in boolean column"},

		// Timestamp
		{"2024-01-02T03:04:05+01:00", adapters.Timestamp, utc("2024-01-02T02:04:05Z"), ""},
		{"2024-01-02T03:04:05.123456789-08:00", adapters.Timestamp, utc("2024-01-02T11:04:05.123456789Z"), ""},
		{"2016-12-31T23:59:60Z", adapters.Timestamp, utc("2017-01-01T00:00:00Z"), ""},
		{"2016-12-31T23:59:60.5Z", adapters.Timestamp, utc("2017-01-01T00:00:00.5Z"), ""},
		{"2017-01-01T05:29:60+05:30", adapters.Timestamp, utc("2017-01-01T00:00:00Z"), ""},
		{"2024-01-02", adapters.Timestamp, nil, "string is not an RFC 3339 timestamp"},
		{"yesterday", adapters.Timestamp, nil, "string is not an RFC 3339 timestamp"},
		{"2024-13-01T00:00:00Z", adapters.Timestamp, nil, "string is not an RFC 3339 timestamp"},
		{"0000-06-01T00:00:00Z", adapters.Timestamp, nil, "timestamp out of range"},
		{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), adapters.Timestamp, nil, "timestamp out of range"},
		{utc("2024-01-02T03:04:05+01:00"), adapters.Timestamp, utc("2024-01-02T02:04:05Z"), ""},
		{json.Number("1704164645"), adapters.Timestamp, nil, "number in timestamp column"},
		{true, adapters.Timestamp, nil, "boolean in timestamp column"},

		// unknown column type
		{"x", adapters.Type("hugeint"), nil, `unknown column type "hugeint"`},
	}
	for _, tt := range tests {
		got, err := Coerce(tt.v, tt.t, 512)
		if tt.reason != "" {
			var ce *CoercionError
			if !errors.As(err, &ce) || ce.Reason != tt.reason || ce.Type != tt.t || err.Error() != tt.reason || got != nil {
				t.Errorf("Coerce(%#v, %s) = %#v, %v; want error %q", tt.v, tt.t, got, err, tt.reason)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Coerce(%#v, %s) = %#v, %v; want %#v", tt.v, tt.t, got, err, tt.want)
		}
		if tm, ok := got.(time.Time); ok && tm.Location() != time.UTC {
			t.Errorf("Coerce(%#v, %s) is not in UTC: %v", tt.v, tt.t, tm)
		}
	}
	if got, err := Coerce(big, adapters.String, 0); err != nil || got != big {
		t.Errorf("maxString 0 limited a string: %v", err)
	}
}

// TestCoerceInferred checks that every value Coerces into the type Infer
// gives it, except numbers beyond float64, and into String always.
func TestCoerceInferred(t *testing.T) {
	for _, v := range []any{
		true, json.Number("42"), json.Number("1.5"), json.Number("99999999999999999999"),
		"2024-01-02T03:04:05Z", "2016-12-31T23:59:60Z", "text", 1, 1.5, uint64(math.MaxUint64),
		time.Now(), []any{"a"}, map[string]any{"a": nil},
	} {
		if _, err := Coerce(v, Infer(v), 0); err != nil {
			t.Errorf("Coerce(%#v, Infer = %s): %v", v, Infer(v), err)
		}
		if _, err := Coerce(v, adapters.String, 0); err != nil {
			t.Errorf("Coerce(%#v, String): %v", v, err)
		}
	}
}

func TestWiden(t *testing.T) {
	tests := []struct {
		existing, incoming, want adapters.Type
		changed                  bool
	}{
		{adapters.Int, adapters.Float, adapters.Float, true},
		{adapters.Float, adapters.Int, adapters.Float, false},
		{adapters.Int, adapters.Int, adapters.Int, false},
		{adapters.String, adapters.Int, adapters.String, false},
		{adapters.Int, adapters.String, adapters.Int, false},
		{adapters.Timestamp, adapters.String, adapters.Timestamp, false},
		{adapters.Bool, adapters.Int, adapters.Bool, false},
		{adapters.Int, "", adapters.Int, false},
		{"", adapters.Int, adapters.Int, true},
		{"", "", "", false},
		{"hugeint", adapters.Float, "hugeint", false},
	}
	for _, tt := range tests {
		got, changed := Widen(tt.existing, tt.incoming)
		if got != tt.want || changed != tt.changed {
			t.Errorf("Widen(%q, %q) = %q, %v; want %q, %v", tt.existing, tt.incoming, got, changed, tt.want, tt.changed)
		}
	}
	// Folding a batch: the first type wins, except that Int becomes Float.
	var col adapters.Type
	for _, v := range []any{json.Number("1"), nil, json.Number("1.5"), "text", json.Number("2")} {
		col, _ = Widen(col, Infer(v))
	}
	if col != adapters.Float {
		t.Errorf("batch type = %q, want float", col)
	}
}

// FuzzCoerce checks that any string or number coerces into String, and
// into the type Infer gives it unless it is a number beyond float64.
func FuzzCoerce(f *testing.F) {
	for _, s := range []string{"", "1", "-0", "1.5e3", "1e400", "NaN", "2016-12-31T23:59:60Z", "0000-01-01T00:00:00Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, v := range []any{s, json.Number(s)} {
			if _, err := Coerce(v, adapters.String, 0); err != nil {
				t.Fatalf("Coerce(%#v, String): %v", v, err)
			}
			typ := Infer(v)
			got, err := Coerce(v, typ, 0)
			if err != nil {
				if typ == adapters.Float && err.Error() == "number out of float range" {
					continue
				}
				t.Fatalf("Coerce(%#v, Infer = %s): %v", v, typ, err)
			}
			if tm, ok := got.(time.Time); ok && (tm.Location() != time.UTC || tm.Year() < 1 || tm.Year() > 9999) {
				t.Fatalf("Coerce(%#v) = %v", v, tm)
			}
		}
	})
}

func TestMaxStringLength(t *testing.T) {
	for dialect, want := range map[string]int{
		"postgres": 65535, "duckdb": 65535, "redshift": 65535, "snowflake": 16 << 20,
		"bigquery": 10 << 20, "synapse": 8000, "other": 65535,
	} {
		if got := MaxStringLength(dialect); got != want {
			t.Errorf("MaxStringLength(%q) = %d, want %d", dialect, got, want)
		}
	}
	long := strings.Repeat("x", 65536)
	if _, err := Coerce(long, adapters.String, MaxStringLength("postgres")); err == nil || err.Error() != "string longer than 65535 bytes" {
		t.Errorf("oversize string: %v", err)
	}
	if v, err := Coerce(long[:65535], adapters.String, MaxStringLength("postgres")); err != nil || v != long[:65535] {
		t.Errorf("string at the limit: %v", err)
	}
}
