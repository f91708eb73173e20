package workflows

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/profilesync/profilesync/adapters"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
)

// TestActivitiesContract checks that every activity name has a method of
// that name on the Activities interface and the other way round, so the
// worker's struct registration serves every name the workflows schedule.
func TestActivitiesContract(t *testing.T) {
	it := reflect.TypeFor[Activities]()
	var methods []string
	for i := range it.NumMethod() {
		methods = append(methods, it.Method(i).Name)
	}
	names := ActivityNames()
	slices.Sort(names)
	require.Equal(t, names, methods)
	require.Len(t, slices.Compact(slices.Clone(names)), len(names))
}

func TestTableNamesMatchAdapters(t *testing.T) {
	require.Equal(t, adapters.TableIDGraphUpdates, TableIDGraphUpdates)
	require.Equal(t, adapters.TableExternalIDMappingUpdates, TableExternalIDMappingUpdates)
	require.Equal(t, adapters.TableProfileTraitsUpdates, TableProfileTraitsUpdates)
	for _, table := range adapters.EventTypeTables() {
		require.Equal(t, GroupEventType, TableGroup(table), table)
	}
	for _, table := range adapters.MaterializedTables() {
		require.Equal(t, GroupIdentity, TableGroup(table), table)
	}
	for _, table := range adapters.IdentityTables() {
		require.Equal(t, GroupIdentity, TableGroup(table.Name), table.Name)
	}
	require.Equal(t, GroupEventType, TableGroup(adapters.TableDiscards))
}

func TestSearchAttributes(t *testing.T) {
	require.Equal(t, map[string]enumspb.IndexedValueType{
		"WarehouseID":    enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		"SpaceID":        enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		"WarehouseState": enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		"SyncStatus":     enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		"SyncRows":       enumspb.INDEXED_VALUE_TYPE_INT,
	}, SearchAttributes())
	require.Equal(t, []string{
		"--search-attribute", "WarehouseID=Keyword",
		"--search-attribute", "SpaceID=Keyword",
		"--search-attribute", "WarehouseState=Keyword",
		"--search-attribute", "SyncStatus=Keyword",
		"--search-attribute", "SyncRows=Int",
	}, SearchAttributeFlags())
}

func TestIDs(t *testing.T) {
	require.Equal(t, "warehouse-wh1", WarehouseWorkflowID("wh1"))
	require.Equal(t, "sync-wh1", SyncScheduleID("wh1"))
	paris := time.FixedZone("CET", 3600)
	require.Equal(t, "backfill-wh1-20260901T000000Z-20261001T000000Z",
		BackfillWorkflowID("wh1", time.Date(2026, 9, 1, 1, 0, 0, 0, paris), time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)))
}

func TestTruncate(t *testing.T) {
	require.Equal(t, "abc", truncate("abc", 3))
	s := truncate("ééééé", 6) // 2 bytes each, and "…" takes 3
	require.LessOrEqual(t, len(s), 6)
	require.Equal(t, "é…", s)
}
