package duckdb

import (
	"strings"

	"github.com/profilesync/profilesync/adapters"
)

// Dialect is DuckDB's SQL dialect as the code outside the adapter sees it.
type Dialect struct{}

// Limits of the dialect. DuckDB documents no limit on the length of a name
// or on the number of columns of a table
// (https://duckdb.org/docs/stable/operations_manual/limits), so these are
// our own safe choices.
const (
	// MaxIdentLength keeps names to 255 bytes, as Snowflake does, so that a
	// DuckDB schema can be moved to a cloud warehouse as it is.
	MaxIdentLength = 255
	// MaxColumns caps tables at 10,000 columns, the widest of Segment's
	// warehouses (BigQuery). DuckDB creates, loads and queries tables that
	// wide without trouble.
	MaxColumns = 10000
)

// Name is the warehouse type.
func (Dialect) Name() string { return Type }

// QuoteIdent quotes a name with double quotes, doubling embedded ones.
// DuckDB compares quoted names case-insensitively but keeps their case.
func (Dialect) QuoteIdent(name string) string { return quote(name) }

// MaxIdentLength is the longest name, in bytes, that we create.
func (Dialect) MaxIdentLength() int { return MaxIdentLength }

// MaxColumns is the most columns a table may have.
func (Dialect) MaxColumns() int { return MaxColumns }

// TypeName is the DuckDB type of a column type, or "" if t is unknown.
func (Dialect) TypeName(t adapters.Type) string { return typeName(t) }

// quote quotes an identifier.
func quote(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// typeName maps a column type to DuckDB's.
func typeName(t adapters.Type) string {
	switch t {
	case adapters.String:
		return "VARCHAR"
	case adapters.Int:
		return "BIGINT"
	case adapters.Float:
		return "DOUBLE"
	case adapters.Bool:
		return "BOOLEAN"
	case adapters.Timestamp:
		return "TIMESTAMPTZ"
	}
	return ""
}

// columnType maps a DuckDB type, as information_schema.columns spells it,
// to a column type. Types the adapter never creates map to their DuckDB
// name in lower case, so that callers can see them and leave them alone.
func columnType(duckType string) adapters.Type {
	switch t := strings.ToUpper(duckType); t {
	case "VARCHAR", "TEXT", "STRING", "UUID":
		return adapters.String
	case "BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT",
		"UBIGINT", "UINTEGER", "USMALLINT", "UTINYINT":
		return adapters.Int
	case "DOUBLE", "FLOAT", "REAL":
		return adapters.Float
	case "BOOLEAN":
		return adapters.Bool
	case "TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ", "TIMESTAMP":
		return adapters.Timestamp
	default:
		if strings.HasPrefix(t, "DECIMAL") {
			return adapters.Float
		}
		return adapters.Type(strings.ToLower(duckType))
	}
}
