"""The warm process a local training run's tasks start from: the modules they import, imported once.

Started by the local runner for one run (`python -m driftloop.pipeline_runs.task_host --socket PATH --parent PID
MODULE...`, a `MODULE:FUNCTION` also calls the function): it imports the modules, listens on PATH, and for each task
`driftloop-task` hands it, forks. The copy takes the task's environment, working folder and standard streams and
runs the module as `__main__`, as a new interpreter would; the host reports its pid at once and its exit status when
it ends. The host stays single-threaded (a fork copies only the calling thread: a lock another thread held would
stay held in the copy) and ends with its parent, a SIGTERM, or a closed socket; tasks still running then are
stopped. The socket lives in a folder only its user can enter (the runner's private temporary folder): what it runs,
its user could run.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import gc
import importlib
import logging
import os
import runpy
import selectors
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from driftloop.pipeline_runs.task_client import HOST_VARIABLE, STREAMS, exit_code_of, receive_request
from pipelines.core.handoff import failed_marker

logger = logging.getLogger("driftloop.task_host")

# Native libraries whose import starts threads a forked copy cannot live with (onnxruntime's pool: its
# destructor joins a thread the copy does not have and aborts the task at exit, after its work is done).
FORK_UNSAFE = ("onnxruntime",)
POLL_S = 0.5  # how often the host looks for a gone parent (a task's end wakes it at once)


@dataclass(frozen=True)
class Task:
    """What a forked copy runs: a module as `__main__`, like `python -m`."""

    module: str
    arguments: list[str]
    environment: dict[str, str]
    folder: str
    streams: list[int]


def preload(modules: list[str]) -> None:
    """Import what the tasks will, and run the warm-ups among them (`module:function`, called without
    arguments: work every task would repeat, done once here); one that fails is the task's to report, not the
    host's."""
    for name in modules:
        started = time.perf_counter()
        module, _, warm_up = name.partition(":")
        try:
            imported = importlib.import_module(module)
            if warm_up:
                getattr(imported, warm_up)()
        except Exception:  # noqa: BLE001 - the task imports (or does) it again and fails with its own message
            logger.warning("could not preload %s", name, exc_info=True)
        logger.debug("preloaded %s in %.2fs", name, time.perf_counter() - started)
    if threading.active_count() > 1:  # an import started a thread: forking could copy a held lock
        names = [thread.name for thread in threading.enumerate()]
        raise RuntimeError(f"preloading started threads {names}: the host cannot fork safely")
    unsafe = sorted(name for name in FORK_UNSAFE if name in sys.modules)
    if unsafe:
        raise RuntimeError(f"preloading imported {unsafe}: a forked copy of the host would abort at its exit")
    # What the imports made stays for good: out of the collector's sight, a copy's collections (and the CLI's
    # collection at its exit) walk only what the task itself made, not the host's whole heap (0.18 s a command).
    gc.collect()
    gc.freeze()


class Host:
    """Accepts tasks on a Unix socket and forks one copy of this process for each."""

    def __init__(self, path: str, parent: int) -> None:
        self.path, self.parent = path, parent
        self.stopping = False
        self.running: dict[int, socket.socket] = {}  # a task's pid -> its launcher's connection
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)

    def serve(self) -> Task | None:
        """Serve until told to stop (None); in a forked copy, return the task that copy is to run."""
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "stopping", True))
        partial = f"{self.path}.{os.getpid()}"
        self.listener.bind(partial)
        self.listener.listen(16)
        os.rename(partial, self.path)  # the socket appears ready: a launcher never connects to a half-made host
        # A task's end wakes the loop at once: SIGCHLD writes to this pair (Python's wakeup fd).
        wakeup, wakeup_writer = socket.socketpair()
        wakeup_writer.setblocking(False)
        signal.set_wakeup_fd(wakeup_writer.fileno())
        signal.signal(signal.SIGCHLD, lambda *_: None)
        selector = selectors.DefaultSelector()
        selector.register(self.listener, selectors.EVENT_READ)
        selector.register(wakeup, selectors.EVENT_READ)
        try:
            while not self.stopping and os.getppid() == self.parent and os.path.exists(self.path):
                for key, _ in selector.select(POLL_S):
                    if key.fileobj is wakeup:
                        wakeup.recv(4096)
                    elif (task := self._accept()) is not None:  # this is the forked copy
                        selector.close()
                        signal.set_wakeup_fd(-1)
                        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                        wakeup.close()
                        wakeup_writer.close()
                        return task
                self._reap()
        finally:
            if self.running:
                self._stop_tasks()
        return None

    def _accept(self) -> Task | None:
        connection, _ = self.listener.accept()
        try:
            request, streams = receive_request(connection)
        except (OSError, ValueError) as error:
            logger.warning("dropped a launcher's request: %s", error)
            connection.close()
            return None
        arguments = list(request["argv"])
        task = Task(arguments[1], arguments[2:], dict(request["env"]), str(request["cwd"]), streams)
        sys.stdout.flush()  # nothing of the host's buffered output may be written twice
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            self.listener.close()
            for other in self.running.values():
                other.close()
            self.running.clear()  # the host's other tasks are not this copy's to stop on its way out of serve()
            connection.close()
            return task
        for fd in streams:
            os.close(fd)
        self.running[pid] = connection
        connection.sendall(f"pid {pid}\n".encode())
        logger.info("task %d: python -m %s", pid, task.module)
        return None

    def _reap(self) -> None:
        while self.running:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                return
            connection = self.running.pop(pid, None)
            if connection is None:
                continue
            code = exit_code_of(status)
            logger.info("task %d ended: %d", pid, code)
            with contextlib.suppress(OSError):  # its launcher is gone: nobody is waiting for the status
                connection.sendall(f"exit {code}\n".encode())
            connection.close()

    def _stop_tasks(self) -> None:
        for pid in self.running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while self.running and time.monotonic() < deadline:
            self._reap()
            time.sleep(0.05)
        for pid in self.running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def become(task: Task) -> None:
    """Turn this forked copy into the task: its streams, folder, environment, signals and logging as a new
    interpreter would have them."""
    for target, fd in zip(STREAMS, task.streams, strict=True):
        os.dup2(fd, target)
        os.close(fd)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL if signum != signal.SIGINT else signal.default_int_handler)
    os.chdir(task.folder)
    os.environ.clear()
    os.environ.update(task.environment)
    os.environ.pop(HOST_VARIABLE, None)  # the task runs here: what it starts is not a launcher's to hand over
    root = logging.getLogger()
    for handler in root.handlers[:]:
        root.removeHandler(handler)
    root.setLevel(logging.WARNING)
    logger.disabled = True
    sys.argv = [task.module, *task.arguments]
    sys.path[0] = task.folder  # `python -m` puts the working folder first


def run(task: Task) -> NoReturn:
    """Run the task's module as `python -m` would; its SystemExit is the process's exit status."""
    become(task)
    try:
        runpy.run_module(task.module, run_name="__main__", alter_sys=True)
    except SystemExit as stop:
        finish(exit_status(stop))
    except BaseException:  # noqa: BLE001 - reported as the interpreter reports an uncaught exception
        sys.excepthook(*sys.exc_info())
        finish(1)
    finish(0)


def exit_status(stop: SystemExit) -> int:
    """The status an interpreter ends with on this SystemExit: None is 0, a number itself, anything else is
    written to stderr and is 1."""
    if stop.code is None:
        return 0
    if isinstance(stop.code, int):
        return stop.code
    sys.stderr.write(f"{stop.code}\n")
    return 1


def finish(status: int) -> NoReturn:
    """End the task as an interpreter ends, without tearing down the host's modules it inherited.

    An interpreter's end waits for the task's threads (and the executors' own exit hooks), runs the exit
    handlers and flushes the standard streams; then it tears down every module, here the host's whole
    preloaded heap: 0.24 s a task for a module that only prints. A forked copy leaves that out, as
    multiprocessing's forked children do: what the task wrote and closed, its exit handlers and streams are done.
    """
    wait_for_threads = getattr(threading, "_shutdown", None)  # what Py_Finalize calls first (CPython 3.8-3.13)
    if wait_for_threads is not None:
        wait_for_threads()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(status & 0xFF)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--socket", required=True)
    parser.add_argument("--parent", type=int, required=True)
    parser.add_argument("modules", nargs="*")
    options = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s task host: %(message)s")
    try:
        preload(options.modules)
    except RuntimeError:
        Path(failed_marker(options.socket)).touch()  # launchers stop waiting and start their tasks cold
        raise
    host = Host(options.socket, options.parent)
    task = host.serve()
    if task is None:
        Path(options.socket).unlink(missing_ok=True)
        return
    run(task)


if __name__ == "__main__":
    main()
