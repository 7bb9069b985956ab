"""Refuse answers that would bake a project that does not build or import.

`tercel plugins new` checks the same rules before it calls cookiecutter (with nicer prompts);
this hook keeps `cookiecutter plugin-template/` just as safe. It exits 1 with one line per
problem, and cookiecutter then removes what it started.
"""

import json
import re
import sys

# the answers, as JSON in a string: any text a user typed stays data, never code
ANSWERS = json.loads(r'''{{ cookiecutter | tojson }}''')
PLUGIN_NAME = ANSWERS["plugin_name"]
TASK_NAME = ANSWERS["task_name"]
TASK_MODULE = ANSWERS["__task_module"]
TYPE_PREFIX = ANSWERS["type_prefix"]
SDK_RANGE = ANSWERS["sdk_range"]
EMAIL = ANSWERS["author_email"]
DESCRIPTION = ANSWERS["description"]

NAME = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")
CLASS = re.compile(r"^[A-Z][A-Za-z0-9]*$")
DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$")
RESERVED_TASKS = {"Trigger", "Plugin", "Response"}
RESERVED_MODULES = {"plugin", "trigger", "_http", "conftest", "test_plugin", "test_flows", "test_trigger"}


def _sdk_range_problem(text: str) -> str | None:
    try:
        from packaging.specifiers import InvalidSpecifier, SpecifierSet
    except ImportError:  # cookiecutter does not need packaging: a rough check then
        ok = re.fullmatch(r"\s*(~=|===?|!=|<=|>=|<|>)\s*[\w.*+!-]+(\s*,\s*(~=|===?|!=|<=|>=|<|>)\s*[\w.*+!-]+)*\s*", text)
        return None if ok else f"sdk_range {text!r} is not a version range like '>=0.1,<0.2'"
    try:
        if not str(SpecifierSet(text)):
            return "sdk_range is empty: a plugin declares the SDK versions it works with, e.g. '>=0.1,<0.2'"
    except InvalidSpecifier:
        return f"sdk_range {text!r} is not a version range like '>=0.1,<0.2'"
    return None


def problems() -> list[str]:
    found = []
    if PLUGIN_NAME.startswith(("tercel-plugin-", "tercel_plugin_")):
        found.append(f"plugin_name {PLUGIN_NAME!r}: give the name without the tercel-plugin- prefix, it is added")
    elif not NAME.match(PLUGIN_NAME):
        found.append(
            f"plugin_name {PLUGIN_NAME!r}: use lowercase letters and digits, words joined by '-' or '_', "
            "starting with a letter (e.g. 'weather', 'acme-crm')"
        )
    if not CLASS.match(TASK_NAME):
        found.append(f"task_name {TASK_NAME!r}: use a CamelCase class name (e.g. 'Fetch', 'ListOrders')")
    elif TASK_NAME in RESERVED_TASKS or TASK_MODULE in RESERVED_MODULES:
        found.append(f"task_name {TASK_NAME!r} is taken by the template itself: choose another (e.g. 'Fetch')")
    if not DOTTED.match(TYPE_PREFIX):
        found.append(f"type_prefix {TYPE_PREFIX!r}: use dotted identifiers (e.g. 'io.tercel.weather', 'com.acme.crm')")
    if not re.fullmatch(r"[^@\s]+@[^@\s]+", EMAIL):
        found.append(f"author_email {EMAIL!r} is not an email address")
    if "\n" in DESCRIPTION or "\r" in DESCRIPTION:
        found.append("description: one line only (it is the package's summary)")
    sdk = _sdk_range_problem(SDK_RANGE)
    if sdk:
        found.append(sdk)
    return found


if __name__ == "__main__":
    errors = problems()
    for line in errors:
        print(f"error: {line}", file=sys.stderr)
    sys.exit(1 if errors else 0)
