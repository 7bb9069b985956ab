"""Plugin discovery from manifests: list and validate hundreds of plugins without importing them.

Every distribution with an entry point in the `tercel.plugins` group is a plugin. Its manifest
(`tercel-manifest.json` beside its package, see `tercel_sdk.manifest`) says which types it has;
the core imports a type's module only when a task of that type runs, and a plugin's hook module
only when one of its non-type hooks is needed. A plugin that is broken (no readable manifest,
raises on import) is reported, never fatal: the others keep working.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import json
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson
import pluggy

from tercel.errors import TercelError

from . import hookspecs
from ._versions import DEFAULT_CHOICES

__all__ = ["PluginError", "PluginInfo", "PluginManager", "TypeInfo", "UnknownType", "plugin_location", "version_sort_key"]

ENTRY_POINT_GROUP = "tercel.plugins"
MANIFEST_FILENAME = "tercel-manifest.json"


class PluginError(TercelError):
    """A plugin cannot be used (bad manifest, import error, conflicting type names)."""


class UnknownType(PluginError):
    """No installed plugin provides a type; carries close matches for a did-you-mean."""

    def __init__(self, name: str, suggestions: list[str]) -> None:
        self.name = name
        self.suggestions = suggestions
        hint = f"; did you mean {' or '.join(repr(s) for s in suggestions)}?" if suggestions else ""
        super().__init__(f"unknown type {name!r}{hint}")


@dataclass(frozen=True)
class TypeInfo:
    """A type as its manifest describes it, plus where it comes from.

    `python` is None for a version importable in this process (the main environment); else it
    is the interpreter of the version's own environment, whose plugin host runs its tasks.
    """

    name: str
    distribution: str
    version: str
    entry: dict[str, Any] = field(repr=False, hash=False, compare=False)
    python: Path | None = field(default=None, compare=False)

    @property
    def isolated(self) -> bool:
        """True when the version runs in a plugin host, not in this process."""
        return self.python is not None

    @property
    def kind(self) -> str:
        return self.entry["kind"]

    @property
    def flowable(self) -> bool:
        return bool(self.entry.get("flowable"))

    @property
    def class_path(self) -> str:
        return self.entry["class"]

    @property
    def aliases(self) -> list[str]:
        return list(self.entry.get("aliases", ()))

    @property
    def task_slots(self) -> dict[str, str]:
        return dict(self.entry.get("taskSlots", {}))


@dataclass
class PluginInfo:
    """One installed plugin distribution."""

    distribution: str
    version: str
    module: str
    manifest: dict[str, Any] | None = None
    error: str | None = None
    builtin: bool = False
    #: the interpreter of the version's own environment (None: the main environment)
    python: Path | None = None
    #: the environment's folder (`TERCEL_HOME/plugins/<distribution>/<version>`)
    location: Path | None = None

    @property
    def hooks(self) -> list[str]:
        return list((self.manifest or {}).get("hooks", ()))

    def to_json(self) -> dict[str, Any]:
        """What `tercel plugins list --plugins --json` and `GET /api/v1/plugins/versions` show:
        its types, where it is installed (None: built in) and how its tasks run."""
        location = self.location or (None if self.builtin else plugin_location(self.module))
        return {
            "distribution": self.distribution,
            "version": self.version,
            "types": sorted(t["type"] for t in (self.manifest or {}).get("types", ())),
            "location": None if location is None else str(location),
            "runs": "plugin host" if self.python is not None else "in-process",
            "error": self.error,
        }


def _setting_list(value: str | None) -> set[str]:
    return {v.strip() for v in (value or "").split(",") if v.strip()}


class PluginManager:
    """The installed plugins, their types and their hooks."""

    def __init__(
        self,
        *,
        blocked: Iterable[str] | None = None,
        autoload: bool | None = None,
        allowed: Iterable[str] | None = None,
        cache_dir: Path | None = None,
        environments: Path | None = None,
        version_default: str | None = None,
        namespace_versions: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        env = os.environ
        self.blocked = set(blocked) if blocked is not None else _setting_list(env.get("TERCEL_PLUGINS_BLOCKED"))
        if autoload is None:
            autoload = env.get("TERCEL_PLUGINS_AUTOLOAD", "true").strip().lower() not in ("0", "false", "no", "off")
        self.autoload = autoload
        self.allowed = set(allowed) if allowed is not None else _setting_list(env.get("TERCEL_PLUGINS"))
        self.cache_dir = cache_dir
        if environments is None:
            environments = Path(env.get("TERCEL_HOME", ".tercel")).absolute() / "plugins"
        #: where per-version environments live (`TERCEL_HOME/plugins`)
        self.environments_root = environments
        self.version_default = (version_default or env.get("TERCEL_PLUGINS_VERSION_DEFAULT") or "latest").strip()
        if self.version_default not in DEFAULT_CHOICES:
            raise PluginError(
                f"the instance's default plugin version must be one of {', '.join(DEFAULT_CHOICES)}, "
                f"got {self.version_default!r} (TERCEL_PLUGINS_VERSION_DEFAULT)"
            )
        if namespace_versions is None:
            namespace_versions = parse_namespace_versions(env.get("TERCEL_PLUGINS_NAMESPACE_VERSIONS"))
        #: per namespace: type name, distribution or `*` → the version request used without a pin
        self.namespace_versions = {str(k): dict(v) for k, v in namespace_versions.items()}
        #: the main environment's plugins, by distribution
        self.plugins: dict[str, PluginInfo] = {}
        #: plugin versions installed in environments of their own
        self.environments: list[PluginInfo] = []
        #: name or alias → the type's default version (the main environment's, else the newest)
        self.types: dict[str, TypeInfo] = {}
        #: canonical type name → version → the type in that version
        self._versions: dict[str, dict[str, TypeInfo]] = {}
        self._environments_stamp: tuple[Any, ...] | None = None
        self._environments_checked = 0.0
        self.problems: list[str] = []
        self._classes: dict[str, type] = {}
        self._pm: pluggy.PluginManager | None = None
        self._discovered = False

    # -- discovery ---------------------------------------------------------------------------
    def discover(self) -> PluginManager:
        """Read every plugin's manifest (once). Cheap: no plugin module is imported."""
        if self._discovered:
            return self
        self._discovered = True
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = ep.dist
            name, version = _name_and_version(dist, ep.name)
            if name in self.blocked or ep.name in self.blocked:
                continue
            if not self.autoload and name not in self.allowed and ep.name not in self.allowed:
                continue
            module = ep.value.split(":")[0]
            info = PluginInfo(distribution=name, version=version, module=module)
            self.plugins[name] = info
            try:
                info.manifest = self._load_manifest(module, name, version, dist)
            except Exception as exc:
                info.error = f"{type(exc).__name__}: {exc}"
                self.problems.append(f"plugin {name} {version} is unusable: {info.error}")
                continue
            self._register_types(info)
        self._discover_environments()
        return self

    def _discover_environments(self) -> None:
        """Plugin versions installed in environments of their own: read from their records only."""
        root = self.environments_root
        self._environments_stamp = _environments_stamp(root)
        if root is None or not root.is_dir():
            return
        from ._environments import PluginEnvironments

        for env in PluginEnvironments(root).list():
            self.add_environment(env.distribution, env.version, env.module, env.manifest, env.python, env.path)

    def add_environment(
        self, distribution: str, version: str, module: str, manifest: Mapping[str, Any], python: Path, location: Path
    ) -> PluginInfo | None:
        """Register a plugin version installed in an environment of its own (its tasks run in a
        plugin host started from `python`). Skipped when blocked, or when the same version is
        importable here (it then runs in-process)."""
        if distribution in self.blocked or f"{distribution}=={version}" in self.blocked:
            return None
        if not self.autoload and distribution not in self.allowed:
            return None
        main = self.plugins.get(distribution)
        if main is not None and main.version == version and not main.error:
            return None
        info = PluginInfo(
            distribution=distribution, version=version, module=module,
            manifest={**manifest, "distribution": distribution, "version": version},
            python=python, location=location,
        )
        self.environments.append(info)
        self._register_types(info)
        return info

    def refresh_environments(self, *, force: bool = False) -> bool:
        """See plugin versions installed or removed since discovery (by this process or another
        sharing `TERCEL_HOME`); True if anything changed. Cheap when nothing did: one stat per
        distribution folder, at most once a second unless `force`."""
        self.discover()
        now = time.monotonic()
        if not force and now - self._environments_checked < 1.0:
            return False
        self._environments_checked = now
        if not force and _environments_stamp(self.environments_root) == self._environments_stamp:
            return False
        before = {(i.distribution, i.version) for i in self.environments}
        root = self.environments_root
        kept = []  # environments registered by hand (tests, embedders) stay
        for info in self.environments:
            if root is not None and info.location is not None and root in info.location.parents:
                self._unregister_types(info)
            else:
                kept.append(info)
        self.environments = kept
        self._discover_environments()
        return before != {(i.distribution, i.version) for i in self.environments}

    def _unregister_types(self, info: PluginInfo) -> None:
        for entry in (info.manifest or {}).get("types", ()):
            canonical = entry["type"]
            versions = self._versions.get(canonical, {})
            if versions.get(info.version) is not None and versions[info.version].distribution == info.distribution:
                del versions[info.version]
            for name in (canonical, *entry.get("aliases", ())):
                current = self.types.get(name)
                if current is None or current.distribution != info.distribution or current.version != info.version:
                    continue
                remaining = list(versions.values())
                if remaining:
                    best = remaining[0]
                    for other in remaining[1:]:
                        if _better_default(other, best):
                            best = other
                    self.types[name] = TypeInfo(name, best.distribution, best.version, best.entry, best.python)
                else:
                    del self.types[name]
            if not versions:
                self._versions.pop(canonical, None)

    def installed_versions(self) -> list[PluginInfo]:
        """Every installed plugin version (the main environment's and those in their own), by
        distribution, oldest version first."""
        self.discover()
        found = [*self.plugins.values(), *self.environments]
        return sorted(found, key=lambda p: (p.distribution, version_sort_key(p.version)))

    def add_module(self, module: Any, *, distribution: str, version: str, builtin: bool = False) -> None:
        """Register a plugin module directly (built-ins, tests) as if it were installed."""
        from tercel_sdk.manifest import generate_manifest

        manifest = generate_manifest(module, distribution=distribution, version=version)
        # classes defined somewhere not importable by name (a test module) are kept as they are
        for hook in ("tercel_task_types", "tercel_trigger_types", "tercel_condition_types"):
            for cls in (getattr(module, hook)() if hasattr(module, hook) else None) or ():
                self._classes[f"{cls.__module__}:{cls.__qualname__}"] = cls
        info = PluginInfo(distribution, version, module.__name__, manifest, builtin=builtin)
        self.plugins[distribution] = info
        self._register_types(info)
        if self._pm is not None:
            self._pm.register(module, name=distribution)

    def _load_manifest(self, module: str, dist_name: str, version: str, dist: Any) -> dict[str, Any]:
        path = _shipped_manifest_path(module)
        if path is not None and path.is_file() and not (
            _is_editable(dist) and _stale(path)
        ):
            manifest = orjson.loads(path.read_bytes())  # hundreds of manifests: the fast parser
            if manifest.get("manifestVersion") != 1:
                raise PluginError(f"{path}: unsupported manifestVersion {manifest.get('manifestVersion')!r}")
            manifest["distribution"] = dist_name
            manifest["version"] = version
            return manifest
        return self._generated_manifest(module, dist_name, version)

    def _generated_manifest(self, module: str, dist_name: str, version: str) -> dict[str, Any]:
        """No shipped (or a stale editable) manifest: import once, describe, cache."""
        from tercel_sdk.manifest import generate_manifest

        cache = None
        if self.cache_dir is not None:
            cache = self.cache_dir / f"{dist_name}-{version}.json"
            if cache.is_file() and not _stale(cache, module):
                return orjson.loads(cache.read_bytes())
        manifest = generate_manifest(module, distribution=dist_name, version=version)
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps(manifest), encoding="utf-8")
        return manifest

    def _register_types(self, info: PluginInfo) -> None:
        for entry in (info.manifest or {}).get("types", ()):
            canonical = TypeInfo(entry["type"], info.distribution, info.version, entry, info.python)
            for name in (entry["type"], *entry.get("aliases", ())):
                existing = self.types.get(name)
                if existing is not None and existing.distribution != info.distribution:
                    self.problems.append(
                        f"type {name!r} is provided by both {existing.distribution} and "
                        f"{info.distribution}; using {existing.distribution}"
                    )
                    continue
                if existing is None or _better_default(canonical, existing):
                    self.types[name] = TypeInfo(name, info.distribution, info.version, entry, info.python)
                if name == entry["type"]:
                    self._versions.setdefault(name, {})[info.version] = canonical

    # -- types -------------------------------------------------------------------------------
    def get_type(self, name: str) -> TypeInfo:
        """The type of that name or alias, or `UnknownType` with did-you-mean suggestions."""
        self.discover()
        info = self.types.get(name)
        if info is None and self.refresh_environments():
            info = self.types.get(name)  # installed since discovery
        if info is None:
            raise UnknownType(name, self.suggest(name))
        return info

    def type_versions(self, name: str) -> dict[str, TypeInfo]:
        """Every installed version of a type (by name or alias): version → the type in it."""
        canonical = self.get_type(name).entry["type"]
        return dict(self._versions.get(canonical, {}))

    def version_request(self, type_info: TypeInfo, namespace: str | None) -> str | None:
        """What the namespace defaults ask for a type without a pin: the nearest namespace
        (itself, then its parents) that names the type, its distribution or `*`."""
        if not self.namespace_versions or not namespace:
            return None
        parts = namespace.split(".")
        for end in range(len(parts), 0, -1):
            rules = self.namespace_versions.get(".".join(parts[:end]))
            if not rules:
                continue
            for key in (type_info.entry["type"], type_info.distribution, "*"):
                if key in rules:
                    return str(rules[key])
        return None

    def resolve_type(
        self, name: str, requested: str | None, *, namespace: str | None = None, locked: str | None = None
    ) -> TypeInfo:
        """The installed version of a type a task uses (`VersionChoiceError` saying why none fits).

        A locked version (a saved revision's) wins and must still be installed; then the task's
        own pin (with the flow's `pluginDefaults`), the namespace defaults, the instance default.
        The core's own plugin ships with the core: it needs no pin even when the default is `none`.
        """
        from ._versions import VersionChoiceError, choose_version

        default = self.get_type(name)
        versions = self.type_versions(name)
        if (locked is not None and locked not in versions and self.refresh_environments(force=True)) or (
            locked is None and self.refresh_environments()
        ):
            versions = self.type_versions(name)  # installed or removed since discovery
            default = self.get_type(name)
        if locked is not None:
            info = versions.get(locked)
            if info is None:
                shown = ", ".join(sorted(versions, key=version_sort_key)) or "none"
                raise VersionChoiceError(
                    f"the flow's lock needs {default.distribution} {locked}, which is no longer installed "
                    f"(installed: {shown}); reinstall it, or save the flow again to resolve a new lock"
                )
            return info
        if requested is None:
            requested = self.version_request(default, namespace)
        policy = self.version_default
        if requested is None and policy == "none" and default.distribution in _SHIPPED_WITH_CORE:
            policy = "latest"
        chosen = choose_version(requested, versions, default=policy)
        return versions[chosen]

    def locked_type(self, name: str, lock: Mapping[str, Any], *, task_id: str | None = None) -> TypeInfo:
        """The type in the version an execution's lock (`plugins`) names for it (or the default
        version when the lock does not name the type: a flow saved before locks existed)."""
        from ._versions import VersionChoiceError

        default = self.get_type(name)
        entry = lock.get(default.entry["type"])
        version = lock_version(entry, task_id)
        if version is None or (version == default.version and entry.get("distribution") == default.distribution):
            return default
        try:
            return self.resolve_type(name, None, locked=version)
        except VersionChoiceError as exc:
            raise PluginError(f"type {name!r}: {exc}") from None

    def suggest(self, name: str) -> list[str]:
        names = list(self.types)
        close = difflib.get_close_matches(name, names, n=2, cutoff=0.6)
        if not close:
            short = name.rsplit(".", 1)[-1].lower()
            close = sorted({n for n in names if n.rsplit(".", 1)[-1].lower() == short})[:2]
        return close

    def canonical_types(self) -> list[TypeInfo]:
        """One entry per type (aliases folded), sorted by name."""
        self.discover()
        return sorted(
            (t for n, t in self.types.items() if t.entry["type"] == n), key=lambda t: t.name
        )

    def load_class(self, name: str | TypeInfo) -> type:
        """Import and return the class of a type: the only place a type's module is imported."""
        info = name if isinstance(name, TypeInfo) else self.get_type(name)
        if info.isolated:
            raise PluginError(
                f"type {info.name!r} of {info.distribution} {info.version} is installed in an environment "
                "of its own: it runs in a plugin host, it cannot be imported here"
            )
        cls = self._classes.get(info.class_path)
        if cls is None:
            module_name, _, qualname = info.class_path.partition(":")
            try:
                obj: Any = importlib.import_module(module_name)
                for part in qualname.split("."):
                    obj = getattr(obj, part)
            except Exception as exc:
                raise PluginError(
                    f"type {name!r} of {info.distribution} {info.version} cannot be loaded: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            cls = obj
            self._classes[info.class_path] = cls
        return cls

    # -- other hooks -------------------------------------------------------------------------
    @property
    def hook(self) -> Any:
        """The pluggy hook relay, with the plugins implementing non-type hooks registered.

        Only plugins whose manifest lists such a hook are imported, and only on first use.
        """
        if self._pm is None:
            self.discover()
            pm = pluggy.PluginManager("tercel")
            pm.add_hookspecs(hookspecs)
            from tercel import _builtins

            pm.register(_builtins, name="tercel-builtins")
            type_hooks = {"tercel_task_types", "tercel_trigger_types", "tercel_condition_types"}
            for info in self.plugins.values():
                if info.error or info.builtin or not set(info.hooks) - type_hooks:
                    continue
                try:
                    pm.register(importlib.import_module(info.module), name=info.distribution)
                except Exception as exc:
                    info.error = f"{type(exc).__name__}: {exc}"
                    self.problems.append(f"plugin {info.distribution} failed to load: {info.error}")
            self._pm = pm
        return self._pm.hook

    def collect(self, hook_name: str) -> dict[str, Any]:
        """Merge the dicts a `dict`-returning hook gives; later plugins cannot shadow earlier."""
        merged: dict[str, Any] = {}
        for result in reversed(getattr(self.hook, hook_name)()):
            for key, value in (result or {}).items():
                merged.setdefault(key, value)
        return merged


#: distributions that come with the core itself (one version, always there)
_SHIPPED_WITH_CORE = frozenset({"tercel-plugin-core", "tercel-builtins"})


def lock_version(entry: Mapping[str, Any] | None, task_id: str | None) -> str | None:
    """The version a flow lock's entry names for one task (or trigger): its own, else the type's."""
    if not isinstance(entry, Mapping):
        return None
    if task_id is not None:
        own = (entry.get("tasks") or {}).get(task_id)
        if own is not None:
            return str(own)
    version = entry.get("version")
    return None if version is None else str(version)


def parse_namespace_versions(text: str | None) -> dict[str, dict[str, str]]:
    """`TERCEL_PLUGINS_NAMESPACE_VERSIONS`: a JSON object, namespace → {type, distribution or
    `*` → version request}; e.g. `{"team.a": {"tercel-plugin-x": "~=1.2", "*": "oldest"}}`."""
    if not text or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise PluginError(f"TERCEL_PLUGINS_NAMESPACE_VERSIONS is not JSON: {exc}") from None
    if not isinstance(value, dict) or not all(
        isinstance(rules, dict) and all(isinstance(v, str | int | float) for v in rules.values())
        for rules in value.values()
    ):
        raise PluginError(
            "TERCEL_PLUGINS_NAMESPACE_VERSIONS must map each namespace to {type, distribution or '*': version}"
        )
    return {str(ns): {str(k): str(v) for k, v in rules.items()} for ns, rules in value.items()}


def _environments_stamp(root: Path | None) -> tuple[Any, ...] | None:
    """What changes when a version is installed or removed under `root` (folder times)."""
    if root is None:
        return None
    try:
        stamps: list[Any] = [root.stat().st_mtime_ns]
        with os.scandir(root) as entries:
            stamps.extend(sorted((e.name, e.stat().st_mtime_ns) for e in entries if e.is_dir() and not e.name.startswith(".")))
        return tuple(stamps)
    except OSError:
        return None


def version_sort_key(text: str) -> tuple[int, Any]:
    from packaging.version import InvalidVersion, Version

    try:
        return (1, Version(text))
    except InvalidVersion:
        return (0, text)


def _better_default(new: TypeInfo, old: TypeInfo) -> bool:
    """Which version `get_type` answers: the main environment's, else the newest."""
    if old.isolated != new.isolated:
        return old.isolated
    return version_sort_key(new.version) > version_sort_key(old.version)


def _name_and_version(dist: Any, fallback: str) -> tuple[str, str]:
    """A distribution's name and version, from its `.dist-info` folder name when it has one.

    Reading METADATA means the email parser for every plugin; the folder name
    (`tercel_plugin_core-1.0.0.dist-info`, normalized by the installer) says the same for free.
    """
    if dist is None:
        return fallback, "0"
    folder = getattr(dist, "_path", None)
    name = getattr(folder, "name", "")
    if name.endswith(".dist-info"):
        project, sep, version = name[: -len(".dist-info")].partition("-")
        if sep and project and version:
            return project.replace("_", "-").lower(), version
    return dist.metadata["Name"], dist.version


def plugin_location(module: str) -> Path | None:
    """The folder a plugin's package is installed in (found, not imported)."""
    path = _shipped_manifest_path(module)
    return None if path is None else path.parent


def _shipped_manifest_path(module: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(module.split(".")[0])
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / MANIFEST_FILENAME


def _is_editable(dist: Any) -> bool:
    if dist is None:
        return False
    try:
        text = dist.read_text("direct_url.json")
    except Exception:
        return False
    if not text:
        return False
    try:
        return bool(json.loads(text).get("dir_info", {}).get("editable"))
    except ValueError:
        return False


def sources_digest(folder: Path) -> str:
    """`tercel_sdk.manifest.sources_digest`, the same bytes: here so that discovery never imports
    the SDK package (and pydantic with it), which would cost ~0.2 s per process for nothing."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        digest.update(path.relative_to(folder).as_posix().encode("utf-8") + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _stale(manifest: Path, module: str | None = None) -> bool:
    """For editable (in-development) plugins: sources changed since the manifest make it stale."""
    folder = manifest.parent
    if module is not None:
        spec_path = _shipped_manifest_path(module)
        if spec_path is None:
            return False
        folder = spec_path.parent
    try:
        recorded = orjson.loads(manifest.read_bytes()).get("sourcesDigest")
        if recorded:  # compare contents: file times are not to be trusted after a git clone
            return bool(sources_digest(folder) != recorded)
        mtime = manifest.stat().st_mtime
        return any(p.stat().st_mtime > mtime for p in folder.rglob("*.py"))
    except (OSError, ValueError):
        return True
