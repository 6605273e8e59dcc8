"""Render the settings as the README's configuration table, or with their effective values."""

from __future__ import annotations

from pydantic.fields import FieldInfo

from pipelines.core.database_url import masked_url
from pipelines.core.settings import SETTINGS_GROUPS, Settings, env_var_name


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


def effective_values(settings: Settings) -> dict[str, str]:
    """Every variable with the value in force now, no password among them: secrets print as stars (SecretStr),
    and so does the password of a URL (the cluster's database URLs hold their role's)."""
    return {env_var_name(name): masked_url(str(getattr(settings, name))) for name in Settings.model_fields}
