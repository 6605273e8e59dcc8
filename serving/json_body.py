"""Request bodies as JSON: one strict decoder for the routes that read a body themselves (V1 bodies KServe hands
over undecoded, and `POST /v1/labels`).

Why one, and why orjson: the standard library's decoder recurses, so a deeply nested body raised RecursionError
(a 500 that closed the connection), and it accepts what JSON is not (NaN literals, lone surrogates that later
fail to encode). orjson refuses all of these with a message that gives the position, at a bounded depth.
"""

from __future__ import annotations

from typing import Any

import orjson


class NotJson(ValueError):
    """A body that is not JSON; the message says why and where, in one line."""


def parse_json(body: bytes | str) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise NotJson(f"request body: not valid JSON ({error})") from error
