"""Load generator, run as its own process so it does not share a GIL with the server it measures.

`python -m bench.loadgen --url URL --body FILE --concurrency N --seconds S [--token T]` posts the JSON body
from N threads for S seconds (with `Authorization: Bearer T` when given: every target gets it, the baselines
ignore it) and prints throughput, latency percentiles and error count as JSON. `--bodies FILE` instead takes
one JSON body per line and each thread posts them in turn, starting at its own line (requests spread over many
entities, as the stream freshness bench needs).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from typing import Any

import httpx
import numpy as np


def run(
    url: str, body: bytes | list[bytes], concurrency: int, seconds: float, warmup: float = 1.0, token: str = ""
) -> dict[str, Any]:
    bodies = body if isinstance(body, list) else [body]
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors = [0] * concurrency
    first_error: list[str] = []
    start_at = time.perf_counter() + warmup
    stop_at = start_at + seconds

    def worker(index: int) -> None:
        headers = {"content-type": "application/json", **({"authorization": f"Bearer {token}"} if token else {})}
        turn = index * len(bodies) // concurrency  # each thread starts at its own share of the bodies
        with httpx.Client(timeout=30, headers=headers) as client:
            while (now := time.perf_counter()) < stop_at:
                content = bodies[turn % len(bodies)]
                turn += 1
                began = time.perf_counter()
                response = client.post(url, content=content)
                took = time.perf_counter() - began
                if now >= start_at:
                    if response.status_code == 200:
                        latencies[index].append(took)
                    else:
                        errors[index] += 1
                        if not first_error:
                            first_error.append(f"{response.status_code} {response.text[:300]}")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    values = np.array([v for worker_latencies in latencies for v in worker_latencies])
    if len(values) == 0:
        return {"requests": 0, "errors": float(sum(errors)), "rps": 0.0, "p50_ms": 0.0, "p95_ms": 0.0, "p99_ms": 0.0,
                "first_error": first_error[0] if first_error else "no answer"}  # fmt: skip
    return {
        "requests": float(len(values)),
        "errors": float(sum(errors)),
        "rps": len(values) / seconds,
        "p50_ms": float(np.percentile(values, 50) * 1000),
        "p95_ms": float(np.percentile(values, 95) * 1000),
        "p99_ms": float(np.percentile(values, 99) * 1000),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    given = parser.add_mutually_exclusive_group(required=True)
    given.add_argument("--body", help="file with the JSON request body")
    given.add_argument("--bodies", help="file with one JSON request body per line, posted in turn")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--token", default="", help="bearer token (the platform's score scope)")
    args = parser.parse_args()
    with open(args.body or args.bodies, "rb") as handle:
        content = handle.read()
    body: bytes | list[bytes] = content if args.body else [line for line in content.splitlines() if line]
    json.dump(run(args.url, body, args.concurrency, args.seconds, token=args.token), sys.stdout)


if __name__ == "__main__":
    main()
