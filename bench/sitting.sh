#!/usr/bin/env bash
# One measurement sitting on the 1M data sets, every step in sequence, logged.
#
#   bench/sitting.sh            # from the bench worktree, on a quiet machine
#
# Steps, in priority order; a step that would start after STOP_AT is skipped, and a
# long one is cut at STOP_AT:
#   0  git merge main, build bin with the Makefile's tags; what the build offers
#   a  import the 1M GeoJSON sequence into a fresh SQLite file (time, peak RSS)
#   b  serve it; verify.py; loadtest q1-q5, t8 t10 t12 t14; pgfloor.sh on the same
#      classes on the floor database (load_postgis.sh's, $ANCHOR)
#   c  ACLED import of the 1M-row file (bench/acledgen.py) into a fresh file
#   d  CSV export of the 1M incidents through curl (time, server RSS over the export)
#   e  with the PostGIS engine: a fresh database loaded by `migrate` from (a)'s file
#      when the command exists (issue 10's figure; else only a bounded `import`, whose
#      rate is all there is to report); serve on it, verify.py, loadtest q1-q5; two
#      replicas at 8 connections each on q1 and q4
#   f  serve (a)'s file again: numberMatched p99 for type+bbox and actor+datetime
#      (bench/urls_extra.py n1, n2); z0-z7 tile sizes (plain, gzip) and p99
#   h  alert delivery (issue 11): `make bench-alerts` on SQLite, then on PostGIS
#      (the outage benchmark, `make bench-outage`, is mostly idle and runs apart)
#   g  with time left and (e) loaded by migrate: `import` of the 1M into PostGIS for
#      G_CAP seconds (default 90): its rate
# Before each load class the machine's load and busiest processes are logged.
# Servers are stopped and the PostGIS databases created here dropped on exit
# (not $ANCHOR, which load_postgis.sh made before the sitting).
set -uo pipefail

WT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KIT=${KIT:-/work/shared/bench}
DATA=${DATA:-/work/benchdata}
GEOJSON=${GEOJSON:-$DATA/incidents-1m.geojsonl}
ACLED=${ACLED:-$DATA/acled-1m.csv}
ANCHOR=${ANCHOR:-anchor}
BIN=${BIN:-$DATA/postwatch}
PORT=${PORT:-18080}
PORT2=${PORT2:-18081}
DUR=${DUR:-15}          # measured seconds per class (the kit's default)
WARM=${WARM:-3}         # warm-up seconds per class (the kit's default)
CONNS=${CONNS:-16}
STOP_AT=${STOP_AT:-2026-11-30T00:13:00Z}
SKIP_BUILD=${SKIP_BUILD:-0}
HAS_PG=${HAS_PG:-auto}
STEPS=${STEPS:-abcdefhg} # the steps to run (a trial run of some of them)
PGDB=pw_bench_$$        # created here, dropped on exit
PGDB2=pw_bench_import_$$
PGDSN="postgres://postgres@127.0.0.1:5432/$PGDB?sslmode=disable"
PGDSN2="postgres://postgres@127.0.0.1:5432/$PGDB2?sslmode=disable"
LOGS=${LOGS:-$DATA/logs/sitting-$(date -u +%Y%m%dT%H%M%S)}
mkdir -p "$LOGS"
DB1=$DATA/pw-1m.db
DB2=$DATA/acled-1m.db
stop_epoch=$(date -d "$STOP_AT" +%s)
servers=()
pgdbs=()
STEP=0

log() { echo "$(date -u +%T) $*" | tee -a "$LOGS/sitting.log"; }
fig() { echo "$*" >> "$LOGS/figures.txt"; log "FIGURE $*"; }
left() { echo $(( stop_epoch - $(date +%s) )); }
in_time() { # in_time STEP: false (and logged) once STOP_AT has passed, or STEP not in STEPS
  [[ $STEPS == *"${1:0:1}"* ]] || return 1
  if (( $(left) <= 0 )); then log "SKIP $1: past $STOP_AT"; return 1; fi
}
psql_pg() { runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -d postgres "$@"; }

cleanup() {
  for pid in "${servers[@]+"${servers[@]}"}"; do
    kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  done
  for db in "${pgdbs[@]+"${pgdbs[@]}"}"; do
    psql_pg -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" && log "dropped database $db"
  done
  log "sitting ends"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# quiet LABEL: wait up to 6 s for the machine to be idle (< 15 % busy over 1 s), then
# log the load average and the busiest processes of the last second.
quiet() {
  local busy=100 i
  for i in $(seq 6); do
    read -r t0 i0 < <(awk '/^cpu /{print $2+$3+$4+$5+$6+$7+$8+$9, $5+$6}' /proc/stat)
    sleep 1
    read -r t1 i1 < <(awk '/^cpu /{print $2+$3+$4+$5+$6+$7+$8+$9, $5+$6}' /proc/stat)
    busy=$(( 100 - 100 * (i1 - i0) / (t1 - t0 > 0 ? t1 - t0 : 1) ))
    (( busy < 15 )) && break
  done
  log "quiet before $1: busy ${busy}% load $(cut -d' ' -f1-3 /proc/loadavg); top: $(
    top -bn2 -d0.5 -o %CPU | awk '/^top -/{n++} n==2 && $1 ~ /^[0-9]+$/ && $9+0 > 1 {printf "%s(%s%%) ", $12, $9}' | cut -c1-200)"
}

# rss_watch PID OUT: the process's VmRSS (kB) every 0.5 s until it exits.
rss_watch() {
  local pid=$1 out=$2
  while [[ -r /proc/$pid/status ]]; do
    awk -v t="$(date +%s.%N)" '/^VmRSS/{print t, $2}' "/proc/$pid/status" 2>/dev/null
    sleep 0.5
  done > "$out"
}
rss_summary() { # rss_summary FILE: peak and median-of-last-half MiB
  awk '{v[NR]=$2} END {if (!NR) {print "- -"; exit} m=0; for (i=1;i<=NR;i++) if (v[i]>m) m=v[i];
       printf "peak=%.0fMiB samples=%d first=%.0fMiB last=%.0fMiB\n", m/1024, NR, v[1]/1024, v[NR]/1024}' "$1"
}

# timed LABEL LOGPREFIX CMD...: run CMD under /usr/bin/time -v, cut at STOP_AT (or after
# CAP seconds when set); RSS sampled.
timed() {
  local label=$1 pre=$2; shift 2
  local t0 t1 rc pid="" budget
  budget=$(left); [[ -n ${CAP:-} ]] && (( CAP < budget )) && budget=$CAP
  t0=$(date +%s.%N)
  timeout --signal=INT "$budget" /usr/bin/time -v -o "$pre.time" "$@" > "$pre.out" 2> "$pre.err" &
  local tpid=$!
  sleep 0.3
  local tp; tp=$(pgrep -P "$tpid" | head -1)
  [[ -n $tp ]] && pid=$(pgrep -P "$tp" | head -1)
  local wpid=""
  if [[ -n $pid ]]; then rss_watch "$pid" "$pre.rss" & wpid=$!; fi
  wait $tpid; rc=$?
  t1=$(date +%s.%N)
  [[ -n $wpid ]] && wait "$wpid"
  fig "$label.wall_s $(echo "$t1 - $t0" | bc) rc=$rc"
  fig "$label.peak_rss_kb $(awk '/Maximum resident/{print $NF}' "$pre.time")"
  [[ -s $pre.rss ]] && fig "$label.rss_trace $(rss_summary "$pre.rss")"
  tail -3 "$pre.out" | sed 's/^/    /' | tee -a "$LOGS/sitting.log"
  return $rc
}

# start_server PORT DSN LOG: serve in the background; wait for /readyz and for its
# "in-memory grid ready" log line, then for the server's CPU to settle.
start_server() {
  local port=$1 dsn=$2 out=$3 t0 pid i
  t0=$(date +%s.%N)
  "$BIN" serve --addr "127.0.0.1:$port" --db "$dsn" > "$out" 2>&1 &
  pid=$!; servers+=("$pid"); SERVER_PID=$pid
  for i in $(seq 600); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/readyz" && break
    kill -0 "$pid" 2>/dev/null || { log "server on $port died: $(tail -3 "$out")"; return 1; }
    sleep 0.1
  done
  fig "$STEP.serve.$port.readyz_s $(echo "$(date +%s.%N) - $t0" | bc)"
  for i in $(seq 3000); do   # the grid is built in the background; serve logs when it is ready
    grep -q "in-memory grid ready" "$out" && break
    sleep 0.1
  done
  fig "$STEP.serve.$port.grid_ready_s $(echo "$(date +%s.%N) - $t0" | bc) $(grep -o 'after=[^ ]*' "$out" | head -1)"
  local last now
  last=$(awk '{print $14+$15}' "/proc/$pid/stat")
  for i in $(seq 240); do
    sleep 0.5
    now=$(awk '{print $14+$15}' "/proc/$pid/stat")
    (( now - last < 3 )) && break   # under 6 % of a core over half a second
    last=$now
  done
  fig "$STEP.serve.$port.settled_s $(echo "$(date +%s.%N) - $t0" | bc) rss_kb=$(awk '/^VmRSS/{print $2}' /proc/$pid/status)"
}
stop_server() {
  local pid=$1
  awk '/^VmHWM|^VmRSS/{printf "%s %s kB  ", $1, $2}' "/proc/$pid/status" 2>/dev/null | sed 's/^/server /' | tee -a "$LOGS/sitting.log"; echo
  kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  local keep=(); for p in "${servers[@]}"; do [[ $p != "$pid" ]] && keep+=("$p"); done
  servers=("${keep[@]+"${keep[@]}"}")
}

# loadclass PREFIX URL CLASS [loadtest options...]: one kit class, after a quiet check.
loadclass() {
  local pre=$1 url=$2 cls=$3; shift 3
  in_time "$pre $cls" || return 1
  quiet "$pre $cls"
  "$KIT/loadtest.sh" -q "$cls" -d "$DUR" -w "$WARM" -c "$CONNS" -H "Authorization: Bearer $TOKEN" \
    -m server:postwatch "$@" "$url" 2>&1 | tee -a "$LOGS/$pre-loadtest.log"
}

# wrkclass LABEL URLFILE: wrk over a URL list as loadtest.sh runs it, p99 per class.
wrkclass() {
  local label=$1 urls=$2
  in_time "$label" || return 1
  quiet "$label"
  local origin; origin=$(head -1 "$urls" | sed -E 's#^(https?://[^/]+).*#\1#')
  [[ $WARM != 0 ]] && wrk -t 2 -c "$CONNS" -d "${WARM}s" --timeout 10s -H "Authorization: Bearer $TOKEN" \
      -s "$KIT/cycle.lua" "$origin" -- "$urls" > /dev/null
  python3 "$KIT/procmon.py" --seconds "$DUR" server:postwatch load:wrk > "$LOGS/$label.mon" &
  local mpid=$!
  wrk -t 2 -c "$CONNS" -d "${DUR}s" --timeout 10s -H "Authorization: Bearer $TOKEN" \
    -s "$KIT/cycle.lua" "$origin" -- "$urls" > "$LOGS/$label.wrk"
  wait "$mpid"
  fig "$label $(grep '^RESULT' "$LOGS/$label.wrk" | cut -d' ' -f2-)"
  sed 's/^MON /     /' "$LOGS/$label.mon" | tee -a "$LOGS/sitting.log"
}

log "sitting starts; logs in $LOGS; stop at $STOP_AT ($(left) s from now)"
log "machine: $(nproc) cores, $(free -m | awk '/Mem:/{print $2}') MiB RAM, $(uname -r); load $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- 0: merge main, build ---------------------------------------------------------
if [[ $SKIP_BUILD != 1 ]]; then
  (cd "$WT" && git merge --no-edit main) >> "$LOGS/build.log" 2>&1 || { log "merge of main failed"; exit 1; }
  t0=$(date +%s.%N)
  (cd "$WT" && CGO_ENABLED=1 go build -tags=sqlite_fts5,sqlite_math_functions -o "$BIN" ./cmd/postwatch) \
    >> "$LOGS/build.log" 2>&1 || { log "build failed: $(tail -5 "$LOGS/build.log")"; exit 1; }
  log "built $(cd "$WT" && git rev-parse --short HEAD) ($(cd "$WT" && git log -1 --format=%s main | cut -c1-80)) in $(echo "$(date +%s.%N) - $t0" | bc) s; $(go version)"
fi
fig "commit $(cd "$WT" && git rev-parse --short HEAD)"
has_migrate=0; "$BIN" help 2>&1 | grep -q "postwatch migrate" && has_migrate=1
[[ $HAS_PG == auto ]] && { HAS_PG=0; [[ -d $WT/store/postgis ]] && HAS_PG=1; }
log "build offers: postgis=$HAS_PG migrate=$has_migrate"

STEP=a
# ---- a: GeoJSON import -------------------------------------------------------------
if in_time a; then
  rm -f "$DB1" "$DB1"-*
  log "a: import $(basename "$GEOJSON") into a fresh file"
  timed a.import_geojson "$LOGS/a-import" "$BIN" import --db "$DB1" --format geojson "$GEOJSON"
  fig "a.rows $(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from incidents').fetchone()[0])" "$DB1")"
  fig "a.file_bytes $(stat -c %s "$DB1")"
fi

STEP=b
# ---- b: serve, verify, load classes, floor -----------------------------------------
ITEMS=http://127.0.0.1:$PORT/collections/incidents/items
if [[ -s $DB1 ]] && in_time b; then
  TOKEN=$("$BIN" token create --db "$DB1" --role analyst --name bench)
  start_server "$PORT" "$DB1" "$LOGS/b-serve.log"
  pid=$SERVER_PID
  python3 "$KIT/verify.py" --base "$ITEMS" -H "Authorization: Bearer $TOKEN" --psql "runuser -u postgres -- psql -d $ANCHOR" \
    > "$LOGS/b-verify.log" 2>&1; log "b: verify.py: $(tail -1 "$LOGS/b-verify.log")"
  for cls in q1 q2 q3 q4 q5 t8 t10 t12 t14; do loadclass b "$ITEMS" "$cls" || break; done
  stop_server "$pid"
  if in_time b-floor; then
    for cls in q1 q2 q3 q4 q5 t8 t10 t12 t14; do
      in_time "b-floor $cls" || break
      quiet "floor $cls"
      PGHOST=127.0.0.1 PGUSER=anchor PGPASSWORD=anchor "$KIT/pgfloor.sh" -q "$cls" -T "$DUR" -c "$CONNS" "$ANCHOR" \
        2>&1 | tee -a "$LOGS/b-pgfloor.log"
    done
  fi
fi

STEP=c
# ---- c: ACLED import ---------------------------------------------------------------
if in_time c; then
  rm -f "$DB2" "$DB2"-*
  quiet "c ACLED import"
  log "c: import $(basename "$ACLED") ($(($(wc -l < "$ACLED") - 1)) lines after the header)"
  timed c.import_acled "$LOGS/c-acled" "$BIN" import --db "$DB2" --format acled --rejects "$LOGS/c-acled.rejects" "$ACLED"
  fig "c.incidents $(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from incidents').fetchone()[0])" "$DB2")"
  rm -f "$DB2" "$DB2"-*
fi

STEP=d
# ---- d: CSV export -----------------------------------------------------------------
if [[ -s $DB1 ]] && in_time d; then
  start_server "$PORT" "$DB1" "$LOGS/d-serve.log"
  pid=$SERVER_PID
  quiet "d export"
  rss_watch "$pid" "$LOGS/d-export.rss" &
  watch=$!
  curl -s -o "$DATA/export.csv" -H "Authorization: Bearer $TOKEN" \
    -w 'status=%{http_code} time_total=%{time_total} ttfb=%{time_starttransfer} bytes=%{size_download}\n' \
    --max-time "$(left)" "http://127.0.0.1:$PORT/exports/incidents?f=csv" > "$LOGS/d-export.curl"
  kill "$watch" 2>/dev/null; wait "$watch" 2>/dev/null
  fig "d.export_csv $(cat "$LOGS/d-export.curl") lines=$(wc -l < "$DATA/export.csv")"
  fig "d.server_rss $(rss_summary "$LOGS/d-export.rss")"
  rm -f "$DATA/export.csv"
  stop_server "$pid"
fi

STEP=e
# ---- e: PostGIS ------------------------------------------------------------------
if [[ $HAS_PG == 1 && -s $DB1 ]] && in_time e; then
  psql_pg -c "CREATE DATABASE \"$PGDB\"" && pgdbs+=("$PGDB")
  quiet "e load"
  # PostGIS's import writes record by record (a savepoint each): 1M would not fit in a
  # sitting, so the database is loaded by migrate when it exists and the import's rate
  # is measured for a bounded time (g); without migrate, that bounded import is all.
  loaded=0
  if [[ $has_migrate == 1 ]]; then
    log "e: migrate $DB1 -> $PGDB (cut after ${E_CAP:-240} s)"
    CAP=${E_CAP:-240} timed e.migrate "$LOGS/e-migrate" "$BIN" migrate --from "$DB1" --to "$PGDSN" && loaded=1
  else
    log "e: import $(basename "$GEOJSON") -> $PGDB (cut after ${G_CAP:-90} s)"
    CAP=${G_CAP:-90} timed e.import_postgis "$LOGS/e-import" "$BIN" import --db "$PGDSN" --format geojson "$GEOJSON"
  fi
  t0=$(date +%s.%N)
  runuser -u postgres -- psql -X -q -d "$PGDB" -c "VACUUM (ANALYZE)" 2>&1 | tail -2
  fig "e.vacuum_analyze_s $(echo "$(date +%s.%N) - $t0" | bc)"
  fig "e.rows $(runuser -u postgres -- psql -X -Atq -d "$PGDB" -c 'select count(*) from incidents')"
  fig "e.db_bytes $(runuser -u postgres -- psql -X -Atq -d "$PGDB" -c "select pg_database_size('$PGDB')")"
  if [[ $loaded == 1 ]] && in_time e-serve; then
    TOKEN=$("$BIN" token create --db "$PGDSN" --role analyst --name bench)
    start_server "$PORT" "$PGDSN" "$LOGS/e-serve.log"
    pid=$SERVER_PID
    python3 "$KIT/verify.py" --base "$ITEMS" -H "Authorization: Bearer $TOKEN" --psql "runuser -u postgres -- psql -d $ANCHOR" \
      > "$LOGS/e-verify.log" 2>&1; log "e: verify.py: $(tail -1 "$LOGS/e-verify.log")"
    for cls in q1 q2 q3 q4 q5; do loadclass e "$ITEMS" "$cls" -m db:postgres || break; done
    if in_time e-replicas; then
      start_server "$PORT2" "$PGDSN" "$LOGS/e-serve2.log"
      pid2=$SERVER_PID
      for cls in q1 q4; do
        in_time "e-replicas $cls" || break
        quiet "e two replicas $cls"
        lts=()
        for p in "$PORT" "$PORT2"; do
          "$KIT/loadtest.sh" -q "$cls" -d "$DUR" -w "$WARM" -c $((CONNS / 2)) -t 1 -H "Authorization: Bearer $TOKEN" \
            -m server:postwatch -m db:postgres "http://127.0.0.1:$p/collections/incidents/items" \
            > "$LOGS/e-replica-$cls-$p.log" 2>&1 &
          lts+=($!)
        done
        wait "${lts[@]}"
        for p in "$PORT" "$PORT2"; do sed "s/^/[replica :$p] /" "$LOGS/e-replica-$cls-$p.log" | tee -a "$LOGS/e-replicas.log"; done
      done
      stop_server "$pid2"
    fi
    stop_server "$pid"
  fi
fi

STEP=f
# ---- f: numberMatched and z0-z7 tiles ----------------------------------------------
if [[ -s $DB1 ]] && in_time f; then
  TOKEN=$("$BIN" token create --db "$DB1" --role analyst --name bench-f)
  start_server "$PORT" "$DB1" "$LOGS/f-serve.log"
  pid=$SERVER_PID
  origin=http://127.0.0.1:$PORT
  for cls in n1 n2; do
    python3 "$WT/bench/urls_extra.py" --kit "$KIT" --base "$origin" --class "$cls" -n 5000 > "$LOGS/f-$cls.urls"
    curl -s -H "Authorization: Bearer $TOKEN" "$(head -1 "$LOGS/f-$cls.urls")" |
      python3 -c 'import json,sys; d=json.load(sys.stdin); print("numberMatched=%s returned=%s" % (d.get("numberMatched"), d.get("numberReturned")))' \
      > "$LOGS/f-$cls.probe" 2>&1
    log "f: $cls probe $(head -1 "$LOGS/f-$cls.urls" | cut -d? -f2): $(cat "$LOGS/f-$cls.probe")"
    wrkclass "f-$cls" "$LOGS/f-$cls.urls" || break
  done
  : > "$LOGS/f-tiles.sizes"
  for z in 0 1 2 3 4 5 6 7; do
    in_time "f tiles z$z" || break
    python3 "$WT/bench/urls_extra.py" --kit "$KIT" --base "$origin" --class "z$z" > "$LOGS/f-z$z.urls"
    while read -r u; do
      plain=$(curl -s -o /dev/null -w '%{http_code} %{size_download} %{time_total}' -H "Authorization: Bearer $TOKEN" "$u")
      gz=$(curl -s -o /dev/null -w '%{size_download}' -H "Accept-Encoding: gzip" -H "Authorization: Bearer $TOKEN" "$u")
      echo "z$z ${u##*/tiles/} $plain gzip=$gz" >> "$LOGS/f-tiles.sizes"
    done < "$LOGS/f-z$z.urls"
    DUR=$(( DUR < 8 ? DUR : 8 )) WARM=1 wrkclass "f-z$z" "$LOGS/f-z$z.urls" || break
  done
  stop_server "$pid"
fi

STEP=h
# ---- h: alert delivery benchmarks ---------------------------------------------------
if in_time h; then
  quiet "h alerts sqlite"
  (cd "$WT" && make bench-alerts) > "$LOGS/h-alerts-sqlite.log" 2>&1
  grep -E '^Benchmark|^(a|b|c|d)[: ]|p99|lost' "$LOGS/h-alerts-sqlite.log" | tee -a "$LOGS/sitting.log"
  if [[ $HAS_PG == 1 ]] && in_time h-pg; then
    quiet "h alerts postgis"
    (cd "$WT" && POSTWATCH_TEST_PG="postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable" make bench-alerts) \
      > "$LOGS/h-alerts-postgis.log" 2>&1
    grep -E '^Benchmark|^(a|b|c|d)[: ]|p99|lost' "$LOGS/h-alerts-postgis.log" | tee -a "$LOGS/sitting.log"
  fi
fi

STEP=g
# ---- g: PostGIS import, when (e) loaded by migrate --------------------------------
if [[ $HAS_PG == 1 && $has_migrate == 1 ]] && in_time g; then
  psql_pg -c "CREATE DATABASE \"$PGDB2\"" && pgdbs+=("$PGDB2")
  quiet "g import"
  log "g: import $(basename "$GEOJSON") -> $PGDB2 (cut after ${G_CAP:-90} s)"
  CAP=${G_CAP:-90} timed g.import_postgis "$LOGS/g-import" "$BIN" import --db "$PGDSN2" --format geojson "$GEOJSON"
  fig "g.rows $(runuser -u postgres -- psql -X -Atq -d "$PGDB2" -c 'select count(*) from incidents')"
fi
