"""API credentials: one bearer token per scope, in a folder only the platform's user can read.

Why scopes: scoring writes events that become training data, labels decide what the next model learns, and
admin may do anything. A leaked scoring token must not be able to relabel history. The folder holds one file
per scope (`score`, `label`, `admin`) so the chart can mount its Secret there unchanged; local mode creates it
on first use with fresh random tokens, 0700 and 0600. Tokens are compared in constant time.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import secrets
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from pipelines.core.errors import DriftloopError
from pipelines.core.layout import Layout
from pipelines.core.settings import Settings

TOKEN_BYTES = 32


class Scope(StrEnum):
    """What a token may do: score (predict), label (POST /v1/labels) or admin (everything)."""

    SCORE = "score"
    LABEL = "label"
    ADMIN = "admin"


class CredentialsMissingError(DriftloopError):
    """The credentials folder lacks a token (in the cluster: the Secret is not mounted)."""


@dataclass(frozen=True)
class Credentials:
    """The platform's tokens by scope, compared in constant time."""

    tokens: dict[Scope, str]

    def scope_of(self, token: str) -> Scope | None:
        """The scope a presented token holds, or None. Every scope is compared, so timing tells nothing."""
        found = None
        for scope, expected in self.tokens.items():
            if hmac.compare_digest(token.encode(), expected.encode()):
                found = scope
        return found

    def token(self, scope: Scope) -> str:
        return self.tokens[scope]


def allows(held: Scope, needed: Scope) -> bool:
    """admin may do what any scope may; otherwise a scope allows only itself."""
    return held == needed or held == Scope.ADMIN


def write_secret_files(folder: Path, names: tuple[str, ...]) -> None:
    """Fresh random secrets for the files of `names` that do not exist yet, written so that no other user can
    ever read them (the folder is 0700 before any file)."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.chmod(0o700)
    for name in names:
        path = folder / name
        if path.exists():
            continue
        draft = folder / f".{name}.{os.getpid()}.{secrets.token_hex(4)}"
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(TOKEN_BYTES))
        # A hard link appears whole or not at all, and never replaces: two servers starting together (local up
        # starts both) agree on the first one's secret, and nobody reads a half-written file.
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
        draft.unlink()


def read_secret_file(path: Path, what: str) -> str:
    """One secret, at least 16 characters; a clear error naming the file when it is missing or too short."""
    try:
        secret = path.read_text().strip()
    except OSError as error:
        raise CredentialsMissingError(
            f"no {what} at {path} ({error.strerror}); set DRIFTLOOP_CREDENTIALS_DIR to the folder of the "
            "platform's credentials"
        ) from error
    if len(secret) < 16:
        raise CredentialsMissingError(f"the {what} at {path} is shorter than 16 characters")
    return secret


def load_credentials(settings: Settings) -> Credentials:
    """The tokens; in local mode created on first use. In the cluster they come from the chart's Secret."""
    folder = Layout.from_settings(settings).credentials
    if settings.mode == "local":
        write_secret_files(folder, tuple(scope.value for scope in Scope))
    return Credentials({scope: read_secret_file(folder / scope.value, f"{scope.value} token") for scope in Scope})
