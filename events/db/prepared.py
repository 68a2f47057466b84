"""Reads compiled to SQL once per process, for the hot path.

Compiling a queryset costs Django 250-300 µs (measured here for the reads every event
makes: the API key, the user), more than the database takes to answer them. A `PreparedQuery` builds its queryset once with sample values,
keeps the compiled SQL, the compiler and its result converters, and then only binds new
parameter values: the results still go through Django's converters and `Model.from_db`
(and `select_related` population), so callers get exactly what the queryset would have
returned.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

from django.db import connections, models
from django.db.models.query import get_related_populators


class _Compiled(NamedTuple):
    compiler: Any
    sql: str
    order: list[int]  # which encoded argument each SQL parameter is
    converters: dict[int, Any]


class PreparedQuery:
    """`build(*samples)` returns the queryset; `fields[i]` is the model field whose
    `get_db_prep_value` encodes argument i. The samples must be distinct: compiling
    matches each SQL parameter to the sample Django encoded there, which gives the order
    to bind later values in (Django orders filter() keywords by name, not as written)."""

    def __init__(
        self,
        build: Callable[..., models.QuerySet[Any]],
        *,
        samples: Sequence[Any],
        fields: Sequence[models.Field[Any, Any]],
        using: str = "default",
    ) -> None:
        self.build = build
        self.samples = tuple(samples)
        self.fields = tuple(fields)
        self.using = using
        self._compiled: dict[str, _Compiled] = {}
        self._lock = threading.Lock()

    def _compile(self) -> _Compiled:
        connection = connections[self.using]
        key = connection.vendor
        compiled = self._compiled.get(key)
        if compiled is None:
            queryset = self.build(*self.samples)
            compiler = queryset.query.get_compiler(using=self.using)
            sql, params = compiler.as_sql()
            encoded = self._params(self.samples)
            if len(set(map(repr, encoded))) != len(encoded) or not all(
                p in encoded for p in params
            ):
                raise AssertionError(f"cannot match parameters {params!r} to samples {encoded!r}")
            # What results_iter() would work out again on every call.
            fields = [s[0] for s in compiler.select[0 : compiler.col_count]]
            if compiler.has_composite_fields(fields):
                raise AssertionError("composite fields are not supported")
            compiled = _Compiled(
                compiler, sql, [encoded.index(p) for p in params], compiler.get_converters(fields)
            )
            with self._lock:
                self._compiled[key] = compiled
        return compiled

    def _params(self, values: Sequence[Any]) -> list[Any]:
        connection = connections[self.using]
        return [
            f.get_db_prep_value(v, connection) for f, v in zip(self.fields, values, strict=True)
        ]

    @staticmethod
    def _converted(compiled: _Compiled, raw: Iterable[Sequence[Any]]) -> Iterable[Sequence[Any]]:
        if not compiled.converters:
            return raw
        return compiled.compiler.apply_converters(raw, compiled.converters)

    def _rows(self, values: Sequence[Any]) -> tuple[Any, list[Any]]:
        compiled = self._compile()
        encoded = self._params(values)
        with connections[self.using].cursor() as cursor:
            cursor.execute(compiled.sql, [encoded[i] for i in compiled.order])
            raw = cursor.fetchall()
        return compiled.compiler, list(self._converted(compiled, raw))

    def objects(self, *values: Any) -> list[Any]:
        """Model instances (with select_related objects), as iterating the queryset would."""
        compiler, rows = self._rows(values)
        select, klass_info = compiler.select, compiler.klass_info
        model = klass_info["model"]
        select_fields = klass_info["select_fields"]
        start, end = select_fields[0], select_fields[-1] + 1
        init_list = [column[0].target.attname for column in select[start:end]]
        # django-stubs 6.x describes Django 6's signature (an added fetch_mode); this is 5.2.
        populators = get_related_populators(klass_info, select, self.using)  # type: ignore[call-arg]
        objects = []
        for row in rows:
            obj = model.from_db(self.using, init_list, row[start:end])
            for populator in populators:
                populator.populate(row, obj)
            objects.append(obj)
        return objects

    def rows(self, *values: Any) -> list[tuple[Any, ...]]:
        """Rows of every selected column, converted, in the order of the SQL: a
        `values_list()` queryset's when its annotations come last (Django selects them
        after the fields, and only `values_list` puts them back in the order asked)."""
        _, rows = self._rows(values)
        return [tuple(row) for row in rows]
