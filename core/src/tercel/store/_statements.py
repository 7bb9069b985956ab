"""Every statement the store runs, defined once in SQLAlchemy Core.

This is the single source of truth for the store's SQL. PostgreSQL compiles from it at run
time (see `_postgres`). SQLite runs the same definitions compiled ahead of time into
`_sqlite_sql` (see `_generate`), so the embedded default never imports SQLAlchemy.

Statements are named ``<area>.<what>``. A query whose WHERE clause depends on which optional
filters the caller gives (`DYNAMIC`) has one statement per subset of them, named by
`variant` (``executions.find[namespace,state]``): every SQL text exists before it is needed,
and each gets the plan that suits its filters. Values the caller chooses are always bind
parameters, so a statement's text never depends on them.

Where the dialects differ, the difference is written here:

* a list parameter is an array (``= ANY(…)``) on PostgreSQL and a JSON array read with
  ``json_each`` on SQLite (one statement text for any length, see `Codec.array`);
* label filters use the GIN-indexed ``@>`` on PostgreSQL and ``json_each`` on SQLite;
* queue times: "now" is the server's clock on PostgreSQL (``now() + interval``) and
  instants computed by Python on SQLite (see `tercel.store._queue`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from itertools import combinations
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    ColumnElement,
    Interval,
    String,
    Text,
    and_,
    any_,
    bindparam,
    cast,
    column,
    exists,
    func,
    literal_column,
    null,
    or_,
    select,
    table,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.expression import Executable

from tercel.store._flows import COLUMNS as FLOW_COLUMNS
from tercel.store._logs import COLUMNS as LOG_COLUMNS
from tercel.store._schema import (
    UTCDateTime,
    executions,
    flows,
    logs,
    queue_jobs,
    schema_version,
    task_runs,
    triggers,
)
from tercel.store._sql import variant
from tercel.store._triggers import COLUMNS as TRIGGER_COLUMNS

__all__ = ["DYNAMIC", "build", "fixed", "names"]

Fixed = dict[str, Executable]

# -- schema version ------------------------------------------------------------------------------

_sqlite_master = table("sqlite_master", column("type"), column("name"))


def _schema(pg: bool) -> Fixed:
    v = schema_version.c
    statements: Fixed = {
        "schema.version": select(v.version).where(v.id == 1),
        "schema.insert": schema_version.insert().values(
            id=1, version=bindparam("version"), updated=bindparam("updated")
        ),
        "schema.update": schema_version.update()
        .where(v.id == 1)
        .values(version=bindparam("version"), updated=bindparam("updated")),
    }
    if pg:
        statements["lock.advisory"] = select(
            func.pg_advisory_xact_lock(bindparam("key", type_=BigInteger()))
        )
    else:
        # what SQLAlchemy's inspector would ask, as one statement
        statements["schema.has_table"] = select(literal_column("1")).where(
            _sqlite_master.c.type == "table", _sqlite_master.c.name == bindparam("name")
        )
    return statements


# -- executions ----------------------------------------------------------------------------------

_e = executions.c
_EXECUTION_COLUMNS = (
    "namespace",
    "flow_id",
    "state",
    "start_date",
    "end_date",
    "labels",
    "document",
)
# what a save may change: where an execution is from and when it started are fixed at create,
# and leaving them out of the SET spares SQLite rewriting the two indexes that hold them
_MUTABLE = ("state", "end_date", "labels", "document")


def _executions(pg: bool) -> Fixed:
    upsert = (pg_insert if pg else sqlite_insert)(task_runs)
    return {
        "executions.insert": executions.insert().values(
            id=bindparam("b_id"),
            version=bindparam("version"),
            tr_seq=bindparam("tr_seq"),
            **{name: bindparam(name) for name in _EXECUTION_COLUMNS},
        ),
        "executions.update": executions.update()
        .where(_e.id == bindparam("b_id"), _e.version == bindparam("expected"))
        .values(
            version=_e.version + 1,
            tr_seq=_e.tr_seq + bindparam("new_runs"),
            **{name: bindparam(name) for name in _MUTABLE},
        )
        .returning(_e.version, _e.tr_seq),
        "executions.version": select(_e.version).where(_e.id == bindparam("b_id")),
        "executions.get": select(_e.document, _e.version).where(_e.id == bindparam("b_id")),
        "executions.get_runs": select(task_runs.c.document)
        .where(task_runs.c.execution_id == bindparam("b_id"))
        .order_by(task_runs.c.ordinal),
        "executions.insert_runs": task_runs.insert(),
        # the ordinal is only written on first insert: an update keeps the creation order
        "executions.upsert_runs": upsert.on_conflict_do_update(
            index_elements=[task_runs.c.execution_id, task_runs.c.id],
            set_={"document": upsert.excluded.document},
        ),
        "executions.delete": executions.delete().where(_e.id == bindparam("b_id")),
        "executions.delete_run": task_runs.delete().where(
            task_runs.c.execution_id == bindparam("b_id"), task_runs.c.id == bindparam("run_id")
        ),
    }


def _find_executions(pg: bool, filters: frozenset[str]) -> Executable:
    """Headers, newest start first. ``state`` is a list (`Codec.array`); ``labels`` is the
    JSON text of an object whose entries must all be among the execution's labels."""
    return (
        _execution_filters(select(_e.document, _e.version), pg, filters)
        .order_by(_e.start_date.desc(), _e.id.desc())
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
    )


def _count_executions(pg: bool, filters: frozenset[str]) -> Executable:
    """How many executions `_find_executions` would find with no limit (a page's `total`)."""
    return _execution_filters(select(func.count()).select_from(executions), pg, filters)


def _execution_filters(stmt: Any, pg: bool, filters: frozenset[str]) -> Any:
    if "namespace" in filters:
        stmt = stmt.where(_e.namespace == bindparam("namespace"))
    if "flow_id" in filters:
        stmt = stmt.where(_e.flow_id == bindparam("flow_id"))
    if "state" in filters:
        if pg:
            stmt = stmt.where(_e.state == any_(bindparam("state", type_=ARRAY(String()))))
        else:
            stmt = stmt.where(_e.state.in_(_json_values(bindparam("state"))))
    if "start_after" in filters:
        stmt = stmt.where(_e.start_date >= bindparam("start_after"))
    if "start_before" in filters:
        stmt = stmt.where(_e.start_date < bindparam("start_before"))
    if "labels" in filters:
        if pg:
            # containment uses the GIN index
            wanted = cast(bindparam("labels", type_=Text()), JSONB)
            stmt = stmt.where(type_coerce(_e.labels, JSONB).contains(wanted))
        else:
            # no wanted entry is missing from the execution's labels
            want = func.json_each(bindparam("labels")).table_valued("key", "value").alias("want")
            have = func.json_each(_e.labels).table_valued("key", "value").alias("have")
            missing = ~exists(
                select(literal_column("1"))
                .select_from(have)
                .where(have.c.key == want.c.key, have.c.value == want.c.value)
            )
            stmt = stmt.where(~exists(select(literal_column("1")).select_from(want).where(missing)))
    return stmt


def _json_values(param: Any) -> Executable:
    """``SELECT value FROM json_each(:param)``: the items of a JSON array parameter."""
    return select(column("value")).select_from(func.json_each(param))


# -- flows ---------------------------------------------------------------------------------------

_f = flows.c
_flow_columns = [_f[name] for name in FLOW_COLUMNS]


def _flows(pg: bool) -> Fixed:
    key = and_(_f.namespace == bindparam("namespace"), _f.flow_id == bindparam("flow_id"))
    return {
        "flows.latest": select(*_flow_columns).where(key).order_by(_f.revision.desc()).limit(1),
        "flows.one": select(*_flow_columns).where(key, _f.revision == bindparam("revision")),
        "flows.revisions": select(*_flow_columns).where(key).order_by(_f.revision),
        "flows.insert": flows.insert(),
        # changes with every save and delete (each adds a revision): how another process
        # notices, cheaply, that the flows changed
        "flows.stamp": select(func.count(), func.max(_f.created)).select_from(flows),
    }


def _list_flows(pg: bool, filters: frozenset[str]) -> Executable:
    """Latest revision of every live flow. ``prefix`` takes two parameters: the namespace
    itself (``prefix``) and the LIKE pattern of its children (``prefix_like``, escaped with
    a backslash)."""
    latest = select(_f.namespace, _f.flow_id, func.max(_f.revision).label("revision")).group_by(
        _f.namespace, _f.flow_id
    )
    if "namespace" in filters:
        latest = latest.where(_f.namespace == bindparam("namespace"))
    if "prefix" in filters:
        latest = latest.where(
            or_(
                _f.namespace == bindparam("prefix"),
                _f.namespace.like(bindparam("prefix_like"), escape="\\"),
            )
        )
    m = latest.subquery()
    return (
        select(*_flow_columns)
        .join(
            m,
            and_(
                _f.namespace == m.c.namespace,
                _f.flow_id == m.c.flow_id,
                _f.revision == m.c.revision,
            ),
        )
        .where(_f.deleted.is_(False))
        .order_by(_f.namespace, _f.flow_id)
    )


# -- logs ----------------------------------------------------------------------------------------

_l = logs.c


def _logs(pg: bool) -> Fixed:
    return {
        "logs.insert": logs.insert().values(**{name: bindparam(name) for name in LOG_COLUMNS[1:]})
    }


def _find_logs(pg: bool, filters: frozenset[str]) -> Executable:
    stmt = select(*(_l[name] for name in LOG_COLUMNS)).where(
        _l.execution_id == bindparam("execution_id")
    )
    if "task_run_id" in filters:
        stmt = stmt.where(_l.task_run_id == bindparam("task_run_id"))
    if "min_level" in filters:
        stmt = stmt.where(_l.level >= bindparam("min_level"))
    if "after_id" in filters:
        stmt = stmt.where(_l.id > bindparam("after_id"))
    stmt = stmt.order_by(_l.id)
    if "limit" in filters:
        stmt = stmt.limit(bindparam("limit"))
    return stmt


def _delete_logs(pg: bool, filters: frozenset[str]) -> Executable:
    stmt = logs.delete()
    if "execution_id" in filters:
        stmt = stmt.where(_l.execution_id == bindparam("execution_id"))
    if "before" in filters:
        stmt = stmt.where(_l.timestamp < bindparam("before"))
    return stmt


# -- queue ---------------------------------------------------------------------------------------

_q = queue_jobs.c
_UTC = UTCDateTime()


def _now(pg: bool) -> ColumnElement[Any]:
    """The current instant: the server's clock on PostgreSQL, ``:p_now`` on SQLite."""
    if pg:
        return func.now(type_=_UTC)
    return bindparam("p_now", type_=_UTC)


def _later(pg: bool, name: str) -> ColumnElement[Any]:
    """``now + <name>`` seconds: computed by the server on PostgreSQL (``<name>`` is an
    interval), given as an instant on SQLite."""
    if pg:
        return func.now(type_=_UTC) + bindparam(name, type_=Interval())
    return bindparam(name, type_=_UTC)


def _queue(pg: bool) -> Fixed:
    values = {
        "topic": bindparam("p_topic"),
        "key": bindparam("p_key"),
        "payload": bindparam("p_payload"),
        "attempts": 0,
        "available_at": _later(pg, "p_at"),
        "visible_at": _later(pg, "p_at"),
    }
    claimable = (
        select(_q.id)
        .where(_q.topic == bindparam("p_topic"), _q.visible_at <= _now(pg))
        .order_by(_q.visible_at, _q.id)
        .limit(bindparam("p_limit"))
        # PostgreSQL: concurrent consumers skip each other's rows; SQLite omits the clause
        .with_for_update(skip_locked=True)
    )
    if pg:
        in_ids = _q.id == any_(bindparam("p_ids", type_=ARRAY(BigInteger())))
    else:
        in_ids = _q.id.in_(_json_values(bindparam("p_ids")))
    statements: Fixed = {
        "queue.put": queue_jobs.insert().values(**values).returning(_q.id),
        "queue.claim": queue_jobs.update()
        .where(_q.id.in_(claimable.scalar_subquery()))
        .values(
            visible_at=_later(pg, "p_lease"),
            consumer=bindparam("p_consumer"),
            attempts=_q.attempts + 1,
        )
        .returning(_q.id, _q.key, _q.payload, _q.attempts, _q.available_at),
        "queue.ack": queue_jobs.delete().where(in_ids),
        "queue.release": queue_jobs.update()
        .where(_q.id == bindparam("p_id"))
        .values(
            available_at=_later(pg, "p_at"),
            visible_at=_later(pg, "p_at"),
            consumer=null(),
        )
        .returning(_q.topic),
        "queue.extend": queue_jobs.update()
        .where(in_ids, _q.consumer.is_not(None))
        .values(visible_at=_later(pg, "p_lease")),
        "queue.next_visible": select(func.min(_q.visible_at), _now(pg)).where(
            _q.topic == bindparam("p_topic")
        ),
        "queue.pending": select(func.count()).where(_q.topic == bindparam("p_topic")),
    }
    if pg:
        # several rows in one statement, ids back in parameter order (SQLAlchemy's
        # insertmanyvalues): run through SQLAlchemy, so Python values, not driver form.
        # SQLite runs "queue.put" once per job instead (no round trips to save there).
        statements["queue.put_many"] = (
            queue_jobs.insert().values(**values).returning(_q.id, sort_by_parameter_order=True)
        )
        statements["queue.notify"] = select(
            func.pg_notify(bindparam("p_channel"), bindparam("p_topic"))
        )
    return statements


# -- triggers ------------------------------------------------------------------------------------

_t = triggers.c
# a trigger row and the current state of the execution it waits for (NULL when there is none)
_trigger_rows = select(*(_t[name] for name in TRIGGER_COLUMNS), _e.state).select_from(
    triggers.outerjoin(executions, _e.id == _t.execution_id)
)
_TRIGGER_KEY = ("namespace", "flow_id", "trigger_id")


def _triggers(pg: bool) -> Fixed:
    key = and_(*(_t[name] == bindparam(name) for name in _TRIGGER_KEY))
    upsert = (pg_insert if pg else sqlite_insert)(triggers).values(
        **{name: bindparam(name) for name in TRIGGER_COLUMNS}
    )
    return {
        "triggers.get": _trigger_rows.where(key),
        "triggers.upsert": upsert.on_conflict_do_update(
            index_elements=[_t[name] for name in _TRIGGER_KEY],
            set_={
                name: upsert.excluded[name] for name in TRIGGER_COLUMNS if name not in _TRIGGER_KEY
            },
        ),
        "triggers.delete": triggers.delete().where(key),
        "triggers.delete_flow": triggers.delete().where(
            _t.namespace == bindparam("namespace"), _t.flow_id == bindparam("flow_id")
        ),
    }


def _list_triggers(pg: bool, filters: frozenset[str]) -> Executable:
    stmt = _trigger_rows
    if "namespace" in filters:
        stmt = stmt.where(_t.namespace == bindparam("namespace"))
    if "flow_id" in filters:
        stmt = stmt.where(_t.flow_id == bindparam("flow_id"))
    return stmt.order_by(_t.namespace, _t.flow_id, _t.trigger_id)


# -- the catalog ---------------------------------------------------------------------------------

_FIXED: tuple[Callable[[bool], Fixed], ...] = (
    _schema,
    _executions,
    _flows,
    _logs,
    _queue,
    _triggers,
)

#: The queries with optional filters, their filters, and which subsets of them exist.
DYNAMIC: dict[str, tuple[Callable[[bool, frozenset[str]], Executable], tuple[str, ...]]] = {
    "executions.find": (
        _find_executions,
        ("namespace", "flow_id", "state", "labels", "start_after", "start_before"),
    ),
    "executions.count": (
        _count_executions,
        ("namespace", "flow_id", "state", "labels", "start_after", "start_before"),
    ),
    "flows.list": (_list_flows, ("namespace", "prefix")),
    "logs.find": (_find_logs, ("task_run_id", "min_level", "after_id", "limit")),
    "logs.delete": (_delete_logs, ("execution_id", "before")),
    "triggers.list": (_list_triggers, ("namespace", "flow_id")),
}
# no statement deletes every log: at least one filter is required
_NO_EMPTY_SUBSET = frozenset({"logs.delete"})


def _subsets(query: str) -> list[frozenset[str]]:
    filters = DYNAMIC[query][1]
    first = 1 if query in _NO_EMPTY_SUBSET else 0
    return [
        frozenset(chosen)
        for size in range(first, len(filters) + 1)
        for chosen in combinations(filters, size)
    ]


@cache
def fixed(dialect: str) -> Fixed:
    """Every statement without variants for ``dialect`` (``sqlite`` or ``postgresql``),
    built once per process (callers must not modify the mapping)."""
    pg = _is_pg(dialect)
    statements: Fixed = {}
    for part in _FIXED:
        statements.update(part(pg))
    return statements


def build(name: str, dialect: str) -> Executable:
    """The Core statement ``name`` for ``dialect`` (a fixed one, or a `variant`)."""
    query, bracket, rest = name.partition("[")
    if not bracket:
        return fixed(dialect)[name]
    builder, allowed = DYNAMIC[query]
    chosen = frozenset(rest.removesuffix("]").split(",")) - {""}
    if not chosen <= set(allowed) or variant(query, chosen) != name:
        raise KeyError(name)
    return builder(_is_pg(dialect), chosen)


def names(dialect: str) -> list[str]:
    """Every statement name for ``dialect``, variants included, in a stable order."""
    every = list(fixed(dialect))
    for query in DYNAMIC:
        every.extend(sorted(variant(query, chosen) for chosen in _subsets(query)))
    return every


def _is_pg(dialect: str) -> bool:
    if dialect not in ("sqlite", "postgresql"):
        raise ValueError(f"unknown dialect {dialect!r}")
    return dialect == "postgresql"
