"""The upstream images the chart runs (PostgreSQL, Redis, Prometheus, the Pushgateway, Alertmanager) from
Debian packages.

Each keeps the rendered args and environment; what the image's entrypoint would do is done here in the open
(PostgreSQL's first-start initialisation from POSTGRES_* and /docker-entrypoint-initdb.d), and each server
listens on its pod's address (the "all interfaces" of a pod, see cluster_map). Debian's versions differ from
the pinned images (PostgreSQL 15 for 16, Prometheus 2.42 for 3.1, Pushgateway 1.5 for 1.11, Alertmanager
0.25 for 0.28): a rule or flag
only the newer one accepts would still need a real cluster to show.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time
from pathlib import Path

from tests.parity.chart import ChartFinding, Container
from tests.parity.cluster_map import ClusterMap


def _image(container: Container) -> str:
    return container.image.split("/")[-1].split(":")[0]


def postgres_program(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise FileNotFoundError("PostgreSQL is not installed (apt-get install postgresql)")
    return found[-1]


def run_as(container: Container) -> str | None:
    """PostgreSQL refuses to run as root: as root, run it as Debian's `postgres` user (the image's uid 999)."""
    return "postgres" if _image(container) == "postgres" and os.geteuid() == 0 else None


def program(
    container: Container, args: list[str], address: str, mounted: dict[str, Path], env: dict[str, str]
) -> tuple[list[str], Path]:
    image = _image(container)
    if image == "postgres":
        return _postgres(address, mounted, env), mounted["/var/lib/postgresql/data"]
    if image == "redis":
        return [_which("redis-server"), *args, "--bind", address, "--port", str(container.ports["redis"])], mounted[
            "/data"
        ]
    if image == "prometheus":
        listen = f"--web.listen-address={address}:{container.ports['http']}"
        return [_which("prometheus"), *args, listen], mounted.get("/prometheus", Path("."))
    if image == "alertmanager":
        listen = f"--web.listen-address={address}:{container.ports['http']}"
        return [_which("prometheus-alertmanager"), *args, listen], mounted["/alertmanager"]
    if image == "pushgateway":
        listen = f"--web.listen-address={address}:{container.ports['http']}"
        return [_which("prometheus-pushgateway"), *args, listen], Path(env["TMPDIR"])
    raise ChartFinding(f"{container.workload}: no Debian stand-in for image {container.image}")


def probe_command(container: Container, table: ClusterMap, command: list[str]) -> tuple[list[str], dict[str, str]]:
    """An exec probe runs inside the pod, where localhost is the pod: PostgreSQL's client finds the server's
    socket in the pod's /var/run/postgresql; redis-cli is pointed at the pod's address."""
    if _image(container) == "postgres":
        return command, {"PGHOST": str(table.mount_dirs(container)["/var/run/postgresql"])}
    if _image(container) == "redis" and command[0] == "redis-cli":
        return [command[0], "-h", table.pod_addresses[container.workload], *command[1:]], {}
    return command, {}


def _which(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise FileNotFoundError(f"{name} is not installed (platform/driftloop/cluster/scripts/ci-tools.sh)")
    return path


def _postgres(address: str, mounted: dict[str, Path], env: dict[str, str]) -> list[str]:
    """What the postgres image's entrypoint does on first start, then the server's own command."""
    data = Path(env["PGDATA"])
    sockets = mounted["/var/run/postgresql"]
    user = env["POSTGRES_USER"]
    owner = "postgres" if os.geteuid() == 0 else None
    for folder in (data.parent, sockets, Path(env["TMPDIR"])):
        folder.mkdir(parents=True, exist_ok=True)
        if owner:
            shutil.chown(folder, owner, owner)
    server = [postgres_program("postgres"), "-D", str(data), "-c", f"listen_addresses={address}", "-p", "5432",
              "-k", str(sockets)]  # fmt: skip
    if (data / "PG_VERSION").exists():
        return server
    password_file = Path(env["TMPDIR"]) / "pwfile"
    password_file.write_text(env["POSTGRES_PASSWORD"])
    if owner:
        shutil.chown(password_file, owner, owner)
    initdb = [postgres_program("initdb"), "-D", str(data), "-U", user, f"--pwfile={password_file}",
              "--auth-local=trust", "--auth-host=scram-sha-256"]  # fmt: skip
    subprocess.run(initdb, check=True, capture_output=True, user=owner, env={**env, "LANG": "C.UTF-8"})
    password_file.unlink()
    unix_only = [server[0], "-D", str(data), "-c", "listen_addresses=", "-k", str(sockets)]
    first = subprocess.Popen(unix_only, user=owner,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)  # fmt: skip
    try:
        psql = [postgres_program("psql"), "-h", str(sockets), "-U", user, "-v", "ON_ERROR_STOP=1"]
        for _ in range(100):
            if subprocess.run([*psql, "-d", "postgres", "-c", "select 1"], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        subprocess.run([*psql, "-d", "postgres", "-c", f'CREATE DATABASE "{env["POSTGRES_DB"]}"'], check=True,
                       capture_output=True)  # fmt: skip
        scripts = mounted.get("/docker-entrypoint-initdb.d")
        for script in sorted(scripts.glob("*.sql")) if scripts else []:
            subprocess.run([*psql, "-d", env["POSTGRES_DB"], "-f", str(script)], check=True, capture_output=True)
    finally:
        first.terminate()
        first.wait(timeout=30)
    return server
