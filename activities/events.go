package activities

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/profilesync/profilesync/adapters"
	"github.com/profilesync/profilesync/columns"
	"github.com/profilesync/profilesync/store"
)

// eventTables maps an event's type to its event type table.
var eventTables = map[string]string{
	"identify": adapters.TableIdentifies,
	"page":     adapters.TablePages,
	"screen":   adapters.TableScreens,
	"group":    adapters.TableGroups,
	"alias":    adapters.TableAliases,
	"track":    adapters.TableTracks,
}

// eventPayload is the part of a normalized event (the JSON the ingest API
// stores) that the event tables use. Properties, traits and context are
// kept raw for the columns they will be flattened into.
type eventPayload struct {
	UserID            looseString     `json:"userId"`
	AnonymousID       looseString     `json:"anonymousId"`
	GroupID           looseString     `json:"groupId"`
	PreviousID        looseString     `json:"previousId"`
	Event             looseString     `json:"event"`
	Name              looseString     `json:"name"`
	SentAt            looseString     `json:"sentAt"`
	OriginalTimestamp looseString     `json:"originalTimestamp"`
	Properties        json.RawMessage `json:"properties"`
	Traits            json.RawMessage `json:"traits"`
	Context           json.RawMessage `json:"context"`
}

// payloadFields are the members of a payload that eventPayload reads, by
// name; encoding/json matches them case-insensitively too.
var payloadFields = []string{"userId", "anonymousId", "groupId", "previousId", "event", "name",
	"sentAt", "originalTimestamp", "properties", "traits", "context"}

// parse reads a stored payload in one pass (columns.Members), falling back
// to encoding/json, which reads the same fields, for what Members leaves to
// it. Properties, traits and context stay raw, for columns.FlattenJSON.
func (p *eventPayload) parse(payload []byte) error {
	var err error
	ok := columns.Members(payload, func(key string, v []byte) {
		name := key
		if !slices.Contains(payloadFields, key) {
			i := slices.IndexFunc(payloadFields, func(f string) bool { return strings.EqualFold(f, key) })
			if i < 0 {
				return
			}
			name = payloadFields[i]
		}
		var e error
		switch name {
		case "userId":
			e = p.UserID.UnmarshalJSON(v)
		case "anonymousId":
			e = p.AnonymousID.UnmarshalJSON(v)
		case "groupId":
			e = p.GroupID.UnmarshalJSON(v)
		case "previousId":
			e = p.PreviousID.UnmarshalJSON(v)
		case "event":
			e = p.Event.UnmarshalJSON(v)
		case "name":
			e = p.Name.UnmarshalJSON(v)
		case "sentAt":
			e = p.SentAt.UnmarshalJSON(v)
		case "originalTimestamp":
			e = p.OriginalTimestamp.UnmarshalJSON(v)
		case "properties":
			p.Properties = v
		case "traits":
			p.Traits = v
		case "context":
			p.Context = v
		}
		if err == nil {
			err = e
		}
	})
	if ok && err == nil {
		return nil
	}
	*p = eventPayload{}
	return json.Unmarshal(payload, p)
}

// looseString decodes a JSON string, a number (as its text) or null; any
// other value decodes as "" rather than failing the event.
type looseString string

func (s *looseString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) > 1 && b[0] == '"' && b[len(b)-1] == '"' && plainASCII(b[1:len(b)-1]):
		*s = looseString(b[1 : len(b)-1])
	case len(b) > 0 && b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = looseString(v)
	case len(b) > 0 && (b[0] == '-' || (b[0] >= '0' && b[0] <= '9')):
		*s = looseString(b)
	default:
		*s = ""
	}
	return nil
}

// plainASCII reports whether b is the inside of a JSON string that needs
// no decoding: printable ASCII without escapes.
func plainASCII(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c >= 0x80 || c == '\\' || c == '"' {
			return false
		}
	}
	return true
}

// timeValue parses an RFC 3339 time, nil if absent or unparsable.
func (s looseString) timeValue() any {
	if s == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, string(s))
	if err != nil {
		return nil
	}
	return t.UTC()
}

// The groups of keys an event flattens into columns, as discard reasons
// name them.
const (
	groupProperties = "property"
	groupTraits     = "trait"
	groupContext    = "context"
)

// eventRows lands events in their event type tables and, for Track events,
// in the table of the event's name, parsing each stored payload once
// (segment-semantics §1.3–§1.4):
//
//   - Every table has the standard columns of adapters.EventTable, among
//     them segment_id (the profile at the time) and event_source_id, and the
//     event's context flattened into context_* columns.
//   - identifies, groups and aliases get the traits, pages and screens the
//     properties, flattened with "_" and without a prefix (columns.Flatten:
//     arrays as JSON text). A page's or screen's property "name" shares the
//     name column: the call's own name wins, and a property that says
//     otherwise goes to discards.
//   - tracks keeps the standard columns and the context; the properties go
//     only to the Track event's own table (Order Completed →
//     order_completed, named by the Namer's Table rule), which has the
//     columns of tracks, the context and the properties.
//
// Columns are named by the Namer of their table (a key that collides with a
// standard column gets a "_" prefix), typed by columns.Infer; what cannot be
// stored — a key that loses its column to another key of the row, an object
// where one is expected that is not one, a property of a Track event without
// a name — goes to the discards table, and so, in loader.fit, does a value
// that does not fit its column's type. An event whose payload cannot be
// parsed still lands with what the store knows of it (id, profile, source,
// type, times); an event of an unknown type is counted and skipped.
func (l *loader) eventRows(c *chunkRows, events []store.StoredEvent) {
	for i := range events {
		ev := &events[i]
		name, ok := eventTables[ev.Type]
		if !ok {
			c.counts.unknownType++
			continue
		}
		var p eventPayload
		if err := p.parse(ev.Payload); err != nil {
			c.counts.malformed++
			p = eventPayload{}
		}
		e := eventRow{l: l, c: c, ev: ev, p: &p, table: name}
		e.land()
	}
}

// eventRow is one event on its way into its tables.
type eventRow struct {
	l     *loader
	c     *chunkRows
	ev    *store.StoredEvent
	p     *eventPayload
	table string // the event type table
}

// land adds the event's rows to the chunk.
func (e *eventRow) land() {
	ctxFields := e.object(groupContext, e.p.Context)
	var own []columns.Field // properties or traits
	ownGroup := groupProperties
	switch e.table {
	case adapters.TableIdentifies, adapters.TableGroups, adapters.TableAliases:
		ownGroup = groupTraits
		own = e.object(groupTraits, e.p.Traits)
	default:
		own = e.object(groupProperties, e.p.Properties)
	}
	if e.table != adapters.TableTracks {
		r := e.start(e.table)
		e.fields(r, e.table, ctxFields, own, ownGroup)
		r.done()
		return
	}
	// tracks: the standard columns and the context...
	slug := ""
	if e.p.Event != "" {
		slug = e.l.eventTable(string(e.p.Event))
	}
	r := e.start(adapters.TableTracks)
	e.setEvent(r, slug)
	e.fields(r, adapters.TableTracks, ctxFields, nil, "")
	r.done()
	if slug == "" {
		// ...and the properties in the event's table, which an event
		// without a name does not have.
		for _, f := range own {
			if f.Value != nil {
				e.discard(adapters.TableTracks, e.l.columnOf(adapters.TableTracks, f), f.Value,
					describe(groupProperties, f.Path)+" of a track event without a name has no table")
			}
		}
		return
	}
	r = e.start(slug)
	e.setEvent(r, slug)
	e.fields(r, slug, ctxFields, own, groupProperties)
	r.done()
}

// object decodes a JSON object (properties, traits or context) and
// flattens it; the context's columns get the context_ prefix. A value that
// is not an object goes to discards whole.
func (e *eventRow) object(group string, raw json.RawMessage) []columns.Field {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	prefix := ""
	if group == groupContext {
		prefix = "context"
	}
	fields, err := e.l.flattener.FlattenJSON(prefix, raw)
	if err != nil {
		col := group
		if group == groupProperties {
			col = "properties"
		} else if group == groupTraits {
			col = "traits"
		}
		e.discard(e.table, col, string(raw), col+" is not a JSON object")
		return nil
	}
	return fields
}

// start starts the row of the event in a table, with the standard columns.
func (e *eventRow) start(table string) *rowBuilder {
	ev, p := e.ev, e.p
	r := e.c.table(e.l.eventTableDef(table)).row()
	r.set("id", adapters.String, ev.MessageID)
	r.set("segment_id", adapters.String, ev.SegmentID)
	r.set("event_source_id", adapters.String, ev.SourceID)
	r.set("anonymous_id", adapters.String, string(p.AnonymousID))
	r.set("user_id", adapters.String, string(p.UserID))
	r.set("received_at", adapters.Timestamp, ev.ReceivedAt)
	r.set("sent_at", adapters.Timestamp, p.SentAt.timeValue())
	r.set("timestamp", adapters.Timestamp, ev.Timestamp)
	r.set("original_timestamp", adapters.Timestamp, p.OriginalTimestamp.timeValue())
	r.set("uuid_ts", adapters.Timestamp, e.c.uuidTS)
	switch table {
	case adapters.TableGroups:
		r.set("group_id", adapters.String, string(p.GroupID))
	case adapters.TableAliases:
		r.set("previous_id", adapters.String, string(p.PreviousID))
	case adapters.TablePages, adapters.TableScreens:
		r.set("name", adapters.String, string(p.Name))
	}
	return r
}

// setEvent sets the columns of tracks and Track event tables: the slug
// (the name of the event's table) and the name as sent.
func (e *eventRow) setEvent(r *rowBuilder, slug string) {
	r.set("event", adapters.String, slug)
	r.set("event_text", adapters.String, string(e.p.Event))
}

// fields sets the flattened context and own fields (properties or traits)
// of a row. Each Field was resolved within its group by Flatten; across the
// groups, the context wins a column a property or trait also spells
// (properties.context_ip and context.ip), and the loser is discarded.
func (e *eventRow) fields(r *rowBuilder, table string, ctxFields, own []columns.Field, ownGroup string) {
	var ctxKeys map[string][]string // context Key → path, built only when needed
	for _, f := range ctxFields {
		e.field(r, table, f, groupContext)
	}
	for _, f := range own {
		if f.ShadowedBy == nil && strings.HasPrefix(f.Key, "context") && len(ctxFields) > 0 {
			if ctxKeys == nil {
				ctxKeys = make(map[string][]string, len(ctxFields))
				for _, c := range ctxFields {
					if c.ShadowedBy == nil && c.Key != "" {
						ctxKeys[c.Key] = c.Path
					}
				}
			}
			if w, ok := ctxKeys[f.Key]; ok {
				if f.Value != nil {
					e.discard(table, e.l.columnOf(table, f), f.Value,
						describe(ownGroup, f.Path)+" has the same column as "+describe(groupContext, w))
				}
				continue
			}
		}
		if f.Key == "name" && (table == adapters.TablePages || table == adapters.TableScreens) {
			e.name(r, table, f)
			continue
		}
		e.field(r, table, f, ownGroup)
	}
}

// field sets one flattened value, or discards it if another key of its
// group took its column.
func (e *eventRow) field(r *rowBuilder, table string, f columns.Field, group string) {
	if f.Value == nil {
		return // a null creates no column and sets nothing
	}
	col := e.l.columnOf(table, f)
	if f.ShadowedBy != nil {
		e.discard(table, col, f.Value, describe(group, f.Path)+" has the same column as "+describe(group, f.ShadowedBy))
		return
	}
	v, typ := landedValue(f.Value)
	r.set(col, typ, v)
}

// name lands a page's or screen's property "name" in the name column,
// which the call's own name fills first.
func (e *eventRow) name(r *rowBuilder, table string, f columns.Field) {
	if f.Value == nil {
		return
	}
	if f.ShadowedBy != nil {
		e.discard(table, "name", f.Value, describe(groupProperties, f.Path)+" has the same column as "+describe(groupProperties, f.ShadowedBy))
		return
	}
	v := textOf(f.Value)
	switch e.p.Name {
	case "":
		r.set("name", adapters.String, v)
	case looseString(v):
	default:
		e.discard(table, "name", f.Value, describe(groupProperties, f.Path)+" differs from the name of the "+strings.TrimSuffix(table, "s"))
	}
}

// discard sends a value of the event's row in table to the discards table.
func (e *eventRow) discard(table, column string, v any, reason string) {
	e.c.discard(table, column, v, reason, e.ev.MessageID, nullIfEmpty(e.ev.ReceivedAt))
	e.c.counts.discarded++
}

// describe names a flattened key in a discard reason: "property
// address.city", "trait firstName", "context.ip".
func describe(group string, path []string) string {
	p := strings.Join(path, ".")
	if group == groupContext {
		return p
	}
	return group + " " + p
}

// landedValue returns a flattened value and its type as it lands (see
// typedValue), but for a timestamp string, which stays as sent: loader.fit
// parses it if its column is a timestamp and keeps the text if the column
// is a string.
func landedValue(v any) (any, adapters.Type) {
	if s, ok := v.(string); ok {
		// v, not s: a string boxed again would cost an allocation.
		if columns.Infer(s) == adapters.Timestamp {
			return v, adapters.Timestamp
		}
		return v, adapters.String
	}
	return typedValue(v)
}

// eventTable returns the table of a Track event's name, cached for the
// activity.
func (l *loader) eventTable(event string) string {
	if t, ok := l.eventTableNames[event]; ok {
		return t
	}
	t := l.names.Table(event)
	l.eventTableNames[event] = t
	return t
}

// eventTableDef returns the standard columns of an event type table or a
// Track event table.
func (l *loader) eventTableDef(table string) adapters.Table {
	kind := namerKind(table)
	if def, ok := l.eventDefs[kind]; ok {
		def.Name = table
		return def
	}
	def := adapters.EventTable(kind)
	l.eventDefs[kind] = def
	def.Name = table
	return def
}

// columnOf returns the column of a flattened Field in an event table,
// cached per kind of table (Track event tables share the Namer of tracks:
// they have the same standard columns).
func (l *loader) columnOf(table string, f columns.Field) string {
	kind := namerKind(table)
	nc, ok := l.eventColumns[kind]
	if !ok {
		nc = &namerCache{namer: l.names.ForEventTable(kind), byKey: map[string]string{}}
		l.eventColumns[kind] = nc
	}
	if f.Key == "" {
		return nc.namer.ColumnOf(f)
	}
	if col, ok := nc.byKey[f.Key]; ok {
		return col
	}
	col := nc.namer.ColumnOf(f)
	nc.byKey[f.Key] = col
	return col
}

// namerKind is the table whose standard columns a table has: itself for an
// event type table, tracks for a Track event table.
func namerKind(table string) string {
	switch table {
	case adapters.TableIdentifies, adapters.TablePages, adapters.TableScreens,
		adapters.TableGroups, adapters.TableAliases:
		return table
	}
	return adapters.TableTracks
}

// namerCache is a Namer with the column names it gave, by Key: two
// Fields with the same non-empty Key have the same column.
type namerCache struct {
	namer columns.Namer
	byKey map[string]string
}
