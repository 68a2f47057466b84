"""Write the Wrapped benchmark's input: a year of activity as JSON Lines (the
`import_events` format).

    python bench/generate_wrapped.py OUT.jsonl --users 20000 --events 2000000 --year 2025
    python bench/generate_wrapped.py OUT.jsonl --users 1000 --per-user 50 --days 40

Realistic by default: how active a user is follows a heavy-tailed (log-normal) law, so
most users are light and a few heavy (the mean is --events / --users); each user has a
time zone (several, from UTC-10 to UTC+13, where local days differ from UTC days), a
first and a last active day (some join late, some leave early), and spreads its events
over a few favourite days of the week in between, several on a busy day. With
--per-user N, every user has exactly N events over the whole year instead (for comparing
light and heavy users). Metrics `words` and `minutes`; event attributes `device` and
`plan`; values 1 to 500. Deterministic for a given seed.
"""

from __future__ import annotations

import argparse
import json
import math
import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

METRICS = ("words", "minutes")
DEVICES = ("ios", "android", "web")
PLANS = ("free", "pro", "team")
ZONES = (
    "UTC",
    "Europe/Paris",
    "America/New_York",
    "America/Los_Angeles",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Pacific/Honolulu",
    "Pacific/Tongatapu",
)


def user_id(prefix: str, n: int) -> str:
    return f"{prefix}{n:05d}"


def counts(rng: random.Random, users: int, events: int) -> list[int]:
    """Events per user: log-normal weights scaled to `events` in all, at least 1 each."""
    weights = [rng.lognormvariate(0, 1.2) for _ in range(users)]
    scale = events / sum(weights)
    out = [max(1, round(w * scale)) for w in weights]
    # Exactly `events` in all: adjust the heaviest users.
    drift = events - sum(out)
    order = sorted(range(users), key=lambda i: -out[i])
    i = 0
    while drift:
        step = 1 if drift > 0 else -1
        if out[order[i % users]] + step >= 1:
            out[order[i % users]] += step
            drift -= step
        i += 1
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out")
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--per-user", type=int, help="exactly N events per user, all year")
    parser.add_argument("--days", type=int, help="with --per-user: active on exactly D days")
    parser.add_argument("--year", type=int, default=datetime.now(UTC).year - 1)
    parser.add_argument("--prefix", default="user-", help="user ids: PREFIX00000 ...")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.days and not args.per_user:
        parser.error("--days needs --per-user")
    rng = random.Random(args.seed)
    per_user = (
        [args.per_user] * args.users if args.per_user else counts(rng, args.users, args.events)
    )
    first_day = datetime(args.year, 1, 1)
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    with open(args.out, "w", encoding="utf-8") as out:
        for n, count in enumerate(per_user):
            zone = rng.choice(ZONES)
            tz = ZoneInfo(zone)
            if args.per_user:
                start, end = 0, 364
            else:
                start = rng.choice([0, 0, 0, rng.randrange(300)])  # some join late
                end = rng.choice([364, 364, 364, rng.randrange(start, 365)])  # or leave
            favourite = rng.sample(range(7), rng.randint(2, 7))
            days = [
                d
                for d in range(start, end + 1)
                if (first_day + timedelta(d)).weekday() in favourite
            ] or [start]
            if args.per_user and args.days:
                active = sorted(rng.sample(range(365), min(365, args.days)))
            else:
                # Busy days hold several events: at most one active day per ~2 events.
                active = sorted(rng.sample(days, min(len(days), max(1, math.ceil(count / 2)))))
            user = {"id": user_id(args.prefix, n), "tz": zone}
            lines = []
            for _ in range(count):
                day = first_day + timedelta(days=rng.choice(active), seconds=rng.randrange(86400))
                when = day.replace(tzinfo=tz).astimezone(UTC)
                lines.append(
                    dumps(
                        {
                            "key": rng.choice(METRICS),
                            "user": user,
                            "value": rng.randint(1, 500),
                            "attributes": {
                                "device": rng.choice(DEVICES),
                                "plan": rng.choice(PLANS),
                            },
                            "timestamp": when.isoformat().replace("+00:00", "Z"),
                        }
                    )
                )
            out.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
