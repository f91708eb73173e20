package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/profilesync/profilesync/identity"
)

func (s *sqliteStore) CreateSpace(ctx context.Context, sp Space) error {
	rules, err := json.Marshal(sp.Rules)
	if err != nil {
		return fmt.Errorf("creating space: %w", err)
	}
	if sp.CreatedAt.IsZero() {
		sp.CreatedAt = s.opts.clock()
	}
	_, err = s.w.ExecContext(ctx, "INSERT INTO spaces (id, name, rules, created_at) VALUES (?, ?, ?, ?)",
		sp.ID, sp.Name, string(rules), micros(sp.CreatedAt))
	if err != nil {
		return fmt.Errorf("creating space %q: %w", sp.ID, sqliteClassify(err))
	}
	return nil
}

func (s *sqliteStore) UpdateSpaceRules(ctx context.Context, spaceID string, rules identity.Rules) error {
	b, err := json.Marshal(rules)
	if err != nil {
		return fmt.Errorf("updating space rules: %w", err)
	}
	res, err := s.w.ExecContext(ctx, "UPDATE spaces SET rules = ? WHERE id = ?", string(b), spaceID)
	if err != nil {
		return fmt.Errorf("updating space rules: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("updating space rules of %q: %w", spaceID, ErrNotFound)
	}
	return nil
}

const sqliteSpaceColumns = "id, name, rules, created_at"

func (s *sqliteStore) GetSpace(ctx context.Context, id string) (Space, error) {
	sp, err := scanSqliteSpace(s.r.QueryRowContext(ctx, "SELECT "+sqliteSpaceColumns+" FROM spaces WHERE id = ?", id))
	if err != nil {
		return Space{}, fmt.Errorf("getting space %q: %w", id, sqliteClassify(err))
	}
	return sp, nil
}

func (s *sqliteStore) ListSpaces(ctx context.Context) ([]Space, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+sqliteSpaceColumns+" FROM spaces ORDER BY id")
	sps, err := collect(rows, err, scanSqliteSpace)
	if err != nil {
		return nil, fmt.Errorf("listing spaces: %w", err)
	}
	return sps, nil
}

func scanSqliteSpace(row scanner) (Space, error) {
	var sp Space
	var rules string
	var created int64
	if err := row.Scan(&sp.ID, &sp.Name, &rules, &created); err != nil {
		return Space{}, err
	}
	sp.CreatedAt = fromMicros(created)
	if err := json.Unmarshal([]byte(rules), &sp.Rules); err != nil {
		return Space{}, fmt.Errorf("decoding rules of space %q: %w", sp.ID, err)
	}
	return sp, nil
}

func (s *sqliteStore) CreateSource(ctx context.Context, src Source, writeKey string) error {
	if writeKey == "" {
		return fmt.Errorf("creating source %q: empty write key", src.ID)
	}
	if src.CreatedAt.IsZero() {
		src.CreatedAt = s.opts.clock()
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO sources (id, space_id, name, slug, write_key_sha256, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`,
		src.ID, src.SpaceID, src.Name, src.Slug, hashWriteKey(writeKey), micros(src.CreatedAt))
	if err != nil {
		return fmt.Errorf("creating source %q: %w", src.ID, sqliteClassify(err))
	}
	return nil
}

const sqliteSourceColumns = "id, space_id, name, slug, created_at"

func (s *sqliteStore) SourceByWriteKey(ctx context.Context, writeKey string) (Source, error) {
	src, err := scanSqliteSource(s.r.QueryRowContext(ctx,
		"SELECT "+sqliteSourceColumns+" FROM sources WHERE write_key_sha256 = ?", hashWriteKey(writeKey)))
	if err != nil {
		// Never echo the key.
		return Source{}, fmt.Errorf("finding source by write key: %w", sqliteClassify(err))
	}
	return src, nil
}

func (s *sqliteStore) GetSource(ctx context.Context, id string) (Source, error) {
	src, err := scanSqliteSource(s.r.QueryRowContext(ctx, "SELECT "+sqliteSourceColumns+" FROM sources WHERE id = ?", id))
	if err != nil {
		return Source{}, fmt.Errorf("getting source %q: %w", id, sqliteClassify(err))
	}
	return src, nil
}

func (s *sqliteStore) ListSources(ctx context.Context, spaceID string) ([]Source, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+sqliteSourceColumns+" FROM sources WHERE space_id = ? ORDER BY id", spaceID)
	srcs, err := collect(rows, err, scanSqliteSource)
	if err != nil {
		return nil, fmt.Errorf("listing sources: %w", err)
	}
	return srcs, nil
}

func scanSqliteSource(row scanner) (Source, error) {
	var src Source
	var created int64
	err := row.Scan(&src.ID, &src.SpaceID, &src.Name, &src.Slug, &created)
	src.CreatedAt = fromMicros(created)
	return src, err
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// collect scans every row of a query, closing rows; err is the query's.
func collect[T any](rows *sql.Rows, err error, scan func(scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{} // empty, not nil, like pgx.CollectRows
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
