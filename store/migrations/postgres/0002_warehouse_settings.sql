-- What each warehouse is known to hold (the schema cache of its loads) and
-- its selective-sync choices. Both go with their warehouse.

CREATE TABLE warehouse_schemas (
    warehouse_id text COLLATE "C" NOT NULL REFERENCES warehouses (id) ON DELETE CASCADE,
    table_name   text COLLATE "C" NOT NULL,
    column_name  text COLLATE "C" NOT NULL,
    column_type  text NOT NULL,
    PRIMARY KEY (warehouse_id, table_name, column_name)
);

-- column_name '' stands for the whole table.
CREATE TABLE warehouse_selections (
    warehouse_id text COLLATE "C" NOT NULL REFERENCES warehouses (id) ON DELETE CASCADE,
    table_name   text COLLATE "C" NOT NULL,
    column_name  text COLLATE "C" NOT NULL,
    enabled      boolean NOT NULL,
    changed_at   timestamptz NOT NULL,
    PRIMARY KEY (warehouse_id, table_name, column_name)
);
