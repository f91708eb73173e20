package columns

import (
	"slices"

	"github.com/profilesync/profilesync/adapters"
)

// Plan decides how a table's schema evolves for a batch. existing are the
// table's columns; incoming maps the batch's column names to their types
// (consolidated with Widen; a "" type, from nulls only, is skipped);
// maxColumns is the warehouse's limit of columns per table (0: none).
//
// It returns the columns to add, sorted by name; the existing Int columns
// that an incoming Float widens to Float, sorted; and the names of new
// columns that would take the table past maxColumns, sorted, whose values
// belong in discards. New columns are admitted in name order until the
// table is full. Schema evolution only adds and widens: a type that Widen
// does not change is left alone, and the values are coerced or discarded.
func Plan(existing []adapters.Column, incoming map[string]adapters.Type, maxColumns int) (add []adapters.Column, widen []adapters.Column, overflow []string) {
	have := make(map[string]adapters.Type, len(existing))
	for _, c := range existing {
		have[c.Name] = c.Type
	}
	names := make([]string, 0, len(incoming))
	for name, t := range incoming {
		if t != "" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	free := maxColumns - len(have)
	for _, name := range names {
		t := incoming[name]
		if old, ok := have[name]; ok {
			if w, changed := Widen(old, t); changed && old != "" {
				widen = append(widen, adapters.Column{Name: name, Type: w})
			}
			continue
		}
		if maxColumns > 0 && free <= 0 {
			overflow = append(overflow, name)
			continue
		}
		add = append(add, adapters.Column{Name: name, Type: t})
		free--
	}
	return add, widen, overflow
}
