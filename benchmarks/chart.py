"""PNG charts of the benchmark results (matplotlib, from the `bench` extra), redrawable from the JSON.

    python -m benchmarks.chart benchmarks/results/redis_benchmark.json [out.png]
    python -m benchmarks.chart benchmarks/results/large_collections.json [out.png]

redis-benchmark: one row per value size (-d); left, respdb/redis-server requests/s per test with -P 1
and -P 16 side by side (higher is better, 1.0 = Redis); right, respdb/redis-server server CPU per
request (lower is better). Dashed lines are issue 8's targets. Large collections: one bar per
operation, respdb/redis-server throughput.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

# Issue 8's targets: rps ratio >= 0.9 at -P 1 and >= 0.7 at -P 16; CPU per request <= 2x at -P 16.
RPS_TARGETS = {1: 0.9, 16: 0.7}
CPU_TARGET = 2.0
COLOURS = {1: "#3b7dd8", 16: "#e07b39"}


def _pyplot() -> Any:
    """matplotlib.pyplot on the file-only Agg backend, or None when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not installed: no chart; pip install -e '.[bench]')")
        return None
    return plt


def _split(key: str) -> tuple[str, int, int]:
    """'GET P16 d3' -> ('GET', 16, 3)."""
    label, p, d = key.rsplit(" ", 2)
    return label.split(" (")[0], int(p[1:]), int(d[1:])


def redis_benchmark_chart(results: dict[str, dict], path: Path) -> None:
    plt = _pyplot()
    if plt is None or not results:
        return
    # The LPUSH that fills the list for LRANGE is the LPUSH test again; one bar of it is enough.
    parsed = {key: _split(key) for key in results if not key.startswith("LPUSH (needed")}
    sizes = sorted({d for _, _, d in parsed.values()})
    pipelines = sorted({p for _, p, _ in parsed.values()})
    tests = list(dict.fromkeys(label for label, _, _ in parsed.values()))
    width = 0.8 / len(pipelines)
    fig, axes = plt.subplots(len(sizes), 2, figsize=(16, 4.2 * len(sizes)), squeeze=False)
    for row, size in enumerate(sizes):
        for col, (field, ylabel) in enumerate((("ratio", "respdb rps / redis rps"), ("cpu_ratio", "respdb CPU / redis CPU per request"))):
            ax = axes[row][col]
            for i, p in enumerate(pipelines):
                xs, ys = [], []
                for t, label in enumerate(tests):
                    entry = next((results[k] for k, v in parsed.items() if v == (label, p, size)), None)
                    if entry is not None and entry.get(field) is not None:
                        xs.append(t + (i - (len(pipelines) - 1) / 2) * width)
                        ys.append(entry[field])
                ax.bar(xs, ys, width, color=COLOURS.get(p), label=f"-P {p}")
                if field == "ratio" and p in RPS_TARGETS:
                    ax.axhline(RPS_TARGETS[p], color=COLOURS.get(p, "gray"), ls="--", lw=0.8)
            ax.axhline(1.0, color="black", lw=0.8)
            if field == "cpu_ratio":
                ax.axhline(CPU_TARGET, color=COLOURS[16], ls="--", lw=0.8)
            ax.set_xticks(range(len(tests)))
            ax.set_xticklabels(tests, rotation=60, ha="right", fontsize=7)
            ax.set_ylabel(ylabel, fontsize=8)
            ax.set_title(f"-d {size}: {'throughput (higher is better)' if col == 0 else 'server CPU/request (lower is better)'}", fontsize=9)
            ax.legend(fontsize=7)
    fig.suptitle("respdb vs redis-server 7.0, same run, redis-benchmark -n 100000 -c 50 (dashed: targets)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"chart: {path}")


def large_collections_chart(results: dict[str, dict], path: Path) -> None:
    plt = _pyplot()
    if plt is None or not results:
        return
    # Memory is lower-is-better; it would read backwards among the throughput bars.
    names = [n for n, e in results.items() if e.get("unit") != "bytes/element"]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.bar(range(len(names)), [results[n]["ratio"] for n in names], color="#3b7dd8")
    ax.axhline(1.0, color="black", lw=0.8)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=40, ha="right", fontsize=8)
    ax.set_ylabel("respdb / redis-server throughput")
    ax.set_title("1,000,000-element collections: add rate and range reads, same run", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"chart: {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("json", help="a results JSON written by a benchmark")
    ap.add_argument("png", nargs="?", help="output path (default: the JSON path with .png)")
    args = ap.parse_args()
    doc = json.loads(Path(args.json).read_text())
    out = Path(args.png) if args.png else Path(args.json).with_suffix(".png")
    if doc.get("benchmark") == "large_collections":
        large_collections_chart(doc["results"], out)
    else:
        redis_benchmark_chart(doc["results"], out)


if __name__ == "__main__":
    main()
