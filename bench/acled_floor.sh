#!/usr/bin/env bash
# The raw-SQL floor of an ACLED import (issue #14): how long SQLite alone takes to
# write the rows an import of the file stored, with no CSV, Go or binding at all.
#
#   bench/acled_floor.sh BIN IMPORTED.db [ROUNDS]
#
# IMPORTED.db is what `BIN import -format acled` made of the file. Each variant
# copies its rows, in id order and transactions of STEP incidents (the import
# commits about every second, 10-20k rows), from IMPORTED.db into a fresh file with
# postwatch's schema, in the sqlite3 shell, with the import's own settings: WAL,
# synchronous=NORMAL, a 64 MiB page cache, checkpoints every 64,000 pages, the R*Tree
# and the occurred_at index left to the end (as a large import leaves them; their
# rebuild is not counted). The full-text index takes each transaction's rows as the
# import's does, without the pw_fold function (the generator's text is ASCII, which
# it passes through unchanged). Variants, in an order rotated every round:
#   stored        incidents, incident_actors, the full-text index, the history rows
#   no-history    the same without the history rows
#   no-fts        without history and the full-text index
#   no-originals  without history, full-text index and the extra column's content
# Prints one line per run: variant, rows, wall seconds, rows/s, user and system CPU.
# Needs sqlite3 (Debian's package, FTS5 and R*Tree built in) and GNU time.
set -euo pipefail

bin=${1:?usage: acled_floor.sh BIN IMPORTED.db [ROUNDS]}
src=$(realpath "${2:?usage: acled_floor.sh BIN IMPORTED.db [ROUNDS]}")
rounds=${3:-2}
step=${STEP:-15000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# An empty file with the schema: importing an empty collection migrates it.
echo '{"type":"FeatureCollection","features":[]}' >"$work/empty.json"
"$bin" import -db "$work/schema.db" -format geojson "$work/empty.json" >/dev/null
n=$(sqlite3 "$src" 'SELECT max(id) FROM incidents')
rows=$(sqlite3 "$src" 'SELECT count(*) FROM incidents')

script() { # variant
  local v=$1 cols='*'
  [[ $v == no-originals ]] && cols="id, lon, lat, type, title, description, occurred_at, time_precision,
    location_precision, severity, status, country, facility_id, killed, injured, external_id, '{}',
    created_at, updated_at, version, deleted_at"
  cat <<EOF
PRAGMA journal_mode = wal; PRAGMA synchronous = 1; PRAGMA cache_size = -65536;
PRAGMA wal_autocheckpoint = 64000; PRAGMA temp_store = 2; PRAGMA foreign_keys = on;
ATTACH '$src' AS src;
INSERT INTO incidents_rtree_stale VALUES (1, 0);
DROP INDEX IF EXISTS incidents_occurred_at;
INSERT INTO actors SELECT * FROM src.actors;
INSERT INTO history SELECT * FROM src.history WHERE collection = 'actors';
EOF
  for ((a = 1; a <= n; a += step)); do
    local b=$((a + step - 1))
    echo "BEGIN;"
    echo "INSERT INTO incidents SELECT $cols FROM src.incidents WHERE id BETWEEN $a AND $b;"
    echo "INSERT INTO incident_actors SELECT * FROM src.incident_actors WHERE incident_id BETWEEN $a AND $b;"
    [[ $v == stored ]] && echo "INSERT INTO history (collection, record_id, version, op, changed_at, changed_by, snapshot)
      SELECT collection, record_id, version, op, changed_at, changed_by, snapshot FROM src.history
      WHERE collection = 'incidents' AND record_id IN (SELECT CAST(id AS TEXT) FROM src.incidents WHERE id BETWEEN $a AND $b);"
    [[ $v == stored || $v == no-history ]] && echo "INSERT INTO incidents_fts (rowid, title, description)
      SELECT id, title, description FROM incidents WHERE id BETWEEN $a AND $b;"
    echo "COMMIT;"
  done
}

variants=(stored no-history no-fts no-originals)
cat "$src" >/dev/null # into the OS page cache, as the CSV is for a real import
for ((r = 0; r < rounds; r++)); do
  for ((k = 0; k < ${#variants[@]}; k++)); do
    v=${variants[(k + r) % ${#variants[@]}]}
    script "$v" >"$work/floor.sql"
    cp "$work/schema.db" "$work/floor.db"
    /usr/bin/time -o "$work/time" -f '%e %U %S' sqlite3 "$work/floor.db" <"$work/floor.sql" >/dev/null
    read -r wall user sys <"$work/time"
    awk -v v="$v" -v n="$rows" -v w="$wall" -v u="$user" -v s="$sys" \
      'BEGIN { printf "%-13s %d rows  %6.2f s  %7.0f rows/s  user %.2f s  sys %.2f s\n", v, n, w, n / w, u, s }'
    rm -f "$work/floor.db" "$work/floor.db-wal" "$work/floor.db-shm"
  done
done
