package identity

import (
	"strings"
	"testing"
)

// FuzzExtractExternalIDs parses arbitrary bytes as an event and extracts its
// external ids under the default and under configured rules: it never
// panics, and every id has a non-empty, trimmed, unblocked value, a type
// that is built in, configured or named by the event's context.externalIds,
// and appears once, in priority order. The event is then resolved, which
// must not panic either and must resolve to a profile exactly when there
// are ids.
func FuzzExtractExternalIDs(f *testing.F) {
	// fuzzRules configures custom ids and blocked values, so that the fuzzer
	// reaches every branch of the extractor.
	fuzzRules := Rules{
		IDTypes: []IDType{
			{Name: "phone", Limit: 2, Window: WindowWeekly, Keys: []string{"phone_number"}},
			{Name: "member", Priority: 1, Keys: []string{"memberId", "member"}},
		},
		Blocked: []BlockRule{
			{Type: "email", Exact: "test@example.com"},
			{Regex: `(?i)^test[-_]`},
		},
		RecommendedBlocked: true,
	}

	// fuzzSeeds are realistic normalized events.
	fuzzSeeds := []string{
		`{"type":"page","messageId":"m1","anonymousId":"5285-a","name":"Home","properties":{"path":"/"},"receivedAt":"2025-03-01T12:00:00Z"}`,
		`{"type":"identify","messageId":"m2","anonymousId":"5285-a","userId":"u1","traits":{"email":"jane@example.com","plan":"pro","phone_number":"+4712345678"},"timestamp":"2025-03-01T12:00:00.5Z","receivedAt":"2025-03-01T12:00:01Z"}`,
		`{"type":"track","messageId":"m3","userId":12345678901234567890,"event":"Order Completed","properties":{"email":" jane@example.com ","total":10.5,"memberId":42}}`,
		`{"type":"track","messageId":"m4","anonymousId":"a","context":{"device":{"type":"iOS","id":"d1","advertisingId":"idfa1","adTrackingEnabled":true,"token":"tok"},"traits":{"email":"null"}}}`,
		`{"type":"screen","messageId":"m5","anonymousId":"a","name":"Cart","context":{"device":{"type":"android","id":"0000-0000","advertisingId":"ad","adTrackingEnabled":false}}}`,
		`{"type":"page","messageId":"m6","anonymousId":"a","integrations":{"Google Analytics":{"clientId":"GA1.2.3"}},"context":{"integrations":{"Google Analytics":{"clientId":1.5e3}}}}`,
		`{"type":"identify","messageId":"m7","userId":"u","context":{"externalIds":[{"id":"p1","type":"Phone","collection":"users","encoding":"none"},{"id":"x","type":"account","collection":"accounts"},{"id":7},"junk",{"id":"","type":"t"},{"id":"c1","type":"  custom "}]}}`,
		`{"type":"group","messageId":"m8","userId":"u1","groupId":"g1","traits":{"email":"team@example.com"}}`,
		`{"type":"alias","messageId":"m9","userId":"u2","previousId":"u1","anonymousId":"test-1"}`,
		`{"type":"identify","userId":"-1","anonymousId":"abc123","traits":{"email":"test@example.com","member":"m1","member_id":"m2"}}`,
		`[1,2,3]`,
		`{"type":"track","userId":true}`,
		`{}`,
	}
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	configured, err := CompileRules(fuzzRules)
	if err != nil {
		f.Fatal(err)
	}
	defaults := orDefault(nil)
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := ParseEvent(data)
		if err != nil {
			if err.Error() == "" || !strings.HasPrefix(err.Error(), "identity: ") {
				t.Fatalf("unclear error %q", err)
			}
			return
		}
		for _, rules := range []*CompiledRules{defaults, configured} {
			got := ExtractExternalIDs(ev, rules)
			checkExtracted(t, ev, rules, got)
			res := NewEngine(rules).Resolve(ev)
			if (res.SegmentID != "") != (len(got) > 0) {
				t.Fatalf("%d ids but resolved to %q", len(got), res.SegmentID)
			}
		}
	})
}

// checkExtracted checks the properties FuzzExtractExternalIDs promises.
func checkExtracted(t *testing.T, ev Event, rules *CompiledRules, got []ExternalID) {
	t.Helper()
	named := map[string]bool{}
	if list, ok := ev.Context["externalIds"].([]any); ok {
		for _, item := range list {
			if m, ok := item.(map[string]any); ok {
				if typ, ok := m["type"].(string); ok {
					named[normalizeTypeName(typ)] = true
				}
			}
		}
	}
	seen := map[ExternalID]bool{}
	for i, id := range got {
		switch {
		case id.Value == "":
			t.Fatalf("empty value: %+v", id)
		case strings.TrimSpace(id.Value) != id.Value:
			t.Fatalf("untrimmed value: %+v", id)
		case rules.blocked(id.Type, id.Value):
			t.Fatalf("blocked value: %+v", id)
		case rules.types[id.Type] == nil && !named[id.Type]:
			t.Fatalf("type %q is neither known nor named in externalIds", id.Type)
		case id.Type != normalizeTypeName(id.Type) || id.Type == "":
			t.Fatalf("type %q is not normalized", id.Type)
		case seen[id]:
			t.Fatalf("duplicate %+v in %+v", id, got)
		case ev.PreviousID != "" && id.Type == TypeUserID && id.Value == strings.TrimSpace(ev.PreviousID) && id.Value != strings.TrimSpace(ev.UserID) && ev.Type == "alias":
			t.Fatalf("alias previousId used as an id: %+v", id)
		}
		seen[id] = true
		if i > 0 {
			prev := got[i-1]
			if d := rules.compareTypes(prev.Type, id.Type); d > 0 || d == 0 && prev.Value >= id.Value {
				t.Fatalf("out of order: %+v before %+v", prev, id)
			}
		}
	}
}
