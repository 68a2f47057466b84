"""How much disk the event log and the tables derived from it take per event.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/growth_x SECRET_KEY=x \\
        .venv/bin/python bench/event_log_size.py --events 1000000 [--json OUT.json]

Against the PostgreSQL database named by DATABASE_URL (created when missing; it must hold
no tables, unless --reset empties its `public` schema first): `migrate`, an organization
(`create_organization`) whose default tenant gets the benchmark's metrics and attributes
(bench/prepare.py), then N synthetic events written by the import benchmark's generators
and loaded with `manage.py import_events` (the real bulk path: idempotency keys derived per
line, users created, totals, daily rollups and streaks derived), then `VACUUM ANALYZE`.

Prints, for the event table and each table derived from it (the engine's registered
derivations, and the users): the table's own bytes (`pg_table_size`: heap, TOAST, free
space and visibility maps), each index's bytes, the total, rows and bytes per event; then
what --per-day events a day take in a year (GB = 10^9 bytes), log and derived tables apart.

Baseline, in the same run: what a user could keep instead, the same events as a bare table
of five columns (id, user, metric, timestamp, value) with a primary key and nothing else
(built at once from the log, so its index is packed; dropped afterwards).

Workloads (--workload):
- `wrapped` (default): bench/generate_wrapped.py, a year of activity (the last one) over
  N / --events-per-user users: most users light, a few heavy, active on favourite
  weekdays, about two events per active day, 8 time zones;
- `uniform`: bench/generate_events.py, the import benchmark's: timestamps uniform over
  the last 365 days, every user equally active, so nearly every event is alone on its
  (user, day, metric): the worst case for the daily rollups.
Both: metrics `words` and `minutes`, event attributes `device` and `plan`, no
`idempotencyKey` in the file (the importer derives one of about 46 characters per line).
Takes about a minute per million events on 2 cores, most of it the import.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import django

ROOT = Path(__file__).resolve().parent.parent
GB = 10**9
MB = 10**6


def _ensure_database() -> None:
    """Create DATABASE_URL's database when it does not exist (from the `postgres` one)."""
    import psycopg
    from django.db import connection
    from psycopg import sql

    params = connection.get_connection_params()
    name = params.pop("dbname")
    params.pop("cursor_factory", None)
    params.pop("prepare_threshold", None)
    params.pop("context", None)
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        found = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if found is None:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _fresh_schema(reset: bool) -> None:
    from django.core.management import call_command
    from django.db import connection

    tables = connection.introspection.table_names()
    if tables and not reset:
        sys.exit(
            f"{connection.settings_dict['NAME']} already has {len(tables)} tables: give an "
            "empty database, or --reset to drop its public schema first"
        )
    if tables:
        with connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA public CASCADE")
            cursor.execute("CREATE SCHEMA public")
    call_command("migrate", interactive=False, verbosity=0)


def _tenant() -> str:
    """An organization and its default tenant, configured by bench/prepare.py; its id."""
    from django.core.management import call_command

    from bench import prepare

    call_command("create_organization", "Growth", stdout=io.StringIO())
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        prepare.main()
    return out.getvalue().strip()


def _generate(path: Path, workload: str, events: int, users: int, seed: int) -> None:
    if workload == "uniform":
        command = ["generate_events.py", "--events", str(events), "--users", str(users)]
    else:
        year = datetime.now(UTC).year - 1
        command = [
            "generate_wrapped.py",
            "--events",
            str(events),
            "--users",
            str(users),
            "--year",
            str(year),
        ]
    script, *options = command
    subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), str(path), *options, "--seed", str(seed)],
        check=True,
    )


def _import(path: Path, tenant: str, writers: int | None) -> str:
    from django.core.management import call_command

    options: dict[str, Any] = {"tenant": tenant, "no_progress": True}
    if writers is not None:
        options["writers"] = writers
    out = io.StringIO()
    call_command("import_events", str(path), stdout=out, **options)
    return out.getvalue().strip().splitlines()[-1]


def _sizes() -> list[dict[str, Any]]:
    """The event table, the derived tables and the users: rows, own bytes, indexes."""
    from django.db import connection
    from django.db.models import Model

    from events.engine.registry import REGISTRY
    from events.models import EndUser, Event

    models: list[type[Model]] = [Event, *REGISTRY.tables(), EndUser]
    out = []
    with connection.cursor() as cursor:
        for model in models:
            table = model._meta.db_table
            cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(table)}")
            (rows,) = cursor.fetchone()
            cursor.execute(
                "SELECT pg_table_size(%s::regclass), pg_total_relation_size(%s::regclass)",
                [table, table],
            )
            heap, total = cursor.fetchone()
            cursor.execute(
                """
                SELECT i.indexrelid::regclass::text, pg_relation_size(i.indexrelid)
                FROM pg_index i WHERE i.indrelid = %s::regclass
                ORDER BY i.indisprimary DESC, 1
                """,
                [table],
            )
            indexes = dict(cursor.fetchall())
            out.append(
                {
                    "table": table,
                    "role": "log" if model is Event else "users" if model is EndUser else "derived",
                    "rows": rows,
                    "heap_bytes": heap,
                    "index_bytes": indexes,
                    "total_bytes": total,
                }
            )
    return out


def _baseline_bytes() -> int:
    """The same events in a bare table with only a primary key: its total size."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            'CREATE TABLE bench_bare_events AS SELECT id, user_id, metric_id, "timestamp", value '
            "FROM events_event"
        )
        cursor.execute("ALTER TABLE bench_bare_events ADD PRIMARY KEY (id)")
        cursor.execute("VACUUM ANALYZE bench_bare_events")
        cursor.execute("SELECT pg_total_relation_size('bench_bare_events')")
        (size,) = cursor.fetchone()
        cursor.execute("DROP TABLE bench_bare_events")
    return int(size)


def _table(figures: dict[str, Any]) -> str:
    events = figures["events"]
    lines = [
        f"{'table / index':<40} {'rows':>11} {'MB':>9} {'bytes/event':>12}",
    ]

    def line(name: str, rows: int | str, size: int) -> None:
        lines.append(f"{name:<40} {rows:>11} {size / MB:>9.1f} {size / events:>12.1f}")

    for table in figures["tables"]:
        line(table["table"], f"{table['rows']:,}", table["total_bytes"])
        line("  heap (pg_table_size)", "", table["heap_bytes"])
        for index, size in table["index_bytes"].items():
            line(f"  {index}", "", size)
    lines.append("")
    for name, size in figures["totals"].items():
        line(f"total: {name}", "", size)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--events", type=int, default=1_000_000, help="events to import (default 1000000)"
    )
    parser.add_argument(
        "--events-per-user",
        type=int,
        default=100,
        help="users = events / this (default 100), unless --users",
    )
    parser.add_argument("--users", type=int, help="users (default: events / --events-per-user)")
    parser.add_argument(
        "--workload",
        choices=("wrapped", "uniform"),
        default="wrapped",
        help="the events' generator (default wrapped; see above)",
    )
    parser.add_argument("--seed", type=int, default=1, help="the generator's (default 1)")
    parser.add_argument(
        "--per-day",
        type=int,
        nargs="+",
        default=[10_000, 100_000, 1_000_000],
        help="events per day to project to a year (default 10000 100000 1000000)",
    )
    parser.add_argument("--writers", type=int, help="import_events --writers (default: its own)")
    parser.add_argument("--reset", action="store_true", help="drop the public schema first")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    if args.events < 1:
        parser.error("--events must be at least 1")
    users = args.users or max(1, args.events // args.events_per_user)

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trophy_site.settings")
    django.setup()
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("DATABASE_URL must name a PostgreSQL database")
    _ensure_database()
    _fresh_schema(args.reset)
    tenant = _tenant()

    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="event_log_size_") as scratch:
        path = Path(scratch) / "events.jsonl"
        started = time.perf_counter()
        _generate(path, args.workload, args.events, users, args.seed)
        seconds["generate"] = time.perf_counter() - started
        print(
            f"generated {args.events:,} events over {users:,} users ({args.workload})", flush=True
        )
        started = time.perf_counter()
        summary = _import(path, tenant, args.writers)
        seconds["import"] = time.perf_counter() - started
        print(summary, flush=True)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    seconds["vacuum_analyze"] = time.perf_counter() - started

    tables = _sizes()
    events = tables[0]["rows"]
    if not events:
        sys.exit("no event was imported")
    totals = {
        "event log": sum(t["total_bytes"] for t in tables if t["role"] == "log"),
        "derived tables": sum(t["total_bytes"] for t in tables if t["role"] == "derived"),
        "users": sum(t["total_bytes"] for t in tables if t["role"] == "users"),
    }
    totals["all"] = sum(totals.values())
    per_event = {name: size / events for name, size in totals.items()}
    baseline = _baseline_bytes() / events
    projection = [
        {
            "events_per_day": rate,
            "log_gb_per_year": per_event["event log"] * rate * 365 / GB,
            "derived_gb_per_year": per_event["derived tables"] * rate * 365 / GB,
            "all_gb_per_year": (per_event["event log"] + per_event["derived tables"])
            * rate
            * 365
            / GB,
        }
        for rate in args.per_day
    ]
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (server,) = cursor.fetchone()
    figures = {
        "database": connection.settings_dict["NAME"],
        "postgres": server,
        "cpus": os.cpu_count(),
        "workload": args.workload,
        "seed": args.seed,
        "events": events,
        "users": users,
        "import": summary,
        "seconds": {name: round(value, 1) for name, value in seconds.items()},
        "tables": tables,
        "totals": totals,
        "bytes_per_event": {name: round(value, 1) for name, value in per_event.items()},
        "baseline_bytes_per_event": round(baseline, 1),
        "projection": projection,
    }

    print()
    print(
        f"{events:,} events, {users:,} users, workload {args.workload}, PostgreSQL {server}, "
        f"{os.cpu_count()} CPUs; generate {seconds['generate']:.1f} s, import "
        f"{seconds['import']:.1f} s, VACUUM ANALYZE {seconds['vacuum_analyze']:.1f} s"
    )
    print(_table(figures))
    print(
        f"baseline, the same events in a bare table (id, user, metric, timestamp, value; "
        f"primary key only): {baseline:.1f} bytes/event; the event log is "
        f"{per_event['event log'] / baseline:.2f}x that, log and derived tables "
        f"{(per_event['event log'] + per_event['derived tables']) / baseline:.2f}x"
    )
    print()
    print("projection (bytes per event above x events/day x 365; GB = 10^9 bytes; users apart):")
    for row in projection:
        print(
            f"  {row['events_per_day']:>11,} events/day -> {row['log_gb_per_year']:8.1f} GB/year "
            f"log + {row['derived_gb_per_year']:7.1f} derived = {row['all_gb_per_year']:8.1f}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
