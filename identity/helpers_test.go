package identity

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// t0 is the received-at time of the first event of the scenario tests.
func t0() time.Time { return time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC) }

// stream builds events with increasing positions and message ids.
type stream struct {
	events []Event
	at     time.Time
}

func newStream() *stream { return &stream{at: t0()} }

// add appends ev, stamping position, message id E<n>, source and times.
func (s *stream) add(ev Event) *Event {
	n := len(s.events) + 1
	ev.Pos = int64(n)
	if ev.MessageID == "" {
		ev.MessageID = fmt.Sprintf("E%d", n)
	}
	ev.SourceID = "src1"
	if ev.ReceivedAt.IsZero() {
		ev.ReceivedAt = s.at
	}
	s.at = ev.ReceivedAt.Add(time.Minute)
	ev.Timestamp = ev.ReceivedAt.Add(-time.Second)
	s.events = append(s.events, ev)
	return &s.events[len(s.events)-1]
}

// names gives segment ids readable names (P1, P2, ...) in order of first
// appearance, so that expectations can be written against them.
type names struct {
	byID  map[string]string
	label func(n int) string
}

func newNames() *names {
	return &names{byID: map[string]string{}, label: func(n int) string { return fmt.Sprintf("P%d", n) }}
}

func (n *names) of(id string) string {
	if id == "" {
		return ""
	}
	if name, ok := n.byID[id]; ok {
		return name
	}
	name := n.label(len(n.byID) + 1)
	n.byID[id] = name
	return name
}

func (n *names) id(name string) string {
	for id, nm := range n.byID {
		if nm == name {
			return id
		}
	}
	return ""
}

// graphRows renders graph rows as "seg->canon type event".
func (n *names) graphRows(rows []GraphUpdate) []string {
	var out []string
	for _, g := range rows {
		out = append(out, fmt.Sprintf("%s->%s %s %s", n.of(g.SegmentID), n.of(g.CanonicalSegmentID), g.EventType, g.EventID))
	}
	return out
}

// mappingRows renders mapping rows as "type:value->seg event".
func (n *names) mappingRows(rows []MappingUpdate) []string {
	var out []string
	for _, m := range rows {
		out = append(out, fmt.Sprintf("%s:%s->%s %s", m.Type, m.Value, n.of(m.SegmentID), m.EventID))
	}
	return out
}

// mustCompile compiles r or fails the test.
func mustCompile(t testing.TB, r Rules) *CompiledRules {
	t.Helper()
	c, err := CompileRules(r)
	if err != nil {
		t.Fatalf("CompileRules: %v", err)
	}
	return c
}

// equalStrings fails the test unless got equals want.
func equalStrings(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got  %s\n want %s", what, strings.Join(got, " | "), strings.Join(want, " | "))
	}
}

// lookup returns the name of the canonical profile holding (typ, value), or
// "-" if none does.
func (n *names) lookup(e *Engine, typ, value string) string {
	id, ok := e.Lookup(typ, value)
	if !ok {
		return "-"
	}
	return n.of(id)
}

// latestGraph returns the latest canonical of every segment id in rows.
func latestGraph(rows []GraphUpdate) map[string]string {
	m := map[string]string{}
	for _, g := range rows {
		m[g.SegmentID] = g.CanonicalSegmentID
	}
	return m
}

// resolve resolves ev and names the profiles it created.
func (n *names) resolve(e *Engine, ev Event) Resolution {
	r := e.Resolve(ev)
	for _, g := range r.Graph {
		n.of(g.SegmentID)
	}
	return r
}
