"""`ctx.executions`: what a task may do to executions (Kestra's Resume, Kill, log Fetch, purges).

A flow acts only on executions of its own namespace and of its children (`company.team` reaches
`company.team.sub`, never `company.other`), like namespace files and the KV store. Kestra OSS
has no such check; here it is what keeps one team's flow off another team's executions.

Everything here reads or writes the database, so the tasks calling it are `async def run`: they
run on the event loop thread, where the runtime does all its database work.

Purges only ever touch ENDED executions (a terminated state): an execution that is still
running, paused or queued is skipped, never deleted under the engine's feet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tercel_sdk import PurgeResult, State

from tercel.errors import TercelError

if TYPE_CHECKING:
    from ._runtime import Runtime

__all__ = ["ENDED_STATES", "ExecutionsForTask"]

ENDED_STATES: tuple[str, ...] = tuple(s.value for s in State if s.is_terminated)
"""The states a purge may delete: nothing more will happen to an execution in one of them."""

PAGE_SIZE = 100
"""How many executions a purge reads (and deletes) at a time."""

_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR")
_LEVEL_ALIASES = {"WARNING": "WARN", "CRITICAL": "ERROR", "FATAL": "ERROR"}

# log columns as the store returns them -> Kestra's names in a fetched log entry
_LOG_KEYS = (
    ("task_id", "taskId"),
    ("task_run_id", "taskRunId"),
    ("attempt", "attemptNumber"),
    ("timestamp", "timestamp"),
    ("level", "level"),
    ("thread", "thread"),
    ("message", "message"),
)


def _level(value: str, what: str) -> str:
    name = str(value).strip().upper()
    name = _LEVEL_ALIASES.get(name, name)
    if name not in _LEVELS:
        raise TercelError(f"unknown {what} {value!r}: use one of {', '.join(_LEVELS)}")
    return name


def _aware(value: datetime | None, what: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise TercelError(f"{what} must be a date-time, got {value!r}")
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _state_of(header: Mapping[str, Any]) -> str:
    return str((header.get("state") or {}).get("current") or "CREATED")


class ExecutionsForTask:
    """`tercel_sdk.ExecutionsAccess` for one task run: executions of `namespace` and its children.

    Every method refuses, with a message saying why, an execution that does not exist or that
    belongs to another namespace.
    """

    def __init__(self, runtime: Runtime, namespace: str, execution_id: str) -> None:
        self._runtime = runtime
        self._namespace = namespace
        self._execution_id = execution_id

    # -- access rules ----------------------------------------------------------------------------
    def _reaches(self, namespace: str) -> bool:
        own = self._namespace
        return namespace == own or namespace.startswith(own + ".")

    def _check_namespace(self, namespace: str, action: str) -> None:
        if not self._reaches(namespace):
            raise TercelError(
                f"namespace {self._namespace!r} may not {action} namespace {namespace!r}: a flow "
                f"reaches only its own namespace and its children ({self._namespace}.*)"
            )

    def _header(self, execution_id: str, action: str) -> dict[str, Any]:
        """The stored header of an execution this flow may act on, or a clear refusal."""
        if not isinstance(execution_id, str) or not execution_id.strip():
            raise TercelError(f"cannot {action}: an execution id is required, got {execution_id!r}")
        found = self._runtime.db.executions.get(execution_id.strip())
        if found is None:
            raise TercelError(f"cannot {action} execution {execution_id!r}: no such execution")
        header = found[0]
        namespace = str(header.get("namespace"))
        if not self._reaches(namespace):
            raise TercelError(
                f"cannot {action} execution {execution_id!r}: it belongs to namespace {namespace!r}, "
                f"and a flow of {self._namespace!r} reaches only its own namespace and its children"
            )
        return header

    # -- reading -----------------------------------------------------------------------------------
    def get(self, execution_id: str) -> dict[str, Any]:
        """A summary of an execution: `id`, `namespace`, `flowId`, `state`, `startDate`, `endDate`.

        (Not in the SDK protocol yet: the Resume and Fetch tasks use it to check that an
        execution belongs to the `namespace`/`flowId` they were given, Kill to see if it ended.)
        """
        header = self._header(execution_id, "read")
        return {
            "id": header["id"],
            "namespace": header.get("namespace"),
            "flowId": header.get("flowId"),
            "state": _state_of(header),
            "startDate": header.get("startDate"),
            "endDate": header.get("endDate"),
        }

    def logs(
        self,
        execution_id: str,
        *,
        task_ids: Sequence[str] | None = None,
        min_level: str = "INFO",
    ) -> list[dict[str, Any]]:
        """Log entries of an execution at `min_level` or above, oldest first, in Kestra's shape
        (`namespace`, `flowId`, `executionId`, `taskId`, `taskRunId`, `attemptNumber`,
        `timestamp`, `level`, `message`; keys without a value are left out).

        `task_ids` keeps only the entries of those tasks, in the order the ids are given
        (Kestra's Fetch reads them task by task); None or an empty list keeps every entry.
        """
        header = self._header(execution_id, "read the logs of")
        minimum = _LEVELS.index(_level(min_level, "log level"))
        base = {"namespace": header.get("namespace"), "flowId": header.get("flowId"), "executionId": header["id"]}
        # Runtime.logs stores the entries still buffered in memory first, so a task fetching
        # its own execution's logs sees everything logged before it asked
        rows = [r for r in self._runtime.logs(header["id"]) if _LEVELS.index(_level(r["level"], "log level")) >= minimum]
        if task_ids:
            wanted = [str(t) for t in task_ids]
            rows = [r for task_id in dict.fromkeys(wanted) for r in rows if r.get("task_id") == task_id]
        entries = []
        for row in rows:
            entry = dict(base)
            for key, name in _LOG_KEYS:
                if row.get(key) is not None:
                    entry[name] = row[key]
            entries.append(entry)
        return entries

    # -- acting ------------------------------------------------------------------------------------
    def kill(self, execution_id: str, *, propagate: bool = True) -> bool:
        """Ask the executor to kill an execution; False (and nothing done) if it already ended."""
        header = self._header(execution_id, "kill")
        if State(_state_of(header)).is_terminated:
            return False
        self._runtime.kill(header["id"], propagate=propagate)
        return True

    def resume(self, execution_id: str, inputs: Mapping[str, Any] | None = None) -> None:
        """Resume a PAUSED execution; `inputs` answer its Pause task's `onResume` declarations."""
        header = self._header(execution_id, "resume")
        state = _state_of(header)
        if header["id"] == self._execution_id and state != State.PAUSED.value:
            raise TercelError(
                f"cannot resume the current execution {header['id']!r}: it is {state}, not PAUSED "
                "(it is running this very task). Without `executionId`, Resume acts on its own "
                "execution, which only makes sense when a Pause in another branch (of a Parallel, "
                "say) paused it; set `executionId` to resume another, paused, execution"
            )
        self._runtime.resume_execution(header["id"], dict(inputs) if inputs else None, by=f"execution {self._execution_id}")

    # -- purging -----------------------------------------------------------------------------------
    def purge(
        self,
        *,
        namespace: str | None = None,
        flow_id: str | None = None,
        execution_id: str | None = None,
        start: datetime | None = None,
        end: datetime,
        states: Sequence[str] | None = None,
        executions: bool = True,
        logs: bool = True,
        files: bool = True,
        log_levels: Sequence[str] | None = None,
    ) -> PurgeResult:
        """Delete ENDED executions started in `[start, end)`, their logs and their files.

        Scope: the executions of `flow_id` in `namespace`, else every execution of `namespace`
        and of its child namespaces; `execution_id` narrows it to that one execution. `namespace`
        defaults to the flow's own; another one must be a child of it. `states` narrows the
        ended states (a state that is not an ended one is refused: executions that may still
        move are never purged, they are skipped).

        What goes: with `executions`, the execution record and *all* its logs (the record is
        gone, its logs with it); with `executions=False` and `logs`, the execution's log entries
        at `log_levels` (every level if None); with `files`, every file stored under the
        execution (`execution_prefix_uri`). A purge of logs alone (`executions=False,
        files=False`) works like Kestra's PurgeLogs: `[start, end)` bounds the entries'
        timestamps instead of the executions' start dates.
        """
        end_at = _aware(end, "end")
        if end_at is None:
            raise TercelError("a purge needs an end date: executions started before it are purged")
        start_at = _aware(start, "start")
        if start_at is not None and start_at >= end_at:
            raise TercelError(
                f"the start date {start_at.isoformat()} is not before the end date {end_at.isoformat()}: nothing to purge"
            )
        wanted_states = self._purge_states(states)
        levels: set[str] | None = None
        if log_levels is not None:
            levels = {_level(v, "log level") for v in log_levels}
            if not levels:
                raise TercelError("`logLevels` is empty: give at least one level, or leave it out to purge every level")
            if levels == set(_LEVELS):
                levels = None
        logs_only = not executions and not files
        if not (executions or logs or files):
            return PurgeResult()
        ns = (namespace or "").strip() or self._namespace
        self._check_namespace(ns, "purge executions of")
        target = self._header(execution_id, "purge") if execution_id else None

        def in_scope(header: Mapping[str, Any]) -> bool:
            own = str(header.get("namespace"))
            if flow_id is not None:
                return own == ns and header.get("flowId") == flow_id
            return own == ns or own.startswith(ns + ".")

        counts = {"executions": 0, "logs": 0, "files": 0}

        def purge_one(header: dict[str, Any]) -> bool:
            return self._purge_one(
                header, executions=executions, logs=logs, files=files, levels=levels,
                window=(start_at, end_at) if logs_only else None, counts=counts,
            )

        if target is not None:
            started = _started(target)
            in_window = started is not None and started < end_at and (logs_only or start_at is None or started >= start_at)
            if in_scope(target) and _state_of(target) in wanted_states and in_window:
                purge_one(target)
        else:
            # the store filters on one namespace exactly; a namespace and its children need every
            # namespace read and ours kept (no prefix filter in the store yet)
            query: dict[str, Any] = {"state": wanted_states, "start_before": end_at}
            if start_at is not None and not logs_only:  # entries after `start` may be older executions'
                query["start_after"] = start_at
            if flow_id is not None:
                query.update(namespace=ns, flow_id=flow_id)
            offset = 0
            seen: set[str] = set()
            while True:
                page = self._runtime.db.executions.find(**query, limit=PAGE_SIZE, offset=offset)
                kept = 0
                for header in page:
                    hid = str(header["id"])
                    if hid in seen or not in_scope(header):
                        kept += 1
                        continue
                    seen.add(hid)
                    if not purge_one(header):
                        kept += 1
                if len(page) < PAGE_SIZE:
                    break
                offset += kept  # deleted executions left the result: the next page starts earlier
        return PurgeResult(executions=counts["executions"], logs=counts["logs"], files=counts["files"])

    @staticmethod
    def _purge_states(states: Sequence[str] | None) -> list[str]:
        if states is None:
            return list(ENDED_STATES)
        wanted: list[str] = []
        for value in states:
            name = str(value).strip().upper()
            name = "CANCELLED" if name == "CANCELED" else name
            try:
                state = State(name)
            except ValueError:
                raise TercelError(f"unknown state {value!r}: use one of {', '.join(ENDED_STATES)}") from None
            if not state.is_terminated:
                raise TercelError(
                    f"executions in state {state.value} cannot be purged: only ended executions are "
                    f"({', '.join(ENDED_STATES)})"
                )
            if state.value not in wanted:
                wanted.append(state.value)
        if not wanted:
            raise TercelError("`states` is empty: give at least one state, or leave it out to purge every ended execution")
        return wanted

    def _purge_one(
        self,
        header: dict[str, Any],
        *,
        executions: bool,
        logs: bool,
        files: bool,
        levels: set[str] | None,
        window: tuple[datetime | None, datetime] | None,
        counts: dict[str, int],
    ) -> bool:
        """Purge one execution; True if its record was deleted."""
        from tercel.storage import execution_prefix_uri

        db = self._runtime.db
        execution_id = str(header["id"])
        deleted = False
        with db.transaction() as conn, db.lock_execution(execution_id, conn):
            found = db.executions.get(execution_id, conn=conn)
            if found is None or not State(_state_of(found[0])).is_terminated:
                return False  # deleted meanwhile, or moving again: not ours to delete
            if executions:
                if logs:
                    counts["logs"] += int(db.logs.delete(execution_id=execution_id, conn=conn))
                deleted = bool(db.executions.delete(execution_id, conn=conn))
                counts["executions"] += int(deleted)
            elif logs:
                counts["logs"] += self._purge_logs(execution_id, levels, window, conn)
        if files:
            prefix = execution_prefix_uri(str(header["namespace"]), str(header["flowId"]), execution_id)
            counts["files"] += self._runtime.storage.delete_prefix(prefix)
        return deleted

    def _purge_logs(
        self, execution_id: str, levels: set[str] | None, window: tuple[datetime | None, datetime] | None, conn: Any
    ) -> int:
        """Delete an execution's log entries at `levels` (in `window`), in `conn`'s transaction."""
        db = self._runtime.db
        start, end = window if window is not None else (None, None)
        if levels is None and start is None:
            return int(db.logs.delete(execution_id=execution_id, before=end, conn=conn))
        # The store deletes by execution and date only: rewrite the execution's log without the
        # purged entries, in one transaction and in their order. The execution has ended, so
        # nothing appends to its log meanwhile.
        entries = db.logs.find(execution_id, conn=conn)
        kept = [e for e in entries if not _purged(e, levels, start, end)]
        if len(kept) == len(entries):
            return 0
        db.logs.delete(execution_id=execution_id, conn=conn)
        db.logs.append([{k: v for k, v in e.items() if k != "id"} for e in kept], conn=conn)
        return len(entries) - len(kept)


def _started(header: Mapping[str, Any]) -> datetime | None:
    value = header.get("startDate")
    if not value:
        histories = (header.get("state") or {}).get("histories") or ()
        value = histories[0].get("date") if histories else None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _purged(entry: Mapping[str, Any], levels: set[str] | None, start: datetime | None, end: datetime | None) -> bool:
    if levels is not None and str(entry.get("level")) not in levels:
        return False
    if start is None and end is None:
        return True
    ts = entry.get("timestamp")
    if not isinstance(ts, datetime):
        return False
    ts = ts if ts.tzinfo else ts.replace(tzinfo=UTC)
    return (end is None or ts < end) and (start is None or ts >= start)
