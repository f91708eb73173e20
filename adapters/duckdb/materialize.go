package duckdb

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/profilesync/profilesync/adapters"
)

// Materialize brings the current-state tables up to date with the
// change-log rows of seq in (M, upto], where M is the materialize watermark,
// and moves the watermark to upto, in one transaction. It creates the tables
// it needs. It returns the rows written per current-state table: rows
// inserted, updated or deleted, a replaced row counting once.
//
// Each step reads the window's rows into a small temporary table and joins
// the current-state tables only against those, so the cost follows the rows
// changed, plus column scans of external_id_mapping and user_traits to find
// the rows of re-pointed and re-snapshotted profiles:
//
//   - id_graph and profile_merges: per segment_id, the window's row with the
//     highest seq replaces an older one.
//   - external_id_mapping: new mappings point at COALESCE(id_graph's
//     canonical_segment_id, segment_id); rows whose segment_id got a new
//     id_graph row are re-pointed.
//   - user_identifiers: the external_id_mapping rows written, keyed by
//     (type, value).
//   - profile_traits: one row per profile of id_graph. A merged-away profile
//     has merged_to set to its canonical profile and NULL traits; a canonical
//     one the traits of its latest snapshot.
//   - user_traits: for a profile with a new snapshot, one row per non-null
//     trait replaces its rows; a profile merged away loses its rows.
func (w *Warehouse) Materialize(ctx context.Context, upto int64) (map[string]int64, error) {
	counts := map[string]int64{}
	for _, t := range adapters.MaterializedTables() {
		counts[t] = 0
	}
	err := w.do(ctx, "materialize", func(c *sql.Conn) error {
		return inTx(ctx, c, func() error {
			m, err := w.watermark(ctx, c, MaterializeStream)
			if err != nil {
				return err
			}
			if m >= upto {
				return nil
			}
			run := materialization{w: w, c: c, after: m, upto: upto, counts: counts}
			if err := run.prepare(ctx); err != nil {
				return err
			}
			for _, step := range []func(context.Context) error{
				run.idGraph, run.externalIDs, run.profileTraits, run.userTraits, run.dropTemp,
			} {
				if err := step(ctx); err != nil {
					return err
				}
			}
			if err := w.setWatermark(ctx, c, MaterializeStream, upto); err != nil {
				return err
			}
			return w.hook("materialize")
		})
	})
	if err != nil {
		return nil, err
	}
	return counts, nil
}

// materialization is one run of Materialize inside its transaction.
type materialization struct {
	w           *Warehouse
	c           *sql.Conn
	after, upto int64
	counts      map[string]int64
	traits      []adapters.Column // trait columns of profile_traits_updates
}

// Temporary tables of a run: the window's latest row per key.
const (
	tmpIDGraph  = "temp.main._profilesync_ig"   // id_graph_updates per segment_id
	tmpMappings = "temp.main._profilesync_eim"  // external_id_mapping_updates per hash
	tmpSnaps    = "temp.main._profilesync_snap" // profile_traits_updates per segment_id
	tmpProfiles = "temp.main._profilesync_pt"   // new profile_traits rows
	tmpTraits   = "temp.main._profilesync_ut"   // new user_traits rows
)

// prepare creates the change-log and current-state tables that are missing
// and gives profile_traits the trait columns of profile_traits_updates.
func (r *materialization) prepare(ctx context.Context) error {
	if err := r.w.ensureSchema(ctx, r.c); err != nil {
		return err
	}
	for _, t := range adapters.IdentityTables() {
		if err := r.w.ensureTable(ctx, r.c, t, []string{"id"}); err != nil {
			return fmt.Errorf("ensure %s: %w", t.Name, err)
		}
	}
	tables, err := r.w.tables(ctx, r.c, adapters.TableProfileTraitsUpdates)
	if err != nil {
		return err
	}
	for _, cols := range tables {
		r.traits = traitColumns(cols)
	}
	for _, t := range adapters.Materialized() {
		if t.Name == adapters.TableProfileTraits {
			t.Columns = append(t.Columns, r.traits...)
		}
		if err := r.w.ensureTable(ctx, r.c, t.Table, t.Key); err != nil {
			return fmt.Errorf("ensure %s: %w", t.Name, err)
		}
	}
	return nil
}

// exec runs a statement and returns the rows it changed.
func (r *materialization) exec(ctx context.Context, what, q string, args ...any) (int64, error) {
	res, err := r.c.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	return n, nil
}

// window is the filter of change-log rows in the run's window; its
// parameters are materialization.bounds.
const window = "seq > $1 AND seq <= $2"

// bounds are the parameters of window.
func (r *materialization) bounds() []any { return []any{r.after, r.upto} }

// idGraph upserts the window's latest id_graph_updates row per segment_id
// into id_graph and profile_merges.
func (r *materialization) idGraph(ctx context.Context) error {
	q := "CREATE OR REPLACE TEMP TABLE " + tmpIDGraph + ` AS
		SELECT segment_id, canonical_segment_id, seq, "timestamp", received_at, uuid_ts
		FROM ` + r.w.table(adapters.TableIDGraphUpdates) + `
		WHERE ` + window + ` AND segment_id IS NOT NULL AND canonical_segment_id IS NOT NULL
		QUALIFY row_number() OVER (PARTITION BY segment_id ORDER BY seq DESC, id DESC) = 1`
	if _, err := r.exec(ctx, "read id_graph_updates", q, r.bounds()...); err != nil {
		return err
	}
	cols := []string{"segment_id", "canonical_segment_id", "seq", "timestamp", "received_at", "uuid_ts"}
	for _, t := range []string{adapters.TableIDGraph, adapters.TableProfileMerges} {
		n, err := r.exec(ctx, "write "+t, r.upsertNewer(t, cols, []string{"segment_id"}, "SELECT "+quoteList(cols)+" FROM "+tmpIDGraph))
		if err != nil {
			return err
		}
		r.counts[t] = n
	}
	return nil
}

// externalIDs writes the window's new mappings to external_id_mapping,
// re-points the mappings of segment_ids with a new id_graph row, and writes
// the rows it changed to user_identifiers.
func (r *materialization) externalIDs(ctx context.Context) error {
	eim := adapters.TableExternalIDMapping
	q := "CREATE OR REPLACE TEMP TABLE " + tmpMappings + ` AS
		SELECT u.external_id_hash, u.external_id_type, u.external_id_value, u.segment_id,
			COALESCE(g.canonical_segment_id, u.segment_id) AS canonical_segment_id,
			u.seq, u."timestamp", u.received_at, u.uuid_ts
		FROM (SELECT * FROM ` + r.w.table(adapters.TableExternalIDMappingUpdates) + `
			WHERE ` + window + ` AND external_id_hash IS NOT NULL AND segment_id IS NOT NULL
			QUALIFY row_number() OVER (PARTITION BY external_id_hash ORDER BY seq DESC, id DESC) = 1) u
		LEFT JOIN ` + r.w.table(adapters.TableIDGraph) + ` g ON g.segment_id = u.segment_id`
	if _, err := r.exec(ctx, "read external_id_mapping_updates", q, r.bounds()...); err != nil {
		return err
	}
	cols := []string{"external_id_hash", "external_id_type", "external_id_value", "segment_id", "canonical_segment_id", "seq", "timestamp", "received_at", "uuid_ts"}
	inserted, err := r.exec(ctx, "write "+eim, r.upsertNewer(eim, cols, []string{"external_id_hash"}, "SELECT "+quoteList(cols)+" FROM "+tmpMappings))
	if err != nil {
		return err
	}
	repointed, err := r.exec(ctx, "re-point "+eim, "UPDATE "+r.w.table(eim)+` AS t
		SET canonical_segment_id = g.canonical_segment_id
		FROM `+tmpIDGraph+` g
		WHERE t.segment_id = g.segment_id AND t.canonical_segment_id IS DISTINCT FROM g.canonical_segment_id`)
	if err != nil {
		return err
	}
	r.counts[eim] = inserted + repointed

	ui := adapters.TableUserIdentifiers
	q = "INSERT INTO " + r.w.table(ui) + ` AS t (canonical_segment_id, "type", "value", seq, "timestamp", received_at, uuid_ts)
		SELECT canonical_segment_id, external_id_type, external_id_value, seq, "timestamp", received_at, uuid_ts
		FROM ` + r.w.table(eim) + `
		WHERE (external_id_hash IN (SELECT external_id_hash FROM ` + tmpMappings + `)
				OR segment_id IN (SELECT segment_id FROM ` + tmpIDGraph + `))
			AND external_id_type IS NOT NULL AND external_id_value IS NOT NULL
		QUALIFY row_number() OVER (PARTITION BY external_id_type, external_id_value ORDER BY seq DESC) = 1
		ON CONFLICT ("type", "value") DO UPDATE SET canonical_segment_id = excluded.canonical_segment_id,
			seq = excluded.seq, "timestamp" = excluded."timestamp", received_at = excluded.received_at, uuid_ts = excluded.uuid_ts
		WHERE t.canonical_segment_id IS DISTINCT FROM excluded.canonical_segment_id OR t.seq IS DISTINCT FROM excluded.seq`
	n, err := r.exec(ctx, "write "+ui, q)
	if err != nil {
		return err
	}
	r.counts[ui] = n
	return nil
}

// profileTraits writes a profile_traits row for every profile with a new
// id_graph row or a new snapshot in the window.
func (r *materialization) profileTraits(ctx context.Context) error {
	q := "CREATE OR REPLACE TEMP TABLE " + tmpSnaps + ` AS
		SELECT segment_id, seq, "timestamp", received_at, uuid_ts` + columnList(r.traits) + `
		FROM ` + r.w.table(adapters.TableProfileTraitsUpdates) + `
		WHERE ` + window + ` AND segment_id IS NOT NULL
		QUALIFY row_number() OVER (PARTITION BY segment_id ORDER BY seq DESC, id DESC) = 1`
	if _, err := r.exec(ctx, "read profile_traits_updates", q, r.bounds()...); err != nil {
		return err
	}

	// merged: the profile's id_graph row points elsewhere (false when it has
	// none). A canonical profile takes its traits from its new snapshot, or
	// keeps the ones it has.
	const merged = "g.canonical_segment_id <> a.segment_id"
	var b strings.Builder
	b.WriteString("CREATE OR REPLACE TEMP TABLE " + tmpProfiles + ` AS
		SELECT a.segment_id AS canonical_segment_id,
			CASE WHEN ` + merged + ` THEN g.canonical_segment_id END AS merged_to`)
	for _, m := range []string{"seq", "timestamp", "received_at", "uuid_ts"} {
		b.WriteString(",\n\t\t\tCASE WHEN " + merged + " OR s.segment_id IS NULL THEN g." + quote(m) + " ELSE s." + quote(m) + " END AS " + quote(m))
	}
	for _, t := range r.traits {
		n := quote(t.Name)
		b.WriteString(",\n\t\t\tCASE WHEN " + merged + " THEN NULL WHEN s.segment_id IS NOT NULL THEN s." + n + " ELSE o." + n + " END AS " + n)
	}
	b.WriteString(`
		FROM (SELECT segment_id FROM ` + tmpIDGraph + ` UNION SELECT segment_id FROM ` + tmpSnaps + `) a
		LEFT JOIN ` + r.w.table(adapters.TableIDGraph) + ` g ON g.segment_id = a.segment_id
		LEFT JOIN ` + tmpSnaps + ` s ON s.segment_id = a.segment_id
		LEFT JOIN ` + r.w.table(adapters.TableProfileTraits) + ` o ON o.canonical_segment_id = a.segment_id`)
	if _, err := r.exec(ctx, "compute profile_traits", b.String()); err != nil {
		return err
	}

	cols := []string{"canonical_segment_id", "merged_to", "seq", "timestamp", "received_at", "uuid_ts"}
	for _, t := range r.traits {
		cols = append(cols, t.Name)
	}
	pt := adapters.TableProfileTraits
	q = "INSERT INTO " + r.w.table(pt) + " (" + quoteList(cols) + ") SELECT " + quoteList(cols) + " FROM " + tmpProfiles +
		" ON CONFLICT (canonical_segment_id) DO " + updateAll(cols, "canonical_segment_id")
	n, err := r.exec(ctx, "write "+pt, q)
	if err != nil {
		return err
	}
	r.counts[pt] = n
	return nil
}

// userTraits replaces the user_traits rows of the profiles with a new
// snapshot and deletes those of profiles merged away.
func (r *materialization) userTraits(ctx context.Context) error {
	ut := r.w.table(adapters.TableUserTraits)
	q := "CREATE OR REPLACE TEMP TABLE " + tmpTraits + ` (
		canonical_segment_id VARCHAR, name VARCHAR, value VARCHAR,
		seq BIGINT, "timestamp" TIMESTAMPTZ, received_at TIMESTAMPTZ, uuid_ts TIMESTAMPTZ)`
	if _, err := r.c.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("create user_traits staging table: %w", err)
	}
	if len(r.traits) > 0 {
		var on, text []string
		for _, t := range r.traits {
			on = append(on, quote(t.Name))
			text = append(text, traitText("s."+quote(t.Name), t.Type)+" AS "+quote(t.Name))
		}
		q = "INSERT INTO " + tmpTraits + ` SELECT canonical_segment_id, name, value, seq, "timestamp", received_at, uuid_ts
			FROM (UNPIVOT (
				SELECT s.segment_id AS canonical_segment_id, s.seq, s."timestamp", s.received_at, s.uuid_ts, ` + strings.Join(text, ", ") + `
				FROM ` + tmpSnaps + ` s JOIN ` + tmpProfiles + ` p ON p.canonical_segment_id = s.segment_id
				WHERE p.merged_to IS NULL)
			ON ` + strings.Join(on, ", ") + ` INTO NAME name VALUE value)`
		if _, err := r.exec(ctx, "unpivot traits", q); err != nil {
			return err
		}
	}
	deleted, err := r.exec(ctx, "delete stale user_traits", "DELETE FROM "+ut+` AS t
		WHERE t.canonical_segment_id IN (
				SELECT canonical_segment_id FROM `+tmpProfiles+` WHERE merged_to IS NOT NULL
				UNION SELECT segment_id FROM `+tmpSnaps+`)
			AND NOT EXISTS (SELECT 1 FROM `+tmpTraits+` n
				WHERE n.canonical_segment_id = t.canonical_segment_id AND n.name = t.name)`)
	if err != nil {
		return err
	}
	cols := []string{"canonical_segment_id", "name", "value", "seq", "timestamp", "received_at", "uuid_ts"}
	written, err := r.exec(ctx, "write user_traits", "INSERT INTO "+ut+" ("+quoteList(cols)+") SELECT "+quoteList(cols)+
		" FROM "+tmpTraits+" ON CONFLICT (canonical_segment_id, name) DO "+updateAll(cols, "canonical_segment_id", "name"))
	if err != nil {
		return err
	}
	r.counts[adapters.TableUserTraits] = deleted + written
	return nil
}

// dropTemp drops the run's temporary tables.
func (r *materialization) dropTemp(ctx context.Context) error {
	for _, t := range []string{tmpIDGraph, tmpMappings, tmpSnaps, tmpProfiles, tmpTraits} {
		if _, err := r.c.ExecContext(ctx, "DROP TABLE IF EXISTS "+t); err != nil {
			return fmt.Errorf("drop %s: %w", t, err)
		}
	}
	return nil
}

// upsertNewer returns the statement that upserts the rows of query into a
// table by key, replacing a row only with one of a higher seq.
func (r *materialization) upsertNewer(table string, cols, key []string, query string) string {
	return "INSERT INTO " + r.w.table(table) + " AS t (" + quoteList(cols) + ") " + query +
		" ON CONFLICT (" + quoteList(key) + ") DO " + updateAll(cols, key...) + " WHERE excluded.seq > t.seq"
}

// traitText renders a trait value as user_traits text: strings as they are,
// numbers in decimal (floats in the shortest form that reads back the same),
// booleans as true or false, timestamps in RFC 3339 in UTC.
func traitText(expr string, t adapters.Type) string {
	switch t {
	case adapters.String:
		return expr
	case adapters.Timestamp:
		return "CASE WHEN epoch_us(" + expr + ") % 1000000 = 0 THEN strftime(" + expr + ", '%Y-%m-%dT%H:%M:%SZ')" +
			" ELSE strftime(" + expr + ", '%Y-%m-%dT%H:%M:%S.%fZ') END"
	default:
		return "CAST(" + expr + " AS VARCHAR)"
	}
}

// columnList returns ", col" for each column.
func columnList(cols []adapters.Column) string {
	var b strings.Builder
	for _, c := range cols {
		b.WriteString(", " + quote(c.Name))
	}
	return b.String()
}

// traitColumns returns the trait columns among the columns of
// profile_traits_updates: those that are neither its standard columns nor
// reserved by profile_traits, compared case-insensitively. Columns of a type
// the adapter does not create (added by hand) are left out.
func traitColumns(cols []adapters.Column) []adapters.Column {
	reserved := map[string]bool{}
	for name := range adapters.ReservedTraitColumns() {
		reserved[strings.ToLower(name)] = true
	}
	var out []adapters.Column
	for _, c := range cols {
		if !reserved[strings.ToLower(c.Name)] && typeName(c.Type) != "" {
			out = append(out, c)
		}
	}
	return out
}
