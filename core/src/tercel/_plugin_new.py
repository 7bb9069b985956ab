"""`tercel plugins new`: scaffold a plugin distribution from the cookiecutter template.

The template (`plugin-template/`) bakes a project that passes its own tests, builds and
publishes as it stands; this command makes getting there a single step without surprises. It
asks only what it needs (or takes it from options with `--no-input`), checks everything it can
before writing a file (the name is valid and still free in the registry, the folder does not
exist yet), pins the SDK range to the SDK running here, then prints the next commands.

The template is looked up in this order: `TERCEL_PLUGIN_TEMPLATE`, the repository checkout
this module runs from (`plugin-template/` at its root), the copy shipped in the tercel-core
wheel (`tercel/_plugin_template`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.error
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tercel.errors import TercelError

__all__ = ["PluginNameError", "find_template", "new", "normalize_name", "sdk_range"]

TEMPLATE_ENV = "TERCEL_PLUGIN_TEMPLATE"
PREFIX = "tercel-plugin-"
REGISTRY_TIMEOUT = 10.0
"""Seconds the name check waits for the registry before going on with a warning."""

_NAME = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")
_CLASS = re.compile(r"^[A-Z][A-Za-z0-9]*$")
_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


class PluginNameError(TercelError):
    """A plugin name that would not make a valid distribution and package name."""


# ------------------------------------------------------------------------------ the template


def find_template() -> Path:
    """The template folder: the environment variable, this checkout's, or the installed copy."""
    given = os.environ.get(TEMPLATE_ENV, "").strip()
    if given:
        path = Path(given).expanduser()
        if not (path / "cookiecutter.json").is_file():
            raise TercelError(f"{TEMPLATE_ENV}={given}: no cookiecutter.json there; unset it or point it at a plugin template")
        return path
    here = Path(__file__).resolve().parent
    for candidate in (here.parents[2] / "plugin-template", here / "_plugin_template"):
        if (candidate / "cookiecutter.json").is_file():
            return candidate
    raise TercelError(
        f"the plugin template is missing from this tercel-core ({here / '_plugin_template'}): "
        f"reinstall tercel-core, or set {TEMPLATE_ENV} to a plugin-template folder"
    )


def _template_choices(template: Path, key: str) -> list[str]:
    """The choices the template offers for a variable (e.g. the licenses)."""
    context = json.loads((template / "cookiecutter.json").read_text(encoding="utf-8"))
    value = context.get(key)
    return [str(v) for v in value] if isinstance(value, list) else []


# ---------------------------------------------------------------------------------- answers


def normalize_name(text: str) -> str:
    """The plugin name as the template wants it (`weather`), or a `PluginNameError` saying why
    not; `tercel-plugin-weather` is accepted for `weather`."""
    name = text.strip()
    for prefix in (PREFIX, PREFIX.replace("-", "_")):
        if name.lower().startswith(prefix):
            name = name[len(prefix):]
    if not name:
        raise PluginNameError(f"{text!r} is not a plugin name: give the part after {PREFIX}, e.g. 'weather'")
    if not _NAME.match(name):
        suggestion = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        hint = f" (e.g. {suggestion!r})" if suggestion and _NAME.match(suggestion) else ""
        raise PluginNameError(
            f"{text!r} is not a valid plugin name: use lowercase letters and digits, words joined "
            f"by '-' or '_', starting with a letter{hint}; it names the distribution "
            f"{PREFIX}<name> and the Python package tercel_plugin_<name>"
        )
    return name


def distribution_of(name: str) -> str:
    return PREFIX + name.replace("_", "-")


def sdk_range(version: str | None = None) -> str:
    """The SDK versions a new plugin declares: the running SDK's compatible range, the range
    the core accepts (same minor before 1.0, same major after), e.g. `>=0.1,<0.2`."""
    if version is None:
        version = _sdk_version()
    match = re.match(r"^(\d+)\.(\d+)", version)
    if match is None:
        raise TercelError(f"tercel-plugin-sdk version {version!r} is not MAJOR.MINOR…")
    major, minor = int(match[1]), int(match[2])
    if major == 0:
        return f">=0.{minor},<0.{minor + 1}"
    return f">={major}.{minor},<{major + 1}"


def _sdk_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("tercel-plugin-sdk")
    except metadata.PackageNotFoundError:
        import tercel_sdk

        return str(tercel_sdk.__version__)


def _git_config(key: str) -> str | None:
    """`git config <key>` (the author's name and email), or None without git."""
    git = shutil.which("git")
    if git is None:
        return None
    try:
        done = subprocess.run([git, "config", "--get", key], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


@dataclass
class _Question:
    key: str
    prompt: str
    given: Any
    default: Callable[[], Any]
    check: Callable[[Any], Any]
    """Returns the value to use or raises `TercelError` saying what is wrong."""
    choices: list[str] | None = None
    boolean: bool = False


def _ask(question: _Question, interactive: bool) -> Any:
    """The option's value if given, else the answer to a prompt (or the default without one)."""
    if question.given is not None:
        return question.check(question.given)
    default = question.default()
    if not interactive:
        return question.check(default)
    while True:
        shown = ("yes" if default else "no") if question.boolean else default
        options = f" ({'/'.join(question.choices)})" if question.choices else ""
        suffix = f" [{shown}]" if shown not in (None, "") else ""
        try:
            answer = input(f"{question.prompt}{options}{suffix}: ").strip()
        except EOFError:
            answer = ""
        if not answer:
            if default in (None, ""):
                if not sys.stdin.isatty():
                    raise TercelError(f"no answer for the {question.key}: pass it on the command line (see --help)")
                print(f"  {question.prompt}: an answer is needed", file=sys.stderr)
                continue
            answer = default
        elif question.boolean:
            if answer.lower() not in ("y", "yes", "n", "no", "true", "false", "1", "0"):
                print("  answer yes or no", file=sys.stderr)
                continue
            answer = answer.lower() in ("y", "yes", "true", "1")
        try:
            return question.check(answer)
        except TercelError as exc:
            if not sys.stdin.isatty():  # piped answers: no one to ask again
                raise
            print(f"  {exc}", file=sys.stderr)


def _check_choice(choices: list[str], what: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        found = {c.lower(): c for c in choices}.get(str(value).strip().lower())
        if found is None:
            raise TercelError(f"{what} {value!r}: choose one of {', '.join(choices)}")
        return found

    return check


def _check_pattern(pattern: re.Pattern[str], what: str, example: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        text = str(value).strip()
        if not pattern.match(text):
            raise TercelError(f"{what} {text!r} is not valid: {example}")
        return text

    return check


def _check_line(what: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        text = str(value).strip()
        if not text or "\n" in text or "\r" in text:
            raise TercelError(f"{what}: give one non-empty line")
        return text

    return check


def _check_task(value: Any) -> str:
    text = _check_pattern(_CLASS, "task name", "a CamelCase class name such as Fetch or ListOrders")(value)
    if text in ("Trigger", "Plugin", "Response"):
        raise TercelError(f"task name {text!r} is taken by the template itself: choose another, e.g. Fetch")
    return text


# ---------------------------------------------------------------------------------- registry


def _http_status(exc: BaseException) -> int | None:
    """The HTTP status behind a registry error (the client keeps the HTTP error as context)."""
    status = getattr(exc, "status", None)
    if isinstance(status, int):
        return status
    context = exc.__context__
    return context.code if isinstance(context, urllib.error.HTTPError) else None


def check_name_is_free(name: str, registry: str | None) -> str | None:
    """Raise if the registry (`--registry`, else `TERCEL_REGISTRY_URL`) already has a plugin of
    this name; a warning (returned) if it cannot say; None when free or no registry is set."""
    url = (registry or os.environ.get("TERCEL_REGISTRY_URL") or "").strip()
    if not url:
        return None
    from tercel._registry_client import RegistryClient, RegistryError, registry_url

    client = RegistryClient(registry_url(url))
    distribution = distribution_of(name)
    box: dict[str, Any] = {}

    def look() -> None:
        try:
            box["doc"] = client.plugin(distribution)
        except Exception as exc:  # reported below, in this thread
            box["error"] = exc

    thread = threading.Thread(target=look, daemon=True)  # an unanswering host must not hang us
    thread.start()
    thread.join(REGISTRY_TIMEOUT)
    if thread.is_alive():
        return f"the registry at {client.url} did not answer within {REGISTRY_TIMEOUT:.0f} s: could not check that {distribution} is free"
    error = box.get("error")
    if error is not None:
        if _http_status(error) == 404:
            return None
        if isinstance(error, RegistryError):
            return f"could not check that {distribution} is free: {error}"
        raise error
    doc = box["doc"]
    who = doc.get("author") or "someone"
    latest = doc.get("latestVersion") or doc.get("version")
    taken = f"{who}, latest version {latest}" if latest else who
    suffix = re.sub(r"[^a-z0-9]+", "-", _suggestion_suffix().lower()).strip("-") or "mine"
    raise PluginNameError(
        f"{distribution} is already taken in the registry at {client.url} (by {taken}): "
        f"choose another name, e.g. `tercel plugins new {name}-{suffix}`"
    )


def _suggestion_suffix() -> str:
    """A word that makes a taken name the author's own: their git user name, else login."""
    name = _git_config("user.name")
    if name:
        return name.split()[0]
    import getpass

    try:
        return getpass.getuser()
    except Exception:
        return "mine"


# ---------------------------------------------------------------------------------- command


def _cookiecutter() -> Callable[..., str]:
    try:
        from cookiecutter.main import cookiecutter
    except ImportError:
        raise TercelError(
            "`tercel plugins new` needs cookiecutter: pip install 'tercel-core[template]'"
        ) from None
    return cookiecutter


def _next_steps(project: Path) -> list[str]:
    """The three commands that take a new project to passing tests."""
    try:
        where = project.relative_to(Path.cwd())
    except ValueError:
        where = project
    install = (
        "uv venv && uv pip install -e '.[test]'"
        if shutil.which("uv")
        else "python -m venv .venv && .venv/bin/pip install -e '.[test]'"
    )
    return [f"cd {where}", install, ".venv/bin/pytest"]


def new(args: argparse.Namespace) -> int:
    """Run `tercel plugins new` with parsed arguments; 0 when the project was made."""
    cookiecutter = _cookiecutter()
    template = find_template()
    interactive = not args.no_input
    if args.name is None and not interactive:
        raise TercelError("give the plugin's NAME with --no-input, e.g. `tercel plugins new weather --no-input`")

    name = _ask(_Question("name", "Plugin name (lowercase, e.g. weather)", args.name, lambda: "", normalize_name), interactive)
    if args.name is not None and name != args.name.strip():
        print(f"note: the plugin name is {name!r}; its distribution is {distribution_of(name)}", file=sys.stderr)
    output_dir = Path(args.output_dir or ".").expanduser().resolve()
    target = output_dir / distribution_of(name)
    if target.exists():
        raise TercelError(f"{target} already exists: remove it, or choose another --output-dir or name")
    warning = check_name_is_free(name, args.registry)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)

    licenses = _template_choices(template, "license")
    pretty = name.replace("-", " ").replace("_", " ").capitalize()
    questions = [
        _Question("description", "Description", args.description, lambda: f"{pretty} tasks for tercel flows.", _check_line("description")),
        _Question("author_name", "Author name", args.author, lambda: _git_config("user.name") or "Your Name", _check_line("author")),
        _Question(
            "author_email", "Author email", args.email, lambda: _git_config("user.email") or "you@example.com",
            _check_pattern(_EMAIL, "email", "an address such as ada@example.com"),
        ),
        _Question("license", "License", args.license, lambda: licenses[0], _check_choice(licenses, "license"), choices=licenses),
        _Question(
            "type_prefix", "Type namespace (types are named <namespace>.<Task>)", args.type_prefix,
            lambda: f"io.tercel.{name.replace('-', '_')}",
            _check_pattern(_DOTTED, "type namespace", "dotted identifiers such as io.tercel.weather or com.acme.crm"),
        ),
        _Question("task_name", "First task's class name", args.task, lambda: "Fetch", _check_task),
        _Question("include_trigger", "Include a polling trigger", args.trigger, lambda: True, bool, boolean=True),
    ]
    context: dict[str, Any] = {"plugin_name": name, "sdk_range": sdk_range()}
    for question in questions:
        context[question.key] = _ask(question, interactive)

    project = _bake(cookiecutter, template, context, output_dir)
    types = [f"{context['type_prefix']}.{context['task_name']}"]
    if context["include_trigger"]:
        types.append(f"{context['type_prefix']}.Trigger")
    print(f"created {project}/ ({distribution_of(name)} 0.1.0, tercel-plugin-sdk{context['sdk_range']}): {', '.join(types)}")
    print("next:")
    for command in _next_steps(project):
        print(f"  {command}")
    print("then build with `uv build` and publish with `tercel plugins publish dist/* --registry URL --token TOKEN` (see its README)")
    return 0


def _bake(cookiecutter: Callable[..., str], template: Path, context: dict[str, Any], output_dir: Path) -> Path:
    """Run cookiecutter without prompts; its replay file goes to a throwaway folder, not ~."""
    from cookiecutter.exceptions import CookiecutterException

    output_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tercel-plugin-new-") as tmp:
        config = Path(tmp) / "config.yaml"
        config.write_text(
            f"replay_dir: {json.dumps(str(Path(tmp) / 'replay'))}\n"
            f"cookiecutters_dir: {json.dumps(str(Path(tmp) / 'cookiecutters'))}\n",
            encoding="utf-8",
        )
        try:
            made = cookiecutter(
                str(template), no_input=True, extra_context=context, output_dir=str(output_dir),
                config_file=str(config),
            )
        except CookiecutterException as exc:  # the template's own checks print why
            raise TercelError(f"the template {template} refused to bake: {exc}") from None
    return Path(made)
