package columns

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/profilesync/profilesync/adapters"
)

// Infer returns the column type of a JSON value, as decoded by
// encoding/json (with UseNumber, so that integers stay integers) or passed
// by Go code:
//
//   - bool → Bool;
//   - an integer that fits int64 (json.Number in integer syntax, any Go
//     integer type) → Int; every other number, float64 and float32
//     included, → Float;
//   - a string that is an RFC 3339 date-time with a zone, with or without
//     fractional seconds, in years 0001–9999 once in UTC → Timestamp, as is
//     a time.Time;
//   - any other string, an array or object, or any other value → String;
//   - nil → "" (no type: a null never creates a column).
//
// A json.Number that is not a JSON number ("NaN", "0x10") is a String.
func Infer(v any) adapters.Type {
	switch v := v.(type) {
	case nil:
		return ""
	case bool:
		return adapters.Bool
	case json.Number:
		return numberType(string(v))
	case string:
		if _, reason := readTimestamp(v); reason == "" {
			return adapters.Timestamp
		}
		return adapters.String
	case time.Time:
		return adapters.Timestamp
	case int, int8, int16, int32, int64, uint8, uint16, uint32:
		return adapters.Int
	case uint:
		return uintType(uint64(v))
	case uint64:
		return uintType(v)
	case float32, float64:
		return adapters.Float
	}
	return adapters.String
}

// numberType is Infer of a json.Number.
func numberType(s string) adapters.Type {
	switch {
	case !isJSONNumber(s):
		return adapters.String
	case isJSONInteger(s):
		if _, err := strconv.ParseInt(s, 10, 64); err == nil {
			return adapters.Int
		}
	}
	return adapters.Float
}

func uintType(u uint64) adapters.Type {
	if u > math.MaxInt64 {
		return adapters.Float
	}
	return adapters.Int
}

// Widen returns the type a column should have when a value of type
// incoming arrives for a column of type existing, and whether that differs
// from existing. Only Int widens, to Float, since every warehouse converts
// integers to doubles safely; every other pair keeps existing, and the value
// is coerced to it or discarded. An existing type of "" (no column yet)
// takes incoming; an incoming "" (null) changes nothing.
//
// Widen also consolidates the types of one column within a batch: fold it
// over the types of the values, starting from "".
func Widen(existing, incoming adapters.Type) (adapters.Type, bool) {
	switch {
	case existing == "" && incoming != "":
		return incoming, true
	case existing == adapters.Int && incoming == adapters.Float:
		return adapters.Float, true
	}
	return existing, false
}

// MaxStringLength returns the longest string, in bytes, that a String
// column of a dialect stores: longer values are discarded (see Coerce), not
// truncated, so that nothing is lost silently. These are our choices:
//
//   - "postgres", "duckdb" and "redshift": 65,535 bytes, Redshift's
//     VARCHAR(MAX). PostgreSQL's text and DuckDB's VARCHAR take far more,
//     but a warehouse moved to Redshift keeps its data, and an oversize
//     value is something a test can send.
//   - "snowflake": 16,777,216 bytes, its VARCHAR maximum.
//   - "bigquery": 10,485,760 bytes, its STRING maximum.
//   - "synapse": 8,000 bytes, its VARCHAR(8000) maximum for a column that
//     can be part of a clustered columnstore index.
//
// Any other dialect gets 65,535 bytes.
func MaxStringLength(dialect string) int {
	switch dialect {
	case "snowflake":
		return 16 << 20
	case "bigquery":
		return 10 << 20
	case "synapse":
		return 8000
	}
	return 65535
}

// A CoercionError is why a value cannot be stored in a column of a type.
// Its message is short and fit for the reason column of discards.
type CoercionError struct {
	// Type is the column's type.
	Type adapters.Type
	// Reason is the message, such as "string in integer column".
	Reason string
}

// Error returns the reason.
func (e *CoercionError) Error() string { return e.Reason }

func coercionError(t adapters.Type, format string, args ...any) error {
	return &CoercionError{Type: t, Reason: fmt.Sprintf(format, args...)}
}

// mismatch is the error for a value of the wrong kind, such as "string in
// integer column".
func mismatch(v any, t adapters.Type) error {
	return coercionError(t, "%s in %s column", kind(v), typeWord(t))
}

// Coerce converts a value for a column of type t and returns it as
// adapters.Rows wants it: nil, string, int64, float64, bool or time.Time
// (UTC). A nil value is nil in any column. Otherwise:
//
//   - String takes anything: strings as they are, numbers in canonical form
//     (integers in decimal, other numbers as JavaScript prints them, numbers
//     too large for a float64 as written), true and false, time.Time in RFC
//     3339 UTC, arrays and objects as JSON text. A string longer than
//     maxString bytes (when maxString > 0) is an error, not truncated.
//   - Int takes integers that fit int64 and whole numbers in range.
//   - Float takes numbers, integers widened, except those out of float64
//     range (1e400).
//   - Bool takes booleans.
//   - Timestamp takes time.Time and RFC 3339 strings, as Infer reads them.
//
// Strings are never parsed as numbers or booleans. Any other value is a
// *CoercionError whose reason names the problem.
func Coerce(v any, t adapters.Type, maxString int) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch t {
	case adapters.String:
		s := toString(v)
		if maxString > 0 && len(s) > maxString {
			return nil, coercionError(t, "string longer than %d bytes", maxString)
		}
		if strings.IndexByte(s, 0) >= 0 {
			// PostgreSQL's and Redshift's text cannot hold it; no warehouse
			// gets it, so that a value lands the same everywhere.
			return nil, coercionError(t, "string contains a NUL character")
		}
		return s, nil
	case adapters.Int:
		return toInt(v)
	case adapters.Float:
		return toFloat(v)
	case adapters.Bool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
		return nil, mismatch(v, t)
	case adapters.Timestamp:
		switch v := v.(type) {
		case string:
			ts, err := parseTimestamp(v)
			if err != nil {
				return nil, err
			}
			return ts, nil
		case time.Time:
			if y := v.UTC().Year(); y < 1 || y > 9999 {
				return nil, coercionError(t, "timestamp out of range")
			}
			return v.UTC(), nil
		}
		return nil, mismatch(v, t)
	}
	return nil, coercionError(t, "unknown column type %q", string(t))
}

// toString is Coerce for a String column, before the length check.
func toString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	case json.Number:
		return numberString(string(v))
	case float64:
		return floatString(v, 64)
	case float32:
		return floatString(float64(v), 32)
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	case int:
		return strconv.Itoa(v)
	case int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return fmt.Sprint(v)
	}
	return jsonText(v)
}

// numberString is the canonical text of a json.Number.
func numberString(s string) string {
	if !isJSONNumber(s) {
		return s
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return strconv.FormatInt(i, 10)
	}
	if isJSONInteger(s) {
		return s // beyond int64: the digits as written are exact
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s // beyond float64: keep what was sent
	}
	return floatString(f, 64)
}

// floatString formats a float as JavaScript's Number.prototype.toString
// does (as encoding/json does): 100, 0.1, 1e+21, 1.5e-7.
func floatString(f float64, bits int) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return strconv.FormatFloat(f, 'g', -1, bits)
	}
	var b []byte
	if bits == 32 {
		b, _ = json.Marshal(float32(f))
	} else {
		b, _ = json.Marshal(f)
	}
	return string(b)
}

// toInt is Coerce for an Int column.
func toInt(v any) (any, error) {
	switch v := v.(type) {
	case json.Number:
		s := string(v)
		if !isJSONNumber(s) {
			return nil, mismatch(v, adapters.Int)
		}
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, nil
		}
		if isJSONInteger(s) {
			return nil, coercionError(adapters.Int, "number out of integer range")
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, coercionError(adapters.Int, "number out of integer range")
		}
		return floatToInt(f)
	case float64:
		return floatToInt(v)
	case float32:
		return floatToInt(float64(v))
	case int:
		return int64(v), nil
	case int8:
		return int64(v), nil
	case int16:
		return int64(v), nil
	case int32:
		return int64(v), nil
	case int64:
		return v, nil
	case uint8:
		return int64(v), nil
	case uint16:
		return int64(v), nil
	case uint32:
		return int64(v), nil
	case uint:
		return uintToInt(uint64(v))
	case uint64:
		return uintToInt(v)
	}
	return nil, mismatch(v, adapters.Int)
}

// floatToInt converts a whole float in int64 range.
func floatToInt(f float64) (any, error) {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return nil, coercionError(adapters.Int, "not a finite number")
	case f != math.Trunc(f):
		return nil, coercionError(adapters.Int, "fractional number in integer column")
	case f < -(1<<63) || f >= 1<<63:
		return nil, coercionError(adapters.Int, "number out of integer range")
	}
	return int64(f), nil
}

func uintToInt(u uint64) (any, error) {
	if u > math.MaxInt64 {
		return nil, coercionError(adapters.Int, "number out of integer range")
	}
	return int64(u), nil
}

// toFloat is Coerce for a Float column.
func toFloat(v any) (any, error) {
	var f float64
	switch v := v.(type) {
	case json.Number:
		s := string(v)
		if !isJSONNumber(s) {
			return nil, mismatch(v, adapters.Float)
		}
		var err error
		if f, err = strconv.ParseFloat(s, 64); err != nil {
			return nil, coercionError(adapters.Float, "number out of float range")
		}
	case float64:
		f = v
	case float32:
		// Through its shortest text, so that float32(0.1) is 0.1.
		f, _ = strconv.ParseFloat(strconv.FormatFloat(float64(v), 'g', -1, 32), 64)
	case int:
		f = float64(v)
	case int8:
		f = float64(v)
	case int16:
		f = float64(v)
	case int32:
		f = float64(v)
	case int64:
		f = float64(v)
	case uint:
		f = float64(v)
	case uint8:
		f = float64(v)
	case uint16:
		f = float64(v)
	case uint32:
		f = float64(v)
	case uint64:
		f = float64(v)
	default:
		return nil, mismatch(v, adapters.Float)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, coercionError(adapters.Float, "not a finite number")
	}
	return f, nil
}

// parseTimestamp parses an RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS, an
// optional fraction after ".", and Z or ±HH:MM ("t" and "z" may be lower
// case). A leap second (:60) rolls over to the next second, as PostgreSQL
// does. The result is in UTC and must fall in years 0001–9999, which every
// warehouse stores.
func parseTimestamp(s string) (time.Time, error) {
	t, reason := readTimestamp(s)
	if reason != "" {
		return time.Time{}, coercionError(adapters.Timestamp, "%s", reason)
	}
	return t, nil
}

// readTimestamp is parseTimestamp without an error value: reason is why s
// is not a timestamp, "" if it is one. It does not allocate for a string
// that does not look like a date-time at all, which most strings do not.
func readTimestamp(s string) (t time.Time, reason string) {
	const notTimestamp = "string is not an RFC 3339 timestamp"
	if len(s) < len("2006-01-02T15:04:05Z") || s[4] != '-' || s[7] != '-' {
		return time.Time{}, notTimestamp
	}
	b, ok := timestampShape(s)
	if !ok {
		return time.Time{}, notTimestamp
	}
	leap := b[17] == '6' && b[18] == '0'
	if leap {
		b[17] = '5'
		b[18] = '9'
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return time.Time{}, notTimestamp
	}
	if leap {
		t = t.Add(time.Second)
	}
	t = t.UTC()
	if y := t.Year(); y < 1 || y > 9999 {
		return time.Time{}, "timestamp out of range"
	}
	return t, ""
}

// timestampShape checks the layout of an RFC 3339 date-time, leaving the
// calendar to time.Parse, and returns it with "T" and "Z" in upper case.
func timestampShape(s string) ([]byte, bool) {
	if len(s) < len("2006-01-02T15:04:05Z") || len(s) > 64 {
		return nil, false
	}
	b := []byte(s)
	for i, c := range b[:19] {
		switch i {
		case 4, 7:
			if c != '-' {
				return nil, false
			}
		case 10:
			if c != 'T' && c != 't' {
				return nil, false
			}
			b[i] = 'T'
		case 13, 16:
			if c != ':' {
				return nil, false
			}
		default:
			if !isDigit(c) {
				return nil, false
			}
		}
	}
	i := 19
	if b[i] == '.' {
		j := i + 1
		for j < len(b) && isDigit(b[j]) {
			j++
		}
		if j == i+1 {
			return nil, false
		}
		i = j
	}
	zone := b[i:]
	switch {
	case len(zone) == 1 && (zone[0] == 'Z' || zone[0] == 'z'):
		zone[0] = 'Z'
		return b, true
	case len(zone) == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':' &&
		isDigit(zone[1]) && isDigit(zone[2]) && isDigit(zone[4]) && isDigit(zone[5]):
		hh := int(zone[1]-'0')*10 + int(zone[2]-'0')
		mm := int(zone[4]-'0')*10 + int(zone[5]-'0')
		return b, hh <= 23 && mm <= 59
	}
	return nil, false
}

// isJSONNumber reports whether s is a number in JSON's grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i == len(s) || !isDigit(s[i]) {
			return false
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i == len(s) || !isDigit(s[i]) {
			return false
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	return i == len(s)
}

// isJSONInteger reports whether a JSON number has neither a fraction nor an
// exponent.
func isJSONInteger(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' || s[i] == 'e' || s[i] == 'E' {
			return false
		}
	}
	return true
}

// kind names the JSON kind of a value for error messages.
func kind(v any) string {
	switch v := v.(type) {
	case string:
		return "string"
	case json.Number:
		if isJSONNumber(string(v)) {
			return "number"
		}
		return "string"
	case bool:
		return "boolean"
	case time.Time:
		return "timestamp"
	case float32, float64, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return "number"
	case map[string]any:
		return "object"
	}
	if isArray(v) {
		return "array"
	}
	return fmt.Sprintf("%T", v)
}

// typeWord names a column type in error messages.
func typeWord(t adapters.Type) string {
	switch t {
	case adapters.Int:
		return "integer"
	case adapters.Bool:
		return "boolean"
	}
	return string(t)
}
