package identity

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
)

// ExternalID is an identifier of a profile: a typed value such as
// (email, jane@example.com).
type ExternalID struct {
	Type  string
	Value string
}

// ExtractExternalIDs returns the external ids of ev that may be used for
// matching, per segment-semantics §4.1:
//
//   - user_id from userId, anonymous_id from anonymousId, group_id from groupId;
//   - email from traits.email (identify), context.traits.email and, for
//     track, properties.email;
//   - android.id / ios.id from context.device.id, android.push_token /
//     ios.push_token from context.device.token, and android.idfa / ios.idfa
//     from context.device.advertisingId when context.device.adTrackingEnabled
//     is true, by context.device.type (android or ios, any case);
//   - ga_client_id from integrations or context.integrations
//     ["Google Analytics"].clientId;
//   - custom ids from context.externalIds entries {id, type, collection}
//     whose collection is "users" or absent (type lowercased; malformed
//     entries are skipped), and from the keys of configured id types, looked
//     up in camelCase and snake_case in traits (identify), context.traits and
//     properties.
//
// Values are strings (numbers are converted) trimmed of surrounding
// whitespace; empty and blocked values are dropped. The previousId of an
// alias is never an identifier, and the traits of a group call describe the
// account, so they are not read. The result holds no duplicates and is in
// priority order, highest first, then by value. A nil r means the default
// rules.
func ExtractExternalIDs(ev Event, r *CompiledRules) []ExternalID {
	r = orDefault(r)
	x := extractor{rules: r}
	x.add(TypeUserID, ev.UserID)
	x.add(TypeAnonymousID, ev.AnonymousID)
	x.add(TypeGroupID, ev.GroupID)

	var traits map[string]any
	if ev.Type == "identify" {
		traits = ev.Traits
	}
	ctxTraits := object(ev.Context, "traits")
	props := ev.Properties
	x.addAny(TypeEmail, traits["email"])
	x.addAny(TypeEmail, ctxTraits["email"])
	if ev.Type == "track" {
		x.addAny(TypeEmail, props["email"])
	}

	if dev := object(ev.Context, "device"); dev != nil {
		var platform string
		if t, ok := dev["type"].(string); ok {
			platform = strings.ToLower(strings.TrimSpace(t))
		}
		if platform == "android" || platform == "ios" {
			x.addAny(platform+".id", dev["id"])
			x.addAny(platform+".push_token", dev["token"])
			if enabled, _ := dev["adTrackingEnabled"].(bool); enabled {
				x.addAny(platform+".idfa", dev["advertisingId"])
			}
		}
	}

	x.addAny(TypeGAClientID, object(ev.Integrations, "Google Analytics")["clientId"])
	x.addAny(TypeGAClientID, object(object(ev.Context, "integrations"), "Google Analytics")["clientId"])

	if list, ok := ev.Context["externalIds"].([]any); ok {
		for _, item := range list {
			e, ok := item.(map[string]any)
			if !ok {
				continue
			}
			typ, ok := e["type"].(string)
			if !ok {
				continue
			}
			switch coll := e["collection"].(type) {
			case nil:
			case string:
				if !strings.EqualFold(strings.TrimSpace(coll), "users") {
					continue
				}
			default:
				continue
			}
			x.addAny(normalizeTypeName(typ), e["id"])
		}
	}

	for _, tr := range r.keyed {
		for _, k := range tr.keys {
			x.addAny(tr.name, traits[k])
			x.addAny(tr.name, ctxTraits[k])
			x.addAny(tr.name, props[k])
		}
	}
	return x.result()
}

// extractor collects the external ids of one event.
type extractor struct {
	rules *CompiledRules
	ids   []ExternalID
}

// addAny adds v if it is a string or a number.
func (x *extractor) addAny(typ string, v any) {
	if s, ok := scalarString(v); ok {
		x.add(typ, s)
	}
}

func (x *extractor) add(typ, value string) {
	value = strings.TrimSpace(value)
	if typ == "" || value == "" || x.rules.blocked(typ, value) {
		return
	}
	x.ids = append(x.ids, ExternalID{Type: typ, Value: value})
}

// result sorts the ids by priority, then value, and drops duplicates.
func (x *extractor) result() []ExternalID {
	slices.SortFunc(x.ids, func(a, b ExternalID) int {
		if d := x.rules.compareTypes(a.Type, b.Type); d != 0 {
			return d
		}
		return strings.Compare(a.Value, b.Value)
	})
	return slices.Compact(x.ids)
}

// object returns m[key] if it is a JSON object, else nil.
func object(m map[string]any, key string) map[string]any {
	o, _ := m[key].(map[string]any)
	return o
}

// scalarString converts a JSON string or number to a string. Other kinds
// (booleans, objects, arrays, null) are not identifiers.
func scalarString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case json.Number:
		return numberString(v), true
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return "", false
		}
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case float32:
		return scalarString(float64(v))
	case int:
		return strconv.Itoa(v), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case int32:
		return strconv.FormatInt(int64(v), 10), true
	case uint64:
		return strconv.FormatUint(v, 10), true
	case uint32:
		return strconv.FormatUint(uint64(v), 10), true
	}
	return "", false
}
