"""Refusals that ask the client to come back: a 503 with Retry-After, never a 500 (serving.server maps them).

Why a shared type: the model servers refuse for different reasons (the prediction log cannot record more rows,
the online store does not answer) and the client's remedy is the same: wait and retry.
"""

from __future__ import annotations

RETRY_AFTER_S = 1


class Unavailable(RuntimeError):
    """Answered 503 with `Retry-After: RETRY_AFTER_S` and this message."""
