"""Entry point of {{ cookiecutter.__distribution }} (`tercel.plugins` group): registers its types.

Kept light on purpose: tercel imports this module to discover the plugin and reads the shipped
`tercel-manifest.json` instead of calling the hooks, so a type's module is imported only when a
flow runs it. After changing a type, regenerate the manifest (a test tells you when):
`python -m tercel_sdk.manifest {{ cookiecutter.__package }}.plugin --write`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tercel_sdk import hookimpl

if TYPE_CHECKING:
    from tercel_sdk import {% if cookiecutter.include_trigger %}PollingTrigger, {% endif %}Task

__all__ = ["tercel_task_types"{% if cookiecutter.include_trigger %}, "tercel_trigger_types"{% endif %}]


@hookimpl
def tercel_task_types() -> list[type[Task]]:
    """The task types of this plugin."""
    from .{{ cookiecutter.__task_module }} import {{ cookiecutter.task_name }}

    return [{{ cookiecutter.task_name }}]
{%- if cookiecutter.include_trigger %}


@hookimpl
def tercel_trigger_types() -> list[type[PollingTrigger]]:
    """The trigger types of this plugin."""
    from .trigger import Trigger

    return [Trigger]
{%- endif %}
