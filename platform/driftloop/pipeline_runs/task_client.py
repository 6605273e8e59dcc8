"""`driftloop-task`: stands where kfp.local puts the Python interpreter, and runs a task in a warm process.

kfp.local's SubprocessRunner starts every task as `<interpreter> -m kfp.dsl.executor_main ...`, and each new
interpreter spent about two seconds importing pandas, MLflow, Feast and scikit-learn before the step did any
work. While a local training run is in progress, `driftloop.pipeline_runs.task_host` holds those modules
imported; this launcher hands it the task (arguments, environment, working folder and the three standard
streams themselves) and the host forks a copy of itself that runs it. The task sees what a new interpreter
would: the same module run as `__main__`, with the same arguments, environment, streams and exit status.

Anything else, or no host to hand it to, runs in the real interpreter as before. This module imports only the
standard library: it is the part of every task that still starts cold.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import struct
import sys
from typing import Any

from pipelines.core.handoff import Handoff

# `<host pid>:<socket path>`, set by the local runner for its tasks only (not a setting: no DRIFTLOOP_ prefix).
HOST_VARIABLE = "_DRIFTLOOP_TASK_HOST"
STREAMS = (0, 1, 2)
LENGTH = struct.Struct("!I")
READY_WAIT_S = 60.0  # a host still importing is waited for; one that has died is not


def send_request(connection: socket.socket, request: dict[str, Any], fds: tuple[int, ...]) -> None:
    """One request: its length and the standard streams in the first message, the rest of the JSON after."""
    payload = json.dumps(request).encode()
    data = LENGTH.pack(len(payload)) + payload
    sent = socket.send_fds(connection, [data[:4096]], list(fds))
    connection.sendall(data[sent:])


def receive_request(connection: socket.socket) -> tuple[dict[str, Any], list[int]]:
    """The request and the file descriptors that came with it (the receiver owns and closes them)."""
    data, fds, _, _ = socket.recv_fds(connection, 4096, len(STREAMS))
    while len(data) < LENGTH.size:
        more = connection.recv(4096)
        if not more:
            raise ConnectionError("the request ended early")
        data += more
    (size,) = LENGTH.unpack_from(data)
    while len(data) < LENGTH.size + size:
        more = connection.recv(65536)
        if not more:
            raise ConnectionError("the request ended early")
        data += more
    return json.loads(data[LENGTH.size : LENGTH.size + size]), fds


def _read_line(connection: socket.socket, buffer: bytearray) -> str | None:
    while b"\n" not in buffer:
        more = connection.recv(64)
        if not more:
            return None
        buffer += more
    line, _, rest = bytes(buffer).partition(b"\n")
    buffer[:] = rest
    return line.decode()


def exit_code_of(status: int) -> int:
    """A child's status as a shell reports it: its exit code, or 128 + the signal that ended it."""
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


def run_in_host(host: Handoff, arguments: list[str]) -> int | None:
    """The task's exit status from the host; None when no host answers (run it here instead)."""
    if not host.ready(READY_WAIT_S):
        return None
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(host.path)
        send_request(connection, {"argv": arguments, "env": dict(os.environ), "cwd": os.getcwd()}, STREAMS)
    except OSError:
        connection.close()
        return None
    buffer = bytearray()
    started = _read_line(connection, buffer)
    if started is None or not started.startswith("pid "):
        connection.close()
        return None  # the host refused it before forking: nothing ran
    child = int(started.split()[1])

    def forward(signum: int, _frame: Any) -> None:  # kfp.local or `local down` stopping the task stops the child
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    ended = _read_line(connection, buffer)
    connection.close()
    if ended is None or not ended.startswith("exit "):
        return 1
    return int(ended.split()[1])


def main() -> None:
    arguments = sys.argv[1:]
    host = Handoff.parse(os.environ.get(HOST_VARIABLE, ""))
    if host is not None and len(arguments) >= 2 and arguments[0] == "-m":
        code = run_in_host(host, arguments)
        if code is not None:
            sys.exit(code)
    os.execv(sys.executable, [sys.executable, *arguments])  # as kfp.local would have started it


if __name__ == "__main__":
    main()
