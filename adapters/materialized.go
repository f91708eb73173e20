package adapters

// KeyedTable is a table with its own primary key instead of "id": the
// current-state tables Materialize maintains.
type KeyedTable struct {
	Table
	Key []string // primary key columns, in order
}

// withMeta appends the columns every current-state table copies from the
// change-log row that last wrote it.
func withMeta(cols ...Column) []Column {
	return append(append([]Column{}, cols...),
		Column{Name: "seq", Type: Int},
		Column{Name: "timestamp", Type: Timestamp},
		Column{Name: "received_at", Type: Timestamp},
		Column{Name: "uuid_ts", Type: Timestamp},
	)
}

// IDGraph is id_graph: per segment_id, its latest id_graph_updates row.
func IDGraph() KeyedTable {
	return KeyedTable{Table: Table{Name: TableIDGraph, Columns: withMeta(
		Column{Name: "segment_id", Type: String},
		Column{Name: "canonical_segment_id", Type: String},
	)}, Key: []string{"segment_id"}}
}

// ProfileMerges is profile_merges: one row per segment_id under its current
// canonical profile (the same content as id_graph, Segment's name for it).
func ProfileMerges() KeyedTable {
	t := IDGraph()
	t.Name = TableProfileMerges
	return t
}

// ExternalIDMapping is external_id_mapping: per external id, the profile it
// was first attached to and the canonical profile that one resolves to now.
func ExternalIDMapping() KeyedTable {
	return KeyedTable{Table: Table{Name: TableExternalIDMapping, Columns: withMeta(
		Column{Name: "external_id_hash", Type: String},
		Column{Name: "external_id_type", Type: String},
		Column{Name: "external_id_value", Type: String},
		Column{Name: "segment_id", Type: String},
		Column{Name: "canonical_segment_id", Type: String},
	)}, Key: []string{"external_id_hash"}}
}

// UserIdentifiers is user_identifiers: external_id_mapping in the column
// names of Segment's materialized table.
func UserIdentifiers() KeyedTable {
	return KeyedTable{Table: Table{Name: TableUserIdentifiers, Columns: withMeta(
		Column{Name: "canonical_segment_id", Type: String},
		Column{Name: "type", Type: String},
		Column{Name: "value", Type: String},
	)}, Key: []string{"type", "value"}}
}

// ProfileTraits is profile_traits without its trait columns, which mirror
// the trait columns of profile_traits_updates. canonical_segment_id is the
// profile's own segment_id; a merged-away profile keeps a row with merged_to
// set to its canonical profile and NULL traits.
func ProfileTraits() KeyedTable {
	return KeyedTable{Table: Table{Name: TableProfileTraits, Columns: withMeta(
		Column{Name: "canonical_segment_id", Type: String},
		Column{Name: "merged_to", Type: String},
	)}, Key: []string{"canonical_segment_id"}}
}

// UserTraits is user_traits: the traits of canonical profiles in long
// format, one row per non-null trait. Every warehouse renders the value as
// the same text: a string as is, an int in decimal, a bool as "true" or
// "false", a float as a decimal that reads back as the same float64
// (exponent notation allowed), a timestamp as RFC 3339 in UTC
// ("2024-05-01T12:00:00Z", fractional seconds allowed).
func UserTraits() KeyedTable {
	return KeyedTable{Table: Table{Name: TableUserTraits, Columns: withMeta(
		Column{Name: "canonical_segment_id", Type: String},
		Column{Name: "name", Type: String},
		Column{Name: "value", Type: String},
	)}, Key: []string{"canonical_segment_id", "name"}}
}

// Materialized returns the current-state tables in the order of
// MaterializedTables.
func Materialized() []KeyedTable {
	return []KeyedTable{IDGraph(), ProfileMerges(), ExternalIDMapping(), UserIdentifiers(), ProfileTraits(), UserTraits()}
}

// TraitColumns returns the trait columns among the columns of
// profile_traits_updates: those that are not its standard columns.
func TraitColumns(cols []Column) []Column {
	std := map[string]bool{}
	for _, c := range ProfileTraitsUpdates().Columns {
		std[c.Name] = true
	}
	var out []Column
	for _, c := range cols {
		if !std[c.Name] {
			out = append(out, c)
		}
	}
	return out
}
