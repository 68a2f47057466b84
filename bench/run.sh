#!/usr/bin/env bash
# `make bench`: the benchmarks of docs/benchmarks.md, each beside a baseline measured in
# the same run, on fresh PostgreSQL databases that are dropped afterwards (also on
# failure or Ctrl-C). Results: a table on stdout, JSON and Markdown in bench/out/.
#
#   1. HTTP: POST /v1/metrics/{key}/event vs two baselines, both the view of
#      bench/standalone (one INSERT and one counter upsert in a transaction): at
#      POST /bench/baseline, served by the same gunicorn as the event endpoint, with the
#      project's settings and middleware (the in-project baseline), and at POST /event
#      with its own settings (no project middleware, no authentication), served
#      by a second gunicorn started with the same flags (GUNICORN_FLAGS: BENCH_WORKERS
#      sync workers) on 127.0.0.1, same database. All three are loaded by wrk (2 threads,
#      BENCH_CONNECTIONS connections) with bench/event.lua: a warm-up of BENCH_WARMUP s
#      each, ANALYZE, then BENCH_DURATION s each, measured in BENCH_ROUNDS (4)
#      interleaved rounds.
#      With BENCH_PROFILE=1, then: the event endpoint under the same load again while
#      py-spy samples all workers of its gunicorn, twice BENCH_PROFILE_SECONDS s (15):
#      wall clock (--idle), then running Python (--gil).
#      bench/profile_summary.py turns both into bench/out/profile.txt:
#      where a request's time goes, by layer and by function, in ms per request (raw
#      stacks: bench/out/profile-{wall,cpu}.txt). py-spy must be in .venv
#      (`.venv/bin/pip install py-spy`, or set PY_SPY) and needs ptrace permission
#      (root, or kernel.yama.ptrace_scope 0).
#   2. import: manage.py import_events of BENCH_IMPORT_EVENTS generated events over
#      BENCH_IMPORT_USERS users into an empty database, vs bench/copy_baseline.py (COPY
#      of the same file into a bare table), each under bench/measure.py (wall time, peak
#      RSS). The import is stopped after BENCH_IMPORT_TIMEOUT s; its rate is then what it
#      committed by that time.
#   3. Wrapped: a year (the last one) of BENCH_WRAPPED_EVENTS generated events over
#      BENCH_WRAPPED_USERS users (bench/generate_wrapped.py: most users light, a few heavy,
#      8 time zones, 2 metrics, 2 attributes), imported; then
#      - precompute: manage.py precompute_wrapped (no broker: one process per CPU) under
#        bench/measure.py, vs the baseline a user could write instead, one SQL statement
#        (psql, under measure.py) storing each user's yearly count, sum and active days
#        per metric into a table;
#      - light vs heavy: precompute_wrapped of BENCH_WRAPPED_COMPARE_USERS users with 50
#        events each and as many with 500, in two more databases, all active on
#        BENCH_WRAPPED_DAYS days (40; 0: about one day per 2 events), time per summary;
#      - GET /v1/users/{id}/wrapped of fresh summaries (random users) vs the standalone
#        baseline's GET /documents/<id> (one row by primary key, a DRF Response of its
#        JSON; the table holds copies of the summaries), same gunicorn flags, wrk with
#        bench/wrapped.lua: warm-up, then BENCH_ROUNDS interleaved rounds;
#      - share pages and cards (BENCH_SKIP_SHARE=1 to leave out): share links for the
#        first BENCH_SHARE_USERS (1000) users, their cards drawn by precompute_wrapped
#        --render-cards (under measure.py), then GET /w/<token>/ (the page) and
#        GET /w/<token>/og.png (a stored card) of random shared users, interleaved with
#        the standalone GET by primary key, BENCH_ROUNDS rounds; render time per card
#        format: bench/render_cards.py (in-process, p50/p95 beside a one-line Pillow card);
#      - the same GET once every user's summary is stale (each user's derived stamp
#        moved): every request recomputes one user, none twice, BENCH_CONNECTIONS
#        connections, then as many as gunicorn workers.
#
# Needs: PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth), wrk (installed with
# apt-get when missing and running as root). Set BENCH_SKIP_HTTP=1, BENCH_SKIP_IMPORT=1 or
# BENCH_SKIP_WRAPPED=1 to leave a part out; BENCH_IMPORT_EVENTS=100000 for a quick check. HTTP only, with the
# profile:   BENCH_SKIP_IMPORT=1 BENCH_PROFILE=1 make bench
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-.venv/bin/python}
GUNICORN=${GUNICORN:-.venv/bin/gunicorn}
PG_URL=postgres://postgres@127.0.0.1:5432
WORKERS=${BENCH_WORKERS:-4}
CONNECTIONS=${BENCH_CONNECTIONS:-16}
WARMUP=${BENCH_WARMUP:-5}
DURATION=${BENCH_DURATION:-20}
ROUNDS=${BENCH_ROUNDS:-4}
NEW_PERCENT=${BENCH_NEW_PERCENT:-25}
POOL=${BENCH_POOL:-1000}
IMPORT_EVENTS=${BENCH_IMPORT_EVENTS:-1000000}
IMPORT_USERS=${BENCH_IMPORT_USERS:-10000}
IMPORT_TIMEOUT=${BENCH_IMPORT_TIMEOUT:-360}
WRAPPED_USERS=${BENCH_WRAPPED_USERS:-20000}
WRAPPED_EVENTS=${BENCH_WRAPPED_EVENTS:-2000000}
COMPARE_USERS=${BENCH_WRAPPED_COMPARE_USERS:-2000}
COMPARE_DAYS=${BENCH_WRAPPED_DAYS:-40}
STALE_DURATION=${BENCH_STALE_DURATION:-10}
SHARE_USERS=${BENCH_SHARE_USERS:-1000}
WRAPPED_YEAR=$(($(date -u +%Y) - 1))
PROFILE=${BENCH_PROFILE:-0}
PROFILE_SECONDS=${BENCH_PROFILE_SECONDS:-15}
PY_SPY=${PY_SPY:-.venv/bin/py-spy}
# Every gunicorn of the run (the project's and the standalone baseline's) is started by
# start_gunicorn with exactly these flags.
# The project's gunicorn.conf.py (timeouts, backlog, no control socket), with
# BENCH_WORKERS workers and no access log (what the figures have always measured).
GUNICORN_FLAGS=(-c gunicorn.conf.py --workers "$WORKERS" --worker-class sync --log-level warning)
export GUNICORN_ACCESS_LOG=
OUT=bench/out
RUN_ID="$(date +%s)_$$"
HTTP_DB="trophy_bench_http_${RUN_ID}"
IMPORT_DB="trophy_bench_import_${RUN_ID}"
WRAPPED_DB="trophy_bench_wrapped_${RUN_ID}"
LIGHT_DB="trophy_bench_light_${RUN_ID}"
HEAVY_DB="trophy_bench_heavy_${RUN_ID}"

export DJANGO_SETTINGS_MODULE=bench.settings
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export SECRET_KEY=bench-only-not-secret
export DEBUG=0 LOG_LEVEL=WARNING CELERY_BROKER_URL=
export PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres

GUNICORN_PIDS=()
stop_gunicorns() {
    local pid
    for pid in "${GUNICORN_PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    GUNICORN_PIDS=()
}
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    stop_gunicorns
    for db in "$HTTP_DB" "$IMPORT_DB" "$WRAPPED_DB" "$LIGHT_DB" "$HEAVY_DB"; do
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

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_gunicorn() {  # WSGI_APP PORT LOG: in the background, with GUNICORN_FLAGS; sets STARTED_PID
    "$GUNICORN" "$1" --bind "127.0.0.1:$2" "${GUNICORN_FLAGS[@]}" >"$3" 2>&1 &
    STARTED_PID=$!
    GUNICORN_PIDS+=("$STARTED_PID")
}

start_both() {  # PROJECT_LOG STANDALONE_LOG: the project and the standalone app, on free
    # ports; sets PORT, PROJECT_PID, STANDALONE_PORT and STANDALONE_PID
    PORT=$(free_port)
    start_gunicorn trophy_site.wsgi:application "$PORT" "$1"
    PROJECT_PID=$STARTED_PID
    STANDALONE_PORT=$(free_port)
    start_gunicorn bench.standalone.wsgi:application "$STANDALONE_PORT" "$2"
    STANDALONE_PID=$STARTED_PID
}

wait_for() {  # URL PID LOG: until a probe event POSTed to URL succeeds (or gunicorn died)
    for _ in $(seq 60); do
        curl -fs -o /dev/null -X POST -H 'Content-Type: application/json' \
            -d '{"user": {"id": "probe"}, "value": 1}' "$1" && return 0
        kill -0 "$2" || { cat "$3" >&2; exit 1; }
        sleep 0.5
    done
    echo "no answer from $1" >&2
    exit 1
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
    "duration_s": $DURATION, "rounds": $ROUNDS, "new_user_percent": $NEW_PERCENT, "repeat_pool": $POOL,
    "import_events": $IMPORT_EVENTS, "import_users": $IMPORT_USERS,
    "import_timeout_s": $IMPORT_TIMEOUT,
    "wrapped_users": $WRAPPED_USERS, "wrapped_events": $WRAPPED_EVENTS, "wrapped_year": $WRAPPED_YEAR,
    "wrapped_compare_users": $COMPARE_USERS, "wrapped_compare_days": $COMPARE_DAYS,
    "stale_duration_s": $STALE_DURATION, "share_users": $SHARE_USERS,
    "gunicorn_flags": "${GUNICORN_FLAGS[*]}", "profile_s": $PROFILE_SECONDS if "$PROFILE" == "1" else None,
}, indent=2))
EOF

if [[ "${BENCH_SKIP_HTTP:-0}" != 1 ]]; then
    if [[ "$PROFILE" == 1 ]] && ! "$PY_SPY" --version >/dev/null 2>&1; then
        echo "BENCH_PROFILE=1 needs py-spy: .venv/bin/pip install py-spy (or set PY_SPY)" >&2
        exit 1
    fi
    say "HTTP: fresh database $HTTP_DB"
    KEY=$(new_database "$HTTP_DB")
    export DATABASE_URL="$PG_URL/$HTTP_DB"
    "$PY" -m bench.prepare >/dev/null

    start_both "$OUT/gunicorn.log" "$OUT/gunicorn-standalone.log"
    BASE="http://127.0.0.1:$PORT"
    EVENT_URL="$BASE/v1/metrics/words/event"
    BASELINE_URL="$BASE/bench/baseline"
    STANDALONE_URL="http://127.0.0.1:$STANDALONE_PORT/event"
    declare -A URL=([baseline]=$BASELINE_URL [standalone]=$STANDALONE_URL [event]=$EVENT_URL)
    TARGETS=(baseline standalone event)
    wait_for "$BASELINE_URL" "$PROJECT_PID" "$OUT/gunicorn.log"
    wait_for "$STANDALONE_URL" "$STANDALONE_PID" "$OUT/gunicorn-standalone.log"
    # The event endpoint may fail while its code is being changed: the baselines still run.
    curl -sS -X POST -H "X-API-KEY: $KEY" -H 'Content-Type: application/json' \
        -w '\nHTTP %{http_code}\n' -d '{"user": {"id": "probe"}, "value": 1}' "$EVENT_URL" \
        >"$OUT/sample-response.json" || true
    grep -q '^HTTP 201$' "$OUT/sample-response.json" \
        || { echo "warning: the event endpoint's probe did not answer 201:" >&2; cat "$OUT/sample-response.json" >&2; }
    curl -fsS -X POST -H 'Content-Type: application/json' \
        -d '{"user": {"id": "probe"}, "value": 1}' "$STANDALONE_URL" >"$OUT/sample-response-standalone.json"

    wrk_run() {  # NAME URL TAG SECONDS
        timeout $(($4 + 30)) wrk -t2 -c"$CONNECTIONS" -d"$4s" --timeout 10s -s bench/event.lua \
            "$2" -- "$KEY" "$3" "$NEW_PERCENT" "$POOL" >"$OUT/wrk-$1-$3.txt"
        grep '^WRK_JSON ' "$OUT/wrk-$1-$3.txt" | cut -d' ' -f2- >"$OUT/http-$1-$3.json"
    }
    say "HTTP: warm-up ${WARMUP}s each ($WORKERS gunicorn workers, $CONNECTIONS connections)"
    snapshot "warm-up"
    for name in "${TARGETS[@]}"; do
        wrk_run "$name" "${URL[$name]}" warm "$WARMUP"
    done
    psql -q -d "$HTTP_DB" -c "ANALYZE"
    # Interleaved rounds, each target's turn moving one place per round, so a burst of
    # load from elsewhere on the machine hits all three alike (report.py takes medians).
    SLICE=$((DURATION / ROUNDS))
    ((SLICE > 0)) || { echo "BENCH_DURATION must be at least BENCH_ROUNDS seconds" >&2; exit 1; }
    say "HTTP: in-project baseline, standalone baseline, event path: $ROUNDS rounds of ${SLICE}s each"
    for round in $(seq "$ROUNDS"); do
        snapshot "HTTP round $round"
        for i in 0 1 2; do
            name=${TARGETS[(i + round - 1) % 3]}
            wrk_run "$name" "${URL[$name]}" "run$round" "$SLICE"
        done
    done

    if [[ "$PROFILE" == 1 ]]; then
        # Two recordings, one after the other (py-spy pauses the processes it samples, and
        # only one tracer can do that at a time), of all workers of the project's
        # gunicorn: wall clock (--idle: every sample, 50 Hz) and running Python (--gil:
        # only samples holding the GIL, 100 Hz). wrk runs through both, with 2 s to
        # spare at each end, so the load is steady throughout.
        say "profile: py-spy on the event endpoint's $WORKERS workers, 2 x ${PROFILE_SECONDS}s under load"
        snapshot "profile"
        wrk_run event "$EVENT_URL" prof $((2 * PROFILE_SECONDS + 4)) &
        WRK_PID=$!
        sleep 2
        spy() {  # NAME RATE PY-SPY-FLAG
            "$PY_SPY" record --pid "$PROJECT_PID" --subprocesses --nolineno --rate "$2" \
                --duration "$PROFILE_SECONDS" --format raw "$3" \
                --output "$OUT/profile-$1.txt" >"$OUT/py-spy-$1.log" 2>&1 \
                || echo "py-spy failed: see $OUT/py-spy-$1.log" >&2
        }
        spy wall 50 --idle
        spy cpu 100 --gil
        wait "$WRK_PID"
        summarise() {  # NAME RATE TITLE [--gil]
            [[ -s "$OUT/profile-$1.txt" ]] || return 0
            "$PY" bench/profile_summary.py "$OUT/profile-$1.txt" --rate "$2" \
                --seconds "$PROFILE_SECONDS" --wrk "$OUT/http-event-prof.json" --title "$3" "${@:4}"
            echo
        }
        {
            summarise wall 50 "wall clock (py-spy --idle)"
            summarise cpu 100 "running Python, holding the GIL (py-spy --gil)" --gil
        } >"$OUT/profile.txt"
    fi

    psql -Atd "$HTTP_DB" -c "SELECT 'events ' || count(*) FROM events_event" \
        -c "SELECT 'users ' || count(*) FROM events_enduser" \
        -c "SELECT 'baseline rows (both baselines) ' || count(*) FROM bench_standalone_standaloneevent" \
        >"$OUT/http-db-counts.txt"
    stop_gunicorns
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

if [[ "${BENCH_SKIP_WRAPPED:-0}" != 1 ]]; then
    say "Wrapped: generating $WRAPPED_EVENTS events of $WRAPPED_YEAR over $WRAPPED_USERS users, and the light and heavy users"
    "$PY" bench/generate_wrapped.py "$OUT/wrapped.jsonl" --users "$WRAPPED_USERS" \
        --events "$WRAPPED_EVENTS" --year "$WRAPPED_YEAR"
    days=()
    ((COMPARE_DAYS > 0)) && days=(--days "$COMPARE_DAYS")
    for n in 50 500; do
        "$PY" bench/generate_wrapped.py "$OUT/wrapped-$n.jsonl" --users "$COMPARE_USERS" \
            --per-user "$n" "${days[@]}" --year "$WRAPPED_YEAR"
    done
    declare -A WRAPPED_TENANT WRAPPED_KEY
    for db in "$WRAPPED_DB" "$LIGHT_DB" "$HEAVY_DB"; do
        WRAPPED_KEY[$db]=$(new_database "$db")
        WRAPPED_TENANT[$db]=$(DATABASE_URL="$PG_URL/$db" "$PY" -m bench.prepare)
    done
    declare -A SOURCE=([$WRAPPED_DB]=wrapped [$LIGHT_DB]=wrapped-50 [$HEAVY_DB]=wrapped-500)
    for db in "$WRAPPED_DB" "$LIGHT_DB" "$HEAVY_DB"; do
        say "Wrapped: importing $OUT/${SOURCE[$db]}.jsonl"
        DATABASE_URL="$PG_URL/$db" "$PY" manage.py import_events "$OUT/${SOURCE[$db]}.jsonl" \
            --tenant "${WRAPPED_TENANT[$db]}" --no-progress | tail -n1
        rm -f "$OUT/${SOURCE[$db]}.jsonl"
        psql -q -d "$db" -c "VACUUM ANALYZE"
    done

    say "Wrapped: baseline (one SQL statement: each user's yearly figures per metric, into a table)"
    snapshot "Wrapped baseline"
    "$PY" bench/measure.py "$OUT/wrapped-baseline.json" -- psql -q -d "$WRAPPED_DB" -v ON_ERROR_STOP=1 -c "
        CREATE TABLE bench_recap AS
        SELECT user_id, metric_id, count(*) AS events, sum(value) AS total,
               count(DISTINCT local_date) AS days_active
        FROM events_event
        WHERE local_date BETWEEN '$WRAPPED_YEAR-01-01' AND '$WRAPPED_YEAR-12-31'
        GROUP BY user_id, metric_id"
    psql -Atd "$WRAPPED_DB" -c "SELECT count(DISTINCT user_id) FROM bench_recap" >"$OUT/wrapped-baseline-users.txt"
    psql -q -d "$WRAPPED_DB" -c "DROP TABLE bench_recap" -c "CHECKPOINT"

    say "Wrapped: manage.py precompute_wrapped --year $WRAPPED_YEAR"
    snapshot "precompute_wrapped"
    DATABASE_URL="$PG_URL/$WRAPPED_DB" "$PY" bench/measure.py "$OUT/wrapped-precompute.json" -- \
        "$PY" manage.py precompute_wrapped --year "$WRAPPED_YEAR" \
        --tenant "${WRAPPED_TENANT[$WRAPPED_DB]}" --no-progress | tee "$OUT/wrapped-precompute.log"
    for db in "$LIGHT_DB" "$HEAVY_DB"; do
        say "Wrapped: precompute_wrapped, ${SOURCE[$db]#wrapped-} events per user"
        DATABASE_URL="$PG_URL/$db" "$PY" manage.py precompute_wrapped --year "$WRAPPED_YEAR" \
            --tenant "${WRAPPED_TENANT[$db]}" --no-progress | tee "$OUT/${SOURCE[$db]}-precompute.log"
        psql -q -d postgres -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)"
    done

    say "Wrapped: GET, fresh summaries vs the standalone baseline's GET by primary key"
    export DATABASE_URL="$PG_URL/$WRAPPED_DB"
    psql -q -d "$WRAPPED_DB" -c "
        INSERT INTO bench_standalone_standalonedocument (id, body)
        SELECT row_number() OVER (ORDER BY user_id), activity::jsonb
        FROM wrapped_wrappedsummary" -c "ANALYZE"
    # Cards print the share host, and their stored names depend on it: the server and
    # precompute_wrapped --render-cards must agree on it.
    export SHARE_BASE_URL=http://share.bench.example
    start_both "$OUT/gunicorn-wrapped.log" "$OUT/gunicorn-standalone-get.log"
    KEY=${WRAPPED_KEY[$WRAPPED_DB]}
    USER_PATH="/v1/users/user-%05d/wrapped?year=$WRAPPED_YEAR"
    declare -A GET_URL=([wrapped]="http://127.0.0.1:$PORT" [document]="http://127.0.0.1:$STANDALONE_PORT")
    declare -A GET_PATH=([wrapped]="$USER_PATH" [document]="/documents/%d")
    declare -A GET_FIRST=([wrapped]=0 [document]=1)
    get_ready() {  # URL PID LOG: until URL answers 200 (or gunicorn died)
        for _ in $(seq 60); do
            curl -fs -o /dev/null -H "X-API-KEY: $KEY" "$1" && return 0
            kill -0 "$2" || { cat "$3" >&2; exit 1; }
            sleep 0.5
        done
        echo "no answer from $1" >&2
        exit 1
    }
    get_ready "http://127.0.0.1:$PORT$(printf "$USER_PATH" 0)" "$PROJECT_PID" "$OUT/gunicorn-wrapped.log"
    get_ready "http://127.0.0.1:$STANDALONE_PORT/documents/1" "$STANDALONE_PID" "$OUT/gunicorn-standalone-get.log"
    curl -sS -H "X-API-KEY: $KEY" "http://127.0.0.1:$PORT$(printf "$USER_PATH" 0)" >"$OUT/sample-wrapped.json"
    get_run() {  # NAME TAG SECONDS CONNECTIONS MODE [START]
        timeout $(($3 + 30)) wrk -t2 -c"$4" -d"$3s" --timeout 10s -s bench/wrapped.lua \
            "${GET_URL[$1]}" -- "$KEY" "${GET_PATH[$1]}" "${GET_FIRST[$1]}" "$WRAPPED_USERS" \
            "$5" "${6:-0}" >"$OUT/wrk-get-$1-$2.txt"
        grep '^WRK_JSON ' "$OUT/wrk-get-$1-$2.txt" | cut -d' ' -f2- >"$OUT/get-$1-$2.json"
    }
    snapshot "Wrapped GET warm-up"
    for name in wrapped document; do
        get_run "$name" warm "$WARMUP" "$CONNECTIONS" random
    done
    SLICE=$((DURATION / ROUNDS))
    for round in $(seq "$ROUNDS"); do
        snapshot "Wrapped GET round $round"
        if ((round % 2)); then order=(wrapped document); else order=(document wrapped); fi
        for name in "${order[@]}"; do
            get_run "$name" "run$round" "$SLICE" "$CONNECTIONS" random
        done
    done

    if [[ "${BENCH_SKIP_SHARE:-0}" != 1 ]]; then
        say "Share: render time per card format (bench/render_cards.py)"
        "$PY" bench/render_cards.py --n 50 --json "$OUT/render-cards.json"
        say "Share: links for $SHARE_USERS users, their cards pre-rendered (precompute_wrapped --render-cards)"
        psql -q -d "$WRAPPED_DB" -c "
            INSERT INTO wrapped_sharelink (token, tenant_id, user_id, year, created)
            SELECT 'bench-' || substr(external_id, 6), tenant_id, id, $WRAPPED_YEAR, now()
            FROM events_enduser WHERE external_id < 'user-' || lpad('$SHARE_USERS', 5, '0')" -c "ANALYZE"
        snapshot "render cards"
        "$PY" bench/measure.py "$OUT/share-render.json" -- \
            "$PY" manage.py precompute_wrapped --year "$WRAPPED_YEAR" \
            --tenant "${WRAPPED_TENANT[$WRAPPED_DB]}" --render-cards --no-progress | tee "$OUT/share-render.log"
        GET_URL[page]="http://127.0.0.1:$PORT"; GET_PATH[page]="/w/bench-%05d/"; GET_FIRST[page]=0
        GET_URL[card]="http://127.0.0.1:$PORT"; GET_PATH[card]="/w/bench-%05d/og.png"; GET_FIRST[card]=0
        curl -fsS -o "$OUT/sample-share-page.html" "http://127.0.0.1:$PORT/w/bench-00000/"
        curl -fsS -o "$OUT/sample-share-og.png" "http://127.0.0.1:$PORT/w/bench-00000/og.png"
        say "Share: GET of the page and of a stored card vs the standalone GET by primary key: $ROUNDS rounds"
        SAVED_USERS=$WRAPPED_USERS
        WRAPPED_USERS=$SHARE_USERS  # get_run draws numbers below this
        for name in page card document; do
            get_run "$name" share-warm "$WARMUP" "$CONNECTIONS" random
        done
        for round in $(seq "$ROUNDS"); do
            snapshot "Share round $round"
            case $((round % 3)) in
                1) order=(page card document) ;; 2) order=(card document page) ;; *) order=(document page card) ;;
            esac
            for name in "${order[@]}"; do
                get_run "$name" "share$round" "$SLICE" "$CONNECTIONS" random
            done
        done
        WRAPPED_USERS=$SAVED_USERS
    fi

    say "Wrapped: GET of stale summaries (each recomputed on the spot), $CONNECTIONS then $WORKERS connections"
    psql -q -d "$WRAPPED_DB" -c "UPDATE events_enduser SET derived_stamp = derived_stamp + 1"
    snapshot "Wrapped stale GET"
    get_run wrapped stale "$STALE_DURATION" "$CONNECTIONS" once
    # From the middle on: users the first stale run did not reach.
    get_run wrapped stale-workers "$STALE_DURATION" "$WORKERS" once $((WRAPPED_USERS / 2))
    psql -Atd "$WRAPPED_DB" -c "SELECT 'users ' || count(*) FROM events_enduser" \
        -c "SELECT 'events ' || count(*) FROM events_event" \
        -c "SELECT 'daily rollups ' || count(*) FROM events_dailyrollup" \
        -c "SELECT 'summaries ' || count(*) || ', mean size ' || avg(length(activity))::int || ' bytes' FROM wrapped_wrappedsummary" \
        >"$OUT/wrapped-db-counts.txt"
    stop_gunicorns
    unset DATABASE_URL
    psql -q -d postgres -c "DROP DATABASE IF EXISTS \"$WRAPPED_DB\" WITH (FORCE)"
fi

say "results (also in $OUT/results.md)"
"$PY" bench/report.py "$OUT"
if [[ -f "$OUT/profile.txt" ]]; then
    say "profile of the event endpoint, by layer (by function: $OUT/profile.txt)"
    awk '/^== /{show = 1} /^Top /{show = 0} show' "$OUT/profile.txt"
fi
