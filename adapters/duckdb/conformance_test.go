package duckdb

import (
	"path/filepath"
	"testing"

	"github.com/profilesync/profilesync/adapters"
	"github.com/profilesync/profilesync/adapters/adaptertest"
)

var _ adaptertest.Querier = (*Warehouse)(nil)

var _ adapters.Dialect = Dialect{}

// TestConformance runs the shared adapter suite, each test on a new file
// with a schema whose name needs quoting.
func TestConformance(t *testing.T) {
	adaptertest.Run(t, func(t *testing.T) adapters.Warehouse {
		wh, err := Open(t.Context(), adapters.Config{Type: Type, Settings: map[string]string{
			"path":   filepath.Join(t.TempDir(), "data", "warehouse.duckdb"),
			"schema": `Profiles "Sync"`,
		}})
		if err != nil {
			t.Fatal(err)
		}
		return wh
	})
}
