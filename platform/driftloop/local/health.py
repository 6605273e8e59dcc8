"""HTTP health probes, and waiting for a freshly started process to become healthy."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx


def probe(url: str, timeout: float = 2.0) -> bool:
    """True when GET url answers 2xx; for `tcp://host:port`, when the port accepts a connection."""
    if url.startswith("tcp://"):
        address = urlsplit(url)
        try:
            with socket.create_connection((address.hostname, address.port), timeout=timeout):
                return True
        except OSError:
            return False
    try:
        response = httpx.get(url, timeout=timeout)
    except httpx.HTTPError:
        return False
    return response.is_success


def wait_until_healthy(url: str, timeout: float, still_alive: Callable[[], bool], interval: float = 0.25) -> bool:
    """Poll url until it answers, the process dies (False at once) or the timeout passes (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe(url):
            return True
        if not still_alive():
            return False
        time.sleep(interval)
    return probe(url)
