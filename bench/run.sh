#!/usr/bin/env bash
# `make bench`: the benchmarks of docs/benchmarks.md, each beside a baseline measured in
# the same run, on fresh PostgreSQL databases that are dropped afterwards (also on
# failure or Ctrl-C). Results: a table on stdout, JSON and Markdown in bench/out/.
#
#   1. HTTP: POST /v1/metrics/{key}/event vs POST /bench/baseline (bench/baseline), both
#      served by the same gunicorn (BENCH_WORKERS sync workers) on 127.0.0.1, loaded by
#      wrk (2 threads, BENCH_CONNECTIONS connections) with bench/event.lua: a warm-up of
#      BENCH_WARMUP s each, ANALYZE, then BENCH_DURATION s each, measured.
#   2. import: manage.py import_events of BENCH_IMPORT_EVENTS generated events over
#      BENCH_IMPORT_USERS users into an empty database, vs bench/copy_baseline.py (COPY
#      of the same file into a bare table), each under bench/measure.py (wall time, peak
#      RSS). The import is stopped after BENCH_IMPORT_TIMEOUT s; its rate is then what it
#      committed by that time.
#
# Needs: PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth), wrk (installed with
# apt-get when missing and running as root). Set BENCH_SKIP_HTTP=1 or BENCH_SKIP_IMPORT=1
# to run one half; BENCH_IMPORT_EVENTS=100000 for a quick check.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-.venv/bin/python}
GUNICORN=${GUNICORN:-.venv/bin/gunicorn}
PG_URL=postgres://postgres@127.0.0.1:5432
WORKERS=${BENCH_WORKERS:-4}
CONNECTIONS=${BENCH_CONNECTIONS:-16}
WARMUP=${BENCH_WARMUP:-5}
DURATION=${BENCH_DURATION:-20}
NEW_PERCENT=${BENCH_NEW_PERCENT:-25}
POOL=${BENCH_POOL:-1000}
IMPORT_EVENTS=${BENCH_IMPORT_EVENTS:-1000000}
IMPORT_USERS=${BENCH_IMPORT_USERS:-10000}
IMPORT_TIMEOUT=${BENCH_IMPORT_TIMEOUT:-360}
OUT=bench/out
RUN_ID="$(date +%s)_$$"
HTTP_DB="trophy_bench_http_${RUN_ID}"
IMPORT_DB="trophy_bench_import_${RUN_ID}"

export DJANGO_SETTINGS_MODULE=bench.settings
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export SECRET_KEY=bench-only-not-secret
export DEBUG=0 LOG_LEVEL=WARNING CELERY_BROKER_URL=
export PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres

GUNICORN_PID=""
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [[ -n "$GUNICORN_PID" ]] && kill -0 "$GUNICORN_PID" 2>/dev/null; then
        kill -TERM "$GUNICORN_PID" 2>/dev/null || true
        wait "$GUNICORN_PID" 2>/dev/null || true
    fi
    for db in "$HTTP_DB" "$IMPORT_DB"; do
        psql -q -d postgres -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
    done
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '\n== %s\n' "$*"; }

snapshot() {  # what else is using the CPU (the machine may be shared)
    {
        echo "== $1 ($(date -Is)) loadavg: $(cat /proc/loadavg)"
        top -b -n1 -o %CPU | sed -n '7,14p'
    } >>"$OUT/machine.txt"
}

new_database() {  # NAME: create it, migrate, create an organization; prints the API key
    psql -q -d postgres -c "CREATE DATABASE \"$1\"" >/dev/null
    DATABASE_URL="$PG_URL/$1" "$PY" manage.py migrate --noinput -v0 >&2
    DATABASE_URL="$PG_URL/$1" "$PY" manage.py create_organization Bench | tail -n1
}

pg_isready -q -h 127.0.0.1 -p 5432 || { echo "PostgreSQL is not answering on 127.0.0.1:5432" >&2; exit 1; }
if ! command -v wrk >/dev/null; then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        apt-get update -qq && apt-get install -y -qq wrk >/dev/null
    else
        echo "wrk is missing: apt-get install wrk" >&2
        exit 1
    fi
fi

rm -rf "$OUT" && mkdir -p "$OUT"
"$PY" - >"$OUT/env.json" <<EOF
import json, os, platform, subprocess
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
mem = next(l.split(":", 1)[1].strip() for l in open("/proc/meminfo") if l.startswith("MemTotal"))
run = lambda *c: subprocess.run(c, capture_output=True, text=True).stdout.strip()
print(json.dumps({
    "cpus": os.cpu_count(), "cpu": cpu, "memory": mem, "kernel": platform.release(),
    "python": platform.python_version(),
    "postgres": run("psql", "-Atd", "postgres", "-c", "show server_version"),
    "wrk": run("sh", "-c", "wrk -v 2>&1 | head -n1"),
    "gunicorn_workers": $WORKERS, "connections": $CONNECTIONS, "warmup_s": $WARMUP,
    "duration_s": $DURATION, "new_user_percent": $NEW_PERCENT, "repeat_pool": $POOL,
    "import_events": $IMPORT_EVENTS, "import_users": $IMPORT_USERS,
    "import_timeout_s": $IMPORT_TIMEOUT,
}, indent=2))
EOF

if [[ "${BENCH_SKIP_HTTP:-0}" != 1 ]]; then
    say "HTTP: fresh database $HTTP_DB"
    KEY=$(new_database "$HTTP_DB")
    export DATABASE_URL="$PG_URL/$HTTP_DB"
    "$PY" -m bench.prepare >/dev/null
    PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    BASE="http://127.0.0.1:$PORT"
    "$GUNICORN" trophy_site.wsgi:application --bind "127.0.0.1:$PORT" --workers "$WORKERS" \
        --worker-class sync --backlog 2048 --log-level warning >"$OUT/gunicorn.log" 2>&1 &
    GUNICORN_PID=$!
    for _ in $(seq 60); do
        curl -fs -o /dev/null -X POST -H 'Content-Type: application/json' \
            -d '{"user": {"id": "probe"}, "value": 1}' "$BASE/bench/baseline" && break
        kill -0 "$GUNICORN_PID" || { cat "$OUT/gunicorn.log" >&2; exit 1; }
        sleep 0.5
    done
    curl -fsS -X POST -H "X-API-KEY: $KEY" -H 'Content-Type: application/json' \
        -d '{"user": {"id": "probe"}, "value": 1}' "$BASE/v1/metrics/words/event" >"$OUT/sample-response.json"

    wrk_run() {  # NAME PATH TAG SECONDS
        timeout $(($4 + 30)) wrk -t2 -c"$CONNECTIONS" -d"$4s" --timeout 10s -s bench/event.lua \
            "$BASE$2" -- "$KEY" "$3" "$NEW_PERCENT" "$POOL" >"$OUT/wrk-$1-$3.txt"
        grep '^WRK_JSON ' "$OUT/wrk-$1-$3.txt" | cut -d' ' -f2- >"$OUT/http-$1-$3.json"
    }
    say "HTTP: warm-up ${WARMUP}s each ($WORKERS gunicorn workers, $CONNECTIONS connections)"
    snapshot "warm-up"
    wrk_run baseline /bench/baseline warm "$WARMUP"
    wrk_run event /v1/metrics/words/event warm "$WARMUP"
    psql -q -d "$HTTP_DB" -c "ANALYZE"
    say "HTTP: baseline, ${DURATION}s"
    snapshot "HTTP baseline"
    wrk_run baseline /bench/baseline run "$DURATION"
    say "HTTP: POST /v1/metrics/words/event, ${DURATION}s"
    snapshot "HTTP event"
    wrk_run event /v1/metrics/words/event run "$DURATION"
    cp "$OUT/http-baseline-run.json" "$OUT/http-baseline.json"
    cp "$OUT/http-event-run.json" "$OUT/http-event.json"
    psql -Atd "$HTTP_DB" -c "SELECT 'events ' || count(*) FROM events_event" \
        -c "SELECT 'users ' || count(*) FROM events_enduser" \
        -c "SELECT 'baseline rows ' || count(*) FROM bench_baseline_baselineevent" >"$OUT/http-db-counts.txt"
    kill -TERM "$GUNICORN_PID" && wait "$GUNICORN_PID" || true
    GUNICORN_PID=""
    unset DATABASE_URL
    psql -q -d postgres -c "DROP DATABASE IF EXISTS \"$HTTP_DB\" WITH (FORCE)"
fi

if [[ "${BENCH_SKIP_IMPORT:-0}" != 1 ]]; then
    say "import: generating $IMPORT_EVENTS events over $IMPORT_USERS users"
    "$PY" bench/generate_events.py "$OUT/events.jsonl" --events "$IMPORT_EVENTS" --users "$IMPORT_USERS" --seed 1
    say "import: fresh database $IMPORT_DB"
    new_database "$IMPORT_DB" >/dev/null
    export DATABASE_URL="$PG_URL/$IMPORT_DB"
    TENANT=$("$PY" -m bench.prepare)
    say "import: baseline (COPY into a bare table)"
    snapshot "COPY baseline"
    "$PY" bench/measure.py "$OUT/copy.json" -- "$PY" -m bench.copy_baseline "$OUT/events.jsonl" "$TENANT"
    psql -q -d "$IMPORT_DB" -c "DROP TABLE bench_copy_events" -c "CHECKPOINT"
    say "import: manage.py import_events (stopped after ${IMPORT_TIMEOUT}s)"
    snapshot "import_events"
    status=0
    "$PY" bench/measure.py "$OUT/import.json" -- timeout --signal=INT "$IMPORT_TIMEOUT" \
        "$PY" manage.py import_events "$OUT/events.jsonl" --tenant "$TENANT" --no-progress \
        >"$OUT/import.log" 2>&1 || status=$?
    tail -n3 "$OUT/import.log"
    IN_LOG=$(psql -Atd "$IMPORT_DB" -c "SELECT count(*) FROM events_event")
    printf '{"events_asked": %d, "events_in_log": %d, "exit_status": %d}\n' \
        "$IMPORT_EVENTS" "$IN_LOG" "$status" >"$OUT/import-meta.json"
    psql -Atd "$IMPORT_DB" -c "SELECT 'users ' || count(*) FROM events_enduser" \
        -c "SELECT 'totals ' || count(*) || ' sum ' || sum(total) FROM events_metrictotal" \
        -c "SELECT 'daily rollups ' || count(*) || ' events ' || sum(event_count) FROM events_dailyrollup" \
        -c "SELECT 'sums per attribute value ' || count(*) FROM events_dailyrollup, jsonb_each(by_attribute) AS a(k, v), jsonb_each(a.v)" >"$OUT/import-db-counts.txt"
    unset DATABASE_URL
    rm -f "$OUT/events.jsonl"
fi

say "results (also in $OUT/results.md)"
"$PY" bench/report.py "$OUT"
