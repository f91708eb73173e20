package adapters

import "context"

// Widener is implemented by a warehouse that can widen a column's type in
// place, keeping its values. The loader finds it with a type assertion and
// uses it when a column's values outgrow its type (an Int column receiving
// fractions, see columns.Widen); without it, values are coerced to the
// column's type or discarded.
type Widener interface {
	// WidenColumn changes the type of an existing column of a table to
	// to. The only widening is Int to Float; a column that already has
	// type to is left as it is. Any other change, or a missing table or
	// column, is an error that changes nothing. Widening may rewrite the
	// table, and fails if something in the warehouse depends on the
	// column's type (a view, an index).
	WidenColumn(ctx context.Context, table, column string, to Type) error
}

// CanWiden reports whether a column of type from may be widened to type to:
// only Int to Float.
func CanWiden(from, to Type) bool { return from == Int && to == Float }
