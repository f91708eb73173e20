package adapters

// The standard columns of the landed tables. Adapters create these tables in
// EnsureSchema-driven loads and read them in Materialize; the loader fills
// them. Trait columns of profile_traits_updates and property, trait and
// context columns of the event tables are added as data arrives.

// triggerColumns are the columns every change-log table carries about the
// event that caused the change (segment-semantics.md §1.2).
var triggerColumns = []Column{
	{Name: "triggering_event_id", Type: String},
	{Name: "triggering_event_type", Type: String},
	{Name: "triggering_event_name", Type: String},
	{Name: "triggering_event_source_id", Type: String},
	{Name: "triggering_event_source_name", Type: String},
	{Name: "triggering_event_source_slug", Type: String},
	{Name: "timestamp", Type: Timestamp},
	{Name: "received_at", Type: Timestamp},
	{Name: "uuid_ts", Type: Timestamp},
}

func withTrigger(cols ...Column) []Column {
	out := append([]Column{}, cols...)
	return append(out, triggerColumns...)
}

// IDGraphUpdates is the id_graph_updates change log.
func IDGraphUpdates() Table {
	return Table{Name: TableIDGraphUpdates, Columns: withTrigger(
		Column{Name: "id", Type: String},
		Column{Name: "seq", Type: Int},
		Column{Name: "segment_id", Type: String},
		Column{Name: "canonical_segment_id", Type: String},
	)}
}

// ExternalIDMappingUpdates is the external_id_mapping_updates change log.
func ExternalIDMappingUpdates() Table {
	return Table{Name: TableExternalIDMappingUpdates, Columns: withTrigger(
		Column{Name: "id", Type: String},
		Column{Name: "seq", Type: Int},
		Column{Name: "segment_id", Type: String},
		Column{Name: "external_id_hash", Type: String},
		Column{Name: "external_id_type", Type: String},
		Column{Name: "external_id_value", Type: String},
	)}
}

// ProfileTraitsUpdates is the profile_traits_updates change log without its
// trait columns, which are added as traits arrive.
func ProfileTraitsUpdates() Table {
	return Table{Name: TableProfileTraitsUpdates, Columns: withTrigger(
		Column{Name: "id", Type: String},
		Column{Name: "seq", Type: Int},
		Column{Name: "segment_id", Type: String},
	)}
}

// IdentityTables returns the three change-log tables.
func IdentityTables() []Table {
	return []Table{IDGraphUpdates(), ExternalIDMappingUpdates(), ProfileTraitsUpdates()}
}

// ReservedTraitColumns are the columns of profile_traits_updates and
// profile_traits that a trait may not use as its column name.
func ReservedTraitColumns() map[string]bool {
	r := map[string]bool{"merged_to": true, "canonical_segment_id": true}
	for _, c := range ProfileTraitsUpdates().Columns {
		r[c.Name] = true
	}
	return r
}

// eventColumns are the columns every event type table has
// (segment-semantics.md §1.3) before properties, traits and context are
// flattened into it.
var eventColumns = []Column{
	{Name: "id", Type: String},
	{Name: "segment_id", Type: String},
	{Name: "event_source_id", Type: String},
	{Name: "anonymous_id", Type: String},
	{Name: "user_id", Type: String},
	{Name: "received_at", Type: Timestamp},
	{Name: "sent_at", Type: Timestamp},
	{Name: "timestamp", Type: Timestamp},
	{Name: "original_timestamp", Type: Timestamp},
	{Name: "uuid_ts", Type: Timestamp},
}

// EventTable returns the standard columns of an event type table or a Track
// event table.
func EventTable(name string) Table {
	cols := append([]Column{}, eventColumns...)
	switch name {
	case TableIdentifies, TablePages, TableScreens, TableAliases:
	case TableGroups:
		cols = append(cols, Column{Name: "group_id", Type: String})
	default: // tracks and one table per Track event
		cols = append(cols, Column{Name: "event", Type: String}, Column{Name: "event_text", Type: String})
	}
	if name == TableAliases {
		cols = append(cols, Column{Name: "previous_id", Type: String})
	}
	if name == TablePages || name == TableScreens {
		cols = append(cols, Column{Name: "name", Type: String})
	}
	return Table{Name: name, Columns: cols}
}

// EventTypeTables are the tables of the six call types.
func EventTypeTables() []string {
	return []string{TableIdentifies, TablePages, TableScreens, TableGroups, TableAliases, TableTracks}
}

// Discards is the table of values that could not be stored in their column.
func Discards() Table {
	return Table{Name: TableDiscards, Columns: []Column{
		{Name: "id", Type: String},
		{Name: "table_name", Type: String},
		{Name: "column_name", Type: String},
		{Name: "column_value", Type: String},
		{Name: "reason", Type: String},
		{Name: "row_id", Type: String},
		{Name: "received_at", Type: Timestamp},
		{Name: "uuid_ts", Type: Timestamp},
	}}
}

// MaterializedTables are the current-state tables Materialize maintains, in
// the order it builds them.
func MaterializedTables() []string {
	return []string{TableIDGraph, TableProfileMerges, TableExternalIDMapping, TableUserIdentifiers, TableProfileTraits, TableUserTraits}
}
