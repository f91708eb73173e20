package identity

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/segmentio/ksuid"
)

// Engine resolves events into profiles: flat matching with merge protection
// (segment-semantics §4.3) over an in-memory index of every identifier.
//
// One Engine serves one space and is fed that space's events in inbox order
// by a single goroutine; it is not safe for concurrent use. Its output is a
// pure function of the rules and the event stream, so a restarted resolver
// that restores the index with Load and continues produces exactly the rows
// an uninterrupted one would.
//
// How the rules are counted:
//
//   - A limit counts the distinct values of one type held by the would-be
//     profile whose added-at time (the ReceivedAt of the event that first
//     attached the value, kept through merges, at one-second resolution) lies
//     in the window ending at the event's ReceivedAt: added-at > ReceivedAt −
//     window, or any time for WindowEver. A type breaks its limit only if
//     the event grows it: the count exceeds the limit and exceeds what one of
//     the profiles involved already held on its own. While ReceivedAt only
//     moves forward that is the same as checking the count alone; the
//     difference is a profile already out of bounds (an event with an earlier
//     clock, or rules tightened since), which may not grow further but does
//     not block events that add nothing to that type.
//   - When a limit would be exceeded, the lowest-priority identifier of the
//     event (the last in ExtractExternalIDs order) is dropped and matching is
//     re-run with the rest, until the outcome is within the limits.
//   - MaxMerges counts the segment ids merged into a profile, recursively;
//     MaxIdentifiers counts the identifiers it holds. A merge that would
//     break a cap does not happen: the event resolves to the profile of its
//     highest-priority matched identifier instead. New identifiers beyond
//     MaxIdentifiers are not attached (the first ones in priority order are).
//   - An alias never merges: with more than one match it resolves like a
//     merge blocked by a cap.
type Engine struct {
	rules    *CompiledRules
	index    map[string]uint32      // type code ‖ value → the profile it was attached to
	profiles []profile              // in creation order: a lower index is an older profile
	codes    map[string]uint32      // type name → type code
	types    []typeLimit            // by type code
	live     int                    // canonical profiles
	bySID    map[ksuid.KSUID]uint32 // segment id → profile, for Load only

	// scratch space, reused between events
	key          []byte
	tally        []typeTally
	profileTally []typeTally
}

// profile is one segment id. A merged-away profile keeps only its id and
// its canonical profile.
type profile struct {
	sid     ksuid.KSUID
	canon   uint32   // the canonical profile; itself while not merged away
	members []uint32 // profiles merged into this one, recursively, in merge order
	ids     []ident  // identifiers held, while canonical
}

// ident is an identifier held by a profile, as the limits need it.
type ident struct {
	typ   uint32 // type code
	added uint32 // added-at, Unix seconds
}

// typeLimit is the name and limit of a type, by type code.
type typeLimit struct {
	name    string
	limit   int
	seconds int64 // window length; 0 for ever
}

type typeTally struct {
	typ           uint32
	total, single int
}

// candidate is an external id of the event being resolved.
type candidate struct {
	typ   uint32
	value string
	prof  uint32 // canonical profile holding it, or noProfile
}

const noProfile = math.MaxUint32

// Stats describes the size of an Engine's index.
type Stats struct {
	Profiles    int // canonical profiles
	SegmentIDs  int // every segment id ever minted, merged-away ones included
	Identifiers int
}

// NewEngine returns an empty Engine applying rules; nil means the default
// rules.
func NewEngine(rules *CompiledRules) *Engine {
	return &Engine{
		rules: orDefault(rules),
		index: make(map[string]uint32),
		codes: make(map[string]uint32),
	}
}

// Stats returns the size of the index.
func (e *Engine) Stats() Stats {
	return Stats{Profiles: e.live, SegmentIDs: len(e.profiles), Identifiers: len(e.index)}
}

// Lookup returns the canonical profile that holds the identifier (typ,
// value).
func (e *Engine) Lookup(typ, value string) (segmentID string, ok bool) {
	code, ok := e.codes[typ]
	if !ok {
		return "", false
	}
	p, ok := e.index[string(e.keyOf(code, value))]
	if !ok {
		return "", false
	}
	return formatSegmentID(e.profiles[e.profiles[p].canon].sid), true
}

// Resolve resolves ev to a profile, updating the index, and returns what
// changed. Rows carry ev's Trigger and stable ids; Seq is left for the store.
func (e *Engine) Resolve(ev Event) Resolution {
	e.bySID = nil // only Load needs it; rebuilt on demand
	ext := ExtractExternalIDs(ev, e.rules)
	if len(ext) == 0 {
		return Resolution{}
	}
	now := unixSeconds(ev.ReceivedAt)
	cands := make([]candidate, len(ext))
	for i, x := range ext {
		c := candidate{typ: e.typeCode(x.Type), value: x.Value, prof: noProfile}
		if p, ok := e.index[string(e.keyOf(c.typ, c.value))]; ok {
			c.prof = e.profiles[p].canon
		}
		cands[i] = c
	}
	for n := len(cands); n > 0; n-- {
		if p, ok := e.plan(cands[:n], ev.Type == "alias", now); ok {
			return e.commit(&ev, p, now)
		}
	}
	return Resolution{} // unreachable: a single identifier is always within the limits
}

// plan is what resolving an event will do.
type plan struct {
	create bool        // mint a new profile as the target
	target uint32      // the profile the event resolves to, unless create
	merge  []uint32    // profiles merged into target, oldest first
	add    []candidate // identifiers attached to target
}

// plan works out the outcome of matching the candidates cs and reports
// whether it is within the limits.
func (e *Engine) plan(cs []candidate, alias bool, now uint32) (plan, bool) {
	var matches []uint32 // in the order of the candidates: matches[0] is the highest-priority match
	var fresh []candidate
	for _, c := range cs {
		switch {
		case c.prof == noProfile:
			fresh = append(fresh, c)
		case !slices.Contains(matches, c.prof):
			matches = append(matches, c.prof)
		}
	}
	var p plan
	held := 0
	switch len(matches) {
	case 0:
		p.create = true
	default:
		p.target = matches[0]
		held = len(e.profiles[p.target].ids)
		if len(matches) > 1 && !alias {
			survivor := slices.Min(matches)
			others := make([]uint32, 0, len(matches)-1)
			merged, total := len(e.profiles[survivor].members), len(e.profiles[survivor].ids)
			for _, m := range matches {
				if m != survivor {
					others = append(others, m)
					merged += 1 + len(e.profiles[m].members)
					total += len(e.profiles[m].ids)
				}
			}
			if merged <= e.rules.maxMerges && total <= e.rules.maxIdentifiers {
				slices.Sort(others)
				p.target, p.merge, held = survivor, others, total
			}
		}
	}
	room := max(e.rules.maxIdentifiers-held, 0)
	p.add = fresh[:min(len(fresh), room)]
	return p, e.withinLimits(&p, now)
}

// withinLimits reports whether the profile p would produce respects every
// limit it changes (see Engine).
func (e *Engine) withinLimits(p *plan, now uint32) bool {
	e.tally = e.tally[:0]
	if !p.create {
		e.count(p.target, now)
	}
	for _, m := range p.merge {
		e.count(m, now)
	}
	for _, c := range p.add {
		tallyOf(&e.tally, c.typ).total++
	}
	for _, t := range e.tally {
		if t.total > e.types[t.typ].limit && t.total > t.single {
			return false
		}
	}
	return true
}

// count adds the in-window identifiers of profile q to e.tally.
func (e *Engine) count(q uint32, now uint32) {
	e.profileTally = e.profileTally[:0]
	for _, id := range e.profiles[q].ids {
		if e.inWindow(id, now) {
			tallyOf(&e.profileTally, id.typ).total++
		}
	}
	for _, s := range e.profileTally {
		t := tallyOf(&e.tally, s.typ)
		t.total += s.total
		t.single = max(t.single, s.total)
	}
}

// inWindow reports whether id was added within its type's window ending at
// now. An identifier added after now (an earlier clock) counts.
func (e *Engine) inWindow(id ident, now uint32) bool {
	w := e.types[id.typ].seconds
	return w == 0 || int64(id.added) > int64(now)-w
}

func tallyOf(ts *[]typeTally, typ uint32) *typeTally {
	for i := range *ts {
		if (*ts)[i].typ == typ {
			return &(*ts)[i]
		}
	}
	*ts = append(*ts, typeTally{typ: typ})
	return &(*ts)[len(*ts)-1]
}

// commit applies p and reports the rows it produced.
func (e *Engine) commit(ev *Event, p plan, now uint32) Resolution {
	tr := trigger(ev)
	var res Resolution
	target := p.target
	if p.create {
		target = e.newProfile(mintSegmentID(ev, 0))
	}
	to := formatSegmentID(e.profiles[target].sid)
	graph := func(seg string) {
		res.Graph = append(res.Graph, GraphUpdate{
			ID:                 rowID(tableGraph, ev, len(res.Graph)),
			SegmentID:          seg,
			CanonicalSegmentID: to,
			Trigger:            tr,
		})
	}
	if p.create {
		graph(to)
	}
	for _, x := range p.merge {
		from := formatSegmentID(e.profiles[x].sid)
		res.Merges = append(res.Merges, Merge{From: from, To: to})
		graph(from)
		for _, m := range e.profiles[x].members {
			graph(formatSegmentID(e.profiles[m].sid))
		}
		e.absorb(target, x)
	}
	for _, c := range p.add {
		e.attach(target, c.typ, c.value, now)
		typ := e.types[c.typ].name
		res.Mappings = append(res.Mappings, MappingUpdate{
			ID:        rowID(tableMappings, ev, len(res.Mappings)),
			SegmentID: to,
			Type:      typ,
			Value:     c.value,
			Hash:      ExternalIDHash(typ, c.value),
			Trigger:   tr,
		})
	}
	res.SegmentID = to
	return res
}

// newProfile adds a canonical profile and returns its index.
func (e *Engine) newProfile(sid ksuid.KSUID) uint32 {
	i := uint32(len(e.profiles))
	e.profiles = append(e.profiles, profile{sid: sid, canon: i})
	e.live++
	return i
}

// absorb merges canonical profile x into canonical profile s.
func (e *Engine) absorb(s, x uint32) {
	xp := &e.profiles[x]
	members, ids := xp.members, xp.ids
	xp.canon, xp.members, xp.ids = s, nil, nil
	for _, m := range members {
		e.profiles[m].canon = s
	}
	sp := &e.profiles[s]
	sp.members = append(append(sp.members, x), members...)
	sp.ids = append(sp.ids, ids...)
	e.live--
}

// attach gives the identifier (typ, value) to profile q.
func (e *Engine) attach(q, typ uint32, value string, added uint32) {
	e.index[string(e.keyOf(typ, value))] = q
	e.profiles[q].ids = append(e.profiles[q].ids, ident{typ: typ, added: added})
}

// typeCode returns the code of type name, assigning one on first sight.
func (e *Engine) typeCode(name string) uint32 {
	if c, ok := e.codes[name]; ok {
		return c
	}
	c := uint32(len(e.types))
	tr := e.rules.rule(name)
	e.codes[name] = c
	e.types = append(e.types, typeLimit{name: name, limit: tr.limit, seconds: tr.seconds})
	return c
}

// keyOf returns the index key of an identifier: the type code as a uvarint,
// then the value. The result is scratch space, valid until the next call.
func (e *Engine) keyOf(typ uint32, value string) []byte {
	e.key = binary.AppendUvarint(e.key[:0], uint64(typ))
	e.key = append(e.key, value...)
	return e.key
}

// unixSeconds is t in Unix seconds, clamped to the uint32 range.
func unixSeconds(t time.Time) uint32 {
	return uint32(min(max(t.Unix(), 0), math.MaxUint32))
}

// Load restores the index from the identity change logs: call it with every
// id_graph_updates and external_id_mapping_updates row of the space in seq
// order, with exactly one of g and m non-nil per call (the shape of
// store.ScanIdentity). A profile's age is the order of its self row. Load
// fails on rows the engine could not have produced: an unknown segment id,
// a profile created twice, an identifier attached twice, a merge into a
// merged-away profile.
func (e *Engine) Load(g *GraphUpdate, m *MappingUpdate) error {
	if (g == nil) == (m == nil) {
		return errors.New("identity: Load takes exactly one of a graph row and a mapping row")
	}
	if e.bySID == nil {
		e.bySID = make(map[ksuid.KSUID]uint32, len(e.profiles))
		for i, p := range e.profiles {
			e.bySID[p.sid] = uint32(i)
		}
	}
	if g != nil {
		return e.loadGraph(g)
	}
	return e.loadMapping(m)
}

func (e *Engine) loadGraph(g *GraphUpdate) error {
	seg, err := parseSegmentID(g.SegmentID)
	if err != nil {
		return fmt.Errorf("identity: graph row %s: %w", g.ID, err)
	}
	canon, err := parseSegmentID(g.CanonicalSegmentID)
	if err != nil {
		return fmt.Errorf("identity: graph row %s: %w", g.ID, err)
	}
	if seg == canon {
		if _, dup := e.bySID[seg]; dup {
			return fmt.Errorf("identity: graph row %s creates profile %s, which exists", g.ID, g.SegmentID)
		}
		e.bySID[seg] = e.newProfile(seg)
		return nil
	}
	x, ok := e.bySID[seg]
	if !ok {
		return fmt.Errorf("identity: graph row %s merges unknown profile %s", g.ID, g.SegmentID)
	}
	s, ok := e.bySID[canon]
	if !ok {
		return fmt.Errorf("identity: graph row %s merges into unknown profile %s", g.ID, g.CanonicalSegmentID)
	}
	if e.profiles[s].canon != s {
		return fmt.Errorf("identity: graph row %s merges into %s, which was merged away", g.ID, g.CanonicalSegmentID)
	}
	switch e.profiles[x].canon {
	case s: // a recursive row: applied with the row of the profile that had absorbed it
		return nil
	case x:
		e.absorb(s, x)
		return nil
	}
	return fmt.Errorf("identity: graph row %s merges %s, which was merged into %s",
		g.ID, g.SegmentID, formatSegmentID(e.profiles[e.profiles[x].canon].sid))
}

func (e *Engine) loadMapping(m *MappingUpdate) error {
	seg, err := parseSegmentID(m.SegmentID)
	if err != nil {
		return fmt.Errorf("identity: mapping row %s: %w", m.ID, err)
	}
	p, ok := e.bySID[seg]
	if !ok {
		return fmt.Errorf("identity: mapping row %s attaches to unknown profile %s", m.ID, m.SegmentID)
	}
	if m.Type == "" || m.Value == "" {
		return fmt.Errorf("identity: mapping row %s has an empty type or value", m.ID)
	}
	code := e.typeCode(m.Type)
	if _, dup := e.index[string(e.keyOf(code, m.Value))]; dup {
		return fmt.Errorf("identity: mapping row %s attaches %s %q, which is attached already", m.ID, m.Type, m.Value)
	}
	e.attach(e.profiles[p].canon, code, m.Value, unixSeconds(m.ReceivedAt))
	return nil
}
