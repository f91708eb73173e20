// Package columns turns Segment events into warehouse tables, columns and
// typed values, following Segment's warehouse conventions
// (reference/segment-semantics.md §1.3–1.4) and the schema evolution rules
// of reference/prior-art.md §1.6. It is pure: no I/O, no package state.
//
// A loader uses it like this for one Track event (traits use
// n.ForTraits() instead of n.ForEventTable):
//
//	n := columns.NewNamer(columns.RulesFor(dialect))
//	table := n.Table(event.Name) // "Order Completed" → order_completed
//	cols := n.ForEventTable(table)
//	row := columns.Resolve(append(columns.Flatten("", properties), columns.Flatten("context", context)...))
//	for _, f := range row {
//		name := cols.ColumnOf(f) // context_app_version, _id, ...
//		if f.ShadowedBy != nil {
//			// another key of the row took the column: discard f.Value
//		}
//		batchTypes[name], _ = columns.Widen(batchTypes[name], columns.Infer(f.Value))
//	}
//	add, widen, overflow := columns.Plan(existing, batchTypes, dialect.MaxColumns())
//	// ... after the schema change, per value:
//	v, err := columns.Coerce(value, tableTypes[name], columns.MaxStringLength(dialect.Name())) // err.Error() is the discard reason
//
// # Names
//
// Table and column names are built the same way:
//
//  1. Each key is converted with SnakeCase, which matches
//     segmentio/go-snakecase: only ASCII letters and digits are kept,
//     everything else separates words; a lower→Upper boundary starts a
//     word; upper-case runs stay one chunk. A column's path (context, app,
//     version) joins its converted keys with "_", skipping keys that convert
//     to nothing: that is its Key.
//  2. A Key that is empty (a key of emoji or symbols only) becomes "__" and
//     ten hex digits of a SHA-256 of the original keys, so different keys
//     keep different columns.
//  3. A name that starts with a digit, is a reserved word of the warehouse,
//     or is taken — for tables, the name of a table Profiles Sync lands
//     (identifies, tracks, discards, id_graph, ...) and those added with
//     ReservingTables (the activities add the report rows "events" and
//     "materialize"); for columns, a standard
//     column of the target table (id, received_at, user_id, event, ... from
//     adapters.EventTable, or adapters.ReservedTraitColumns for traits) —
//     gets a "_" prefix, as Redshift does: 3doctors → _3doctors,
//     select → _select, id → _id. Nothing is discarded for its name. On
//     BigQuery a column that then starts with a reserved prefix (_partition)
//     gets one more "_".
//  4. A name longer than the warehouse's limit keeps its first limit−12
//     bytes (trailing "_" trimmed), then "__" and ten hex digits of a
//     SHA-256 of the whole name, so two long names never share a column.
//
// Results hold only [a-z0-9_], never start with a digit, are never reserved
// words, fit the limit, and are the same on every run and machine. Two paths
// share a column exactly when their Keys are equal and not empty (or the
// paths themselves are equal).
//
// # Values
//
// Flatten flattens nested objects with "_", stores arrays as JSON text and
// reports nulls without creating columns. FlattenJSON (and a Flattener,
// which keeps the keys it has seen) does the same from JSON text in one
// pass, and Members splits a JSON object into its members' raw values: the
// loader reads payloads with them, falling back to encoding/json for what
// they leave to it. When two keys of one row share a
// column, Resolve picks one (a value over a null, then the key already
// spelled like the column, then the smallest path) and marks the others
// ShadowedBy it, for discards.
//
// Infer types a value (bool, integers that fit int64, other numbers,
// RFC 3339 timestamps, strings); Coerce converts a value for an existing
// column or says why it cannot, in words fit for discards; Widen allows only
// int → float; Plan lists the columns to add and widen and those past the
// warehouse's column limit. MaxStringLength is the longest string a
// dialect's String column takes (65,535 bytes on PostgreSQL and DuckDB,
// Redshift's VARCHAR(MAX)); Coerce refuses longer ones, for discards.
package columns
