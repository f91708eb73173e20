-- What each warehouse is known to hold (the schema cache of its loads) and
-- its selective-sync choices. Both go with their warehouse.

CREATE TABLE warehouse_schemas (
    warehouse_id TEXT NOT NULL REFERENCES warehouses (id) ON DELETE CASCADE,
    table_name   TEXT NOT NULL,
    column_name  TEXT NOT NULL,
    column_type  TEXT NOT NULL,
    PRIMARY KEY (warehouse_id, table_name, column_name)
);

-- column_name '' stands for the whole table.
CREATE TABLE warehouse_selections (
    warehouse_id TEXT NOT NULL REFERENCES warehouses (id) ON DELETE CASCADE,
    table_name   TEXT NOT NULL,
    column_name  TEXT NOT NULL,
    enabled      INTEGER NOT NULL,
    changed_at   INTEGER NOT NULL,
    PRIMARY KEY (warehouse_id, table_name, column_name)
);
