"""Render the settings as the README's configuration table, or with their effective values."""

from __future__ import annotations

from driftloop.core.settings import Settings, env_var_name


def _default(settings_field: object) -> str:
    value = getattr(settings_field, "default", None)
    return "—" if value is None else f"`{value}`"


def markdown_table() -> str:
    """The configuration table: variable, default and meaning of every setting."""
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for name, settings_field in Settings.model_fields.items():
        rows.append(f"| `{env_var_name(name)}` | {_default(settings_field)} | {settings_field.description} |")
    return "\n".join(rows)


def effective_values(settings: Settings) -> dict[str, str]:
    """Every variable with the value in force now."""
    return {env_var_name(name): str(getattr(settings, name)) for name in Settings.model_fields}
