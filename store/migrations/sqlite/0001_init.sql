-- Profiles Sync store, SQLite. See store/doc.go for what each table holds.
-- Times are integers: microseconds since the Unix epoch, UTC; NULL for none.

CREATE TABLE spaces (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    rules      TEXT NOT NULL, -- JSON
    created_at INTEGER NOT NULL
);

CREATE TABLE sources (
    id               TEXT PRIMARY KEY,
    space_id         TEXT NOT NULL REFERENCES spaces (id),
    name             TEXT NOT NULL,
    slug             TEXT NOT NULL,
    write_key_sha256 TEXT NOT NULL UNIQUE,
    created_at       INTEGER NOT NULL
);
CREATE INDEX sources_space ON sources (space_id);

-- AUTOINCREMENT: a position is never reused, even after the newest row goes.
CREATE TABLE inbox (
    pos         INTEGER PRIMARY KEY AUTOINCREMENT,
    space_id    TEXT NOT NULL,
    source_id   TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    type        TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    timestamp   INTEGER,
    payload     BLOB NOT NULL
);
CREATE INDEX inbox_space_pos ON inbox (space_id, pos);

CREATE TABLE inbox_minutes (
    space_id TEXT NOT NULL,
    minute   INTEGER NOT NULL, -- minutes since the Unix epoch
    min_pos  INTEGER NOT NULL,
    max_pos  INTEGER NOT NULL,
    PRIMARY KEY (space_id, minute)
) WITHOUT ROWID;

-- The key is a digest of source id and message id (see dedupeDigest).
CREATE TABLE inbox_dedupe (
    key         BLOB PRIMARY KEY,
    received_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX inbox_dedupe_received ON inbox_dedupe (received_at);

CREATE TABLE event_segments (
    pos        INTEGER PRIMARY KEY,
    segment_id TEXT NOT NULL
);

CREATE TABLE resolver_positions (
    space_id TEXT PRIMARY KEY,
    pos      INTEGER NOT NULL,
    last_seq INTEGER NOT NULL
) WITHOUT ROWID;

-- The store-wide change-log sequence: one row holding the last seq given.
CREATE TABLE change_seq (
    one  INTEGER PRIMARY KEY CHECK (one = 1),
    last INTEGER NOT NULL
);
INSERT INTO change_seq (one, last) VALUES (1, 0);

CREATE TABLE id_graph_updates (
    space_id             TEXT NOT NULL,
    seq                  INTEGER NOT NULL,
    id                   TEXT NOT NULL,
    segment_id           TEXT NOT NULL,
    canonical_segment_id TEXT NOT NULL,
    event_pos            INTEGER NOT NULL,
    event_id             TEXT NOT NULL,
    event_type           TEXT NOT NULL,
    event_name           TEXT NOT NULL,
    source_id            TEXT NOT NULL,
    timestamp            INTEGER,
    received_at          INTEGER,
    PRIMARY KEY (space_id, seq)
) WITHOUT ROWID;

CREATE TABLE external_id_mapping_updates (
    space_id          TEXT NOT NULL,
    seq               INTEGER NOT NULL,
    id                TEXT NOT NULL,
    segment_id        TEXT NOT NULL,
    external_id_type  TEXT NOT NULL,
    external_id_value TEXT NOT NULL,
    external_id_hash  TEXT NOT NULL,
    event_pos         INTEGER NOT NULL,
    event_id          TEXT NOT NULL,
    event_type        TEXT NOT NULL,
    event_name        TEXT NOT NULL,
    source_id         TEXT NOT NULL,
    timestamp         INTEGER,
    received_at       INTEGER,
    PRIMARY KEY (space_id, seq)
) WITHOUT ROWID;

CREATE TABLE profile_traits_updates (
    space_id    TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    id          TEXT NOT NULL,
    segment_id  TEXT NOT NULL,
    traits      TEXT NOT NULL, -- JSON identity.TraitSet, with positions and tombstones
    event_pos   INTEGER NOT NULL,
    event_id    TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    event_name  TEXT NOT NULL,
    source_id   TEXT NOT NULL,
    timestamp   INTEGER,
    received_at INTEGER,
    PRIMARY KEY (space_id, seq)
);
CREATE INDEX profile_traits_updates_latest ON profile_traits_updates (space_id, segment_id, seq);

CREATE TABLE warehouses (
    id         TEXT PRIMARY KEY,
    space_id   TEXT NOT NULL REFERENCES spaces (id),
    name       TEXT NOT NULL,
    type       TEXT NOT NULL,
    config     TEXT NOT NULL, -- JSON
    state      TEXT NOT NULL,
    schedule   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (space_id, name)
);

CREATE TABLE warehouse_credentials (
    warehouse_id TEXT PRIMARY KEY REFERENCES warehouses (id) ON DELETE CASCADE,
    ciphertext   BLOB NOT NULL,
    updated_at   INTEGER NOT NULL
);

CREATE TABLE sync_runs (
    id           TEXT PRIMARY KEY,
    warehouse_id TEXT NOT NULL,
    kind         TEXT NOT NULL,
    status       TEXT NOT NULL,
    started_at   INTEGER NOT NULL,
    duration_us  INTEGER NOT NULL,
    rows         INTEGER NOT NULL,
    tables       TEXT NOT NULL, -- JSON
    errors       TEXT NOT NULL  -- JSON
);
CREATE INDEX sync_runs_warehouse_started ON sync_runs (warehouse_id, started_at DESC, id DESC);
