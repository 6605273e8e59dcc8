"""THE ONE TABLE of what the harness changes: what Kubernetes would provide, and what stands in for it here.

- Pod network: each pod gets its own loopback address (127.77.0.N), so every container keeps the ports the
  chart gives it; "all interfaces" inside a pod (0.0.0.0) is that address.
- Service DNS: every Service name (short, `.namespace`, `.svc`, `.svc.cluster.local`) with its port becomes the
  selected pod's address and target port, as kube-proxy would route it. KServe's controller creates the
  `<isvc>-predictor` (and with a transformer `<isvc>-transformer`) Services (port 80 -> 8080); the table adds them. A
  StatefulSet's pod is also reached by its own name under its governing Service (`<name>-0.<service>`): its
  only pod here is its first.
- Volumes: a claim is one folder shared by every pod that mounts it, an emptyDir a folder of the pod's own, a
  ConfigMap a folder holding its keys as files; a path under a mount point is re-rooted at that folder.

Nothing else is rewritten: commands, args and environment are the rendered ones. `describe()` prints it.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.cluster.rendered_objects import pod_labels, selects
from tests.parity.chart import ChartFinding, Container, RenderedChart, Volume

POD_NETWORK = ipaddress.ip_network("127.77.0.0/24")
KSERVE_SERVICE_PORT, KSERVE_CONTAINER_PORT = 80, 8080  # KServe's component Services (InferenceServiceDefaultHttpPort)


@dataclass(frozen=True)
class Route:
    service: str
    port: int
    pod: str
    address: str
    target_port: int


@dataclass
class ClusterMap:
    chart: RenderedChart
    namespace: str
    root: Path
    network: ipaddress.IPv4Network | ipaddress.IPv6Network = POD_NETWORK
    pod_addresses: dict[str, str] = field(default_factory=dict)
    routes: list[Route] = field(default_factory=list)

    @classmethod
    def build(cls, chart: RenderedChart, namespace: str, root: Path, network: str = str(POD_NETWORK)) -> ClusterMap:
        """`network`: a second run beside the session's (the break tests) takes addresses of its own."""
        table = cls(chart, namespace, root, network=ipaddress.ip_network(network))
        hosts = iter(table.network.hosts())
        workloads = {container.workload for container in chart.containers()}
        for workload in sorted(workloads):
            table.pod_addresses[workload] = str(next(hosts))
        table.pod_addresses["kfp-task"] = str(next(hosts))
        table.pod_addresses["harness"] = str(next(hosts))
        for service in chart.of_kind("Service"):
            table._route_service(service)
        for isvc in chart.of_kind("InferenceService"):
            for part in chart.model_servers:
                table.routes.append(
                    Route(
                        f"{isvc['metadata']['name']}-{part}",
                        KSERVE_SERVICE_PORT,
                        f"InferenceService/{isvc['metadata']['name']}/{part}",
                        table.pod_addresses[f"InferenceService/{isvc['metadata']['name']}/{part}"],
                        KSERVE_CONTAINER_PORT,
                    )
                )
        return table

    def add_route(self, service: str, port: int, pod: str, target_port: int) -> None:
        """A Service the chart refers to but another installation provides (the KFP API)."""
        self.pod_addresses.setdefault(pod, str(list(self.network.hosts())[len(self.pod_addresses)]))
        self.routes.append(Route(service, port, pod, self.pod_addresses[pod], target_port))

    def _route_service(self, service: dict[str, Any]) -> None:
        selector = {"matchLabels": service["spec"].get("selector", {})}
        name = service["metadata"]["name"]
        for obj in self.chart.objects:
            if obj["kind"] not in ("Deployment", "StatefulSet") or not selects(selector, pod_labels(obj)):
                continue
            workload = f"{obj['kind']}/{obj['metadata']['name']}"
            ports = {}
            for container in self.chart.containers(workload):
                ports.update(container.ports)
            for port in service["spec"]["ports"]:
                target = port.get("targetPort", port["port"])
                target_port = ports.get(target) if isinstance(target, str) else int(target)
                if target_port is None:
                    raise ChartFinding(f"Service {name} targets port {target!r}, which {workload} does not name")
                self.routes.append(Route(name, port["port"], workload, self.pod_addresses[workload], target_port))
                if obj["kind"] == "StatefulSet" and obj["spec"].get("serviceName") == name:
                    pod_name = f"{obj['metadata']['name']}-0.{name}"
                    self.routes.append(
                        Route(pod_name, port["port"], workload, self.pod_addresses[workload], target_port)
                    )
            return
        if "serving.kserve.io/inferenceservice" in selector["matchLabels"]:
            isvc = selector["matchLabels"]["serving.kserve.io/inferenceservice"]
            component = selector["matchLabels"].get("component", "predictor")
            workload = f"InferenceService/{isvc}/{component}"
            for port in service["spec"]["ports"]:
                self.routes.append(
                    Route(name, port["port"], workload, self.pod_addresses[workload], port["targetPort"])
                )
            return
        raise ChartFinding(f"Service {name} selects no pod of the chart: {selector['matchLabels']}")

    # -- names -----------------------------------------------------------------------------------------------
    def _names(self, service: str) -> list[str]:
        suffixes = ("", f".{self.namespace}", f".{self.namespace}.svc", f".{self.namespace}.svc.cluster.local")
        return [service + suffix for suffix in suffixes]

    def rewrite_addresses(self, text: str) -> str:
        """Service DNS names (with their port, or bare for port 80) -> pod address:target port."""
        for route in sorted(self.routes, key=lambda r: -len(r.service)):
            for name in sorted(self._names(route.service), key=len, reverse=True):
                pattern = rf"(?<![\w.-]){re.escape(name)}:{route.port}(?!\d)"
                text = re.sub(pattern, f"{route.address}:{route.target_port}", text)
                if route.port == 80:
                    text = re.sub(
                        rf"(?<![\w.-]){re.escape(name)}(?![\w.:-])", f"{route.address}:{route.target_port}", text
                    )
        return text

    def address(self, service: str, port: int) -> str:
        """Where `service:port` answers here."""
        for route in self.routes:
            if route.service == service and route.port == port:
                return f"{route.address}:{route.target_port}"
        raise ChartFinding(f"no Service {service}:{port} in the chart")

    # -- volumes ---------------------------------------------------------------------------------------------
    def volume_dir(self, volume: Volume, pod: str) -> Path:
        if volume.kind == "persistentVolumeClaim":
            return self.root / "volumes" / volume.source
        if volume.kind == "emptyDir":
            return self.root / "pods" / _slug(pod) / volume.name
        return self.root / "configmaps" / _slug(pod) / volume.name

    def mount_dirs(self, container: Container) -> dict[str, Path]:
        """mountPath -> the folder (or, for a subPath mount, the file) standing in for it; nothing is written."""
        mounted: dict[str, Path] = {}
        for mount_path, volume in container.mounts.items():
            folder = self.volume_dir(volume, container.workload)
            if volume.kind == "configMap" and "" in volume.files:  # a subPath mount: one file at the mount path
                folder = folder / Path(mount_path).name
            mounted[mount_path] = folder
        return mounted

    def materialise_mounts(self, container: Container) -> dict[str, Path]:
        """Create each mount's folder; mountPath -> folder. A ConfigMap's keys become files, with the same
        rewrite as env and args (a config file names services and paths under the pod's mounts)."""
        mounted = self.mount_dirs(container)
        for mount_path, volume in container.mounts.items():
            folder = mounted[mount_path]
            if volume.kind == "configMap" and "" in volume.files:
                folder.parent.mkdir(parents=True, exist_ok=True)
                folder.write_text(self.rewrite(volume.files[""], mounted, container.workload))
                continue
            folder.mkdir(parents=True, exist_ok=True)
            for key, content in volume.files.items():
                (folder / key).write_text(self.rewrite(content, mounted, container.workload))
        return mounted

    def rewrite(self, value: str, mounted: dict[str, Path], pod: str) -> str:
        """One rendered value as the process here sees it: addresses, then paths under mount points."""
        value = self.rewrite_addresses(value)
        if value == "0.0.0.0":
            return self.pod_addresses[pod]
        if not mounted:
            return value
        # One pass, longest mount point first: a re-rooted path is never re-rooted again (/tmp holds the run).
        points = "|".join(re.escape(path) for path in sorted(mounted, key=len, reverse=True))
        return re.sub(rf"(?<![\w./-])({points})(?=[/\s\"',\]]|$)", lambda match: str(mounted[match.group(1)]), value)

    def describe(self) -> str:
        lines = ["pod addresses:"]
        lines += [f"  {pod:<55} {address}" for pod, address in sorted(self.pod_addresses.items())]
        lines.append("services:")
        lines += [f"  {r.service}:{r.port:<6} -> {r.address}:{r.target_port}  ({r.pod})" for r in self.routes]
        return "\n".join(lines)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
