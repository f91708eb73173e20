package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/profilesync/profilesync/identity"
)

func (s *pgStore) CreateSpace(ctx context.Context, sp Space) error {
	rules, err := json.Marshal(sp.Rules)
	if err != nil {
		return fmt.Errorf("creating space: %w", err)
	}
	if sp.CreatedAt.IsZero() {
		sp.CreatedAt = s.opts.clock()
	}
	_, err = s.pool.Exec(ctx, "INSERT INTO spaces (id, name, rules, created_at) VALUES ($1, $2, $3, $4)",
		sp.ID, sp.Name, rules, sp.CreatedAt)
	if err != nil {
		return fmt.Errorf("creating space %q: %w", sp.ID, pgClassify(err))
	}
	return nil
}

func (s *pgStore) UpdateSpaceRules(ctx context.Context, spaceID string, rules identity.Rules) error {
	b, err := json.Marshal(rules)
	if err != nil {
		return fmt.Errorf("updating space rules: %w", err)
	}
	tag, err := s.pool.Exec(ctx, "UPDATE spaces SET rules = $2 WHERE id = $1", spaceID, b)
	if err != nil {
		return fmt.Errorf("updating space rules: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("updating space rules of %q: %w", spaceID, ErrNotFound)
	}
	return nil
}

const pgSpaceColumns = "id, name, rules, created_at"

func (s *pgStore) GetSpace(ctx context.Context, id string) (Space, error) {
	rows, _ := s.pool.Query(ctx, "SELECT "+pgSpaceColumns+" FROM spaces WHERE id = $1", id)
	sp, err := pgx.CollectExactlyOneRow(rows, scanPgSpace)
	if err != nil {
		return Space{}, fmt.Errorf("getting space %q: %w", id, pgClassify(err))
	}
	return sp, nil
}

func (s *pgStore) ListSpaces(ctx context.Context) ([]Space, error) {
	rows, _ := s.pool.Query(ctx, "SELECT "+pgSpaceColumns+" FROM spaces ORDER BY id")
	sps, err := pgx.CollectRows(rows, scanPgSpace)
	if err != nil {
		return nil, fmt.Errorf("listing spaces: %w", err)
	}
	return sps, nil
}

func scanPgSpace(row pgx.CollectableRow) (Space, error) {
	var sp Space
	var rules []byte
	if err := row.Scan(&sp.ID, &sp.Name, &rules, &sp.CreatedAt); err != nil {
		return Space{}, err
	}
	sp.CreatedAt = sp.CreatedAt.UTC()
	if err := json.Unmarshal(rules, &sp.Rules); err != nil {
		return Space{}, fmt.Errorf("decoding rules of space %q: %w", sp.ID, err)
	}
	return sp, nil
}

func (s *pgStore) CreateSource(ctx context.Context, src Source, writeKey string) error {
	if writeKey == "" {
		return fmt.Errorf("creating source %q: empty write key", src.ID)
	}
	if src.CreatedAt.IsZero() {
		src.CreatedAt = s.opts.clock()
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO sources (id, space_id, name, slug, write_key_sha256, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		src.ID, src.SpaceID, src.Name, src.Slug, hashWriteKey(writeKey), src.CreatedAt)
	if err != nil {
		return fmt.Errorf("creating source %q: %w", src.ID, pgClassify(err))
	}
	return nil
}

const pgSourceColumns = "id, space_id, name, slug, created_at"

func (s *pgStore) SourceByWriteKey(ctx context.Context, writeKey string) (Source, error) {
	rows, _ := s.pool.Query(ctx, "SELECT "+pgSourceColumns+" FROM sources WHERE write_key_sha256 = $1", hashWriteKey(writeKey))
	src, err := pgx.CollectExactlyOneRow(rows, scanPgSource)
	if err != nil {
		// Never echo the key.
		return Source{}, fmt.Errorf("finding source by write key: %w", pgClassify(err))
	}
	return src, nil
}

func (s *pgStore) GetSource(ctx context.Context, id string) (Source, error) {
	rows, _ := s.pool.Query(ctx, "SELECT "+pgSourceColumns+" FROM sources WHERE id = $1", id)
	src, err := pgx.CollectExactlyOneRow(rows, scanPgSource)
	if err != nil {
		return Source{}, fmt.Errorf("getting source %q: %w", id, pgClassify(err))
	}
	return src, nil
}

func (s *pgStore) ListSources(ctx context.Context, spaceID string) ([]Source, error) {
	rows, _ := s.pool.Query(ctx, "SELECT "+pgSourceColumns+" FROM sources WHERE space_id = $1 ORDER BY id", spaceID)
	srcs, err := pgx.CollectRows(rows, scanPgSource)
	if err != nil {
		return nil, fmt.Errorf("listing sources: %w", err)
	}
	return srcs, nil
}

func scanPgSource(row pgx.CollectableRow) (Source, error) {
	var src Source
	err := row.Scan(&src.ID, &src.SpaceID, &src.Name, &src.Slug, &src.CreatedAt)
	src.CreatedAt = src.CreatedAt.UTC()
	return src, err
}
