"""Each process keeps the population statistics it last read, per tenant and year.

Recomputing one stale summary on a GET read its periods' populations from the database
(about 40 rows of up to 101 thresholds each, as JSON) and converted them: 6 ms of the
10 ms a recompute took in-process (20,000 users, 2,000,000 events; `make bench`'s stale
GET). The statistics change only when they are refreshed, which makes a new version of
the tenant's set (the periodic refresh, every 10 minutes at most), so a process keeps
the version it read of each set, whole (about 900 populations for two metrics with six
attribute values: one query and 60 ms, once per version), and converts a population's
thresholds on its first lookup. At most `SIZE` sets are kept, the least recently used
dropped first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from .models import Population, PopulationSet
from .populations import Percentiles

SIZE = 32
POPULATION_FIELDS = ("metric_id", "kind", "start", "attribute", "value", "n", "thresholds")

_sets: OrderedDict[Any, tuple[Any, Percentiles]] = OrderedDict()
_lock = threading.Lock()


def percentiles_of(stats: PopulationSet) -> Percentiles:
    """Every population of this set, as of its version (read once per version)."""
    # With what else tells sets apart: a set deleted (its tenant deleted) and made again
    # may reuse the id on SQLite, and a test's rolled-back set does.
    version = (stats.tenant_id, stats.year, stats.version, stats.computed_at)
    with _lock:
        cached = _sets.get(stats.pk)
        if cached is not None and cached[0] == version:
            _sets.move_to_end(stats.pk)
            return cached[1]
    table = Percentiles(Population.objects.filter(set=stats).values_list(*POPULATION_FIELDS))
    with _lock:
        _sets[stats.pk] = (version, table)
        _sets.move_to_end(stats.pk)
        while len(_sets) > SIZE:
            _sets.popitem(last=False)
    return table


def forget(stats: PopulationSet) -> None:
    """Drop this process's copy of the set: called when it is computed again (other
    processes see the new version)."""
    with _lock:
        _sets.pop(stats.pk, None)
