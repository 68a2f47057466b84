"""Write the import benchmark's input: N events over U users as JSON Lines.

    python bench/generate_events.py OUT.jsonl --events 1000000 --users 10000 [--seed 1]

Each line is one Trophy `BatchMetricEvent` (the `import_events` format): a metric key
(`words` or `minutes`), a user id (`user-00000` .. `user-{U-1}`), an integer value from 1
to 500, two event attributes (`device`, `plan`) and a `timestamp` spread uniformly over
the 365 days before --end (default: the start of the current UTC hour, so an import run
right after generation accepts every line). No `idempotencyKey`: the importer derives
one per line, which is what a backfill of raw data costs. Deterministic for a given
seed and --end.
"""

from __future__ import annotations

import argparse
import json
import random
from datetime import UTC, datetime, timedelta

METRICS = ("words", "minutes")
DEVICES = ("ios", "android", "web")
PLANS = ("free", "pro", "team")
SPAN_SECONDS = 365 * 24 * 3600


def user_id(n: int) -> str:
    return f"user-{n:05d}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--end", help="ISO 8601 end of the time span (default: this hour)")
    args = parser.parse_args()
    end = (
        datetime.fromisoformat(args.end)
        if args.end
        else datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    )
    start = end - timedelta(seconds=SPAN_SECONDS)
    rng = random.Random(args.seed)
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    with open(args.out, "w", encoding="utf-8") as out:
        lines = []
        for _ in range(args.events):
            when = start + timedelta(seconds=rng.randrange(SPAN_SECONDS))
            event = {
                "key": rng.choice(METRICS),
                "user": {"id": user_id(rng.randrange(args.users))},
                "value": rng.randint(1, 500),
                "attributes": {"device": rng.choice(DEVICES), "plan": rng.choice(PLANS)},
                "timestamp": when.isoformat().replace("+00:00", "Z"),
            }
            lines.append(dumps(event))
            if len(lines) >= 10_000:
                out.write("\n".join(lines) + "\n")
                lines.clear()
        if lines:
            out.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
