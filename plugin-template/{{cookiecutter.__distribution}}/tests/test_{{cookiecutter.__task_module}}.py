"""`{{ cookiecutter.task_name }}` on its own: each test runs the task through the real engine with
`tercel_sdk.testing.run_task` (properties rendered, outputs stored, logs and metrics kept)."""

from __future__ import annotations

from tercel_sdk.testing import run_task

from {{ cookiecutter.__package }}.{{ cookiecutter.__task_module }} import {{ cookiecutter.task_name }}


def test_fetches_a_json_document(api):
    result = run_task({{ cookiecutter.task_name }}, {"url": f"{api.url}/documents/city"})
    assert result.state == "SUCCESS", result.error
    assert result.outputs["body"] == {"name": "Paris", "temperature": 21.5}
    assert result.outputs["status"] == 200
    assert result.outputs["contentType"] == "application/json"
    assert {m["name"] for m in result.metrics} == {"size", "duration"}
    assert any(level == "INFO" and "/documents/city: 200" in message for level, message in result.logs)


def test_properties_are_rendered(api):
    result = run_task(
        {{ cookiecutter.task_name }},
{%- raw %}
        {
            "url": "{{ inputs.api }}/echo",
            "params": {"city": "{{ vars.city }}"},
            "headers": {"X-Api-Key": "{{ vars.key }}"},
        },
{%- endraw %}
        variables={"city": "Oslo", "key": "k-123"},
        inputs={"api": api.url},
    )
    assert result.state == "SUCCESS", result.error
    assert result.outputs["body"]["query"] == {"city": "Oslo"}
    assert result.outputs["body"]["headers"]["x-api-key"] == "k-123"


def test_text_is_returned_as_text(api):
    result = run_task({{ cookiecutter.task_name }}, {"url": f"{api.url}/text"})
    assert result.outputs["body"] == "plain text"
    assert result.outputs["contentType"] == "text/plain"


def test_an_error_status_fails_the_task_with_the_answer(api):
    result = run_task({{ cookiecutter.task_name }}, {"url": f"{api.url}/documents/nowhere"})
    assert result.state == "FAILED"
    assert "404" in str(result.error) and "nothing at /documents/nowhere" in str(result.error)


def test_a_body_over_max_bytes_fails_the_task(api):
    result = run_task({{ cookiecutter.task_name }}, {"url": f"{api.url}/documents/city", "maxBytes": 8})
    assert result.state == "FAILED"
    assert "maxBytes" in str(result.error)


def test_only_http_urls_are_fetched():
    result = run_task({{ cookiecutter.task_name }}, {"url": "file:///etc/passwd"})
    assert result.state == "FAILED"
    assert "http://" in str(result.error)
