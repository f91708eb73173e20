package identity

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseEvent builds an Event from a normalized Segment event (the JSON the
// ingest API stores in the inbox). It reads type, messageId, event (the Track
// name) or name (the Page or Screen name), userId, anonymousId, groupId,
// previousId, traits, properties, context, integrations, timestamp and
// receivedAt (RFC 3339). Ids sent as JSON numbers become their decimal
// string; numbers inside objects are kept as json.Number so that large
// integers are not rounded. Absent or null fields are left zero. Pos and
// SourceID are not part of the payload: the caller sets them.
func ParseEvent(payload []byte) (Event, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		if errors.Is(err, io.EOF) {
			return Event{}, errors.New("identity: empty event payload")
		}
		return Event{}, fmt.Errorf("identity: event is not valid JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Event{}, errors.New("identity: event has data after the JSON object")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return Event{}, fmt.Errorf("identity: event is a JSON %s, not an object", jsonKind(v))
	}

	var ev Event
	var err error
	str := func(key string, id bool) string {
		if err != nil {
			return ""
		}
		var s string
		s, err = stringField(obj, key, id)
		return s
	}
	ev.Type = str("type", false)
	ev.MessageID = str("messageId", true)
	ev.UserID = str("userId", true)
	ev.AnonymousID = str("anonymousId", true)
	ev.GroupID = str("groupId", true)
	ev.PreviousID = str("previousId", true)
	switch ev.Type {
	case "track":
		ev.Event = str("event", false)
	case "page", "screen":
		ev.Event = str("name", false)
	}
	if err != nil {
		return Event{}, err
	}
	for _, f := range []struct {
		key string
		dst *map[string]any
	}{
		{"traits", &ev.Traits},
		{"properties", &ev.Properties},
		{"context", &ev.Context},
		{"integrations", &ev.Integrations},
	} {
		if *f.dst, err = objectField(obj, f.key); err != nil {
			return Event{}, err
		}
	}
	if ev.Timestamp, err = timeField(obj, "timestamp"); err != nil {
		return Event{}, err
	}
	if ev.ReceivedAt, err = timeField(obj, "receivedAt"); err != nil {
		return Event{}, err
	}
	return ev, nil
}

// stringField reads a string field. With id set, a JSON number is accepted
// too and converted to its decimal string.
func stringField(obj map[string]any, key string, id bool) (string, error) {
	switch v := obj[key].(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case json.Number:
		if id {
			return numberString(v), nil
		}
	}
	return "", fmt.Errorf("identity: field %q is a JSON %s, want a string", key, jsonKind(obj[key]))
}

func objectField(obj map[string]any, key string) (map[string]any, error) {
	switch v := obj[key].(type) {
	case nil:
		return nil, nil
	case map[string]any:
		return v, nil
	}
	return nil, fmt.Errorf("identity: field %q is a JSON %s, want an object", key, jsonKind(obj[key]))
}

func timeField(obj map[string]any, key string) (time.Time, error) {
	switch v := obj[key].(type) {
	case nil:
		return time.Time{}, nil
	case string:
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return time.Time{}, fmt.Errorf("identity: field %q is not an RFC 3339 time: %w", key, err)
		}
		return t, nil
	}
	return time.Time{}, fmt.Errorf("identity: field %q is a JSON %s, want an RFC 3339 string", key, jsonKind(obj[key]))
}

// numberString renders a JSON number as a plain decimal string: integers as
// written, other numbers without an exponent where float64 can hold them
// exactly enough (1e3 → 1000, 2.50 → 2.5). Numbers too large for that are
// kept as written.
func numberString(n json.Number) string {
	s := string(n)
	if !strings.ContainsAny(s, ".eE") {
		return s
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.Abs(f) >= 1e21 {
		return s
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// jsonKind names the JSON kind of a decoded value for error messages.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number, float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}
