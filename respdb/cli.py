"""`respdb-server` / `python -m respdb`: redis-server's command line.

`respdb-server [config-file] [--name value ...]`: a config file in redis.conf syntax first, then any
parameter as `--name value` (later wins), exactly as redis-server reads its arguments.
"""

from __future__ import annotations

import sys

from respdb import REDIS_VERSION, __version__
from respdb.config import PARAMS, Config, ConfigError


def usage() -> str:
    from respdb.commands import load_all

    load_all()  # every feature's parameters
    names = sorted({p.name for p in PARAMS.values()})
    lines = [
        "Usage: respdb-server [/path/to/respdb.conf] [options] [-]",
        "       respdb-server -v or --version",
        "       respdb-server -h or --help",
        "       respdb-server --test-config [/path/to/respdb.conf] [options]",
        "",
        "Options (each also a config-file directive and a CONFIG SET parameter):",
    ]
    for name in names:
        p = PARAMS[name]
        lines.append(f"  --{name} <{p.kind}>  (default: {p.format(p.default)!s})")
    lines += ["", "Examples:", "  respdb-server --port 9980", "  respdb-server /etc/respdb/respdb.conf --loglevel verbose"]
    return "\n".join(lines)


def parse_args(argv: list[str]) -> tuple[Config, bool]:
    """Build a Config from redis-server style arguments; returns (config, test_only)."""
    from respdb.commands import load_all

    load_all()  # feature modules add their parameters to the table on import
    config = Config()
    test_only = False
    args = list(argv)
    if args and args[0] == "--test-config":
        test_only = True
        args = args[1:]
    if args and not args[0].startswith("--"):
        config.load_file(args.pop(0))
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--"):
            raise ConfigError(f"Invalid argument '{arg}'")
        name = arg[2:]
        values = []
        i += 1
        while i < len(args) and not args[i].startswith("--"):
            values.append(args[i])
            i += 1
        config.apply_words(name, values, "command line")
    return config, test_only


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("-v", "--version"):
        print(f"respdb server v={__version__} redis_compat={REDIS_VERSION} python={sys.version.split()[0]}")
        return 0
    if argv and argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    try:
        config, test_only = parse_args(argv)
    except (ConfigError, OSError) as exc:
        print(f"\n*** FATAL CONFIG FILE ERROR (respdb {__version__}) ***\n{exc}", file=sys.stderr)
        return 1
    if test_only:
        print("Configuration test passed")
        return 0
    from respdb.errors import StartupError
    from respdb.server.app import run

    try:
        run(config)
    except (OSError, StartupError) as exc:
        print(f"# Fatal error, can't start: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0
