from typing import Any

from django.apps import AppConfig
from django.db.backends.signals import connection_created


def register_sqlite_functions(sender: Any, connection: Any, **kwargs: Any) -> None:
    """SQLite's form of the SQL function the daily rollup upsert calls (on PostgreSQL,
    migration 0001 creates it in the database)."""
    if connection.vendor == "sqlite":
        from .attribute_sums import ADD_FUNCTION, add_texts

        connection.connection.create_function(ADD_FUNCTION, 2, add_texts, deterministic=True)


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Gamification engine"

    def ready(self) -> None:
        connection_created.connect(
            register_sqlite_functions, dispatch_uid="events.sqlite_functions"
        )
