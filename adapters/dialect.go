package adapters

// Dialect is what the code outside an adapter's SQL needs to know about a
// warehouse's dialect: how to quote a name, its limits and its column types.
// Each adapter package exports its Dialect; the conformance suite builds its
// queries through it.
type Dialect interface {
	// Name is the warehouse type, as in Config.Type ("postgres", "duckdb").
	Name() string
	// QuoteIdent quotes a schema, table or column name so that any name,
	// reserved words and embedded quotes included, is taken literally.
	QuoteIdent(name string) string
	// MaxIdentLength is the longest name, in bytes, the warehouse keeps
	// without truncating it; 0 means no practical limit.
	MaxIdentLength() int
	// MaxColumns is the most columns a table may have; 0 means no practical
	// limit.
	MaxColumns() int
	// TypeName is the warehouse's column type for t, or "" if t is unknown.
	TypeName(t Type) string
}
