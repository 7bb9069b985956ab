"""Webhooks, the pure part: which trigger of a flow a call is for, and what the flow sees of it.

A flow answers `/api/v1/executions/webhook/{namespace}/{flowId}/{key}` through a trigger of the
type `tercel.core.trigger.Webhook` (Kestra's `io.kestra.plugin.core.trigger.Webhook` and
`io.kestra.core.models.triggers.types.Webhook` are aliases). The key is the only secret, so it
is compared in constant time against every webhook of the flow, and whatever went wrong (no such
flow, no such key, a disabled trigger) looks the same from outside.

The execution sees Kestra's trigger variables:

* `trigger.body`: a text body (content type `text/*`, JSON, XML, YAML, CSV, form-urlencoded,
  or none) as the JSON object or array it parses to, else as the text; a binary body (any other
  content type, or bytes that are not text in their charset) base64-encoded; null when the
  request has no body.
* `trigger.headers`: every header, names in lower case, each with the list of its values.
* `trigger.parameters`: the query string, each name with the list of its values.
* a `multipart/form-data` body is `trigger.formFields` (name → list of values) and
  `trigger.parts` (the files: `name`, `filename`, `contentType`, `size`, `uri` in internal
  storage) instead.

Nothing here does I/O: `controllers.webhooks` reads the request and stores the files.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import hmac
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from ._requests import lone_surrogate

__all__ = [
    "MAX_DEPTH",
    "NOT_FOUND",
    "WEBHOOK_TYPE",
    "WebhookTrigger",
    "body_variable",
    "find_webhook",
    "headers_variable",
    "is_text",
    "parameters_variable",
    "part_filename",
    "trigger_variables",
    "webhook_triggers",
]

WEBHOOK_TYPE = "tercel.core.trigger.Webhook"
"""The canonical type name of the Webhook trigger (the aliases resolve to it)."""

NOT_FOUND = "webhook not found: no enabled Webhook trigger of this flow has this key"
"""The one answer for an unknown flow, a wrong key and a disabled trigger (never say which)."""

MAX_DEPTH = 64
"""A JSON body nesting deeper than this is kept as text, not parsed."""


@dataclass(frozen=True)
class WebhookTrigger:
    """One Webhook trigger of a flow, as its definition says (`spec` is the definition)."""

    id: str
    type: str
    key: Any
    wait: bool = False
    return_outputs: bool = False
    inputs: dict[str, Any] | None = None
    labels: Any = None
    conditions: list[dict[str, Any]] = field(default_factory=list)
    disabled: bool = False
    spec: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def webhook_triggers(
    triggers: Iterable[Any] | None, canonical: Callable[[str], str | None]
) -> list[WebhookTrigger]:
    """The Webhook triggers among a flow's `triggers` definitions, in order.

    `canonical(type_name)` is the canonical name of a type (or None for an unknown one), so an
    alias is recognized as well as the canonical name.
    """
    found: list[WebhookTrigger] = []
    for spec in triggers or ():
        if not isinstance(spec, Mapping):
            continue
        type_name, trigger_id = spec.get("type"), spec.get("id")
        if not isinstance(type_name, str) or not isinstance(trigger_id, str):
            continue
        if canonical(type_name) != WEBHOOK_TYPE:
            continue
        inputs = spec.get("inputs")
        conditions = spec.get("conditions")
        found.append(
            WebhookTrigger(
                id=trigger_id,
                type=type_name,
                key=spec.get("key"),
                wait=_flag(spec.get("wait", False)),
                return_outputs=_flag(spec.get("returnOutputs", False)),
                inputs=dict(inputs) if isinstance(inputs, Mapping) else None,
                labels=spec.get("labels"),
                conditions=[dict(c) for c in conditions if isinstance(c, Mapping)] if isinstance(conditions, list) else [],
                disabled=_flag(spec.get("disabled", False)),
                spec=dict(spec),
            )
        )
    return found


def find_webhook(
    triggers: Sequence[WebhookTrigger],
    key: str,
    *,
    render_key: Callable[[Any], Any],
    disabled: Callable[[WebhookTrigger], bool],
) -> WebhookTrigger | None:
    """The first enabled trigger whose key is `key`, or None.

    Every trigger's key is rendered (a key may be `{{ secret('…') }}`; one that cannot be rendered
    matches nothing) and compared in constant time, whichever matched first, so the time taken
    does not tell which keys came close. `disabled(trigger)` says whether a trigger is off (its
    definition, its flow, or the API).
    """
    wanted = key.encode("utf-8", "surrogatepass")
    chosen: WebhookTrigger | None = None
    for trigger in triggers:
        try:
            actual = render_key(trigger.key)
        except Exception:
            actual = None
        if actual is None or isinstance(actual, dict | list | bool):
            continue
        candidate = str(actual).strip().encode("utf-8", "surrogatepass")
        if not candidate:
            continue
        same = hmac.compare_digest(candidate, wanted)
        if same and chosen is None and not disabled(trigger):
            chosen = trigger
    return chosen


# ---------------------------------------------------------------------------- the request


def _media_type(content_type: str | None) -> tuple[str, str | None]:
    """`text/plain; charset=utf-8` → (`text/plain`, `utf-8`)."""
    if not content_type:
        return "", None
    kind, *params = content_type.split(";")
    charset = None
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"') or None
    return kind.strip().lower(), charset


def is_text(content_type: str | None) -> bool:
    """Whether Kestra reads a body of this content type as text (else it is binary)."""
    kind, _ = _media_type(content_type)
    if not kind or kind.startswith("text/"):
        return True
    sub = kind.partition("/")[2]
    if sub in ("json", "xml", "yaml", "x-yaml", "csv", "x-www-form-urlencoded"):
        return True
    return sub.endswith(("+json", "+xml", "+yaml"))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _too_deep(value: Any) -> bool:
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                return True
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
    return False


def _json_document(text: str) -> dict[str, Any] | list[Any] | None:
    """The JSON object or array `text` is, or None (Kestra parses only those two)."""
    stripped = text.strip()
    if not stripped or stripped[0] not in "[{":
        return None
    try:
        value = json.loads(stripped, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict | list) or _too_deep(value) or lone_surrogate(value) is not None:
        return None  # a "\\ud800" escape is no Unicode text: the body is kept as the text it is
    return value


def body_variable(data: bytes, content_type: str | None) -> Any:
    """`trigger.body`: None for no body; parsed JSON, text, or base64 (see the module doc)."""
    if not data:
        return None
    if is_text(content_type):
        _, charset = _media_type(content_type)
        try:
            codec = codecs.lookup(charset or "utf-8").name
        except LookupError:
            codec = "utf-8"
        try:
            text = data.decode(codec)
        except (UnicodeError, LookupError, binascii.Error):  # LookupError: not a text codec (base64, zlib...)
            text = None
        if text is not None and lone_surrogate(text) is not None:  # utf-7, unicode_escape: not Unicode text
            text = None
        if text is not None:
            document = _json_document(text)
            return text if document is None else document
    return base64.b64encode(data).decode("ascii")


def headers_variable(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, list[str]]:
    """`trigger.headers`: lower-case name → its values, in the order they came."""
    out: dict[str, list[str]] = {}
    for name, value in raw:
        out.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
    return out


def parameters_variable(query_string: bytes | str) -> dict[str, list[str]]:
    """`trigger.parameters`: query parameter name → its values (blank values kept)."""
    text = query_string.decode("latin-1") if isinstance(query_string, bytes) else query_string
    out: dict[str, list[str]] = {}
    for name, value in parse_qsl(text, keep_blank_values=True):
        out.setdefault(name, []).append(value)
    return out


def part_filename(filename: str | None, index: int) -> str:
    """A safe storage file name for an uploaded part: its base name, or `part-<index>`."""
    base = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    base = "".join(ch for ch in base if ch.isprintable() and ch not in "\0")[:200]
    if base in ("", ".", ".."):
        return f"part-{index}"
    return base


def trigger_variables(
    trigger: WebhookTrigger,
    *,
    headers: dict[str, list[str]],
    parameters: dict[str, list[str]],
    body: Any = None,
    form_fields: dict[str, list[str]] | None = None,
    parts: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """What the execution sees as `trigger.*` (and records as its trigger)."""
    variables: dict[str, Any] = {"id": trigger.id, "type": trigger.type}
    if form_fields is not None or parts is not None:
        variables["formFields"] = form_fields or {}
        variables["parts"] = parts or []
    else:
        variables["body"] = body
    variables["headers"] = headers
    variables["parameters"] = parameters
    return variables
