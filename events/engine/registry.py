"""The one place derivations are registered. Every arrival path (the event endpoint,
batches, `import_events`, the demo, `rebuild`) runs exactly these, through the engine.

The streaks, achievements and points work adds its sequential derivations here; nothing
else changes. The totals upsert comes first: the single-event path reads the new total
back from it.
"""

from __future__ import annotations

from .additive import DAILY, TOTALS
from .derivations import Registry
from .streak import STREAK

REGISTRY = Registry(additive=[TOTALS, DAILY], sequential=[STREAK])
