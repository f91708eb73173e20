// Package store is the profile store and control plane: spaces and sources,
// the event inbox, the identity change logs, warehouses with their encrypted
// credentials, and sync reports.
//
// Two implementations share one contract test suite: PostgreSQL (production)
// and SQLite (the embedded default, a pure-Go driver). Open picks one from the
// DSN.
//
// # Tables
//
// Both backends hold the same tables (store/migrations/<dialect>/*.sql);
// PostgreSQL keeps times as timestamptz and JSON as jsonb, SQLite keeps times
// as integer microseconds since the Unix epoch and JSON as text.
//
//	schema_migrations            version → name, applied_at: the migrations applied
//	spaces                       id, name, rules (identity.Rules as JSON), created_at
//	sources                      id, space_id → spaces, name, slug,
//	                             write_key_sha256 (unique; the key itself is never kept), created_at
//	inbox                        pos, space_id, source_id, message_id, type, received_at,
//	                             timestamp, payload; keyed (space_id, pos) in PostgreSQL (pos is an
//	                             identity column), pos INTEGER PRIMARY KEY AUTOINCREMENT plus an
//	                             index (space_id, pos) in SQLite
//	inbox_minutes                (space_id, minute) → min_pos, max_pos: the positions of the events
//	                             received in each minute; the time → position index EventPosAt reads
//	inbox_dedupe                 key (16-byte digest of source_id, message_id) → received_at of the
//	                             last acceptance;
//	                             BRIN (PostgreSQL) or btree index on received_at for PruneDedupe
//	event_segments               pos → segment_id: the profile an event resolved to (none: no row)
//	resolver_positions           space_id → pos, last_seq
//	change_seq                   the store-wide change-log sequence (a SEQUENCE without cache in
//	                             PostgreSQL; a one-row counter under SQLite's single writer)
//	id_graph_updates             (space_id, seq) primary key; id, segment_id, canonical_segment_id,
//	                             and the trigger: event_pos, event_id, event_type, event_name,
//	                             source_id, timestamp, received_at (NULL when zero, as in backfills)
//	external_id_mapping_updates  (space_id, seq); id, segment_id, external_id_type,
//	                             external_id_value, external_id_hash, trigger
//	profile_traits_updates       (space_id, seq); id, segment_id, traits (identity.TraitSet as JSON,
//	                             with positions and tombstones), trigger;
//	                             index (space_id, segment_id, seq) for LatestTraits
//	warehouses                   id, space_id → spaces, name (unique per space), type,
//	                             config (JSON), state, schedule, created_at, updated_at
//	warehouse_credentials        warehouse_id → warehouses ON DELETE CASCADE, ciphertext, updated_at
//	sync_runs                    id, warehouse_id, kind, status, started_at, duration_us, rows,
//	                             tables (JSON), errors (JSON); index (warehouse_id, started_at DESC)
//
// # Conventions
//
// A limit of 0 or less means no limit. Zero times are stored as NULL and
// read back as zero; other times come back in UTC at microsecond precision.
// Errors are wrapped with a short context; ErrNotFound and ErrConflict are
// reachable with errors.Is. A unique violation on create is ErrConflict, a
// missing parent (space, warehouse) ErrNotFound. No error or log line carries
// a write key, a credential or a master key.
package store
