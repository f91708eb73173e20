package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/profilesync/profilesync/adapters"
)

// materializeStream is the watermarks row of Materialize.
const materializeStream = "materialize"

// Temporary tables of one Materialize transaction: the window's latest
// id_graph_updates row per segment_id, latest mapping per external id and
// latest snapshot per canonical profile; the external_id_mapping rows the
// window changed; the user_traits rows of the new snapshots and the traits
// they removed.
const (
	tmpGraph      = "_profilesync_graph"
	tmpMapping    = "_profilesync_mapping"
	tmpTraits     = "_profilesync_traits"
	tmpChanged    = "_profilesync_mapping_changed"
	tmpUserTraits = "_profilesync_user_traits"
	tmpRemoved    = "_profilesync_removed_traits"
)

// Materialize brings the current-state tables up to date with the change
// logs up to seq upto, in one transaction. With M the "materialize"
// watermark it reads only change-log rows with M < seq <= upto (through the
// seq indexes) and touches only the target rows they concern (through the
// primary keys and the segment_id index of external_id_mapping), so its cost
// grows with the changes, not with the tables. It returns the rows
// inserted, updated or deleted per table. The change logs must be loaded up
// to upto first: rows loaded later with seq <= upto are not materialized.
// Snapshots are taken to be written only for canonical profiles (as the
// identity engine does).
func (w *Warehouse) Materialize(ctx context.Context, upto int64) (written map[string]int64, err error) {
	defer w.redactErr(&err)
	start := time.Now()
	written = map[string]int64{}
	for _, t := range adapters.MaterializedTables() {
		written[t] = 0
	}
	// One snapshot for every statement: all the window's reads see the same
	// change logs. A concurrent Materialize, which the watermark lock makes
	// wait, then fails with a serialization error, to be retried.
	tx, err := w.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead})
	if err != nil {
		return nil, fmt.Errorf("materializing: beginning transaction: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // no-op after Commit

	m := &materializer{w: w, tx: tx, written: written}
	from, err := w.lockWatermark(ctx, tx, materializeStream)
	if err != nil {
		return nil, fmt.Errorf("materializing: %w", err)
	}
	if from >= upto {
		return written, nil
	}
	if err := m.run(ctx, from, upto); err != nil {
		return nil, fmt.Errorf("materializing (%d, %d]: %w", from, upto, err)
	}
	if err := setWatermark(ctx, tx, w.QualifiedName(watermarksTable), materializeStream, upto); err != nil {
		return nil, fmt.Errorf("materializing: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("materializing: committing: %w", err)
	}
	w.log.DebugContext(ctx, "materialized", "from", from, "upto", upto, "rows", written, "duration", time.Since(start))
	return written, nil
}

// materializer is one Materialize transaction.
type materializer struct {
	w       *Warehouse
	tx      *sql.Tx
	written map[string]int64
	traits  []adapters.Column // trait columns of profile_traits_updates
}

// t returns the qualified name of a table of the warehouse schema.
func (m *materializer) t(table string) string { return m.w.QualifiedName(table) }

// exec runs a statement and adds the rows it affected to table's count.
func (m *materializer) exec(ctx context.Context, table, what, query string, args ...any) error {
	start := time.Now()
	res, err := m.tx.ExecContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if table != "" {
		m.written[table] += n
	}
	m.w.log.DebugContext(ctx, "materialize step", "step", what, "rows", n, "duration", time.Since(start))
	return nil
}

// run materializes the window (from, upto].
func (m *materializer) run(ctx context.Context, from, upto int64) error {
	// Stable text for user_traits: shortest exact floats. The window is
	// small next to the tables and their pages are mostly cached: make
	// index probes look as cheap as they are, so that the planner joins the
	// window to the tables through their keys instead of scanning them, and
	// skip JIT compilation, which costs more than these statements.
	for _, set := range []string{"extra_float_digits = 1", "random_page_cost = 1.1", "jit = off"} {
		if err := m.exec(ctx, "", "setting "+set, "SET LOCAL "+set); err != nil {
			return err
		}
	}
	if err := m.ensureTables(ctx); err != nil {
		return err
	}
	steps := []func(context.Context, int64, int64) error{
		m.graph, m.mappings, m.identifiers, m.profileTraits, m.userTraits,
	}
	for _, step := range steps {
		if err := step(ctx, from, upto); err != nil {
			return err
		}
	}
	return nil
}

// ensureTables creates the change logs and current-state tables if missing
// and gives profile_traits the trait columns of profile_traits_updates.
func (m *materializer) ensureTables(ctx context.Context) error {
	for _, t := range adapters.IdentityTables() {
		if err := m.w.ensureTable(ctx, m.tx, t.Name, t.Columns, []string{"id"}); err != nil {
			return err
		}
	}
	cols, err := m.w.columns(ctx, m.tx, adapters.TableProfileTraitsUpdates)
	if err != nil {
		return err
	}
	ordered, err := m.w.orderedColumns(ctx, m.tx, adapters.TableProfileTraitsUpdates)
	if err != nil {
		return err
	}
	reserved := map[string]bool{}
	for _, c := range adapters.ProfileTraits().Columns {
		reserved[c.Name] = true
	}
	var all []adapters.Column
	for _, name := range ordered {
		all = append(all, adapters.Column{Name: name, Type: pgType(cols[name])})
	}
	for _, c := range adapters.TraitColumns(all) {
		if reserved[c.Name] {
			m.w.log.WarnContext(ctx, "trait column ignored: reserved in profile_traits", "column", c.Name)
			continue
		}
		m.traits = append(m.traits, c)
	}
	for _, kt := range adapters.Materialized() {
		cols := kt.Columns
		if kt.Name == adapters.TableProfileTraits {
			cols = append(cols, m.traits...)
		}
		if err := m.w.ensureTable(ctx, m.tx, kt.Name, cols, kt.Key); err != nil {
			return err
		}
	}
	return nil
}

// traitNames returns the names of the trait columns, as query arguments.
func (m *materializer) traitNames() []any {
	names := make([]any, len(m.traits))
	for i, c := range m.traits {
		names[i] = c.Name
	}
	return names
}

// pgType maps a type as format_type prints it back to a column type.
func pgType(formatted string) adapters.Type {
	if strings.HasPrefix(formatted, "timestamp") {
		return adapters.Timestamp
	}
	return columnType(formatted)
}

// createTemp creates a temporary table from a query. The tables the window
// joins to big tables are analyzed (analyze), so that the planner knows they
// are small and goes through the big tables' keys.
func (m *materializer) createTemp(ctx context.Context, name string, analyze bool, query string, args ...any) error {
	if err := m.exec(ctx, "", "creating "+name, "CREATE TEMP TABLE "+quoteIdent(name)+" ON COMMIT DROP AS "+query, args...); err != nil {
		return err
	}
	if !analyze {
		return nil
	}
	return m.exec(ctx, "", "analyzing "+name, "ANALYZE "+quoteIdent(name))
}

// metaList are the columns every current-state table copies from the
// change-log row that wrote it.
const metaList = `seq, "timestamp", received_at, uuid_ts`

// metaSet sets the meta columns from EXCLUDED in an upsert.
const metaSet = `seq = EXCLUDED.seq, "timestamp" = EXCLUDED."timestamp", received_at = EXCLUDED.received_at, uuid_ts = EXCLUDED.uuid_ts`

// graph maintains id_graph and profile_merges: per segment_id the window's
// latest row, when it is newer than the one held.
func (m *materializer) graph(ctx context.Context, from, upto int64) error {
	err := m.createTemp(ctx, tmpGraph, true, `SELECT DISTINCT ON (segment_id) segment_id, canonical_segment_id, `+metaList+`
		FROM `+m.t(adapters.TableIDGraphUpdates)+`
		WHERE seq > $1 AND seq <= $2 AND segment_id IS NOT NULL
		ORDER BY segment_id, seq DESC`, from, upto)
	if err != nil {
		return err
	}
	for _, table := range []string{adapters.TableIDGraph, adapters.TableProfileMerges} {
		err := m.exec(ctx, table, "updating "+table, `INSERT INTO `+m.t(table)+` AS t (segment_id, canonical_segment_id, `+metaList+`)
			SELECT segment_id, canonical_segment_id, `+metaList+` FROM `+tmpGraph+`
			ON CONFLICT (segment_id) DO UPDATE SET canonical_segment_id = EXCLUDED.canonical_segment_id, `+metaSet+`
			WHERE t.seq IS NULL OR t.seq < EXCLUDED.seq`)
		if err != nil {
			return err
		}
	}
	return nil
}

// mappingList are the columns of the changed-mappings table.
const mappingList = `external_id_hash, external_id_type, external_id_value, segment_id, canonical_segment_id, ` + metaList

// mappings maintains external_id_mapping: the window's new mappings with
// canonical = COALESCE(id_graph.canonical_segment_id, segment_id), and the
// existing mappings of segment_ids the window re-pointed. Changed rows are
// kept for user_identifiers.
func (m *materializer) mappings(ctx context.Context, from, upto int64) error {
	err := m.createTemp(ctx, tmpMapping, false, `SELECT DISTINCT ON (u.external_id_hash)
			u.external_id_hash, u.external_id_type, u.external_id_value, u.segment_id,
			COALESCE(g.canonical_segment_id, u.segment_id) AS canonical_segment_id,
			u.seq, u."timestamp", u.received_at, u.uuid_ts
		FROM `+m.t(adapters.TableExternalIDMappingUpdates)+` u
		LEFT JOIN `+m.t(adapters.TableIDGraph)+` g ON g.segment_id = u.segment_id
		WHERE u.seq > $1 AND u.seq <= $2 AND u.external_id_hash IS NOT NULL
		ORDER BY u.external_id_hash, u.seq DESC`, from, upto)
	if err != nil {
		return err
	}
	if err := m.createTemp(ctx, tmpChanged, false, `SELECT `+mappingList+` FROM `+tmpMapping+` WHERE false`); err != nil {
		return err
	}
	table := adapters.TableExternalIDMapping
	err = m.exec(ctx, table, "adding mappings", `WITH changed AS (
			INSERT INTO `+m.t(table)+` AS t (`+mappingList+`)
			SELECT `+mappingList+` FROM `+tmpMapping+`
			ON CONFLICT (external_id_hash) DO UPDATE SET
				external_id_type = EXCLUDED.external_id_type, external_id_value = EXCLUDED.external_id_value,
				segment_id = EXCLUDED.segment_id, canonical_segment_id = EXCLUDED.canonical_segment_id, `+metaSet+`
			WHERE t.seq IS NULL OR t.seq < EXCLUDED.seq
			RETURNING `+prefixed("t.", mappingList)+`)
		INSERT INTO `+tmpChanged+` SELECT * FROM changed`)
	if err != nil {
		return err
	}
	return m.exec(ctx, table, "re-pointing mappings", `WITH changed AS (
			UPDATE `+m.t(table)+` t SET canonical_segment_id = g.canonical_segment_id
			FROM `+tmpGraph+` g
			WHERE t.segment_id = g.segment_id AND t.canonical_segment_id IS DISTINCT FROM g.canonical_segment_id
			RETURNING `+prefixed("t.", mappingList)+`)
		INSERT INTO `+tmpChanged+` SELECT * FROM changed`)
}

// identifiers maintains user_identifiers from the changed mappings.
func (m *materializer) identifiers(ctx context.Context, _, _ int64) error {
	table := adapters.TableUserIdentifiers
	return m.exec(ctx, table, "updating "+table, `INSERT INTO `+m.t(table)+` AS t (canonical_segment_id, type, value, `+metaList+`)
		SELECT DISTINCT ON (external_id_type, external_id_value)
			canonical_segment_id, external_id_type, external_id_value, `+metaList+`
		FROM `+tmpChanged+`
		WHERE external_id_type IS NOT NULL AND external_id_value IS NOT NULL
		ORDER BY external_id_type, external_id_value, seq DESC
		ON CONFLICT (type, value) DO UPDATE SET canonical_segment_id = EXCLUDED.canonical_segment_id, `+metaSet)
}

// profileTraits maintains profile_traits: merged-away profiles become
// tombstones (merged_to set, traits NULL), new profiles get a row, and
// canonical profiles with a new snapshot take its trait columns.
func (m *materializer) profileTraits(ctx context.Context, from, upto int64) error {
	traitList := ""
	for _, c := range m.traits {
		traitList += ", " + quoteIdent(c.Name)
	}
	err := m.createTemp(ctx, tmpTraits, true, `SELECT DISTINCT ON (segment_id) segment_id, `+metaList+traitList+`
		FROM `+m.t(adapters.TableProfileTraitsUpdates)+`
		WHERE seq > $1 AND seq <= $2 AND segment_id IS NOT NULL
		ORDER BY segment_id, seq DESC`, from, upto)
	if err != nil {
		return err
	}
	// A snapshot of a profile merged away since does not apply. Snapshots
	// are only written for canonical profiles, so a profile with a snapshot
	// in the window can only have been merged away in the window.
	err = m.exec(ctx, "", "dropping snapshots of merged profiles", `DELETE FROM `+tmpTraits+` p
		USING `+tmpGraph+` g
		WHERE g.segment_id = p.segment_id AND g.canonical_segment_id <> g.segment_id`)
	if err != nil {
		return err
	}
	table := adapters.TableProfileTraits
	nulls, sets := "", ""
	for _, c := range m.traits {
		nulls += ", " + quoteIdent(c.Name) + " = NULL"
		sets += ", " + quoteIdent(c.Name) + " = EXCLUDED." + quoteIdent(c.Name)
	}
	err = m.exec(ctx, table, "writing tombstones", `INSERT INTO `+m.t(table)+` AS t (canonical_segment_id, merged_to, `+metaList+`)
		SELECT segment_id, canonical_segment_id, `+metaList+` FROM `+tmpGraph+`
		WHERE canonical_segment_id <> segment_id
		ON CONFLICT (canonical_segment_id) DO UPDATE SET merged_to = EXCLUDED.merged_to, `+metaSet+nulls)
	if err != nil {
		return err
	}
	// The traits the new snapshots no longer hold, for user_traits: read
	// from the rows the snapshots are about to replace.
	removed := make([]string, len(m.traits))
	for i, c := range m.traits {
		col := quoteIdent(c.Name)
		removed[i] = fmt.Sprintf("($%d, o.%s IS NOT NULL AND p.%s IS NULL)", i+1, col, col)
	}
	if len(removed) == 0 {
		removed = []string{"(NULL::text, false)"}
	}
	err = m.createTemp(ctx, tmpRemoved, true, `SELECT p.segment_id, v.name
		FROM `+tmpTraits+` p
		JOIN `+m.t(table)+` o ON o.canonical_segment_id = p.segment_id
		CROSS JOIN LATERAL (VALUES `+strings.Join(removed, ", ")+`) AS v(name, removed)
		WHERE v.removed`, m.traitNames()...)
	if err != nil {
		return err
	}
	err = m.exec(ctx, table, "adding profiles", `INSERT INTO `+m.t(table)+` (canonical_segment_id, `+metaList+`)
		SELECT g.segment_id, g.seq, g."timestamp", g.received_at, g.uuid_ts FROM `+tmpGraph+` g
		WHERE g.canonical_segment_id = g.segment_id
			AND NOT EXISTS (SELECT 1 FROM `+tmpTraits+` p WHERE p.segment_id = g.segment_id)
		ON CONFLICT (canonical_segment_id) DO NOTHING`)
	if err != nil {
		return err
	}
	return m.exec(ctx, table, "applying snapshots", `INSERT INTO `+m.t(table)+` AS t (canonical_segment_id, merged_to, `+metaList+traitList+`)
		SELECT segment_id, NULL, `+metaList+traitList+` FROM `+tmpTraits+`
		ON CONFLICT (canonical_segment_id) DO UPDATE SET merged_to = NULL, `+metaSet+sets)
}

// userTraits maintains user_traits: the rows of profiles merged away in the
// window are deleted; for each new snapshot, the traits it no longer holds
// (found by profileTraits) are deleted and the others upserted, so that every
// row of the profile carries the snapshot's seq. The end state is that of
// deleting the profile's rows and inserting one per trait, but an update in
// place, which PostgreSQL can do without touching the index, costs less.
func (m *materializer) userTraits(ctx context.Context, _, _ int64) error {
	table := adapters.TableUserTraits
	err := m.exec(ctx, table, "deleting traits of merged profiles", `DELETE FROM `+m.t(table)+` t
		USING `+tmpGraph+` g
		WHERE t.canonical_segment_id = g.segment_id AND g.canonical_segment_id <> g.segment_id`)
	if err != nil {
		return err
	}
	values := make([]string, len(m.traits))
	for i, c := range m.traits {
		values[i] = fmt.Sprintf("($%d, %s)", i+1, traitText(c))
	}
	if len(values) == 0 {
		values = []string{"(NULL::text, NULL::text)"}
	}
	err = m.createTemp(ctx, tmpUserTraits, false, `SELECT p.segment_id, v.name, v.value, p.seq, p."timestamp", p.received_at, p.uuid_ts
		FROM `+tmpTraits+` p
		CROSS JOIN LATERAL (VALUES `+strings.Join(values, ", ")+`) AS v(name, value)
		WHERE v.value IS NOT NULL`, m.traitNames()...)
	if err != nil {
		return err
	}
	err = m.exec(ctx, table, "deleting removed traits", `DELETE FROM `+m.t(table)+` t
		USING `+tmpRemoved+` r
		WHERE t.canonical_segment_id = r.segment_id AND t.name = r.name`)
	if err != nil {
		return err
	}
	return m.exec(ctx, table, "upserting traits", `INSERT INTO `+m.t(table)+` AS t (canonical_segment_id, name, value, `+metaList+`)
		SELECT segment_id, name, value, `+metaList+` FROM `+tmpUserTraits+`
		ON CONFLICT (canonical_segment_id, name) DO UPDATE SET value = EXCLUDED.value, `+metaSet)
}

// traitText renders a trait column of the snapshot p as user_traits text.
func traitText(c adapters.Column) string {
	col := "p." + quoteIdent(c.Name)
	switch c.Type {
	case adapters.String:
		return col + "::text"
	case adapters.Timestamp:
		return `to_char(` + col + ` AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`
	}
	return col + "::text" // bigint, boolean (true/false), double precision (shortest exact)
}

// prefixed qualifies each column of a comma-separated list.
func prefixed(prefix, list string) string {
	cols := strings.Split(list, ", ")
	for i, c := range cols {
		cols[i] = prefix + c
	}
	return strings.Join(cols, ", ")
}
