package ingest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// The call types of the Segment spec.
const (
	typeIdentify = "identify"
	typeTrack    = "track"
	typePage     = "page"
	typeScreen   = "screen"
	typeGroup    = "group"
	typeAlias    = "alias"
)

// isCallType reports whether t is a call type.
func isCallType(t string) bool {
	switch t {
	case typeIdentify, typeTrack, typePage, typeScreen, typeGroup, typeAlias:
		return true
	}
	return false
}

// route is an endpoint of the API: the call type of a single call, or batch.
type route string

const routeBatch route = "batch"

// limits are the size and count limits a request is held to.
type limits struct {
	maxEventBytes  int // one event: a batch item, or the body of a single call
	maxBatchBytes  int // a batch body
	maxBatchEvents int // items of a batch
}

// event is an accepted event, normalized, before it is given its source.
type event struct {
	MessageID string
	Type      string
	Timestamp time.Time
	Payload   []byte // the normalized Segment message
}

// request is a decoded body: the write key it carries, its events, and for a
// batch the fields its items share.
type request struct {
	route    route
	writeKey string

	single map[string]json.RawMessage // the event of a single call
	size   int                        // the size of the single call's body

	items                         []json.RawMessage // the items of a batch
	sentAt, context, integrations json.RawMessage   // batch-level fields
}

// decodeRequest decodes a body posted to rt. It checks only the shape of the
// request as a whole; the events are checked by parse.
func decodeRequest(body []byte, rt route, lim limits) (*request, *requestError) {
	top, rerr := decodeObject(body)
	if rerr != nil {
		return nil, rerr
	}
	key, rerr := writeKey(top["writeKey"])
	if rerr != nil {
		return nil, rerr
	}
	if rt != routeBatch {
		return &request{route: rt, writeKey: key, single: top, size: len(body)}, nil
	}

	batch := top["batch"]
	if isNull(batch) {
		return nil, badRequest("batch is required: a JSON array of events")
	}
	items, ok := splitArray(batch)
	if !ok {
		return nil, badRequest("batch must be a JSON array of events")
	}
	if len(items) > lim.maxBatchEvents {
		return nil, &requestError{http.StatusBadRequest, "too_many_events",
			fmt.Sprintf("batch has %d events; the limit is %d", len(items), lim.maxBatchEvents)}
	}
	return &request{
		route: rt, writeKey: key, items: items,
		sentAt: top["sentAt"], context: top["context"], integrations: top["integrations"],
	}, nil
}

// decodeObject validates a body and splits the JSON object it must hold.
func decodeObject(body []byte) (map[string]json.RawMessage, *requestError) {
	if !json.Valid(body) {
		var v any
		err := json.Unmarshal(body, &v) // for the message
		return nil, badRequest("invalid JSON: %v", err)
	}
	top, ok := splitObject(body)
	if !ok {
		return nil, badRequest("the body must be a JSON object")
	}
	return top, nil
}

// writeKey reads the writeKey field of a body.
func writeKey(v json.RawMessage) (string, *requestError) {
	key, _, err := stringValue(v)
	if err != nil {
		return "", badRequest("writeKey must be a string")
	}
	return key, nil
}

// parsed is the outcome of parsing a request: the events to store and the
// ones rejected, or an error refusing the whole request.
type parsed struct {
	events   []event
	rejected []Rejection
	err      *requestError
}

// parse validates and normalizes the events of a request received at
// receivedAt. An invalid batch-level field refuses the whole request; an
// invalid event is rejected alone.
func (req *request) parse(receivedAt time.Time, lim limits) parsed {
	p := itemParser{lim: lim, receivedAt: receivedAt}
	var out parsed
	if req.route != routeBatch {
		e, rej := p.item(0, nil, req.single, req.size, string(req.route))
		if rej != nil {
			out.rejected = []Rejection{*rej}
		} else {
			out.events = []event{e}
		}
		return out
	}

	var err error
	if p.sentAt, p.hasSentAt, err = timeValue(req.sentAt); err != nil {
		out.err = badRequest("sentAt: %v", err)
		return out
	}
	for _, f := range []struct {
		name string
		raw  json.RawMessage
		dst  *json.RawMessage
	}{{"context", req.context, &p.context}, {"integrations", req.integrations, &p.integrations}} {
		if isNull(f.raw) {
			continue
		}
		if !isObject(f.raw) {
			out.err = badRequest("%s must be a JSON object", f.name)
			return out
		}
		*f.dst = f.raw
	}

	out.events = make([]event, 0, len(req.items))
	for i, raw := range req.items {
		e, rej := p.item(i, raw, nil, len(raw), "")
		if rej != nil {
			out.rejected = append(out.rejected, *rej)
			continue
		}
		out.events = append(out.events, e)
	}
	return out
}

// parseRequest decodes and parses a body posted to rt; the fuzz target and
// the benchmarks enter here.
func parseRequest(body []byte, rt route, receivedAt time.Time, lim limits) (*request, parsed) {
	req, err := decodeRequest(body, rt, lim)
	if err != nil {
		return nil, parsed{err: err}
	}
	return req, req.parse(receivedAt, lim)
}
