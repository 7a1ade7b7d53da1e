"""`natsx` command line: `natsx serve` takes nats-server's flags; `natsx bench` is the load generator."""
from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

import natsx
from natsx.conf import ConfigError
from natsx.gofmt import go_quote
from natsx.flags import USAGE, CommandLine, FlagError, parse_command_line
from natsx.options import ServerOptions, load_server_options


VERSION_LINE = f"nats-server: v{natsx.NATS_SERVER_VERSION} (natsx {natsx.__version__})"


def build_options(command_line: CommandLine) -> ServerOptions:
    """Config file first, then the flags given on top (as nats-server merges them)."""
    config = command_line.get("config", "")
    check = command_line.get("check_config", False)
    opts = load_server_options(config, warnings_are_errors=check) if config else ServerOptions()
    opts.flag_overrides = command_line.option_overrides()
    opts.apply_flag_overrides()
    return opts


def serve(argv: Sequence[str]) -> int:
    """`natsx serve`: nats-server's command line, with its messages and exit codes."""
    try:
        command_line = parse_command_line(argv)
    except FlagError as exc:
        print(exc, file=sys.stderr)
        print(USAGE)
        return 0   # nats-server's usage handler exits 0, after a bad flag too
    if command_line.get("show_version"):
        print(VERSION_LINE)
        return 0
    if command_line.get("show_help"):
        print(USAGE)
        return 0
    if command_line.args:   # nats-server's "commands": the first argument after the flags
        word = command_line.args[0]
        if word.lower() in ("version", "help"):
            print(VERSION_LINE if word.lower() == "version" else USAGE)
            return 0
        print(f"nats-server: unrecognized command: {go_quote(word)}", file=sys.stderr)
        return 1
    refused = command_line.first_refused()
    if refused is not None:
        spelling, spec = refused
        print(f"nats-server: {spec.refused} is not supported by natsx yet (flag {spelling})", file=sys.stderr)
        return 1
    config = command_line.get("config", "")
    check = command_line.get("check_config", False)
    if check and not config:
        print("nats-server: must specify [-c, --config] option to check configuration file syntax",
              file=sys.stderr)
        return 1
    try:
        opts = build_options(command_line)
    except (ConfigError, OSError) as exc:
        print(f"nats-server: {exc}", file=sys.stderr)
        return 1
    if check:
        print(f"nats-server: configuration file {config} is valid ({opts.config_digest})", file=sys.stderr)
        return 0
    # Warnings alone do not stop nats-server; it prints them before it starts (with -t they are errors).
    sys.stderr.write("".join(warning + "\n" for warning in opts.config_warnings))
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
    import asyncio

    try:
        import uvloop
    except ImportError:
        asyncio.run(coro)
        return
    uvloop.run(coro)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if argv is None and os.path.basename(sys.argv[0]) == "nats-server":
        return serve(args)   # installed under nats-server's name: its command line as is
    if args[:1] == ["serve"]:   # nats-server's flags follow; Go's flag rules, not argparse's
        return serve(args[1:])
    parser = argparse.ArgumentParser(prog="natsx", description="NATS server with a Cython/C hot path")
    parser.add_argument("-v", "--version", action="version", version=VERSION_LINE)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", add_help=False, help="run the server; flags as nats-server's (natsx serve -h)")
    try:
        from natsx.loadgen.cli import add_bench_parser
    except ImportError:
        add_bench_parser = None
    if add_bench_parser is not None:
        add_bench_parser(sub)
    parsed = parser.parse_args(args)
    if parsed.command == "bench":
        from natsx.loadgen.cli import run_bench

        return run_bench(parsed)
    parser.print_help()
    return 2
