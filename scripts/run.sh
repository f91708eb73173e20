#!/usr/bin/env bash
# make run: the embedded default. Starts the Temporal dev server (UI on :8233),
# the worker (ingest + admin API, resolvers, Temporal worker) on a SQLite store,
# and on first start creates a space, a source and a local DuckDB warehouse,
# approved as local staff. Everything lives under $PROFILESYNC_DATA (.data) and
# survives a restart. Ctrl-C stops it all.
set -euo pipefail
cd "$(dirname "$0")/.."

DATA=${PROFILESYNC_DATA:-.data}
TEMPORAL=${TEMPORAL_CLI:-bin/temporal}
TEMPORAL_PORT=${TEMPORAL_PORT:-7233}
UI_PORT=${TEMPORAL_UI_PORT:-8233}
HTTP_ADDR=${PROFILESYNC_HTTP_ADDR:-127.0.0.1:8080}
BIN=${PROFILESYNC_BIN:-bin}

mkdir -p "$DATA"
chmod 700 "$DATA"
DATA_ABS=$(cd "$DATA" && pwd)
# The key that encrypts warehouse credentials, and a local staff token.
if [ ! -s "$DATA/master.key" ]; then
	(umask 077; head -c 32 /dev/urandom | base64 > "$DATA/master.key")
fi
if [ ! -s "$DATA/tokens" ]; then
	(umask 077; echo "staff:local-$(head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')" > "$DATA/tokens")
fi
TOKEN=$(cut -d: -f2- "$DATA/tokens" | head -n1)

pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

"$TEMPORAL" server start-dev --ip 127.0.0.1 --port "$TEMPORAL_PORT" --ui-port "$UI_PORT" \
	--db-filename "$DATA/temporal.db" --namespace default --log-level warn >"$DATA/temporal.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
	"$TEMPORAL" operator cluster health --address "127.0.0.1:$TEMPORAL_PORT" >/dev/null 2>&1 && break
	sleep 0.2
done

PROFILESYNC_STORE_DSN=${PROFILESYNC_STORE_DSN:-$DATA/profilesync.db} \
PROFILESYNC_HTTP_ADDR=$HTTP_ADDR \
PROFILESYNC_MASTER_KEY_FILE=$DATA/master.key \
PROFILESYNC_TOKENS_FILE=$DATA/tokens \
TEMPORAL_ADDRESS=127.0.0.1:$TEMPORAL_PORT \
	"$BIN/profilesync-worker" 2> >(tee -a "$DATA/worker.log" >&2) &
pids+=($!)
for _ in $(seq 1 150); do
	curl -fsS "http://$HTTP_ADDR/healthz" >/dev/null 2>&1 && break
	sleep 0.2
done

export PROFILESYNC_SERVER="http://$HTTP_ADDR" PROFILESYNC_TOKEN="$TOKEN"
cli() { "$BIN/profilesync" "$@"; }

if [ ! -s "$DATA/write_key" ]; then
	cli space add default --name "Default space" >/dev/null 2>&1 || true
	cli source add default --id default_web --name "Web" | sed -n 's/^write key: //p' > "$DATA/write_key.tmp"
	mv "$DATA/write_key.tmp" "$DATA/write_key"
fi
if [ ! -s "$DATA/warehouse_id" ]; then
	cli --json warehouse add local --space default --type duckdb --path "$DATA_ABS/warehouse.duckdb" --schema default \
		| sed -n 's/^ *"id": "\(wh_[a-z0-9]*\)".*/\1/p' | head -n1 > "$DATA/warehouse_id.tmp"
	cli warehouse approve "$(cat "$DATA/warehouse_id.tmp")" >/dev/null
	mv "$DATA/warehouse_id.tmp" "$DATA/warehouse_id"
fi
WRITE_KEY=$(cat "$DATA/write_key")
WAREHOUSE=$(cat "$DATA/warehouse_id")

cat <<INFO

Profiles Sync is running.
  Temporal UI      http://127.0.0.1:$UI_PORT
  Ingest API       http://$HTTP_ADDR/v1/  (write key in $DATA/write_key)
  Admin API        http://$HTTP_ADDR/admin/v1/  (staff token in $DATA/tokens)
  Warehouse        $WAREHOUSE: DuckDB file $DATA/warehouse.duckdb, schema "default", synced hourly

Send a first event:
  curl -u $WRITE_KEY: -H 'Content-Type: application/json' \\
    -d '{"userId":"u1","traits":{"email":"jane@example.com"}}' http://$HTTP_ADDR/v1/identify
Sync now and see the report:
  PROFILESYNC_TOKEN=\$(cut -d: -f2- $DATA/tokens) $BIN/profilesync sync now $WAREHOUSE --wait
Stop with Ctrl-C; state stays in $DATA.
INFO
[ -n "${PROFILESYNC_READY_FILE:-}" ] && echo "$WAREHOUSE" > "$PROFILESYNC_READY_FILE"
wait -n "${pids[@]}"
