package activities

import (
	"fmt"
	"time"

	"github.com/profilesync/profilesync/adapters"
	"github.com/profilesync/profilesync/columns"
)

// typedValue converts a decoded JSON value (a trait, a property) into the
// value and type it lands as: the type columns.Infer gives it, the value as
// columns.Coerce makes it for that type.
func typedValue(v any) (any, adapters.Type) {
	t := columns.Infer(v)
	if t == "" {
		return nil, ""
	}
	cv, err := columns.Coerce(v, t, 0)
	if err != nil { // a number beyond float64, say: keep it as text
		return textOf(v), adapters.String
	}
	return cv, t
}

// textOf renders any value as text, as a string column stores it.
func textOf(v any) string {
	s, err := columns.Coerce(v, adapters.String, 0)
	if err != nil {
		return fmt.Sprint(v)
	}
	return s.(string)
}

// typeOf is the column type of a landed value (nil, string, int64,
// float64, bool or time.Time); "" for anything else.
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
	return ""
}
