"""Queries whose SQL is generated once per process, for the request path.

peewee builds a query's SQL text anew on every execution, and for a model
select with a join that costs more than SQLite answering it (a few hundred
microseconds of Python against tens). ``@prepared`` builds the query once,
with :class:`Arg` placeholders where the call's values go, keeps its SQL and
parameter list, and on every call runs that SQL with the values filled in,
converted by the field they are compared to (as peewee would). Rows come back
as the query would give them (models with their joined models, tuples).

Only the values may change between calls, never the query's shape: a list for
``IN`` has a fixed length (pass it as a constant), an optional condition is a
second prepared query.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import peewee as pw

from calmesh.db import db


class Arg(pw.ColumnBase):
    """The call's ``index``-th value, where a prepared query's builder puts it."""

    def __init__(self, index: int, converter: Callable[[Any], Any] | None = None):
        super().__init__()
        self.index, self.converter = index, converter

    def __sql__(self, ctx):
        # The field this is compared to has set its db_value as the converter.
        converter = self.converter or ctx.state.converter
        return ctx.value(_Slot(self.index, converter), converter=False)


class _Slot:
    __slots__ = ("convert", "index")

    def __init__(self, index: int, convert: Callable[[Any], Any] | None):
        self.index, self.convert = index, convert


# A cursor wrapper's attributes that belong to one execution, not to the query's shape.
_PER_RUN = frozenset({"cursor", "count", "index", "initialized", "populated", "row_cache"})


class Prepared:
    def __init__(self, build: Callable[..., pw.Query]):
        self.build = build
        self.arity = len(inspect.signature(build).parameters)
        self._compiled: tuple[Any, pw.Query, str, list] | None = None
        self._shape: tuple[Any, dict[str, Any]] | None = None

    def _compile(self) -> tuple[Any, pw.Query, str, list]:
        compiled = self._compiled
        # Per database: tests (and a CLI) may open another one in the same process.
        if compiled is None or compiled[0] is not db.obj:
            query = self.build(*(Arg(i) for i in range(self.arity)))
            sql, params = query.sql()
            compiled = self._compiled = (db.obj, query, sql, params)
        return compiled

    def cursor(self, *args: Any) -> Any:
        """The cursor wrapper of the query with ``args``: iterate it for the rows."""
        _, query, sql, template = self._compile()
        params = [
            (p.convert(args[p.index]) if p.convert else args[p.index])
            if isinstance(p, _Slot)
            else p
            for p in template
        ]
        wrapper = query._get_cursor_wrapper(db.execute_sql(sql, params))
        shape = self._shape
        if shape is not None and shape[0] is db.obj:
            wrapper.__dict__.update(shape[1])
            wrapper.initialized = True
        elif wrapper.cursor.description is not None:
            # How columns map to models and converters depends on the SQL alone:
            # worked out on the first call, then given to every later wrapper.
            wrapper.initialize()
            wrapper.initialized = True
            state = {k: v for k, v in vars(wrapper).items() if k not in _PER_RUN}
            self._shape = (db.obj, state)
        return wrapper

    def all(self, *args: Any) -> list:
        return list(self.cursor(*args))

    def first(self, *args: Any) -> Any:
        """The first row, or None (the query should say LIMIT 1)."""
        rows = self.all(*args)  # read to the end: SQLite then finishes the statement
        return rows[0] if rows else None


def prepared(build: Callable[..., pw.Query]) -> Prepared:
    """Decorate a function that takes :class:`Arg` placeholders and returns a query."""
    return Prepared(build)
