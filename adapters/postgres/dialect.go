package postgres

import (
	"strings"

	"github.com/profilesync/profilesync/adapters"
)

// PostgreSQL's limits: NAMEDATALEN-1 bytes per name (longer names are
// truncated) and 1600 columns per table.
const (
	maxIdentLength = 63
	maxColumns     = 1600
)

// Dialect is PostgreSQL's SQL dialect.
type Dialect struct{}

var _ adapters.Dialect = Dialect{}

// Name returns "postgres".
func (Dialect) Name() string { return "postgres" }

// QuoteIdent quotes a name as a delimited identifier, doubling embedded
// double quotes.
func (Dialect) QuoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// MaxIdentLength is NAMEDATALEN-1: PostgreSQL truncates longer names.
func (Dialect) MaxIdentLength() int { return maxIdentLength }

// MaxColumns is PostgreSQL's limit of columns per table.
func (Dialect) MaxColumns() int { return maxColumns }

// TypeName maps a column type to a PostgreSQL type.
func (Dialect) TypeName(t adapters.Type) string { return typeName(t) }

func typeName(t adapters.Type) string {
	switch t {
	case adapters.String:
		return "text"
	case adapters.Int:
		return "bigint"
	case adapters.Float:
		return "double precision"
	case adapters.Bool:
		return "boolean"
	case adapters.Timestamp:
		return "timestamptz"
	}
	return ""
}

// columnType maps a type reported by information_schema.columns.data_type
// back to a column type. Types Profiles Sync does not create read as String.
func columnType(dataType string) adapters.Type {
	switch dataType {
	case "bigint", "integer", "smallint":
		return adapters.Int
	case "double precision", "real", "numeric":
		return adapters.Float
	case "boolean":
		return adapters.Bool
	case "timestamp with time zone", "timestamp without time zone", "date":
		return adapters.Timestamp
	}
	return adapters.String
}
