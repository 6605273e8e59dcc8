"""The settings a service was started with, kept beside its pid record so `local up` can tell a stale service.

Only keyed digests are kept (HMAC-SHA256 under a salt of the record's own), never a value: a password, a token or
a URL with credentials in it never lands in the run folder in clear, and a value cannot be looked up in a table of
precomputed digests. Comparing needs only the names that differ, which is all `local up` prints.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class StartSettings:
    """The `DRIFTLOOP_*` variables a service read at its start, as digests.

    Attributes:
        salt: hex of the random key the digests are taken with (one per record).
        digests: environment variable name -> hex HMAC-SHA256 of its value; a variable that was unset is absent.
    """

    salt: str
    digests: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, environment: Mapping[str, str], reads: Iterable[str]) -> StartSettings:
        """The record of the `reads` variables (names) as `environment` sets them."""
        salt = secrets.token_hex(16)
        names = set(reads)
        digests = {name: _digest(salt, name, value) for name, value in environment.items() if name in names}
        return cls(salt=salt, digests=dict(sorted(digests.items())))

    def changed(self, environment: Mapping[str, str], reads: Iterable[str]) -> list[str]:
        """The `reads` variables whose value in `environment` differs from the recorded one (set, unset or
        changed), sorted."""
        differing = []
        for name in sorted(set(reads)):
            value = environment.get(name)
            recorded = self.digests.get(name)
            if value is None or recorded is None:
                if (value is None) != (recorded is None):
                    differing.append(name)
            elif not hmac.compare_digest(recorded, _digest(self.salt, name, value)):
                differing.append(name)
        return differing


def _digest(salt: str, name: str, value: str) -> str:
    message = f"{name}\0{value}".encode()  # the name too: two variables with one value give two digests
    return hmac.new(bytes.fromhex(salt), message, hashlib.sha256).hexdigest()
