package activities

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/profilesync/profilesync/adapters"
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

// looseString decodes a JSON string, a number (as its text) or null; any
// other value decodes as "" rather than failing the event.
type looseString string

func (s *looseString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
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

// eventRows lands events in their event type tables, parsing each stored
// payload once. An event whose payload cannot be parsed still lands with
// what the store knows of it (id, profile, source, type, times); an event
// of an unknown type is counted and skipped.
//
// This is the one place the event tables are built: flattening properties,
// traits and context into columns and the per-event Track tables go here.
func (l *loader) eventRows(c *chunkRows, events []store.StoredEvent) {
	for i := range events {
		ev := &events[i]
		name, ok := eventTables[ev.Type]
		if !ok {
			l.stats.unknownType++
			continue
		}
		var p eventPayload
		if err := json.Unmarshal(ev.Payload, &p); err != nil {
			l.stats.malformed++
			p = eventPayload{}
		}
		t := c.table(adapters.EventTable(name))
		r := t.row()
		r.set("id", adapters.String, ev.MessageID)
		r.set("segment_id", adapters.String, ev.SegmentID)
		r.set("event_source_id", adapters.String, ev.SourceID)
		r.set("anonymous_id", adapters.String, string(p.AnonymousID))
		r.set("user_id", adapters.String, string(p.UserID))
		r.set("received_at", adapters.Timestamp, ev.ReceivedAt)
		r.set("sent_at", adapters.Timestamp, p.SentAt.timeValue())
		r.set("timestamp", adapters.Timestamp, ev.Timestamp)
		r.set("original_timestamp", adapters.Timestamp, p.OriginalTimestamp.timeValue())
		r.set("uuid_ts", adapters.Timestamp, c.uuidTS)
		switch name {
		case adapters.TableTracks:
			if p.Event != "" {
				// The slug: the name of the event's own table.
				r.set("event", adapters.String, l.names.Table(string(p.Event)))
			}
			r.set("event_text", adapters.String, string(p.Event))
		case adapters.TableGroups:
			r.set("group_id", adapters.String, string(p.GroupID))
		case adapters.TableAliases:
			r.set("previous_id", adapters.String, string(p.PreviousID))
		case adapters.TablePages, adapters.TableScreens:
			r.set("name", adapters.String, string(p.Name))
		}
		r.done()
	}
}
