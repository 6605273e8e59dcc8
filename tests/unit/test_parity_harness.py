"""The parity harness's own rules, as pure logic (the harness runs in `make parity`)."""

from __future__ import annotations

from pathlib import Path


def test_the_parity_harness_expands_container_args_as_the_kubelet_does() -> None:
    """`$(NAME)` is a defined variable's value, `$$` a literal `$`, an undefined one stays as written."""
    from tests.parity.pods import expand

    env = {"REDIS_PASSWORD": "pw", "A": "x"}
    assert expand("$(REDIS_PASSWORD)", env) == "pw"
    assert expand("--a=$(A)-$(B)", env) == "--a=x-$(B)"
    assert expand("$$(A)", env) == "$(A)"


def test_the_parity_harness_gives_a_statefulset_pod_its_ordinal_and_its_own_dns_name() -> None:
    """The harness runs a StatefulSet's pod 0: the downward API's pod-index label reads 0 there, and the pod's own
    name under its governing Service (what Prometheus scrapes the stream workers by) routes to it."""
    import pytest

    from tests.parity.chart import POD_INDEX_FIELD, ChartFinding, RenderedChart
    from tests.parity.cluster_map import ClusterMap

    labels = {"app.kubernetes.io/component": "stream-worker"}
    container = {"name": "w", "image": "driftloop:x", "ports": [{"name": "metrics", "containerPort": 9109}],
                 "env": [{"name": "INDEX", "valueFrom": {"fieldRef": {"fieldPath": POD_INDEX_FIELD}}}]}  # fmt: skip
    workers = {"kind": "StatefulSet", "metadata": {"name": "w"},
               "spec": {"serviceName": "w", "template": {"metadata": {"labels": labels},
                                                         "spec": {"containers": [container]}}}}  # fmt: skip
    service = {"kind": "Service", "metadata": {"name": "w"},
               "spec": {"selector": labels, "ports": [{"port": 9109, "targetPort": "metrics"}]}}  # fmt: skip
    chart = RenderedChart([workers, service])
    assert chart.container("StatefulSet/w", "w").env == {"INDEX": "0"}
    table = ClusterMap.build(chart, "ns", Path("/nonexistent"))
    address = table.pod_addresses["StatefulSet/w"]
    assert table.rewrite_addresses('targets: ["w-0.w:9109", "w-0.w.ns.svc.cluster.local:9109", "w:9109"]') == (
        f'targets: ["{address}:9109", "{address}:9109", "{address}:9109"]'
    )
    other = {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}
    with pytest.raises(ChartFinding, match="source the harness does not know"):
        chart._env_value("StatefulSet/w", other)
