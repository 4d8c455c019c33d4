"""cyberdb compat vs the original CyberDB 0.9.3 vs raw redis-py, in the same run.

    python benchmarks/bench_compat.py                 # everything (a few minutes)
    python benchmarks/bench_compat.py --ops 1000 --skip-flask

Data-structure operations (dict set/get, list append/read, len) from one client process and from 4
client processes, plain and encrypted (CyberDB's AES on its side, TLS on ours). CyberDB 0.9.3 is
installed with pip into its own venv (default /tmp/cyberdb093-venv: it is also called `cyberdb`) and its
server runs there. Then the seed Flask app (examples/cyberdb_seed/app.py) under `gunicorn -w 4 -k gevent`,
encrypted on both sides, loaded by an HTTP client for a fixed time: pages/s.
Throughput with N processes = all their operations / the slowest process's time for that operation;
each figure is the best of --repeat runs, the sides taking turns.
Everything shares this machine's CPUs, so the numbers are ratios, not capacities.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "benchpass123"
PHASES = ["dict set", "dict get", "list append", "list read", "len"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, deadline_s: float = 30.0) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


# -- worker (runs in CyberDB's venv for "original", here for "compat" and "redis") -------------------------
def worker(impl: str, port: int, encrypt: bool, ops: int, tag: str, start_at: float) -> dict[str, float]:
    if impl == "redis":
        import redis

        r = redis.Redis(port=port, password=PASSWORD, ssl=encrypt, ssl_cert_reqs="none")
        dkey, lkey = f"raw:d:{tag}", f"raw:l:{tag}"
        r.delete(dkey, lkey)
        steps = {
            "dict set": lambda i: r.hset(dkey, f"k{i}", f"value-{i}"),
            "dict get": lambda i: r.hget(dkey, f"k{i}"),
            "list append": lambda i: r.rpush(lkey, i),
            "list read": lambda i: r.lindex(lkey, i),
            "len": lambda i: r.hlen(dkey),
        }
    else:
        import cyberdb

        client = cyberdb.connect(host="127.0.0.1", port=port, password=PASSWORD, encrypt=encrypt)
        proxy = client.get_proxy()
        proxy.connect()
        proxy.create_cyberdict(f"d{tag}")
        proxy.create_cyberlist(f"l{tag}")
        d, lst = proxy.get_cyberdict(f"d{tag}"), proxy.get_cyberlist(f"l{tag}")

        def dset(i: int) -> None:
            d[f"k{i}"] = f"value-{i}"

        steps = {
            "dict set": dset,
            "dict get": lambda i: d[f"k{i}"],
            "list append": lambda i: lst.append(i),
            "list read": lambda i: lst[i],
            "len": lambda i: len(d),
        }
    for phase in PHASES:  # warm up connections, pools and code paths, untimed
        for i in range(min(ops, 200)):
            steps[phase](i)
    while time.time() < start_at:  # all processes start together
        time.sleep(0.001)
    out = {}
    for phase in PHASES:
        step = steps[phase]
        t0 = time.perf_counter()
        for i in range(ops):
            step(i)
        out[phase] = time.perf_counter() - t0
    return out


def run_workers(python: str, impl: str, port: int, encrypt: bool, ops: int, procs: int, env: dict,
                run: str) -> dict[str, float]:
    start_at = time.time() + 4.0
    cmds = [[python, __file__, "--worker", impl, str(port), str(int(encrypt)), str(ops), f"{impl[0]}{n}{int(encrypt)}{procs}{run}",
             str(start_at)] for n in range(procs)]
    running = [subprocess.Popen(c, stdout=subprocess.PIPE, env=env) for c in cmds]
    results = []
    for p in running:
        out, _ = p.communicate(timeout=1800)
        if p.returncode != 0:
            raise RuntimeError(f"{impl} worker failed")
        results.append(json.loads(out))
    return {ph: ops * procs / max(r[ph] for r in results) for ph in PHASES}


# -- servers ---------------------------------------------------------------------------------------------
def ensure_venv(venv: Path) -> str:
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    probe = subprocess.run([str(python), "-c", "import cyberdb, flask, gunicorn, gevent, packaging"], capture_output=True)
    if probe.returncode != 0:
        subprocess.run([str(python), "-m", "pip", "install", "-q", "cyberdb==0.9.3", "flask", "gunicorn", "gevent", "packaging"],
                       check=True)
    return str(python)


def start_original(python: str, port: int, encrypt: bool, workdir: Path) -> subprocess.Popen:
    code = ("import cyberdb; db = cyberdb.Server(); "
            f"db.run(host='127.0.0.1', port={port}, password='{PASSWORD}', max_con=10000, encrypt={encrypt})")
    proc = subprocess.Popen([python, "-c", code], cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return proc


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# -- Flask pages/s ------------------------------------------------------------------------------------
def _http_load(port: int, seconds: float, result: multiprocessing.Queue) -> None:
    import threading

    counts = []

    def loop() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        n, end = 0, time.monotonic() + seconds
        while time.monotonic() < end:
            conn.request("GET", "/")
            body = conn.getresponse().read()
            if b"Hello CyberDB!" not in body:
                raise RuntimeError(f"bad page: {body[:200]!r}")
            n += 1
        counts.append(n)

    threads = [threading.Thread(target=loop) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.put(sum(counts))


def flask_pages_per_second(gunicorn: str, python_env: dict, db_port: int, seconds: float, workdir: Path) -> float:
    http_port = free_port()
    app = (ROOT / "examples" / "cyberdb_seed" / "app.py").read_text()
    (workdir / "app.py").write_text(app.replace("9980", str(db_port)).replace("hWjYvVdqRC", PASSWORD))
    web = subprocess.Popen([gunicorn, "-w", "4", "-k", "gevent", "-b", f"127.0.0.1:{http_port}", "app:app"],
                           cwd=workdir, env=python_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(http_port)
        end = time.monotonic() + 30
        while True:  # first page (workers import the app and connect)
            try:
                c = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)
                c.request("GET", "/")
                if b"Hello CyberDB!" in c.getresponse().read():
                    break
            except OSError:
                pass
            if time.monotonic() > end:
                raise RuntimeError("the Flask app did not answer")
            time.sleep(0.2)
        queue: multiprocessing.Queue = multiprocessing.Queue()
        loaders = [multiprocessing.Process(target=_http_load, args=(http_port, seconds, queue)) for _ in range(2)]
        for p in loaders:
            p.start()
        total = sum(queue.get(timeout=seconds + 120) for _ in loaders)
        for p in loaders:
            p.join()
        return total / seconds
    finally:
        stop(web)


def seed_centre(python: str, port: int, encrypt: bool, env: dict) -> None:
    code = (f"import cyberdb; c = cyberdb.connect(host='127.0.0.1', port={port}, password='{PASSWORD}', encrypt={encrypt})\n"
            "p = c.get_proxy(); p.connect(); p.create_cyberdict('centre'); "
            "p.get_cyberdict('centre')['content'] = 'Hello CyberDB!'; p.close()")
    subprocess.run([python, "-c", code], check=True, env=env)


# -- main -----------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ops", type=int, default=3000, help="operations per phase per process")
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3, help="runs per side; the best is reported")
    parser.add_argument("--seconds", type=float, default=10.0, help="Flask load duration per side")
    parser.add_argument("--venv", default="/tmp/cyberdb093-venv")
    parser.add_argument("--skip-original", action="store_true")
    parser.add_argument("--skip-flask", action="store_true")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    import cyberdb

    work = Path(tempfile.mkdtemp(prefix="bench-compat-"))
    ours_env = dict(os.environ, PYTHONPATH=str(ROOT), CYBERDB_TRUST_DIR=str(work / "trusted"))
    orig_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    orig_python = None if args.skip_original else ensure_venv(Path(args.venv))
    table: dict[tuple[bool, int], dict[str, dict[str, float]]] = {}
    try:
        for encrypt in (False, True):
            ours = cyberdb.Server()
            ours.set_backup(str(work / f"ours{int(encrypt)}" / "data.cdb"), cycle=3600)
            ours_port = free_port()
            ours.start(port=ours_port, password=PASSWORD, max_con=10000, encrypt=encrypt)
            original = None
            if orig_python:
                orig_port = free_port()
                original = start_original(orig_python, orig_port, encrypt, work)
            # The C server too (plain only), to show what the client layer costs without respdb's share.
            c_server, c_port = None, free_port()
            if not encrypt and shutil.which("redis-server"):
                c_server = subprocess.Popen(["redis-server", "--port", str(c_port), "--requirepass", PASSWORD,
                                             "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
                wait_port(c_port)
            try:
                for procs in (1, args.procs):
                    runs = [("cyberdb compat", sys.executable, "compat", ours_port, ours_env),
                            ("raw redis-py", sys.executable, "redis", ours_port, ours_env)]
                    if original is not None and orig_python:
                        runs.insert(0, ("CyberDB 0.9.3", orig_python, "original", orig_port, orig_env))
                    if c_server is not None:
                        runs.append(("compat→redis-server", sys.executable, "compat", c_port, ours_env))
                    row: dict[str, dict[str, float]] = {name: dict.fromkeys(PHASES, 0.0) for name, *_ in runs}
                    # Best of --repeat, the sides taking turns: a shared, busy machine only ever slows a run down.
                    for rep in range(args.repeat):
                        for name, python, impl, port, env in runs[rep % len(runs):] + runs[:rep % len(runs)]:
                            got = run_workers(python, impl, port, encrypt, args.ops, procs, env, f"r{rep}")
                            row[name] = {ph: max(row[name][ph], got[ph]) for ph in PHASES}
                    table[(encrypt, procs)] = row
                    print_table(encrypt, procs, row)
            finally:
                ours.stop()
                if original is not None:
                    stop(original)
                if c_server is not None:
                    stop(c_server)
        if not args.skip_flask:
            flask_bench(args, cyberdb, work, ours_env, orig_env, orig_python)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def flask_bench(args: argparse.Namespace, cyberdb: object, work: Path, ours_env: dict, orig_env: dict,
                orig_python: str | None) -> None:
    rows = {}
    ours = cyberdb.Server()  # type: ignore[attr-defined]
    ours.set_backup(str(work / "flask" / "data.cdb"), cycle=3600)
    port = free_port()
    ours.start(port=port, password=PASSWORD, max_con=10000, encrypt=True)
    try:
        seed_centre(sys.executable, port, True, ours_env)
        gunicorn = shutil.which("gunicorn") or "gunicorn"
        (work / "ours-app").mkdir()
        rows["cyberdb compat (TLS)"] = flask_pages_per_second(gunicorn, ours_env, port, args.seconds, work / "ours-app")
    finally:
        ours.stop()
    if orig_python:
        port = free_port()
        original = start_original(orig_python, port, True, work)
        try:
            seed_centre(orig_python, port, True, orig_env)
            (work / "orig-app").mkdir()
            gunicorn = str(Path(orig_python).parent / "gunicorn")
            rows["CyberDB 0.9.3 (AES)"] = flask_pages_per_second(gunicorn, orig_env, port, args.seconds, work / "orig-app")
        finally:
            stop(original)
    print("\nseed Flask app, gunicorn -w 4 -k gevent, encrypted, 16 keep-alive HTTP clients:")
    for name, pages in rows.items():
        print(f"  {name:24s} {pages:10.0f} pages/s")
    if len(rows) == 2:
        print(f"  ratio compat / original: {rows['cyberdb compat (TLS)'] / rows['CyberDB 0.9.3 (AES)']:.1f}x")


def print_table(encrypt: bool, procs: int, row: dict[str, dict[str, float]]) -> None:
    names = list(row)
    print(f"\n{procs} client process{'es' if procs > 1 else ''}, {'encrypted' if encrypt else 'plain'} (ops/s):")
    header = f"| {'operation':12s} | " + " | ".join(f"{n:>19s}" for n in names)
    if "CyberDB 0.9.3" in row:
        header += " | compat/original"
    print(header + " |")
    print("|" + "---|" * (len(names) + 1 + ("CyberDB 0.9.3" in row)))
    for phase in PHASES:
        line = f"| {phase:12s} | " + " | ".join(f"{row[n][phase]:19.0f}" for n in names)
        if "CyberDB 0.9.3" in row:
            line += f" | {row['cyberdb compat'][phase] / row['CyberDB 0.9.3'][phase]:14.1f}x"
        print(line + " |")
    sys.stdout.flush()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _, _, impl, port, enc, ops, tag, start_at = sys.argv
        if impl == "original":  # the venv's cyberdb, not ours
            sys.path = [p for p in sys.path if "compat" not in p and p not in ("", str(ROOT))]
        print(json.dumps(worker(impl, int(port), enc == "1", int(ops), tag, float(start_at))))
    else:
        main()
