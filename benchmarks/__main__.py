"""`python -m benchmarks`: every benchmark, respdb beside redis-server in the same run, one table.

    python -m benchmarks                      # everything (about half an hour on a 2-core machine)
    python -m benchmarks --quick              # a small subset of each, under a minute
    python -m benchmarks --commit HEAD        # measure one commit (git archive) while others edit the tree
    python -m benchmarks --only redis_benchmark,memory --rounds 3

Runs, in order: redis_benchmark (redis-benchmark's default list at -P 1 and -P 16, -d 3 and 1024,
CPU µs/request per test), large_collections (1,000,000-element list/hash/set/zset: add rate and range
reads), memory (1,000,000 keys, 10% with a TTL: bytes/key, idle active-expiry CPU), and the feature
benchmarks bench_scripting and bench_pubsub_multi (run as their own processes; their tables are
printed and kept in the JSON as text). Writes <out>/benchmarks.json (everything, with the load average
before and after), the per-benchmark JSON files and the PNG charts, then prints one table.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import large_collections, memory, redis_benchmark
from benchmarks.chart import large_collections_chart, redis_benchmark_chart
from benchmarks.servers import ROOT

SECTIONS = ("redis_benchmark", "large_collections", "memory", "scripting", "pubsub_multi")
EXTERNAL = {"scripting": "benchmarks.bench_scripting", "pubsub_multi": "benchmarks.bench_pubsub_multi"}
QUICK_SECTIONS = ("redis_benchmark", "large_collections", "memory")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small subsets: redis_benchmark --quick, 100,000-element collections, 100,000 keys")
    ap.add_argument("--only", default=None, help=f"comma-separated sections of {','.join(SECTIONS)}")
    ap.add_argument("--commit", default=None, help="measure this git revision (exported with git archive) instead of the working tree")
    ap.add_argument("--out", default=None, help="results directory (default benchmarks/results; with --quick, $TMPDIR/respdb-bench-quick)")
    ap.add_argument("--rounds", type=int, default=None, help="redis_benchmark rounds (default 2; 1 with --quick)")
    ap.add_argument("-t", "--tests", default=None, help="redis_benchmark -t list (default: redis-benchmark's default list)")
    ap.add_argument("--large-n", type=int, default=None, help="elements per big collection (default 1,000,000)")
    ap.add_argument("--memory-n", type=int, default=None, help="keys for the memory benchmark (default 1,000,000)")
    return ap.parse_args(argv)


def _snapshot(rev: str) -> tuple[str, str]:
    """Export `rev`'s respdb package to a temp dir and build its C extension there, as `pip install`
    would (commits before setup.py existed have none): (dir, full commit id)."""
    commit = subprocess.run(["git", "rev-parse", rev], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    tree = tempfile.mkdtemp(prefix="respdb-bench-")
    paths = ["respdb"]
    if subprocess.run(["git", "cat-file", "-e", f"{commit}:setup.py"], cwd=ROOT, capture_output=True).returncode == 0:
        paths.append("setup.py")
    archive = subprocess.run(["git", "archive", commit, *paths], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", tree], input=archive, check=True)
    if "setup.py" in paths:
        subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=tree, capture_output=True, check=True)
    return tree, commit


def _describe_tree() -> str:
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "respdb"], cwd=ROOT, capture_output=True, text=True).stdout
    return head + (" + uncommitted changes in respdb/" if dirty.strip() else "")


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def run_external(section: str, quick: bool) -> str:
    cmd = [sys.executable, "-m", EXTERNAL[section]] + (["--quick"] if quick else [])
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    text = out.stdout + (f"\n(exit {out.returncode}) {out.stderr.strip()}" if out.returncode else "")
    print(text, flush=True)
    return text


def summary_rows(doc: dict) -> list[tuple[str, str, float, float, float | None, float | None]]:
    """(name, unit, respdb, redis, respdb CPU µs, redis CPU µs) for the combined table."""
    rows = []
    for key, e in doc.get("redis_benchmark", {}).items():
        rows.append((key, "rps", e["respdb_rps"], e["redis_rps"], e["respdb_cpu_us"], e["redis_cpu_us"]))
    for key, e in doc.get("large_collections", {}).items():
        rows.append((f"{key} (large)", e["unit"], e["respdb"], e["redis"], e["respdb_cpu_us"], e["redis_cpu_us"]))
    mem = doc.get("memory", {})
    for metric in mem.get("redis", {}):
        rows.append((f"memory {metric}", "", mem["respdb"][metric], mem["redis"][metric], None, None))
    return rows


def print_summary(doc: dict) -> None:
    print(f"\n{'benchmark':<52}{'unit':>14}{'respdb':>12}{'redis':>12}{'ratio':>7}{'respdb µs':>11}{'redis µs':>10}{'cpu x':>7}")
    for name, unit, ours, theirs, our_cpu, their_cpu in summary_rows(doc):
        line = f"{name[:52]:<52}{unit:>14}{ours:>12.{0 if ours >= 100 else 2}f}{theirs:>12.{0 if theirs >= 100 else 2}f}"
        line += f"{(ours / theirs if theirs else 0):>7.2f}"
        if our_cpu is not None and their_cpu:
            line += f"{our_cpu:>11.2f}{their_cpu:>10.2f}{our_cpu / their_cpu:>7.2f}"
        print(line)
    print("ratio = respdb / redis-server (throughput: higher is better; memory, fill time and CPU: lower is better)")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    sections = args.only.split(",") if args.only else list(QUICK_SECTIONS if args.quick else SECTIONS)
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        raise SystemExit(f"unknown section(s): {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}")
    # Quick runs are smoke checks: their results go to /tmp, not beside the committed snapshot.
    default_out = Path(tempfile.gettempdir()) / "respdb-bench-quick" if args.quick else ROOT / "benchmarks" / "results"
    out = Path(args.out) if args.out else default_out
    out.mkdir(parents=True, exist_ok=True)
    tree = None
    if args.commit:
        tree, version = _snapshot(args.commit)
        # servers.py reads this when it starts respdb (also in the child benchmark processes).
        os.environ["RESPDB_BENCH_ROOT"] = tree
        import benchmarks.servers as servers

        servers.RESPDB_ROOT = Path(tree)
    else:
        version = _describe_tree()
    doc: dict = {
        "command": "python -m benchmarks " + shlex.join(sys.argv[1:] if argv is None else argv),
        "respdb": version, "time": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "cpus": os.cpu_count(),
        "uptime_before": _uptime(),
    }
    print(f"respdb {version}; {doc['uptime_before']}", flush=True)
    started = time.monotonic()
    try:
        run_sections(args, sections, out, doc)
    finally:
        if tree is not None:
            shutil.rmtree(tree, ignore_errors=True)
    doc["uptime_after"] = _uptime()
    doc["seconds"] = round(time.monotonic() - started, 1)
    (out / "benchmarks.json").write_text(json.dumps(doc, indent=1))
    print_summary(doc)
    print(f"{doc['uptime_after']}; {doc['seconds']:.0f} s; results in {out}")


def run_sections(args: argparse.Namespace, sections: list[str], out: Path, doc: dict) -> None:
    """Run the chosen sections in order, filling `doc` and writing each one's JSON and chart."""
    if "redis_benchmark" in sections:
        print("== redis_benchmark", flush=True)
        tests = args.tests or (redis_benchmark.QUICK_TESTS if args.quick else redis_benchmark.DEFAULT_TESTS)
        rounds = args.rounds or (1 if args.quick else 2)
        n, sizes = (20000, [3]) if args.quick else (100000, [3, 1024])
        doc["redis_benchmark_args"] = {"tests": tests, "n": n, "clients": 50, "pipelines": [1, 16], "sizes": sizes, "rounds": rounds}

        def save(res: dict[str, dict]) -> None:
            (out / "redis_benchmark.json").write_text(json.dumps({"args": doc["redis_benchmark_args"], "results": res}, indent=1))

        res = redis_benchmark.run(tests.split(","), [1, 16], sizes, n, 50, rounds, progress=save)
        redis_benchmark.print_table(res)
        doc["redis_benchmark"] = res
        save(res)
        redis_benchmark_chart(res, out / "redis_benchmark.png")
    if "large_collections" in sections:
        print("== large_collections", flush=True)
        n = args.large_n or (100_000 if args.quick else 1_000_000)
        queries = 500 if args.quick else 5000
        res = large_collections.run(n, queries, batch=100, depth=16, rounds=1)
        large_collections.print_table(res)
        doc["large_collections"] = res
        doc["large_collections_args"] = {"n": n, "queries": queries, "batch": 100, "depth": 16, "rounds": 1}
        (out / "large_collections.json").write_text(json.dumps({"benchmark": "large_collections", "args": doc["large_collections_args"], "results": res}, indent=1))
        large_collections_chart(res, out / "large_collections.png")
    if "memory" in sections:
        print("== memory", flush=True)
        n = args.memory_n or (100_000 if args.quick else 1_000_000)
        res = memory.run(n, idle=1.0 if args.quick else 2.0)
        memory.print_table(res)
        doc["memory"] = res
        doc["memory_args"] = {"n": n}
        (out / "memory.json").write_text(json.dumps({"n": n, "results": res}, indent=1))
    for section in sections:
        if section in EXTERNAL:
            print(f"== {section}", flush=True)
            doc[section] = run_external(section, args.quick)


if __name__ == "__main__":
    main()
