package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"sort"
	"strconv"
	"strings"
)

// migrationFiles holds one folder of numbered SQL files per dialect:
// migrations/<dialect>/NNNN_name.sql. A migration is never edited once
// released; a change of schema is a new file in both folders.
//
//go:embed migrations
var migrationFiles embed.FS

// migration is one versioned schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// migrationDB is what a backend provides to run migrations. Each backend
// keeps a schema_migrations table of the versions it applied.
type migrationDB interface {
	// lock keeps other processes from migrating until unlock is called,
	// and creates schema_migrations if needed.
	lock(ctx context.Context) (unlock func(), err error)
	// applied returns the versions already applied.
	applied(ctx context.Context) (map[int]bool, error)
	// apply runs m and records it in one transaction. It reports false,
	// changing nothing, when m turns out to be applied already.
	apply(ctx context.Context, m migration) (bool, error)
}

// migrate brings a database up to date with the dialect's migrations, in
// version order.
func migrate(ctx context.Context, log *slog.Logger, dialect string, db migrationDB) error {
	ms, err := loadMigrations(dialect)
	if err != nil {
		return err
	}
	unlock, err := db.lock(ctx)
	if err != nil {
		return fmt.Errorf("locking for migrations: %w", err)
	}
	defer unlock()
	done, err := db.applied(ctx)
	if err != nil {
		return fmt.Errorf("reading applied migrations: %w", err)
	}
	for _, m := range ms {
		if done[m.version] {
			continue
		}
		ran, err := db.apply(ctx, m)
		if err != nil {
			return fmt.Errorf("applying migration %04d_%s: %w", m.version, m.name, err)
		}
		if ran {
			log.Info("applied migration", "dialect", dialect, "version", m.version, "name", m.name)
		}
	}
	return nil
}

// loadMigrations reads the dialect's migrations in version order.
func loadMigrations(dialect string) ([]migration, error) {
	dir := path.Join("migrations", dialect)
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, fmt.Errorf("reading migrations: %w", err)
	}
	var ms []migration
	seen := map[int]string{}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".sql")
		if !ok {
			continue
		}
		num, label, _ := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive version number", e.Name())
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s share version %d", prev, e.Name(), v)
		}
		seen[v] = e.Name()
		body, err := fs.ReadFile(migrationFiles, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("reading migration %s: %w", e.Name(), err)
		}
		ms = append(ms, migration{version: v, name: label, sql: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}
