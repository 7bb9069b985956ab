"""`{{ cookiecutter.type_prefix }}.Trigger`: start an execution when a document changes.

A polling trigger: the scheduler calls `evaluate(ctx)` every `interval`, in a worker thread (or
on its event loop for an `async def`). `ctx` gives `render` (properties, in the flow's context),
`logger`, `secret`, `kv`, `namespace_files`, `put_file` and `memory`, a small JSON-able dict the
scheduler keeps between checks: here, a digest of the last document seen.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import Field
from tercel_sdk import Example, PollingTrigger, Property, TriggerEvent

from ._http import get, redact

__all__ = ["Trigger"]


class Trigger(PollingTrigger):
{%- raw %}
    """Start an execution when the document at `url` changes.

    Every `interval` the trigger fetches `url` and compares the body with the one it saw last
    time; when they differ (and at its first check) it starts an execution, which sees
    `{{ trigger.body }}` (decoded like the task's `body`), `trigger.status`,
    `trigger.contentType`, `trigger.url` and `trigger.digest`. A failed check (an error status,
    the server down) starts nothing and is logged; the next check tries again.
    """
{% endraw %}
    type_name = "{{ cookiecutter.type_prefix }}.Trigger"
    type_title = "Start an execution when an HTTP document changes."
    type_examples = (
        Example(
            title="Fetch the latest release of a project each time it changes.",
            full=True,
            code="""\
id: new_release
namespace: company.team

tasks:
  - id: release
    type: {{ cookiecutter.type_prefix }}.{{ cookiecutter.task_name }}
    url: "{{ '{{' }} trigger.body.url {{ '}}' }}"

triggers:
  - id: watch
    type: {{ cookiecutter.type_prefix }}.Trigger
    url: https://api.github.com/repos/python/cpython/releases/latest
    interval: PT10M
""",
        ),
    )

    url: Property[str] = Field(description="The URL to watch: `http://` or `https://`.")
    params: Property[dict[str, str]] | None = Field(
        default=None, description="Query parameters added to the URL."
    )
    headers: Property[dict[str, str]] | None = Field(
        default=None, description="Request headers, e.g. an API token read from a secret."
    )

    def evaluate(self, ctx: Any) -> TriggerEvent | None:
        """Fetch once; an event when the body is not the one seen last time."""
        url = ctx.render(self.url)
        params = ctx.render(self.params) if self.params is not None else {}
        headers = ctx.render(self.headers) if self.headers is not None else {}
        response = get(url, params=params, headers=headers)
        digest = hashlib.sha256(response.body).hexdigest()
        if ctx.memory.get("digest") == digest:
            return None
        ctx.memory["digest"] = digest
        ctx.logger.info("%s changed (%s bytes): starting an execution", redact(url), len(response.body))
        return TriggerEvent(
            variables={
                "url": redact(url),
                "status": response.status,
                "contentType": response.content_type,
                "body": response.decoded(),
                "digest": digest,
            }
        )
