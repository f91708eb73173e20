package columns

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/profilesync/profilesync/adapters"
)

// MinIdentLength is the smallest name limit a Namer accepts: room for a
// readable start, the "__" marker and the hash.
const MinIdentLength = 16

// hashLength is the length of the hex hash in a shortened or fallback name:
// 40 bits, so that names sharing a shortened start are told apart.
const hashLength = 10

// Rules are the naming constraints of one warehouse.
type Rules struct {
	// Dialect is the warehouse type, as adapters.Dialect.Name returns it.
	Dialect string
	// MaxTable and MaxColumn are the longest table and column names, in
	// bytes; 0 means no limit. A limit must be 0 or at least
	// MinIdentLength.
	MaxTable, MaxColumn int
	// Reserved are the words that a name may not be, in any case.
	Reserved []string
	// ReservedPrefixes are the prefixes, in any case, that a column name
	// may not start with.
	ReservedPrefixes []string
}

// DialectRules returns the rules of a warehouse known by its type:
// "postgres" (63 bytes), "duckdb" (255, our choice), "snowflake" (255),
// "redshift" (127), "bigquery" (1024 for tables, 300 for columns) and
// "synapse" (128). For any other type the names have no length limit and
// every dialect's reserved words are reserved.
func DialectRules(dialect string) Rules {
	r := Rules{Dialect: dialect, Reserved: ReservedWords(dialect), ReservedPrefixes: reservedPrefixes(dialect)}
	switch dialect {
	case "postgres":
		r.MaxTable, r.MaxColumn = 63, 63
	case "duckdb", "snowflake":
		r.MaxTable, r.MaxColumn = 255, 255
	case "redshift":
		r.MaxTable, r.MaxColumn = 127, 127
	case "bigquery":
		r.MaxTable, r.MaxColumn = 1024, 300
	case "synapse":
		r.MaxTable, r.MaxColumn = 128, 128
	}
	return r
}

// RulesFor returns the rules of a dialect: DialectRules of its name, with
// both limits lowered to its MaxIdentLength where that is smaller.
func RulesFor(d adapters.Dialect) Rules {
	r := DialectRules(d.Name())
	if m := d.MaxIdentLength(); m > 0 {
		r.MaxTable = lowerLimit(r.MaxTable, m)
		r.MaxColumn = lowerLimit(r.MaxColumn, m)
	}
	return r
}

// lowerLimit returns the smaller of two limits, where 0 means none.
func lowerLimit(a, b int) int {
	if a == 0 || b < a {
		return b
	}
	return a
}

// A Namer turns event names into table names and key paths into column
// names for one warehouse. Its zero value is not usable; build it with
// NewNamer. A Namer is immutable and safe for concurrent use; the For and
// Reserving methods return new Namers.
//
// A name is built in four steps:
//
//  1. SnakeCase each key (for a column, each key of the path, dropping keys
//     that convert to nothing) and join them with "_".
//  2. If nothing is left (the keys had no ASCII letter or digit), the name
//     is "__" and a hash of the original keys, so that nothing is lost and
//     different keys keep different columns.
//  3. If the name starts with a digit, is a reserved word of the dialect, or
//     is taken (the name of a landed table, or a standard column of the
//     target table), it gets a "_" prefix: 3doctors → _3doctors,
//     select → _select, id → _id. A column name that starts with a prefix
//     the dialect reserves gets one more "_".
//  4. If the name is longer than the dialect's limit, it is cut to leave
//     room for "__" and a hash of the whole name: the start stays readable
//     and two long names that differ only past the cut still differ.
//
// The hashes are the first 40 bits of SHA-256 in hex, so names are the same
// on every run and machine. A name from steps 1 and 3 holds "__" nowhere but
// at its start, and only before a reserved prefix's word, so it never equals
// a fallback name ("__" and ten hex digits) or a shortened one ("__" past its
// start).
type Namer struct {
	rules    Rules
	reserved map[string]bool
	tables   map[string]bool
	taken    map[string]bool
}

// NewNamer returns a Namer for the rules, with no standard columns; see
// ForEventTable, ForTraits and Reserving. It panics if a limit is below
// MinIdentLength.
func NewNamer(r Rules) Namer {
	for _, m := range []int{r.MaxTable, r.MaxColumn} {
		if m != 0 && m < MinIdentLength {
			panic(fmt.Sprintf("columns: name limit %d of %q is below %d", m, r.Dialect, MinIdentLength))
		}
	}
	r.Reserved = lowerAll(r.Reserved)
	r.ReservedPrefixes = lowerAll(r.ReservedPrefixes)
	return Namer{rules: r, reserved: set(r.Reserved), tables: set(landedTables())}
}

// Rules returns the rules the Namer was built from.
func (n Namer) Rules() Rules {
	r := n.rules
	r.Reserved = slices.Clone(r.Reserved)
	r.ReservedPrefixes = slices.Clone(r.ReservedPrefixes)
	return r
}

// ForEventTable returns a Namer for the columns of an event table (a table
// name as Table returns it): the standard columns of adapters.EventTable,
// such as id, user_id, received_at and, on tracks and per-event tables,
// event, are taken.
func (n Namer) ForEventTable(table string) Namer {
	cols := adapters.EventTable(table).Columns
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	return n.only(names)
}

// ForTraits returns a Namer for the trait columns of profile_traits_updates
// and the profile trait tables: adapters.ReservedTraitColumns are taken.
func (n Namer) ForTraits() Namer {
	var names []string
	for name := range adapters.ReservedTraitColumns() {
		names = append(names, name)
	}
	return n.only(names)
}

// Reserving returns a Namer that also treats names as taken, in addition to
// those the Namer already takes.
func (n Namer) Reserving(names ...string) Namer {
	all := make([]string, 0, len(n.taken)+len(names))
	for name := range n.taken {
		all = append(all, name)
	}
	return n.only(append(all, names...))
}

// ReservingTables returns a Namer whose Table also treats names as taken,
// in addition to the landed tables: names that mean something else to the
// caller, such as the rows of a sync report that stand for a whole step
// ("events", "materialize"), so that no Track event's table can be mistaken
// for them.
func (n Namer) ReservingTables(names ...string) Namer {
	tables := make(map[string]bool, len(n.tables)+len(names))
	for name := range n.tables {
		tables[name] = true
	}
	for _, name := range names {
		tables[strings.ToLower(name)] = true
	}
	n.tables = tables
	return n
}

// ColumnOf returns the column of a Field from Flatten or Resolve: the same
// name as Column(f.Path...), computed from f.Key without converting the
// path again.
func (n Namer) ColumnOf(f Field) string {
	if f.Key == "" {
		return n.Column(f.Path...)
	}
	return n.name(f.Key, "", n.rules.MaxColumn, n.taken, n.rules.ReservedPrefixes)
}

// only returns a copy of n that takes exactly names.
func (n Namer) only(names []string) Namer {
	n.taken = set(names)
	return n
}

// Table returns the name of the table of a Track event: the event name
// snake_cased, with the rules above. The names of the tables Profiles Sync
// lands (identifies, tracks, id_graph, discards, ...) are taken, so an event
// called "Tracks" lands in _tracks.
func (n Namer) Table(eventName string) string {
	return n.name(SnakeCase(eventName), "t"+eventName, n.rules.MaxTable, n.tables, nil)
}

// Column returns the name of the column for a key path, such as
// ("context", "app", "version") → context_app_version or
// ("address", "street") → address_street. Paths whose keys snake_case to
// the same Key get the same column; paths with different Keys never do.
func (n Namer) Column(path ...string) string {
	return n.name(Key(path...), "c"+encodePath(path), n.rules.MaxColumn, n.taken, n.rules.ReservedPrefixes)
}

// Key is the dialect-independent name of a key path: its keys snake_cased,
// those that convert to nothing dropped, joined with "_". It is "" when no
// key has an ASCII letter or digit.
func Key(path ...string) string {
	var b strings.Builder
	for _, p := range path {
		s := SnakeCase(p)
		if s == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('_')
		}
		b.WriteString(s)
	}
	return b.String()
}

// name applies steps 2 to 4 of the naming rules to a snake_cased key.
func (n Namer) name(key, raw string, limit int, taken map[string]bool, prefixes []string) string {
	if key == "" {
		return "__" + shortHash(raw)
	}
	name := key
	if isDigit(name[0]) || n.reserved[name] || taken[name] {
		name = "_" + name
	}
	for taken[name] || hasAnyPrefix(name, prefixes) {
		name = "_" + name
	}
	if limit > 0 && len(name) > limit {
		h := shortHash(name)
		name = strings.TrimRight(name[:limit-len(h)-2], "_") + "__" + h
	}
	return name
}

// shortHash returns the first hashLength hex digits of the SHA-256 of s.
func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:hashLength/2])
}

// encodePath encodes a key path so that different paths encode differently.
func encodePath(path []string) string {
	var b strings.Builder
	for _, p := range path {
		b.WriteString(strconv.Itoa(len(p)))
		b.WriteByte(':')
		b.WriteString(p)
	}
	return b.String()
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// lowerAll returns a lower-case copy of words.
func lowerAll(words []string) []string {
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = strings.ToLower(w)
	}
	return out
}

func set(words []string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// landedTables returns the names of the tables Profiles Sync lands in every
// schema, which a Track event's table may not take.
func landedTables() []string {
	names := append(adapters.EventTypeTables(), adapters.MaterializedTables()...)
	for _, t := range adapters.IdentityTables() {
		names = append(names, t.Name)
	}
	return append(names, adapters.TableDiscards)
}
