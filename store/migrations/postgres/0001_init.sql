-- Profiles Sync store, PostgreSQL. See store/doc.go for what each table holds.
-- Identifiers are opaque: they compare bytewise (COLLATE "C"), which keeps
-- their indexes fast whatever the database's locale.

CREATE TABLE spaces (
    id         text COLLATE "C" PRIMARY KEY,
    name       text NOT NULL,
    rules      jsonb NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE sources (
    id               text COLLATE "C" PRIMARY KEY,
    space_id         text COLLATE "C" NOT NULL REFERENCES spaces (id),
    name             text NOT NULL,
    slug             text NOT NULL,
    write_key_sha256 text COLLATE "C" NOT NULL UNIQUE,
    created_at       timestamptz NOT NULL
);
CREATE INDEX sources_space ON sources (space_id);

-- The inbox: every accepted event, in position order per space.
CREATE TABLE inbox (
    pos         bigint GENERATED ALWAYS AS IDENTITY,
    space_id    text COLLATE "C" NOT NULL,
    source_id   text COLLATE "C" NOT NULL,
    message_id  text COLLATE "C" NOT NULL,
    type        text NOT NULL,
    received_at timestamptz NOT NULL,
    "timestamp" timestamptz,
    payload     bytea NOT NULL,
    -- Every read is by space and position, so this is the only index: pos
    -- alone is unique by construction (an identity column nobody may set).
    PRIMARY KEY (space_id, pos)
);

-- Time to position: the positions of a space's events by the minute they
-- were received in. EventPosAt reads it instead of scanning the inbox.
CREATE TABLE inbox_minutes (
    space_id text COLLATE "C" NOT NULL,
    minute   bigint NOT NULL, -- minutes since the Unix epoch
    min_pos  bigint NOT NULL,
    max_pos  bigint NOT NULL,
    PRIMARY KEY (space_id, minute)
);

-- messageId dedupe: when a message id was last accepted, per source. The
-- key is a digest of both (see dedupeDigest), small and fixed-size.
CREATE TABLE inbox_dedupe (
    key         uuid PRIMARY KEY,
    received_at timestamptz NOT NULL
);
CREATE INDEX inbox_dedupe_received ON inbox_dedupe USING brin (received_at);

-- The profile each resolved event was stamped with (events that resolved to
-- no profile have no row).
CREATE TABLE event_segments (
    pos        bigint PRIMARY KEY,
    segment_id text COLLATE "C" NOT NULL
);

-- Where each space's resolver stands.
CREATE TABLE resolver_positions (
    space_id text COLLATE "C" PRIMARY KEY,
    pos      bigint NOT NULL,
    last_seq bigint NOT NULL
);

-- One store-wide sequence orders every change-log row. No CACHE: values
-- must come out in allocation order across sessions.
CREATE SEQUENCE change_seq;

CREATE TABLE id_graph_updates (
    space_id             text COLLATE "C" NOT NULL,
    seq                  bigint NOT NULL,
    id                   text COLLATE "C" NOT NULL,
    segment_id           text COLLATE "C" NOT NULL,
    canonical_segment_id text COLLATE "C" NOT NULL,
    event_pos            bigint NOT NULL,
    event_id             text COLLATE "C" NOT NULL,
    event_type           text NOT NULL,
    event_name           text NOT NULL,
    source_id            text COLLATE "C" NOT NULL,
    "timestamp"          timestamptz,
    received_at          timestamptz,
    PRIMARY KEY (space_id, seq)
);

CREATE TABLE external_id_mapping_updates (
    space_id          text COLLATE "C" NOT NULL,
    seq               bigint NOT NULL,
    id                text COLLATE "C" NOT NULL,
    segment_id        text COLLATE "C" NOT NULL,
    external_id_type  text NOT NULL,
    external_id_value text NOT NULL,
    external_id_hash  text NOT NULL,
    event_pos         bigint NOT NULL,
    event_id          text COLLATE "C" NOT NULL,
    event_type        text NOT NULL,
    event_name        text NOT NULL,
    source_id         text COLLATE "C" NOT NULL,
    "timestamp"       timestamptz,
    received_at       timestamptz,
    PRIMARY KEY (space_id, seq)
);

CREATE TABLE profile_traits_updates (
    space_id    text COLLATE "C" NOT NULL,
    seq         bigint NOT NULL,
    id          text COLLATE "C" NOT NULL,
    segment_id  text COLLATE "C" NOT NULL,
    traits      json NOT NULL, -- identity.TraitSet, with positions and tombstones; json, not jsonb: cheaper to write
    event_pos   bigint NOT NULL,
    event_id    text COLLATE "C" NOT NULL,
    event_type  text NOT NULL,
    event_name  text NOT NULL,
    source_id   text COLLATE "C" NOT NULL,
    "timestamp" timestamptz,
    received_at timestamptz,
    PRIMARY KEY (space_id, seq)
);
CREATE INDEX profile_traits_updates_latest ON profile_traits_updates (space_id, segment_id, seq);

CREATE TABLE warehouses (
    id         text COLLATE "C" PRIMARY KEY,
    space_id   text COLLATE "C" NOT NULL REFERENCES spaces (id),
    name       text NOT NULL,
    type       text NOT NULL,
    config     jsonb NOT NULL,
    state      text NOT NULL,
    schedule   text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    UNIQUE (space_id, name)
);

-- Sealed secrets (see store/crypto.go); gone with their warehouse.
CREATE TABLE warehouse_credentials (
    warehouse_id text COLLATE "C" PRIMARY KEY REFERENCES warehouses (id) ON DELETE CASCADE,
    ciphertext   bytea NOT NULL,
    updated_at   timestamptz NOT NULL
);

-- Sync reports. They outlive their warehouse on purpose.
CREATE TABLE sync_runs (
    id           text COLLATE "C" PRIMARY KEY,
    warehouse_id text COLLATE "C" NOT NULL,
    kind         text NOT NULL,
    status       text NOT NULL,
    started_at   timestamptz NOT NULL,
    duration_us  bigint NOT NULL,
    rows         bigint NOT NULL,
    tables       jsonb NOT NULL,
    errors       jsonb NOT NULL
);
CREATE INDEX sync_runs_warehouse_started ON sync_runs (warehouse_id, started_at DESC, id DESC);
