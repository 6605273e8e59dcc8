"""Render the settings as docs/configuration.md's tables, or with their effective values and where each came
from (a value nobody set is still a value: `config show` prints the one in force, not `None`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic.fields import FieldInfo

from driftloop.derived_settings import derived_values, use_case_values
from pipelines.core.database_url import masked_url
from pipelines.core.settings import SETTINGS_GROUPS, USE_CASE_DEFAULTS, Settings, env_var_name

Source = Literal["environment", "default", "derived", "use case"]


def _default(settings_field: FieldInfo) -> str:
    if settings_field.is_required():  # filled from the use case's declaration (its description says so)
        return "use case"
    value = settings_field.default
    return "—" if value is None else f"`{value}`"


def markdown_table() -> str:
    """The configuration: one table per settings group (variable, default, meaning), each under its purpose."""
    parts = []
    for name, group in SETTINGS_GROUPS.items():
        rows = [
            f"**{name}**: {(group.__doc__ or '').strip()}",
            "",
            "| variable | default | meaning |",
            "| --- | --- | --- |",
        ]
        for field_name, settings_field in group.model_fields.items():
            rows.append(f"| `{env_var_name(field_name)}` | {_default(settings_field)} | {settings_field.description} |")
        parts.append("\n".join(rows))
    return "\n\n".join(parts)


@dataclass(frozen=True)
class ShownSetting:
    """One setting as `config show` prints it: its variable, the value in force (None: unset, and nothing stands
    in for it) and where that value came from: the environment, the setting's default, the other settings
    (`derived`) or the use case's declaration."""

    variable: str
    value: str | None
    source: Source


def shown_settings(settings: Settings, environment: Mapping[str, str]) -> list[ShownSetting]:
    """Every setting in the documentation's order, no password among the values: secrets print as stars
    (SecretStr), and so does the password of a URL (the cluster's database URLs hold their role's). `environment`
    is what the settings were read from (names match in any case, as pydantic-settings matches them)."""
    given = {name.upper() for name in environment}
    derived, declared = derived_values(settings), use_case_values(settings)
    shown = []
    for group in SETTINGS_GROUPS.values():
        for name in group.model_fields:
            variable, value = env_var_name(name), getattr(settings, name)
            source: Source
            if variable in given:
                source, text = "environment", None if value is None else str(value)
            elif name in declared or name in USE_CASE_DEFAULTS:
                source, text = "use case", declared.get(name, str(value))
            elif name in derived:
                source, text = "derived", derived[name]
            else:
                source, text = "default", None if value is None else str(value)
            shown.append(ShownSetting(variable, None if text is None else masked_url(text), source))
    return shown


def effective_values(settings: Settings) -> dict[str, str]:
    """Every variable with the value in force now (empty: unset), no password among them (`shown_settings`)."""
    return {shown.variable: shown.value or "" for shown in shown_settings(settings, {})}
