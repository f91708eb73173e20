package identity

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
)

// The external id types every space knows without configuration
// (segment-semantics §4.1).
const (
	TypeUserID           = "user_id"
	TypeEmail            = "email"
	TypeAnonymousID      = "anonymous_id"
	TypeGroupID          = "group_id"
	TypeAndroidID        = "android.id"
	TypeAndroidIDFA      = "android.idfa"
	TypeAndroidPushToken = "android.push_token"
	TypeIOSID            = "ios.id"
	TypeIOSIDFA          = "ios.idfa"
	TypeIOSPushToken     = "ios.push_token"
	TypeGAClientID       = "ga_client_id"
)

// Defaults of segment-semantics §4.2.
const (
	defaultLimit       = 5
	defaultUserIDLimit = 1
	defaultMaxMerges   = 100
	defaultMaxIdents   = 1000
	defaultUserIDRank  = 1
	defaultEmailRank   = 2
)

// builtinTypes returns the default external id types, in name order.
func builtinTypes() []string {
	return []string{
		TypeAndroidID, TypeAndroidIDFA, TypeAndroidPushToken, TypeAnonymousID,
		TypeEmail, TypeGAClientID, TypeGroupID, TypeIOSID, TypeIOSIDFA,
		TypeIOSPushToken, TypeUserID,
	}
}

// recommendedExact returns the recommended blocked values, compared without
// regard to case.
func recommendedExact() []string {
	return []string{"-1", "null", "anonymous", "undefined", "void", "abc123"}
}

// recommendedRegex is the recommended blocked pattern for values made of
// zeros and dashes only.
var recommendedRegex = regexp.MustCompile(`^[0-]*$`)

// DefaultRules returns the rules a space starts with: the eleven default
// external id types with their default limits (user_id 1, every other type
// 5, all over WindowEver), the default priority order (user_id, email, then
// alphabetical) and the default caps. No values are blocked.
func DefaultRules() Rules {
	r := Rules{MaxMerges: defaultMaxMerges, MaxIdentifiers: defaultMaxIdents}
	for _, name := range builtinTypes() {
		limit := defaultLimit
		if name == TypeUserID {
			limit = defaultUserIDLimit
		}
		r.IDTypes = append(r.IDTypes, IDType{Name: name, Limit: limit, Window: WindowEver})
	}
	return r
}

// CompiledRules are validated Rules in the form the extractor and the engine
// use. They are immutable and safe for concurrent use.
type CompiledRules struct {
	types          map[string]*typeRule // built-in and configured types
	keyed          []*typeRule          // types with trait/property keys, by name
	exact          map[string]struct{}  // blocked: type + "\x00" + value ("" type: every type)
	exactFold      map[string]struct{}  // blocked for every type, lowercased
	regexes        []blockRegex
	maxMerges      int
	maxIdentifiers int
}

// typeRule is the effective configuration of one external id type.
type typeRule struct {
	name     string
	limit    int
	window   Window
	seconds  int64 // window length in seconds; 0 for ever
	rank     int   // explicit priority, or the default rank of user_id/email; 0 if unranked
	explicit bool  // rank came from the configuration
	known    bool  // built in or configured
	keys     []string
}

type blockRegex struct {
	typ string // "" for every type
	re  *regexp.Regexp
}

// CompileRules validates r and compiles it. Omitted settings take the
// defaults of segment-semantics §4.2: limit 1 for user_id and 5 for every
// other type, window ever, priority user_id, email, then alphabetical after
// the explicitly ranked types, 100 merges and 1,000 identifiers per profile.
// The error names the offending id type or block rule.
func CompileRules(r Rules) (*CompiledRules, error) {
	c := &CompiledRules{
		types:          make(map[string]*typeRule, len(builtinTypes())+len(r.IDTypes)),
		exact:          make(map[string]struct{}),
		exactFold:      make(map[string]struct{}),
		maxMerges:      r.MaxMerges,
		maxIdentifiers: r.MaxIdentifiers,
	}
	if r.MaxMerges < 0 {
		return nil, fmt.Errorf("identity: max_merges %d is negative", r.MaxMerges)
	}
	if r.MaxIdentifiers < 0 {
		return nil, fmt.Errorf("identity: max_identifiers %d is negative", r.MaxIdentifiers)
	}
	if c.maxMerges == 0 {
		c.maxMerges = defaultMaxMerges
	}
	if c.maxIdentifiers == 0 {
		c.maxIdentifiers = defaultMaxIdents
	}
	for _, name := range builtinTypes() {
		c.types[name] = defaultTypeRule(name, true)
	}
	configured := make(map[string]bool, len(r.IDTypes))
	for i, t := range r.IDTypes {
		name := normalizeTypeName(t.Name)
		if name == "" {
			return nil, fmt.Errorf("identity: id type #%d has no name", i+1)
		}
		if configured[name] {
			return nil, fmt.Errorf("identity: id type %q is configured twice", name)
		}
		configured[name] = true
		tr := defaultTypeRule(name, true)
		switch {
		case t.Limit < 0:
			return nil, fmt.Errorf("identity: id type %q: limit %d is negative", name, t.Limit)
		case t.Limit > 0:
			tr.limit = t.Limit
		}
		if t.Window != "" {
			if !validWindow(t.Window) {
				return nil, fmt.Errorf("identity: id type %q: unknown window %q (want daily, weekly, monthly, annually or ever)", name, t.Window)
			}
			tr.window = t.Window
			tr.seconds = int64(t.Window.Duration() / time.Second)
		}
		switch {
		case t.Priority < 0:
			return nil, fmt.Errorf("identity: id type %q: priority %d is negative", name, t.Priority)
		case t.Priority > 0:
			tr.rank, tr.explicit = t.Priority, true
		}
		for _, k := range t.Keys {
			k = strings.TrimSpace(k)
			if k == "" {
				return nil, fmt.Errorf("identity: id type %q: empty key", name)
			}
			for _, v := range []string{k, snakeCase(k), camelCase(k)} {
				if !slices.Contains(tr.keys, v) {
					tr.keys = append(tr.keys, v)
				}
			}
		}
		c.types[name] = tr
		if len(tr.keys) > 0 {
			c.keyed = append(c.keyed, tr)
		}
	}
	slices.SortFunc(c.keyed, func(a, b *typeRule) int { return strings.Compare(a.name, b.name) })

	blocked := r.Blocked
	if r.RecommendedBlocked {
		for _, v := range recommendedExact() {
			c.exactFold[v] = struct{}{}
		}
		c.regexes = append(c.regexes, blockRegex{re: recommendedRegex})
	}
	for i, b := range blocked {
		typ := normalizeTypeName(b.Type)
		what := fmt.Sprintf("block rule #%d", i+1)
		if typ != "" {
			what += fmt.Sprintf(" (type %q)", typ)
		}
		switch {
		case b.Exact == "" && b.Regex == "":
			return nil, fmt.Errorf("identity: %s has neither exact nor regex", what)
		case b.Exact != "" && b.Regex != "":
			return nil, fmt.Errorf("identity: %s has both exact and regex; use two rules", what)
		case b.Exact != "":
			c.exact[typ+"\x00"+b.Exact] = struct{}{}
		default:
			re, err := regexp.Compile(b.Regex)
			if err != nil {
				return nil, fmt.Errorf("identity: %s: bad regex %q: %w", what, b.Regex, err)
			}
			c.regexes = append(c.regexes, blockRegex{typ: typ, re: re})
		}
	}
	return c, nil
}

func defaultTypeRule(name string, known bool) *typeRule {
	tr := &typeRule{name: name, limit: defaultLimit, window: WindowEver, known: known}
	switch name {
	case TypeUserID:
		tr.limit, tr.rank = defaultUserIDLimit, defaultUserIDRank
	case TypeEmail:
		tr.rank = defaultEmailRank
	}
	return tr
}

func validWindow(w Window) bool {
	switch w {
	case WindowDaily, WindowWeekly, WindowMonthly, WindowAnnually, WindowEver:
		return true
	}
	return false
}

// normalizeTypeName is how type names are compared: trimmed and lowercase.
func normalizeTypeName(s string) string {
	return strings.ToLower(strings.TrimSpace(s))
}

// rule returns the effective configuration of type name. A type that is
// neither built in nor configured gets the defaults: limit 5 over ever and a
// place after every known type.
func (c *CompiledRules) rule(name string) typeRule {
	if tr, ok := c.types[name]; ok {
		return *tr
	}
	return typeRule{name: name, limit: defaultLimit, window: WindowEver}
}

// compareTypes orders type names by priority, highest first: ranked types
// by rank (an explicit rank before a default one of the same value), then
// the known unranked types alphabetically, then unknown types
// alphabetically.
func (c *CompiledRules) compareTypes(a, b string) int {
	if a == b {
		return 0
	}
	ra, rb := c.rule(a), c.rule(b)
	return compareRules(&ra, &rb)
}

func compareRules(a, b *typeRule) int {
	class := func(t *typeRule) int {
		switch {
		case t.rank > 0:
			return 0
		case t.known:
			return 1
		}
		return 2
	}
	if d := cmp.Compare(class(a), class(b)); d != 0 {
		return d
	}
	if d := cmp.Compare(a.rank, b.rank); d != 0 {
		return d
	}
	if a.explicit != b.explicit {
		if a.explicit {
			return -1
		}
		return 1
	}
	return strings.Compare(a.name, b.name)
}

// blocked reports whether value may not become an identifier of type typ.
func (c *CompiledRules) blocked(typ, value string) bool {
	if _, ok := c.exact[typ+"\x00"+value]; ok {
		return true
	}
	if _, ok := c.exact["\x00"+value]; ok {
		return true
	}
	if len(c.exactFold) > 0 {
		if _, ok := c.exactFold[strings.ToLower(value)]; ok {
			return true
		}
	}
	for _, b := range c.regexes {
		if (b.typ == "" || b.typ == typ) && b.re.MatchString(value) {
			return true
		}
	}
	return false
}

// Type returns the effective settings of the external id type name, built
// in, configured or not: its limit, window, keys, and as Priority its
// explicit or default rank (0 when it ranks alphabetically).
func (c *CompiledRules) Type(name string) IDType {
	tr := c.rule(normalizeTypeName(name))
	return IDType{Name: tr.name, Limit: tr.limit, Window: tr.window, Priority: tr.rank, Keys: slices.Clone(tr.keys)}
}

// Types returns the effective settings of every built-in and configured id
// type, highest priority first, with Priority set to the position in that
// order (1 is the highest). Types first seen in events rank after these.
func (c *CompiledRules) Types() []IDType {
	rules := make([]*typeRule, 0, len(c.types))
	for _, tr := range c.types {
		rules = append(rules, tr)
	}
	slices.SortFunc(rules, compareRules)
	out := make([]IDType, len(rules))
	for i, tr := range rules {
		out[i] = IDType{Name: tr.name, Limit: tr.limit, Window: tr.window, Priority: i + 1, Keys: slices.Clone(tr.keys)}
	}
	return out
}

// MaxMerges is the largest number of profiles one profile may absorb.
func (c *CompiledRules) MaxMerges() int { return c.maxMerges }

// MaxIdentifiers is the largest number of identifiers one profile may hold.
func (c *CompiledRules) MaxIdentifiers() int { return c.maxIdentifiers }

// orDefault returns c, or the compiled default rules when c is nil.
func orDefault(c *CompiledRules) *CompiledRules {
	if c != nil {
		return c
	}
	d, err := CompileRules(Rules{})
	if err != nil {
		panic(err) // the zero Rules always compile
	}
	return d
}

// snakeCase spells a camelCase key in snake_case: appId → app_id.
func snakeCase(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		if unicode.IsUpper(r) {
			if i > 0 && (unicode.IsLower(rs[i-1]) || unicode.IsDigit(rs[i-1])) {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(r))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// camelCase spells a snake_case key in camelCase: app_id → appId.
func camelCase(s string) string {
	var b strings.Builder
	upper := false
	for i, r := range s {
		if r == '_' && i > 0 {
			upper = true
			continue
		}
		if upper {
			r = unicode.ToUpper(r)
			upper = false
		}
		b.WriteRune(r)
	}
	if upper {
		b.WriteByte('_')
	}
	return b.String()
}
