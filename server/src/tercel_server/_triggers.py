"""The triggers API, the pure part: Kestra's trigger JSON for the triggers of stored flows, and
the bodies the acting endpoints accept (see `controllers.triggers`).

A trigger is listed with its definition as written in its flow (`abstractTrigger`) and its state
(`triggerContext`: `date`, `nextExecutionDate`, `executionId`, `disabled`, `backfill`, …). A
trigger the scheduler has not stored a state for yet (a Webhook, a schedule not looked at yet)
has a blank one. `disabled` says whether the trigger is off for any reason: disabled through the
API or by `stopAfter` (what the scheduler stores), in its definition, or with its flow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from typing import Any

from tercel.runtime import to_json_ready
from tercel.scheduler import TriggerState, blank_state

from ._labels import LabelsError, parse_labels

__all__ = [
    "BackfillRequest",
    "BadRequest",
    "TriggerRef",
    "backfill_request",
    "definitions",
    "disabled_request",
    "flow_triggers",
    "matches",
    "states_by_key",
    "trigger_refs",
]


class BadRequest(ValueError):
    """A request body the triggers API cannot use; the message says why."""


@lru_cache(maxsize=512)
def _parsed(source: str) -> tuple[bool, tuple[dict[str, Any], ...]]:
    from ruamel.yaml import YAML

    try:
        document = YAML(typ="safe").load(source)
    except Exception:
        return False, ()
    if not isinstance(document, Mapping):
        return False, ()
    triggers = document.get("triggers")
    items = tuple(
        to_json_ready(dict(t)) for t in (triggers if isinstance(triggers, list) else ())
        if isinstance(t, Mapping) and isinstance(t.get("id"), str) and t.get("id")
    )
    return bool(document.get("disabled")), items


def definitions(source: str) -> tuple[bool, list[dict[str, Any]]]:
    """(the flow is disabled, its trigger definitions as written) from a flow's YAML source."""
    if "triggers" not in source:  # no trigger to look for: no need to parse it
        return False, []
    disabled, items = _parsed(source)
    return disabled, [dict(item) for item in items]


def flow_triggers(
    namespace: str, flow_id: str, source: str, states: Mapping[tuple[str, str, str], TriggerState]
) -> list[tuple[dict[str, Any], TriggerState]]:
    """Each trigger of one flow with its state (the stored one, else a blank one), `disabled`
    when it is off for any reason: the API or `stopAfter`, its definition, or its flow."""
    flow_disabled, items = definitions(source)
    out = []
    for definition in items:
        key = (namespace, flow_id, definition["id"])
        state = states.get(key) or blank_state(*key, str(definition.get("type")))
        if flow_disabled or definition.get("disabled") is True:
            state = replace(state, disabled=True)
        out.append((definition, state))
    return out


def matches(query: str | None, namespace: str, flow_id: str, trigger_id: str) -> bool:
    """Kestra's `q` filter: the text in the namespace, the flow id or the trigger id."""
    if not query:
        return True
    needle = query.lower()
    return any(needle in text.lower() for text in (namespace, flow_id, trigger_id))


# ---------------------------------------------------------------------------- request bodies


@dataclass(frozen=True)
class TriggerRef:
    """One trigger named in a request body: Kestra's trigger JSON (`namespace`, `flowId`, `triggerId`)."""

    namespace: str
    flow_id: str
    trigger_id: str


def _ref(item: Any, where: str) -> TriggerRef:
    if not isinstance(item, Mapping):
        raise BadRequest(f"{where} must be an object with namespace, flowId and triggerId, got {item!r}")
    values = []
    for name in ("namespace", "flowId", "triggerId"):
        value = item.get(name)
        if not isinstance(value, str) or not value:
            raise BadRequest(f"{where} needs a non-empty text {name!r}")
        values.append(value)
    return TriggerRef(*values)


def trigger_refs(body: Any) -> tuple[list[TriggerRef], bool]:
    """`{"triggers": [{namespace, flowId, triggerId}, …], "disabled": true}` → (the triggers, disabled)."""
    if not isinstance(body, Mapping):
        raise BadRequest('send {"triggers": [{"namespace": …, "flowId": …, "triggerId": …}], "disabled": true|false}')
    triggers = body.get("triggers")
    if not isinstance(triggers, list) or not triggers:
        raise BadRequest("'triggers' must be a non-empty list of {namespace, flowId, triggerId}")
    disabled = body.get("disabled")
    if not isinstance(disabled, bool):
        raise BadRequest("'disabled' must be true or false")
    refs = [_ref(item, f"triggers[{i}]") for i, item in enumerate(triggers)]
    return list(dict.fromkeys(refs)), disabled


def disabled_request(body: Any) -> bool:
    """`{"disabled": true|false}` → the flag."""
    value = body.get("disabled") if isinstance(body, Mapping) else None
    if not isinstance(value, bool):
        raise BadRequest('send {"disabled": true} or {"disabled": false}')
    return value


@dataclass(frozen=True)
class BackfillRequest:
    start: datetime
    end: datetime | None
    inputs: dict[str, Any] | None
    labels: dict[str, str] | None


def _date(value: Any, name: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"backfill {name} must be an ISO 8601 date-time text, got {value!r}")
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise BadRequest(f"backfill {name} {value!r} is not an ISO 8601 date-time") from None
    if when.tzinfo is None:
        raise BadRequest(f"backfill {name} {value!r} needs a time zone (like 2024-01-01T00:00:00Z)")
    return when


def backfill_request(body: Any, now: datetime) -> BackfillRequest:
    """`{"start": …, "end": …, "inputs": {…}, "labels": {…} | [{key, value}]}` checked: `start`
    is required and not in the future, `end` (default: now) not before it, dates with a zone."""
    if not isinstance(body, Mapping):
        raise BadRequest('send the backfill as {"start": "2024-01-01T00:00:00Z", "end": …, "inputs": {…}, "labels": {…}}')
    unknown = sorted(set(body) - {"start", "end", "inputs", "labels", "paused"})
    if unknown:
        raise BadRequest(f"unknown backfill field(s) {', '.join(map(repr, unknown))}: use start, end, inputs, labels")
    if body.get("paused"):
        raise BadRequest("a backfill cannot be started paused here (pausing backfills is not supported yet)")
    start = _date(body.get("start"), "start")
    if start is None:
        raise BadRequest("a backfill needs its 'start'")
    end = _date(body.get("end"), "end")
    if start > now:
        raise BadRequest(f"backfill start {start.isoformat()} is in the future: the schedule itself creates those dates")
    if end is not None and end < start:
        raise BadRequest(f"backfill end {end.isoformat()} is before its start {start.isoformat()}")
    inputs = body.get("inputs")
    if inputs is not None and not isinstance(inputs, Mapping):
        raise BadRequest("backfill inputs must be an object of input id → value")
    labels = body.get("labels")
    try:
        parsed = parse_labels(labels) if labels is not None else None
    except LabelsError as exc:
        raise BadRequest(f"backfill labels: {exc}") from None
    return BackfillRequest(start, end, dict(inputs) if inputs else None, parsed or None)


def states_by_key(states: Iterable[TriggerState]) -> dict[tuple[str, str, str], TriggerState]:
    return {state.key: state for state in states}
