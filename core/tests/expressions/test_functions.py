"""Kestra's functions, including those the caller supplies through the context."""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from tercel.expressions import (
    CONTEXT_FUNCTIONS_KEY,
    ExpressionEngine,
    ExpressionError,
    SandboxViolation,
)


class TestTimeAndIds:
    def test_now_is_aware_utc(self, engine: ExpressionEngine) -> None:
        before = dt.datetime.now(dt.UTC)
        value = engine.evaluate("{{ now() }}", {})
        assert isinstance(value, dt.datetime)
        assert value.utcoffset() == dt.timedelta(0)
        assert before <= value <= dt.datetime.now(dt.UTC)

    def test_now_in_a_time_zone(self, engine: ExpressionEngine) -> None:
        value = engine.evaluate("{{ now(timeZone='Asia/Kolkata') }}", {})
        assert value.tzinfo == ZoneInfo("Asia/Kolkata")
        assert value.utcoffset() == dt.timedelta(hours=5, minutes=30)
        assert engine.evaluate("{{ now('Europe/Paris').tzinfo.key }}", {}) == "Europe/Paris"

    def test_now_with_a_format(self, engine: ExpressionEngine) -> None:
        year = str(dt.datetime.now(dt.UTC).year)
        assert engine.evaluate("{{ now(format='yyyy') }}", {}) == year
        assert engine.render("{{ now() | date('yyyy') }}", {}) == year

    def test_uuid(self, engine: ExpressionEngine) -> None:
        first, second = engine.evaluate("{{ [uuid(), uuid()] }}", {})
        assert re.fullmatch(
            r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", first
        )
        assert first != second

    def test_id(self, engine: ExpressionEngine) -> None:
        ids = {engine.evaluate("{{ id() }}", {}) for _ in range(20)}
        assert len(ids) == 20
        assert all(re.fullmatch(r"[0-9A-Za-z]{22}", value) for value in ids)

    def test_random_int_excludes_upper_bound(self, engine: ExpressionEngine) -> None:
        values = {engine.evaluate("{{ randomInt(1, 3) }}", {}) for _ in range(200)}
        assert values == {1, 2}
        with pytest.raises(ExpressionError):
            engine.evaluate("{{ randomInt(3, 3) }}", {})

    def test_random_port_is_free(self, engine: ExpressionEngine) -> None:
        port = engine.evaluate("{{ randomPort() }}", {})
        assert 0 < port < 65536
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


class TestParsing:
    def test_from_json(self, engine: ExpressionEngine) -> None:
        assert engine.evaluate("{{ fromJson('[1, 2, 3]')[0] }}", {}) == 1
        assert engine.evaluate("""{{ fromJson('{"foo": [666, 1, 2]}').foo[0] }}""", {}) == 666
        assert engine.evaluate("{{ json(s).a }}", {"s": '{"a": null}'}) is None
        assert engine.evaluate("{{ fromJson(v) }}", {"v": {"already": "parsed"}}) == {
            "already": "parsed"
        }
        assert engine.evaluate("{{ fromJson(null) }}", {}) is None
        with pytest.raises(ExpressionError, match="invalid JSON"):
            engine.evaluate("{{ fromJson('{nope') }}", {})

    def test_from_ion(self, engine: ExpressionEngine) -> None:
        value = engine.evaluate(
            "{{ fromIon(s) }}",
            {"s": '{a: 1.50, b: 2020-01-01T10:00Z, c: null, d: true, e: [1, "x"]}'},
        )
        assert value == {
            "a": Decimal("1.50"),
            "b": dt.datetime(2020, 1, 1, 10, tzinfo=dt.UTC),
            "c": None,
            "d": True,
            "e": [1, "x"],
        }
        assert type(value["a"]) is Decimal
        assert type(value["d"]) is bool
        assert type(value["e"][0]) is int
        assert type(value["b"]) is dt.datetime
        assert engine.evaluate("{{ fromIon('1 2') }}", {}) == [1, 2]
        with pytest.raises(ExpressionError, match="invalid Ion"):
            engine.evaluate("{{ fromIon('{a:') }}", {})

    def test_yaml(self, engine: ExpressionEngine) -> None:
        assert engine.evaluate("{{ yaml('foo: [666, 1, 2]').foo[0] }}", {}) == 666
        assert engine.evaluate("{{ yaml(s) }}", {"s": "a:\n  b: true\n"}) == {"a": {"b": True}}
        with pytest.raises(ExpressionError, match="invalid YAML"):
            engine.evaluate("{{ yaml('a: [') }}", {})

    def test_yaml_refuses_python_objects(self, engine: ExpressionEngine) -> None:
        with pytest.raises(ExpressionError):
            engine.evaluate("{{ yaml(s) }}", {"s": "!!python/object/apply:os.system ['true']"})


class TestMath:
    def test_max_min(self, engine: ExpressionEngine) -> None:
        assert engine.evaluate("{{ max(20, 80, age) }}", {"age": 99}) == 99
        assert engine.evaluate("{{ min(20, 80, age) }}", {"age": 99}) == 20
        assert engine.evaluate("{{ max([3, 9, 1]) }}", {}) == 9
        with pytest.raises(ExpressionError):
            engine.evaluate("{{ max() }}", {})

    def test_range_is_inclusive(self, engine: ExpressionEngine) -> None:
        assert engine.evaluate("{{ range(0, 3) }}", {}) == [0, 1, 2, 3]
        assert engine.evaluate("{{ range(0, 6, 2) }}", {}) == [0, 2, 4, 6]
        assert engine.evaluate("{{ range(0, 5, 2) }}", {}) == [0, 2, 4]
        assert engine.evaluate("{{ range(3, 0, -1) }}", {}) == [3, 2, 1, 0]
        assert engine.evaluate("{{ range(3, 0) }}", {}) == []
        assert engine.render("{% for i in range(1, 3) %}{{ i }},{% endfor %}", {}) == "1,2,3,"

    def test_range_bad_arguments(self, engine: ExpressionEngine) -> None:
        with pytest.raises(ExpressionError, match="increment"):
            engine.evaluate("{{ range(0, 3, 0) }}", {})
        with pytest.raises(ExpressionError, match="integers"):
            engine.evaluate("{{ range(0, 'a') }}", {})
        with pytest.raises(SandboxViolation):
            engine.evaluate("{{ range(0, 100000) }}", {})
        assert len(engine.evaluate("{{ range(1, 100000) }}", {})) == 100000


class TestRender:
    def test_render_again(self, engine: ExpressionEngine) -> None:
        context = {"vars": {"greeting": "Hello {{ name }}"}, "name": "Ada"}
        assert engine.evaluate("{{ render(vars.greeting) }}", context) == "Hello Ada"
        assert engine.evaluate("{{ vars.greeting }}", context) == "Hello {{ name }}"

    def test_render_is_recursive_render_once_is_not(self, engine: ExpressionEngine) -> None:
        context = {"a": "{{ b }}", "b": "{{ c }}", "c": "done"}
        assert engine.evaluate("{{ render(a) }}", context) == "done"
        assert engine.evaluate("{{ render(a, recursive=false) }}", context) == "{{ c }}"
        assert engine.evaluate("{{ renderOnce(a) }}", context) == "{{ c }}"

    def test_render_with_kestra_operators(self, engine: ExpressionEngine) -> None:
        start = dt.datetime(2024, 5, 6, tzinfo=dt.UTC)
        context = {
            "vars": {"day": "{{ trigger.date ?? execution.startDate | date('yyyy-MM-dd') }}"},
            "trigger": {},
            "execution": {"startDate": start},
        }
        assert engine.evaluate("{{ render(vars.day) }}", context) == "2024-05-06"

    def test_render_non_strings_pass_through(self, engine: ExpressionEngine) -> None:
        assert engine.evaluate("{{ render(n) }}", {"n": 5}) == 5

    def test_render_loops_are_bounded(self, engine: ExpressionEngine) -> None:
        context = {"a": "{{ render(a) }}"}
        with pytest.raises(ExpressionError, match="render"):
            engine.evaluate("{{ render(a) }}", context)
        context = {"a": "x{{ a }}"}
        with pytest.raises(ExpressionError, match="rounds"):
            engine.evaluate("{{ render(a) }}", context)

    def test_errors_in_rendered_text_name_that_text(self, engine: ExpressionEngine) -> None:
        with pytest.raises(ExpressionError) as info:
            engine.evaluate("{{ render(t) }}", {"t": "{{ nope }}"})
        assert info.value.template == "{{ nope }}"


class TestContextAndEach:
    def test_print_context(self, engine: ExpressionEngine) -> None:
        context = {"inputs": {"a": 1}, CONTEXT_FUNCTIONS_KEY: {"secret": lambda n: n}}
        printed = json.loads(engine.evaluate("{{ printContext() }}", context))
        assert printed == {"inputs": {"a": 1}}

    def test_current_each_output(self, engine: ExpressionEngine) -> None:
        context = {
            "outputs": {
                "make_data": {
                    "value 1": {"values": {"data": 1}},
                    "value 2": {"values": {"data": 2}},
                }
            },
            "taskrun": {"value": "value 2"},
        }
        template = "{{ currentEachOutput(outputs.make_data).values.data }}"
        assert engine.evaluate(template, context) == 2

    def test_current_each_output_nested(self, engine: ExpressionEngine) -> None:
        context = {
            "outputs": {"t": {"outer": {"inner": {"v": 42}}}},
            "parents": [{"taskrun": {"value": "outer"}}],
            "taskrun": {"value": "inner"},
        }
        assert engine.evaluate("{{ currentEachOutput(outputs.t).v }}", context) == 42
        context["parents"] = [{"taskrun": {"value": "elsewhere"}}]
        with pytest.raises(ExpressionError, match="no outputs"):
            engine.evaluate("{{ currentEachOutput(outputs.t) }}", context)


class TestContextBoundFunctions:
    NAMES = (
        "secret",
        "kv",
        "read",
        "errorLogs",
        "tasksWithState",
        "fileSize",
        "fileExists",
        "isFileEmpty",
    )

    @pytest.mark.parametrize("name", NAMES)
    def test_missing_function_is_a_clear_error(self, engine: ExpressionEngine, name: str) -> None:
        with pytest.raises(ExpressionError, match=f"function '{name}' is not available here"):
            engine.render(f"{{{{ {name}('x') }}}}", {})

    @pytest.mark.parametrize("name", NAMES)
    def test_calls_the_supplied_callable(self, engine: ExpressionEngine, name: str) -> None:
        calls: list[tuple[Any, ...]] = []

        def fake(*args: Any, **kwargs: Any) -> str:
            calls.append((args, kwargs))
            return f"{name}-result"

        context = {CONTEXT_FUNCTIONS_KEY: {name: fake}}
        assert engine.evaluate(f"{{{{ {name}('x', flag=true) }}}}", context) == f"{name}-result"
        assert calls == [(("x",), {"flag": True})]

    def test_kestra_argument_names(self, engine: ExpressionEngine) -> None:
        def kv(key: str, namespace: str | None = None, errorOnMissing: bool = True) -> Any:
            return {"key": key, "namespace": namespace, "errorOnMissing": errorOnMissing}

        context = {CONTEXT_FUNCTIONS_KEY: {"kv": kv}}
        result = engine.evaluate("{{ kv('k', namespace='ns', errorOnMissing=false) }}", context)
        assert result == {"key": "k", "namespace": "ns", "errorOnMissing": False}

    def test_file_empty_alias(self, engine: ExpressionEngine) -> None:
        context = {CONTEXT_FUNCTIONS_KEY: {"isFileEmpty": lambda path: path == "empty"}}
        assert engine.evaluate("{{ fileEmpty('empty') }}", context) is True

    def test_secret_in_text(self, engine: ExpressionEngine) -> None:
        secrets = {"TOKEN": "s3cr3t"}
        context = {CONTEXT_FUNCTIONS_KEY: {"secret": secrets.__getitem__}}
        assert engine.render("Bearer {{ secret('TOKEN') }}", context) == "Bearer s3cr3t"

    def test_caller_errors_become_expression_errors(self, engine: ExpressionEngine) -> None:
        def secret(name: str) -> str:
            raise KeyError(f"no secret {name}")

        context = {CONTEXT_FUNCTIONS_KEY: {"secret": secret}}
        with pytest.raises(ExpressionError, match="no secret X") as info:
            engine.render("{{ secret('X') }}", context)
        assert isinstance(info.value.__cause__, KeyError)

    def test_templates_cannot_read_the_reserved_key(self, engine: ExpressionEngine) -> None:
        context = {CONTEXT_FUNCTIONS_KEY: {"secret": lambda n: n}}
        with pytest.raises(SandboxViolation):
            engine.render("{{ __tercel_functions__ }}", context)
