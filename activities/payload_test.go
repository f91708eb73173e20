package activities

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// payloadCases are stored payloads: the common shape, and what a client
// may send that the one-pass reader must read as encoding/json does.
var payloadCases = []string{
	`{"type":"track","userId":"u1","anonymousId":"a1","event":"Order Completed","properties":{"revenue":10},"context":{"ip":"1.2.3.4"},"sentAt":"2026-03-01T12:00:00Z"}`,
	`{"userId": 42, "anonymousId": null, "groupId": true, "name": "Caf\u00e9 \"x\"", "traits": {"a": [1]}, "previousId": "p"}`,
	`{"USERID": "upper", "Event": "Mixed Case", "originalTimestamp": "2026-01-01T00:00:00+02:00"}`,
	`{"userId": "first", "userId": "last", "properties": null, "context": []}`,
	`{"name": "naïve", "event": "tab\there"}`,
	`{"userId": "u", "properties": {"a": 1,}}`,
	`not json`, `[]`, `{"userId": "u"} trailing`,
}

func TestPayloadParse(t *testing.T) {
	for _, c := range payloadCases {
		checkPayload(t, []byte(c))
	}
}

func FuzzPayloadParse(f *testing.F) {
	for _, c := range payloadCases {
		f.Add([]byte(c))
	}
	f.Fuzz(checkPayload)
}

// checkPayload checks that eventPayload.parse reads what json.Unmarshal
// reads, for every payload json.Unmarshal reads.
func checkPayload(t *testing.T, data []byte) {
	var want eventPayload
	if json.Unmarshal(data, &want) != nil {
		return // the loader lands such an event with what the store knows
	}
	var got eventPayload
	if err := got.parse(data); err != nil {
		t.Fatalf("parse(%q): %v", data, err)
	}
	raw := func(m json.RawMessage) json.RawMessage { return bytes.TrimSpace(m) }
	for _, p := range []*eventPayload{&got, &want} {
		p.Properties, p.Traits, p.Context = raw(p.Properties), raw(p.Traits), raw(p.Context)
		if len(p.Properties) == 0 {
			p.Properties = nil
		}
		if len(p.Traits) == 0 {
			p.Traits = nil
		}
		if len(p.Context) == 0 {
			p.Context = nil
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("parse(%q):\n got %+v\nwant %+v", data, got, want)
	}
}
