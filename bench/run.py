"""`make bench`: run the benchmarks, write JSON to bench/results/, print a short table.

`python -m bench.run` is the quick mode (serving, model cost, features, the streamed views' freshness beside the
in-process chain at its maximum throughput for 45 s, drift at 10k and 100k rows, drift alarm rates over 20 + 20
replayed windows, estimated quality over 20 + 20 days and 5 drifted worlds, the gate's promote rates over 20
worlds, the canary's decisions over 20 simulations of each kind, the feature build at 0.5M and 2M events per
engine, label requests at 10 and 5,000 parts of history, the streamed views' lift on card testing over 3 worlds, the
hyperparameter search against the fixed configuration on 5 drifted worlds and one pipeline run of each);
`--full` adds more concurrency levels and longer runs (freshness: 90 s at concurrency 16), 1M drift rows, 40 + 40
alarm windows, 10 drifted worlds, 40 gate worlds, 40 canary simulations of each kind, 8M events and the loop
(the demo).
"""

from __future__ import annotations

import argparse
import logging
import platform
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.provenance import write_result

RESULTS = Path(__file__).resolve().parent / "results"
# Every benchmark, in the order they run; `loop` (the demo) only with --full.
BENCHES = (
    "serving", "model", "features", "freshness", "drift", "alarms", "quality", "gate", "canary", "streaming", "search",
    "scale", "labels", "loop",
)  # fmt: skip


def _table(results: dict[str, Any]) -> str:
    lines = ["benchmark | case | figure | baseline ratio", "--- | --- | --- | ---"]
    for level, runs in results.get("serving", {}).items():
        for name, m in runs.items():
            lines.append(
                f"serving {level} | {name} | {m['rps']:.0f} rps, p50 {m['p50_ms']:.1f} ms, p99 {m['p99_ms']:.1f} ms"
                f" | {m['rps_vs_b']:.2f}x rps of (b), p99 {m['p99_vs_b']:.2f}x"
                + (
                    f", {m['rps_vs_c']:.2f}x rps and {m['p99_vs_c']:.2f}x p99 of the floor (c)"
                    if "rps_vs_c" in m
                    else ""
                )
                + (f" ({m['topology']})" if "topology" in m else "")
            )
    for size, m in results.get("model", {}).items():
        lines.append(
            f"model {size.replace('_', ' ')} | scikit-learn / ONNX (from arrays; from a frame; on one thread) | "
            f"{m['sklearn_us']:.0f} / {m['onnx_us']:.0f} ({m['onnx_from_frame_us']:.0f}; "
            f"{m['onnx_one_thread_us']:.0f}) us, max diff {m['max_abs_diff']:.1e} | {m['speedup']:.0f}x faster"
        )
    for store, sizes in results.get("features", {}).items():
        for size, m in sizes.items() if isinstance(sizes, dict) else []:
            if isinstance(m, dict) and "ours" in m:
                lines.append(
                    f"features {store} | {size.replace('_', ' ')}: ours / Feast's call (columns; rows) / raw read | "
                    f"p50 {m['ours']['p50_ms']:.2f} / {m['feast_columns']['p50_ms']:.2f} "
                    f"({m['feast_rows']['p50_ms']:.2f}) / {m['raw_read']['p50_ms']:.2f} ms | "
                    f"{m['ratio']:.2f}x Feast's own call"
                )
    for rows, runs in results.get("drift", {}).items():
        ours = runs["ours"]
        lines.append(
            f"drift {rows} | ours / evidently / ks | {ours['seconds']:.1f} / {runs['evidently']['seconds']:.1f} / "
            f"{runs['ks']['seconds']:.2f} s, peak {ours['peak_rss_mib']:.0f} MiB"
            f" | {ours['time_vs_evidently']:.2f}x time, {ours['memory_vs_evidently']:.2f}x memory of Evidently"
        )
    if "quality" in results:
        q = results["quality"]["summary"]
        gained = [h for h in q["drift_hours_gained"] if h is not None]
        lines.append(
            f"estimated quality | {q['windows']} healthy + {q['windows']} harmlessly shifted days, "
            f"~{q['healthy_arrived_share_mean']:.0%} of labels in | ROC AUC inside the interval "
            f"{q['healthy_coverage']['roc_auc']:.0%} / {q['harmless_coverage']['roc_auc']:.0%}, precision at budget "
            f"{q['healthy_coverage']['precision_at_budget']:.0%} / {q['harmless_coverage']['precision_at_budget']:.0%};"
            f" shifted days drifted {q['harmless_drifted_windows']}, retrained {q['harmless_retrains']}"
        )
        lines.append(
            f"estimated harm | wallet drift, {q['drift_detected']} seeds | reported with at most "
            f"{q['drift_detected_at_arrived_share_max']:.0%} of labels in; hours gained on realised ROC AUC over the "
            f"arrived labels at the same confidence: {', '.join(str(h) for h in gained)}"
        )
    if "alarms" in results:
        alarms, windows = results["alarms"]["summary"], results["alarms"]["windows"]
        lines.append(
            f"drift alarms | {windows} healthy + {windows} drifted windows of "
            f"{results['alarms']['rows']} answers | healthy with <= 1 column flagged "
            f"{alarms['healthy_windows_at_most_1_column']:.0%}, false triggers {alarms['healthy_false_triggers']:.0%}, "
            f"drifted windows triggering {alarms['drifted_windows_triggering']:.0%} (min share "
            f"{alarms['drifted_share_min']:.2f}) | targets >= 95%, >= 95%"
        )
    if "freshness" in results:
        from bench.stream_freshness import table_lines as freshness_lines

        lines += freshness_lines(results["freshness"])
    if "gate" in results:
        from bench.gate_evidence import table_lines

        lines += table_lines(results["gate"])
    if "canary" in results:
        from bench.canary import table_lines as canary_lines

        lines += canary_lines(results["canary"])
    if "streaming" in results:
        from bench.streaming_lift import table_lines as streaming_lines

        lines += streaming_lines(results["streaming"])
    if "search" in results:
        from bench.search import table_lines as search_lines

        lines += search_lines(results["search"])
    for size, runs in results.get("scale", {}).items():
        for stage, title in (("features", "features build"), ("training_set", "training set")):
            pandas_run, ray_run = runs["pandas"][stage], runs["ray"][stage]
            lines.append(
                f"scale {size} ({runs['events']} events) | {title}, pandas / ray | "
                f"{_scale_figure(pandas_run)} / {_scale_figure(ray_run)} | "
                + (
                    f"ray {ray_run['seconds'] / pandas_run['seconds']:.2f}x time, "
                    f"{ray_run['peak_mib'] / pandas_run['peak_mib']:.2f}x memory of pandas"
                    if not ("failed" in pandas_run or "failed" in ray_run)
                    else "a run failed (see the JSON)"
                )
            )
    if "labels" in results:
        labels = results["labels"]
        small, large = labels["parts_10"], labels["parts_5000"]
        lines.append(
            f"labels | POST /v1/labels at 10 / 5,000 parts | p50 {small['p50_ms']:.1f} / {large['p50_ms']:.1f} ms, "
            f"p99 {small['p99_ms']:.1f} / {large['p99_ms']:.1f} ms; an unknown id's 404: p99 "
            f"{small['unknown_id']['p99_ms']:.1f} / {large['unknown_id']['p99_ms']:.1f} ms | "
            f"p99 {labels['p99_ratio']:.2f}x (target <= 1.5x)"
        )
    if "loop" in results:
        loop = results["loop"]
        lines.append(f"loop | drifted traffic -> v{loop['champion_after']} serving | {loop['loop_seconds']} s | "
                     f"pipeline fixed overhead {loop['fixed_overhead_share']}")  # fmt: skip
    return "\n".join(lines)


def _scale_figure(run: dict[str, Any]) -> str:
    figure = f"{run['seconds']:.1f} s, peak {run['peak_mib']:.0f} MiB, {run['us_per_event']:.1f} us/event"
    if "failed" in run:
        return f"FAILED ({run['failed'][:60]}) after {figure}" if run["seconds"] else f"FAILED ({run['failed']})"
    return figure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="longer runs, 1M drift rows, and the loop")
    parser.add_argument(
        "--only",
        choices=BENCHES,
        action="append",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    chosen = set(args.only or [name for name in BENCHES if name != "loop" or args.full])
    results: dict[str, Any] = {
        "mode": "full" if args.full else "quick",
        "started_at": datetime.now(UTC).isoformat(),
        "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version()},
    }
    with tempfile.TemporaryDirectory(prefix="driftloop-bench-") as tmp:
        folder = Path(tmp)
        if {"serving", "features", "model", "freshness"} & chosen:
            from bench.environment import bench_platform
            from bench.features import run_feature_bench
            from bench.model_cost import run_model_cost_bench
            from bench.serving import run_serving_bench

            levels, seconds, rounds = ([1, 4, 16], 10.0, 3) if args.full else ([1, 8], 3.5, 2)
            with bench_platform(folder) as platform_under_bench:
                if "serving" in chosen:
                    results["serving"] = run_serving_bench(platform_under_bench, folder, levels, seconds, rounds)
                if "features" in chosen:
                    results["features"] = run_feature_bench(platform_under_bench, folder, 500 if args.full else 100)
                if "model" in chosen:
                    results["model"] = run_model_cost_bench(platform_under_bench, 5.0 if args.full else 2.0)
                if "freshness" in chosen:  # last: it stops the platform's stream worker
                    from bench.stream_freshness import run_stream_freshness_bench

                    results["freshness"] = run_stream_freshness_bench(
                        platform_under_bench,
                        folder,
                        concurrency=max(levels),
                        seconds=90.0 if args.full else 45.0,
                        alone_seconds=20.0 if args.full else 15.0,
                        serving=results.get("serving"),
                    )
        if "drift" in chosen:
            from bench.drift import run_drift_bench

            results["drift"] = run_drift_bench([10_000, 100_000, 1_000_000] if args.full else [10_000, 100_000])
        if "alarms" in chosen:
            from bench.drift_alarms import run_alarm_bench

            results["alarms"] = run_alarm_bench(windows=40 if args.full else 20)
        if "quality" in chosen:
            from bench.quality_estimation import run_quality_estimation_bench

            results["quality"] = run_quality_estimation_bench(drift_seeds=10 if args.full else 5)
        if "gate" in chosen:
            from bench.gate_evidence import run_gate_bench

            results["gate"] = run_gate_bench(pairs=40 if args.full else 20)
        if "canary" in chosen:
            from bench.canary import run_canary_bench

            results["canary"] = run_canary_bench(runs=40 if args.full else 20)
        if "streaming" in chosen:
            from bench.streaming_lift import run_streaming_lift_bench

            results["streaming"] = run_streaming_lift_bench()
        if "search" in chosen:
            from bench.search import run_search_bench

            results["search"] = run_search_bench(folder, seeds=10 if args.full else 5)
        if "scale" in chosen:
            from bench.scale import run_scale_bench

            sizes = ["events_0.1M", "events_0.5M", "events_2M"] + (["events_8M"] if args.full else [])
            results["scale"] = run_scale_bench(folder, sizes)
        if "labels" in chosen:
            from bench.labels import run_label_bench

            results["labels"] = run_label_bench(folder)
        if "loop" in chosen:
            from bench.loop import run_loop_bench

            results["loop"] = run_loop_bench(folder)
    out = write_result(RESULTS, f"bench-{results['mode']}", results)
    (RESULTS / f"latest-{results['mode']}.json").write_text(out.read_text())
    print(_table(results))  # noqa: T201 - the table is this command's output
    print(f"\nresults: {out}")  # noqa: T201


if __name__ == "__main__":
    main()
