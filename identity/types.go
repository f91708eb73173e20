// Package identity resolves tracked events into profiles.
//
// It is pure logic over an in-memory index: it extracts external ids from an
// event, applies the space's rules (blocked values, limits with windows,
// priorities, merge caps), merges profiles and reports every change as rows of
// the three identity change logs. It performs no I/O; the resolver feeds it
// events in inbox order and persists what it returns.
//
// The behaviour follows ../shared/reference/segment-semantics.md §4.
package identity

import (
	"time"
)

// Event is the part of a tracked event that identity resolution reads. It is
// built from the normalized event JSON with ParseEvent.
type Event struct {
	// Pos is the event's position in its space's inbox. Positions are
	// strictly increasing in processing order; they order trait writes and
	// make minted profile ids deterministic.
	Pos          int64
	MessageID    string
	Type         string // identify, track, page, screen, group or alias
	Event        string // the Track event name, or the page/screen name
	SourceID     string
	UserID       string
	AnonymousID  string
	GroupID      string
	PreviousID   string         // alias only
	Traits       map[string]any // identify and group traits
	Properties   map[string]any // track, page and screen properties
	Context      map[string]any
	Integrations map[string]any
	Timestamp    time.Time
	ReceivedAt   time.Time
}

// Window is the period over which a limit counts distinct identifier values.
type Window string

// The windows a limit may use.
const (
	WindowDaily    Window = "daily"
	WindowWeekly   Window = "weekly"
	WindowMonthly  Window = "monthly"
	WindowAnnually Window = "annually"
	WindowEver     Window = "ever"
)

// Duration returns the length of w, or 0 for WindowEver.
func (w Window) Duration() time.Duration {
	switch w {
	case WindowDaily:
		return 24 * time.Hour
	case WindowWeekly:
		return 7 * 24 * time.Hour
	case WindowMonthly:
		return 30 * 24 * time.Hour
	case WindowAnnually:
		return 365 * 24 * time.Hour
	}
	return 0
}

// IDType configures one external id type of a space.
type IDType struct {
	Name string `json:"name" yaml:"name"` // user_id, email, anonymous_id, android.id, or a custom type
	// Limit is the largest number of distinct values of this type a profile
	// may hold within Window. Zero means the default (1 for user_id, 5 for
	// every other type).
	Limit  int    `json:"limit,omitempty" yaml:"limit,omitempty"`
	Window Window `json:"window,omitempty" yaml:"window,omitempty"` // default ever
	// Priority ranks types when a limit would be exceeded: 1 is the highest.
	// Zero means the default order: user_id, email, then alphabetical.
	Priority int `json:"priority,omitempty" yaml:"priority,omitempty"`
	// Keys are trait and property keys (matched in camelCase or snake_case)
	// whose values are read as this type, for custom identifiers.
	Keys []string `json:"keys,omitempty" yaml:"keys,omitempty"`
}

// BlockRule keeps matching values from becoming identifiers. The value stays
// in the event; it is only not used for matching.
type BlockRule struct {
	Type  string `json:"type,omitempty" yaml:"type,omitempty"` // empty: every type
	Exact string `json:"exact,omitempty" yaml:"exact,omitempty"`
	Regex string `json:"regex,omitempty" yaml:"regex,omitempty"`
}

// Rules are a space's identity resolution settings.
type Rules struct {
	// IDTypes lists the configured types. Types missing from the list use
	// the defaults of DefaultRules.
	IDTypes []IDType    `json:"id_types,omitempty" yaml:"id_types,omitempty"`
	Blocked []BlockRule `json:"blocked,omitempty" yaml:"blocked,omitempty"`
	// RecommendedBlocked adds the recommended blocked values to Blocked.
	RecommendedBlocked bool `json:"recommended_blocked,omitempty" yaml:"recommended_blocked,omitempty"`
	// MaxMerges and MaxIdentifiers cap a profile; zero means 100 and 1,000.
	MaxMerges      int `json:"max_merges,omitempty" yaml:"max_merges,omitempty"`
	MaxIdentifiers int `json:"max_identifiers,omitempty" yaml:"max_identifiers,omitempty"`
}
