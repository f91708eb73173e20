package activities

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/profilesync/profilesync/adapters"
)

// coerce converts a landed value (nil, string, int64, float64, bool or
// time.Time) into a column of type t, and reports whether it fits. Anything
// fits a string column; an int fits a float column; a whole float fits an
// int column; an RFC 3339 string fits a timestamp column (the rules of
// prior-art §1.6). A value that does not fit goes to the discards table.
func coerce(v any, t adapters.Type) (any, bool) {
	if v == nil {
		return nil, true
	}
	switch t {
	case adapters.String:
		return stringValue(v), true
	case adapters.Int:
		switch x := v.(type) {
		case int64:
			return x, true
		case float64:
			if x == math.Trunc(x) && x >= math.MinInt64 && x < math.MaxInt64 {
				return int64(x), true
			}
		}
	case adapters.Float:
		switch x := v.(type) {
		case float64:
			return x, true
		case int64:
			return float64(x), true
		}
	case adapters.Bool:
		if x, ok := v.(bool); ok {
			return x, true
		}
	case adapters.Timestamp:
		switch x := v.(type) {
		case time.Time:
			return x, true
		case string:
			if ts, err := time.Parse(time.RFC3339Nano, x); err == nil {
				return ts.UTC(), true
			}
		}
	default:
		return v, true // a type we do not know: leave it to the warehouse
	}
	return nil, false
}

// stringValue renders a value as text: a string as is, numbers in decimal
// (floats as the shortest text that reads back the same), bools as true or
// false, times as RFC 3339 in UTC, anything else as JSON.
func stringValue(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case json.Number:
		return x.String()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// typeOf names the type of a landed value, for discard reasons.
func typeOf(v any) adapters.Type {
	switch v.(type) {
	case string:
		return adapters.String
	case int64:
		return adapters.Int
	case float64:
		return adapters.Float
	case bool:
		return adapters.Bool
	case time.Time:
		return adapters.Timestamp
	}
	return adapters.Type(fmt.Sprintf("%T", v))
}
