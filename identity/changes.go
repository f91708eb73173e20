package identity

import "time"

// Trigger describes the event that caused a change-log row.
type Trigger struct {
	EventPos   int64  // inbox position of the event
	EventID    string // the event's messageId
	EventType  string // identify, track, page, screen, group or alias
	EventName  string // the Track event name, or the Page or Screen name, if any
	SourceID   string
	Timestamp  time.Time
	ReceivedAt time.Time
}

// GraphUpdate is a row of id_graph_updates: from now on SegmentID resolves to
// CanonicalSegmentID. A new profile has a row pointing at itself; a merge has
// a row for the merged-away profile and one for every profile it had absorbed
// before (the recursive rows), so the latest row of each segment id is always
// its current canonical profile.
type GraphUpdate struct {
	ID                 string // stable row id
	Seq                int64  // assigned by the store at commit
	SegmentID          string
	CanonicalSegmentID string
	Trigger
}

// MappingUpdate is a row of external_id_mapping_updates: an external id seen
// for the first time, attached to SegmentID.
type MappingUpdate struct {
	ID        string
	Seq       int64
	SegmentID string
	Type      string
	Value     string
	Hash      string // hex SHA-1 of Type‖Value
	Trigger
}

// TraitsUpdate is a row of profile_traits_updates: a full snapshot of the
// traits of the canonical profile SegmentID after a change.
type TraitsUpdate struct {
	ID        string
	Seq       int64
	SegmentID string
	Traits    TraitSet
	Trigger
}

// Merge records that profile From was merged into profile To.
type Merge struct {
	From string
	To   string
}

// Resolution is what resolving one event changed.
type Resolution struct {
	// SegmentID is the canonical profile the event resolved to, or "" when
	// the event carried no usable identifier.
	SegmentID string
	Graph     []GraphUpdate
	Mappings  []MappingUpdate
	Merges    []Merge // in the order they happened
}
