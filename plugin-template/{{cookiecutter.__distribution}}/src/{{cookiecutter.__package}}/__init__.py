"""{{ cookiecutter.__distribution }}: {{ cookiecutter.__description_escaped }}

Its types: `{{ cookiecutter.type_prefix }}.{{ cookiecutter.task_name }}` (a task)
{%- if cookiecutter.include_trigger %} and `{{ cookiecutter.type_prefix }}.Trigger` (a polling trigger){% endif %}.
tercel finds them through the entry point in `plugin.py`.
"""
