"""`natsx` command line: `natsx serve` takes nats-server's flags; `natsx bench` is the load generator."""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import sys
from typing import Sequence

import natsx


def _bool_flag(value: str | None) -> bool:
    # Go's flag package: -T, -T=true, -T=false
    if value is None:
        return True
    return value.lower() in ("1", "t", "true", "yes", "on")


def add_serve_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the server (flags as nats-server's)",
                       description="Run natsx in the foreground; flags as nats-server spells them.")
    p.add_argument("-a", "--addr", "--net", dest="host", help="bind to host address (default 0.0.0.0)")
    p.add_argument("-p", "--port", type=int, help="port for clients (default 4222, -1 for random)")
    p.add_argument("-n", "--name", "--server_name", dest="server_name", help="server name (default: server id)")
    p.add_argument("-c", "--config", dest="config", help="configuration file")
    p.add_argument("-t", dest="test_config", action="store_true", help="test configuration and exit")
    p.add_argument("-P", "--pid", dest="pid_file", help="file to store the PID")
    p.add_argument("--ports_file_dir", help="write <executable>_<pid>.ports in this directory")
    p.add_argument("-m", "--http_port", type=int, help="port for HTTP monitoring")
    p.add_argument("--user", help="user required for connections")
    p.add_argument("--pass", dest="password", help="password required for connections")
    p.add_argument("--auth", dest="token", help="authorization token required for connections")
    p.add_argument("-l", "--log", dest="log_file", help="file to redirect log output")
    p.add_argument("-T", "--logtime", nargs="?", const=None, default=argparse.SUPPRESS, type=_bool_flag,
                   help="timestamp log entries (default true)")
    p.add_argument("-D", "--debug", action="store_true", default=None, help="enable debug output")
    p.add_argument("-V", "--trace", action="store_true", default=None, help="trace the raw protocol")
    p.add_argument("-DV", dest="debug_trace", action="store_true", help="debug and trace")
    p.add_argument("-js", "--jetstream", action="store_true", default=None, help="enable JetStream")
    p.add_argument("-sd", "--store_dir", help="JetStream storage directory")


def build_options(args: argparse.Namespace):
    """Config file first, then the command line on top (as nats-server merges them)."""
    from natsx.options import ServerOptions, load_server_options

    opts = load_server_options(args.config, warnings_are_errors=args.test_config) if args.config else ServerOptions()
    overrides = {
        "host": args.host, "port": args.port, "server_name": args.server_name, "pid_file": args.pid_file,
        "ports_file_dir": args.ports_file_dir, "http_port": args.http_port, "username": args.user,
        "password": args.password, "authorization": args.token, "log_file": args.log_file,
        "jetstream": args.jetstream, "store_dir": args.store_dir,
    }
    if args.debug_trace:
        overrides["debug"] = overrides["trace"] = True
    else:
        overrides["debug"], overrides["trace"] = args.debug, args.trace
    if hasattr(args, "logtime"):
        overrides["logtime"] = True if args.logtime is None else args.logtime
    for key, value in overrides.items():
        if value is not None:
            setattr(opts, key, value)
    return opts


def config_digest(path: str) -> str:
    """nats-server's config digest: sha256 of the parsed config as Go's json.Encoder writes it."""
    from natsx.conf import parse_config_file
    from natsx.gojson import go_json

    encoded = go_json(parse_config_file(path), indent=False, sort_keys=True) + b"\n"
    return "sha256:" + hashlib.sha256(encoded).hexdigest()


def serve(args: argparse.Namespace) -> int:
    from natsx.conf import ConfigError

    try:
        opts = build_options(args)
    except (ConfigError, OSError) as exc:
        print(f"nats-server: {exc}", file=sys.stderr)
        return 1
    if args.test_config:
        digest = f" ({config_digest(args.config)})" if args.config else ""
        print(f"nats-server: configuration file {args.config} is valid{digest}", file=sys.stderr)
        return 0
    import gc

    from natsx.server import Server

    # Subscriptions and connections are long-lived objects: with the default thresholds the
    # cyclic GC rescans them constantly (an insert at 100k subs costs ~24us instead of ~3us).
    gc.set_threshold(50000, 20, 100)
    _keep_freed_memory()
    try:
        server = Server(opts)
    except ConfigError as exc:
        print(f"nats-server: {exc}", file=sys.stderr)
        return 1
    gc.freeze()
    try:
        _run(server.run_until_stopped())
    except OSError as exc:
        server.log.fatal(f"Error listening on port: {opts.host}:{opts.port}, {exc}")
        return 1
    return 0


def _keep_freed_memory() -> None:
    """Output batches of a few hundred KB are allocated and freed constantly; by default glibc
    serves them with fresh mmap'd pages (page faults, zeroing) and trims the heap after each free.
    Keep them in the heap instead."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return
    libc = ctypes.CDLL(name)
    if hasattr(libc, "mallopt"):
        M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
        libc.mallopt(M_MMAP_THRESHOLD, 32 << 20)
        libc.mallopt(M_TRIM_THRESHOLD, 128 << 20)


def _run(coro) -> None:
    try:
        import uvloop
    except ImportError:
        asyncio.run(coro)
        return
    uvloop.run(coro)


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None and os.path.basename(sys.argv[0]) == "nats-server":
        argv = ["serve", *sys.argv[1:]]   # installed under nats-server's name: its command line as is
    parser = argparse.ArgumentParser(prog="natsx", description="NATS server with a Cython/C hot path")
    parser.add_argument("--version", action="version",
                        version=f"natsx {natsx.__version__} (nats-server {natsx.NATS_SERVER_VERSION} compatible)")
    sub = parser.add_subparsers(dest="command")
    add_serve_parser(sub)
    try:
        from natsx.bench.cli import add_bench_parser
    except ImportError:
        add_bench_parser = None
    if add_bench_parser is not None:
        add_bench_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve(args)
    if args.command == "bench":
        from natsx.bench.cli import run_bench

        return run_bench(args)
    parser.print_help()
    return 2
