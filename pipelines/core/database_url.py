"""Database URLs as the settings hold them (SQLAlchemy's `postgresql+psycopg://user:password@host/db`): what
libpq takes, and what may be printed."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

MASK = "***"


def is_postgresql(url: str | None) -> bool:
    return bool(url) and str(url).startswith("postgresql")


def libpq_url(sqlalchemy_url: str) -> str:
    """A SQLAlchemy PostgreSQL URL (`postgresql+psycopg://...`) as libpq takes it."""
    scheme, sep, rest = sqlalchemy_url.partition("://")
    return f"{scheme.split('+', 1)[0]}{sep}{rest}"


def masked_url(value: str) -> str:
    """`value` with the password of a `scheme://user:password@host` URL replaced by ***; anything else as it is.
    In the cluster the Feast registry's and MLflow's URLs hold their role's password."""
    if "://" not in value or "@" not in value:
        return value
    try:
        parts = urlsplit(value)
        password = parts.password
    except ValueError:  # not a URL after all (an unparseable port): keep nothing that could be a secret
        return MASK
    if password is None:
        return value
    userinfo, _, host = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{host}"))
