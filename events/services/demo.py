"""The demo behind `make run`: an organization with synthetic activity from the last days
of the year before the previous one to today, so that the previous calendar year is whole
(what a first `GET /v1/users/{id}/wrapped?year=<last year>` shows) and this year runs up
to today.

Idempotent: the organization, metrics, attributes and users are created when absent, and
events are generated per user and local day by a pure function of (seed, user, date), so
a second run regenerates exactly the events the first one wrote and inserts only those
missing (deterministic idempotency keys tell them apart). On a later day the new days
are topped up, so the data keeps ending today. A demo loaded by a version with a shorter
history gets the days before its oldest one too.

Events are recorded by the event engine (`engine.record_events`, as `import_events`
records them), in one transaction, so a demo interrupted half-way leaves nothing
half-applied.
"""

from __future__ import annotations

import json
import random
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Max, Min

from ..engine import EventColumns, local_date, lock_users, recompute_stale, record_events
from ..ids import uuid7_many
from ..models import ApiKey, Attribute, EndUser, Event, Metric, Organization, Tenant
from ..models.config import AttributeType
from ..numbers import compact
from ..selectors.config import tenant_config
from .admin_config import NewAttribute, NewMetric, attributes_create, metrics_create
from .organizations import api_key_create, organization_create

DEMO_ORGANIZATION = "Demo"
DEMO_KEY_NAME = "demo"
ADMIN_USERNAME = "admin"
# The history starts this many days before 1 January of the previous year: that year's
# first ISO week is whole (it may start on 26 December) and streaks run across 1 January.
LEAD_DAYS = 7
SEED = 2024

METRICS = (
    # key, name, units
    ("lessons-completed", "Lessons completed", "lessons"),
    ("minutes-practiced", "Minutes practiced", "minutes"),
    ("words-learned", "Words learned", "words"),
)
EVENT_ATTRIBUTES = (("source", "Source"),)
USER_ATTRIBUTES = (("plan", "Plan"), ("language", "Language being learned"))
SOURCES = ("web", "ios", "android")
PLANS = ("free", "free", "free", "pro")
LANGUAGES = ("spanish", "french", "german", "japanese", "italian", "portuguese")
TIMEZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "America/Mexico_City",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Madrid",
    "Europe/Paris",
    "Europe/Warsaw",
    "Africa/Lagos",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Asia/Seoul",
    "Australia/Sydney",
    "Pacific/Auckland",
)
FIRST_NAMES = (
    "Ana", "Ben", "Chloé", "Dev", "Emma", "Felix", "Grace", "Hiro", "Isla", "Jonas", "Kai",
    "Lena", "Mateo", "Nia", "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tariq", "Uma", "Viktor",
    "Wen", "Ximena", "Yuki", "Zoe",
)  # fmt: skip
LAST_NAMES = (
    "García", "Smith", "Müller", "Tanaka", "Kowalski", "Okafor", "Patel", "Rossi", "Silva",
    "Nguyen", "Kim", "Dubois", "Johansson", "Haddad", "Brown", "López",
)  # fmt: skip
USER_COUNT = 60

# How each kind of learner shows up: probability of an active day (weekday, weekend).
PROFILES = {
    "streaky": (0.97, 0.95),
    "weekend": (0.07, 0.88),
    "casual": (0.38, 0.45),
    "dropout": (0.75, 0.70),  # until their last day, then never again
    "newcomer": (0.80, 0.75),  # joined during the history, after its first two months
}
# The season, as a factor of those probabilities by month but for streaky learners (who
# keep their streak whatever the month): New Year's resolutions, then summer holidays and
# the end-of-year break (so a recap's most active month means something).
SEASON = (1.12, 1.05, 1.0, 1.0, 0.97, 0.92, 0.85, 0.85, 1.04, 1.0, 1.0, 0.88)
PROFILE_CYCLE = (
    "streaky",
    "casual",
    "weekend",
    "dropout",
    "streaky",
    "casual",
    "newcomer",
    "weekend",
    "dropout",
    "casual",
)


@dataclass(frozen=True)
class DemoUser:
    index: int
    external_id: str
    name: str
    email: str
    tz: str
    profile: str
    platform: str
    plan: str
    language: str
    joined: date  # first possible active day (local)
    last_day: date | None  # dropouts: last possible active day
    morning: bool


@dataclass
class DemoResult:
    organization: Organization
    tenant: Tenant
    api_key: str
    admin_username: str
    admin_password: str
    created_users: int = 0
    created_events: int = 0
    total_events: int = 0
    # A learner with a rich recap and the year to show (the previous one in its time
    # zone, which the demo covers whole); None without learners.
    wrapped_user: str | None = None
    wrapped_year: int = 0
    notes: list[str] = field(default_factory=list)


def history_start(anchor: date) -> date:
    """The first day of the demo's history, loaded first on `anchor` (a UTC date): a week
    before 1 January of the year before. The day before the anchor names the year, since
    on 1 January in UTC the Americas are still in the year before."""
    return date((anchor - timedelta(days=1)).year - 1, 1, 1) - timedelta(days=LEAD_DAYS)


def _demo_users(anchor: date, seed: int, count: int) -> list[DemoUser]:
    """The demo's learners, a pure function of the anchor date (the day the demo was first
    loaded) and the seed, so every run agrees on who they are and when they dropped out.

    Most start with the history (streaky learners within its first days, so their streaks
    cross 1 January); newcomers join at any time after its first two months, and dropouts
    leave at any time from its fourth month to a month before the anchor: the previous
    year has both, and most of the learners are active in each of its months."""
    rng = random.Random(f"{seed}:users")
    start = history_start(anchor)
    span = (anchor - start).days  # a year and a week to two years and a week
    users = []
    for index in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        profile = PROFILE_CYCLE[index % len(PROFILE_CYCLE)]
        joined = start + timedelta(days=rng.randint(0, 3 if profile == "streaky" else 20))
        last_day = None
        if profile == "newcomer":
            joined = start + timedelta(days=rng.randint(60, span - 20))
        elif profile == "dropout":
            last_day = anchor - timedelta(days=rng.randint(30, span - 90))
        slug = f"{first}.{last}".lower().translate(str.maketrans("éüó", "euo"))
        users.append(
            DemoUser(
                index=index,
                external_id=f"learner-{index + 1:03d}",
                name=f"{first} {last}",
                email=f"{slug}.{index + 1}@example.com",
                tz=rng.choice(TIMEZONES),
                profile=profile,
                platform=rng.choice(SOURCES),
                plan=rng.choice(PLANS),
                language=rng.choice(LANGUAGES),
                joined=joined,
                last_day=last_day,
                morning=rng.random() < 0.4,
            )
        )
    return users


# (timestamp, local date, metric key, value, attributes, idempotency key)
DemoEvent = tuple[datetime, date, str, Decimal, dict[str, str], str]
ONE = Decimal(1)


def _day_events(user: DemoUser, day: date, seed: int) -> list[DemoEvent]:
    """One learner's events on one local day: a pure function of (seed, user, day). A day
    has at most one session, on one device: an event per lesson, one per lesson that taught
    new words, and the session's minutes at its end."""
    if day < user.joined or (user.last_day is not None and day > user.last_day):
        return []
    rng = random.Random(f"{seed}:{user.index}:{day.isoformat()}")
    weekday_p, weekend_p = PROFILES[user.profile]
    season = 1.0 if user.profile == "streaky" else SEASON[day.month - 1]
    if rng.random() >= (weekend_p if day.weekday() >= 5 else weekday_p) * season:
        return []
    tz = ZoneInfo(user.tz)
    events: list[DemoEvent] = []
    start_hour = rng.choice((7, 8, 9)) if user.morning else rng.choice((17, 19, 20, 21))
    moment = datetime.combine(day, time(start_hour, rng.randint(0, 59)), tzinfo=tz)
    attributes = {"source": user.platform if rng.random() < 0.8 else rng.choice(SOURCES)}
    practiced = 0
    for lesson in range(rng.choices((1, 2, 3, 4), weights=(35, 35, 20, 10))[0]):
        minutes = rng.randint(4, 20)
        moment += timedelta(minutes=minutes + rng.randint(0, 40))
        timestamp = moment.astimezone(UTC)
        if local_date(timestamp, user.tz) != day:
            break  # a late session ran past midnight; keep the day's events on the day
        practiced += minutes
        idempotency_key = f"demo-{day.isoformat()}-{lesson}"
        events.append((timestamp, day, "lessons-completed", ONE, attributes, idempotency_key))
        if rng.random() < 0.7:  # a review lesson teaches no new words
            words = Decimal(rng.randint(3, 15))
            events.append((timestamp, day, "words-learned", words, attributes, idempotency_key))
    if practiced:
        ended, session_key = events[-1][0], f"demo-{day.isoformat()}-session"
        total = Decimal(practiced)
        events.append((ended, day, "minutes-practiced", total, attributes, session_key))
    return events


def _ensure_config(tenant: Tenant) -> dict[str, Metric]:
    """Create the demo's metrics and attributes that are missing, through the Admin API's
    services (which also bump the tenant's config version). Returns metrics by key."""
    active_keys = set(Metric.objects.active().filter(tenant=tenant).values_list("key", flat=True))
    metrics_create(
        tenant=tenant,
        items=[
            NewMetric(index=i, key=key, name=name, units=units)
            for i, (key, name, units) in enumerate(METRICS)
            if key not in active_keys
        ],
    )
    existing = set(Attribute.objects.active().filter(tenant=tenant).values_list("type", "key"))
    wanted = [(AttributeType.EVENT, k, n) for k, n in EVENT_ATTRIBUTES] + [
        (AttributeType.USER, k, n) for k, n in USER_ATTRIBUTES
    ]
    attributes_create(
        tenant=tenant,
        items=[
            NewAttribute(index=i, key=key, name=name, type=kind)
            for i, (kind, key, name) in enumerate(wanted)
            if (kind, key) not in existing
        ],
    )
    return {m.key: m for m in Metric.objects.active().filter(tenant=tenant)}


def _ensure_users(tenant: Tenant, users: list[DemoUser], now: datetime) -> tuple[dict, int]:
    existing = dict(
        EndUser.objects.filter(
            tenant=tenant, external_id__in=[u.external_id for u in users]
        ).values_list("external_id", "pk")
    )
    missing = [
        EndUser(
            tenant=tenant,
            external_id=u.external_id,
            name=u.name,
            email=u.email,
            tz=u.tz,
            attributes={"plan": u.plan, "language": u.language},
            created=datetime.combine(u.joined, time(0), tzinfo=ZoneInfo(u.tz)),
            updated=now,
        )
        for u in users
        if u.external_id not in existing
    ]
    EndUser.objects.bulk_create(missing)
    if missing:
        existing = dict(
            EndUser.objects.filter(
                tenant=tenant, external_id__in=[u.external_id for u in users]
            ).values_list("external_id", "pk")
        )
    return existing, len(missing)


def _load_events(
    tenant: Tenant,
    users: list[DemoUser],
    user_pks: dict[str, int],
    metrics: dict[str, Metric],
    anchor: date,
    now: datetime,
    seed: int,
) -> int:
    start = history_start(anchor)
    last_day = now.date() + timedelta(days=1)  # the furthest-ahead time zone's today
    loaded = Event.objects.filter(tenant=tenant).aggregate(
        oldest=Min("local_date"), newest=Max("local_date")
    )
    spans = [(start, last_day)]
    if loaded["newest"] is not None:
        # Regenerate from the day before the newest loaded one: time zones spread "today"
        # over two dates, and the last run may have stopped part-way through a day.
        first_day = loaded["newest"] - timedelta(days=1)
        # And the days before the oldest loaded one: none but in a demo loaded by a
        # version with a shorter history, which has no events there to skip.
        spans = [
            (start, min(loaded["oldest"], first_day) - timedelta(days=1)),
            (first_day, last_day),
        ]
    seen = set(
        Event.objects.filter(tenant=tenant, local_date__gte=spans[-1][0]).values_list(
            "user_id", "metric_id", "idempotency_key"
        )
    )
    rows: list[tuple[datetime, int, Metric, Decimal, dict[str, str], date, str]] = []
    for user in users:
        user_pk = user_pks[user.external_id]
        for first, last in spans:
            day = first
            while day <= last:
                for timestamp, on, key, value, attributes, ikey in _day_events(user, day, seed):
                    metric = metrics[key]
                    if timestamp > now or (user_pk, metric.pk, ikey) in seen:
                        continue
                    rows.append((timestamp, user_pk, metric, value, attributes, on, ikey))
                day += timedelta(days=1)
    # Ids in timestamp order, so the event log (newest id first) reads like history.
    rows.sort(key=lambda r: (r[0], r[1], r[2].key))
    events = EventColumns(
        ids=uuid7_many(len(rows)),
        users=[user_pk for _ts, user_pk, *_rest in rows],
        metrics=[metric.pk for _ts, _u, metric, *_rest in rows],
        values=[compact(value) for _ts, _u, _m, value, *_rest in rows],
        attributes=[attributes for *_head, attributes, _d, _k in rows],
        timestamps=[timestamp for timestamp, *_rest in rows],
        local_dates=[day for *_head, day, _k in rows],
        keys=[ikey for *_head, ikey in rows],
    )
    applied = lock_users(user_pks.values())
    record_events(tenant=tenant, events=events, applied=applied, received_at=now)
    recompute_stale(tenant=tenant, config=tenant_config(tenant))
    return len(rows)


def _read_credentials(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _live_key(organization: Organization, secret: Any) -> bool:
    if not isinstance(secret, str) or "." not in secret:
        return False
    prefix, _, body = secret.partition(".")
    key = ApiKey.objects.filter(organization=organization, prefix=prefix).first()
    return key is not None and key.is_active and key.matches(body)


def _ensure_admin(password: Any) -> str:
    """The demo superuser; keeps the remembered password if it still works."""
    user_model = get_user_model()
    admin, _created = user_model.objects.get_or_create(
        username=ADMIN_USERNAME,
        defaults={"email": "admin@example.com", "is_staff": True, "is_superuser": True},
    )
    if isinstance(password, str) and admin.check_password(password) and admin.is_superuser:
        return password
    password = secrets.token_urlsafe(12)
    admin.set_password(password)
    admin.is_staff = admin.is_superuser = admin.is_active = True
    admin.save()
    return password


@transaction.atomic
def demo_load(
    *, credentials_path: Path, now: datetime, seed: int = SEED, user_count: int = USER_COUNT
) -> DemoResult:
    """Create or top up the demo organization; return it with a working admin API key and
    the demo superuser's password (both remembered in `credentials_path`, since only a hash
    of the key is stored)."""
    credentials = _read_credentials(credentials_path)
    organization = Organization.objects.filter(name=DEMO_ORGANIZATION).order_by("created").first()
    secret: str | None = None
    if organization is None:
        organization, secret = organization_create(
            name=DEMO_ORGANIZATION, default_timezone="UTC", key_name=DEMO_KEY_NAME
        )
    elif _live_key(organization, credentials.get("api_key")):
        secret = credentials["api_key"]
    else:
        _key, secret = api_key_create(organization=organization, name=DEMO_KEY_NAME)
    tenant = organization.default_tenant
    assert tenant is not None  # organization_create always sets it
    metrics = _ensure_config(tenant)
    # The day the demo was first loaded: dropouts and newcomers are dated from it, so
    # later runs agree with the first about everyone's history.
    anchor = local_date(tenant.created, "UTC")
    users = _demo_users(anchor, seed, user_count)
    user_pks, created_users = _ensure_users(tenant, users, now)
    created_events = _load_events(tenant, users, user_pks, metrics, anchor, now, seed)
    password = _ensure_admin(credentials.get("admin_password"))
    assert secret is not None
    new_credentials = {
        "organization_id": str(organization.pk),
        "api_key": secret,
        "admin_username": ADMIN_USERNAME,
        "admin_password": password,
    }
    if new_credentials != credentials:
        credentials_path.parent.mkdir(parents=True, exist_ok=True)
        credentials_path.write_text(json.dumps(new_credentials, indent=2) + "\n")
        credentials_path.chmod(0o600)
    return DemoResult(
        organization=organization,
        tenant=tenant,
        api_key=secret,
        admin_username=ADMIN_USERNAME,
        admin_password=password,
        created_users=created_users,
        created_events=created_events,
        total_events=Event.objects.filter(tenant=tenant).count(),
        wrapped_user=users[0].external_id if users else None,
        wrapped_year=local_date(now, users[0].tz if users else "UTC").year - 1,
    )
