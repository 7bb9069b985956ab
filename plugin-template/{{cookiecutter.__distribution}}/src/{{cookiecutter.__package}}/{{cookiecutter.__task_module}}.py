"""`{{ cookiecutter.type_prefix }}.{{ cookiecutter.task_name }}`: fetch a document from an HTTP API.

A starting point to make your own: keep the shape, change what `run` does. Properties are
pydantic fields, `Property[T]` where a flow may write an expression (rendered, then checked
against `T`, when the task runs); the `Output` model's fields, with their descriptions, are what
the task returns; the class docstring, title, examples and metrics are the type's documentation,
shown by `tercel plugins doc`, the registry and editors.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import Field, PositiveInt
from tercel_sdk import Example, MetricDoc, Output, Property, RunContext, RunnableTask

from ._http import get, redact

__all__ = ["{{ cookiecutter.task_name }}", "{{ cookiecutter.task_name }}Output"]


class {{ cookiecutter.task_name }}Output(Output):
    """What `{{ cookiecutter.task_name }}` returns; the next tasks read `outputs.<task id>.<name>`."""

    status: int = Field(description="The HTTP status code of the answer, e.g. 200.")
    body: Any = Field(description="The body: decoded values when it is JSON, else its text.")
    content_type: str = Field(description="The media type of the body, e.g. `application/json`.")
    size: int = Field(description="Size of the body in bytes.")


class {{ cookiecutter.task_name }}(RunnableTask):
{%- raw %}
    """Fetch a document from an HTTP API and return it decoded.

    Sends a GET request to `url` with the query `params` and the `headers`, and returns the
    body decoded: JSON as values the next tasks navigate (`{{ outputs.fetch.body.name }}`),
    anything else as text. An error status fails the task with the server's answer; so does a
    body larger than `maxBytes`, before it reaches the execution (large data belongs in files).
    """
{% endraw %}
    type_name = "{{ cookiecutter.type_prefix }}.{{ cookiecutter.task_name }}"
    type_title = "Fetch a document from an HTTP API."
    type_examples = (
        Example(
            title="Fetch a repository from GitHub's API, then its owner through a URL it gives.",
            full=True,
            code="""\
id: github_repository
namespace: company.team

tasks:
  - id: repository
    type: {{ cookiecutter.type_prefix }}.{{ cookiecutter.task_name }}
    url: https://api.github.com/repos/python/cpython

  - id: owner
    type: {{ cookiecutter.type_prefix }}.{{ cookiecutter.task_name }}
    url: "{{ '{{' }} outputs.repository.body.owner.url {{ '}}' }}"
""",
        ),
        Example(
            title="Query parameters from an input, a token from a secret.",
            full=True,
            code="""\
id: search
namespace: company.team

inputs:
  - id: query
    type: STRING
    defaults: tercel

tasks:
  - id: search
    type: {{ cookiecutter.type_prefix }}.{{ cookiecutter.task_name }}
    url: https://api.example.com/v1/search
    params:
      q: "{{ '{{' }} inputs.query {{ '}}' }}"
    headers:
      Authorization: "Bearer {{ '{{' }} secret('EXAMPLE_API_TOKEN') {{ '}}' }}"
    maxBytes: 65536
""",
        ),
    )
    type_metrics = (
        MetricDoc(name="size", type="counter", unit="bytes", description="Size of the body received."),
        MetricDoc(name="duration", type="timer", unit="seconds", description="Time the request took."),
    )

    url: Property[str] = Field(description="The URL to fetch: `http://` or `https://`.")
    params: Property[dict[str, str]] | None = Field(
        default=None, description="Query parameters added to the URL."
    )
    headers: Property[dict[str, str]] | None = Field(
        default=None, description="Request headers, e.g. an API token read from a secret."
    )
    max_bytes: Property[PositiveInt] = Field(
        default=Property.of(1_048_576),
        description="The largest body accepted, in bytes; a larger one fails the task.",
    )

    def run(self, ctx: RunContext) -> {{ cookiecutter.task_name }}Output:
        url = ctx.render(self.url)
        params = ctx.render(self.params) if self.params is not None else {}
        headers = ctx.render(self.headers) if self.headers is not None else {}
        start = time.perf_counter()
        response = get(url, params=params, headers=headers, max_bytes=ctx.render(self.max_bytes))
        elapsed = time.perf_counter() - start
        ctx.logger.info(
            "GET %s: %s, %s bytes of %s in %.3f s",
            redact(url), response.status, len(response.body), response.content_type, elapsed,
        )
        ctx.metric("size", len(response.body))
        ctx.metric("duration", elapsed, type="timer")
        return {{ cookiecutter.task_name }}Output(
            status=response.status,
            body=response.decoded(),
            content_type=response.content_type,
            size=len(response.body),
        )
