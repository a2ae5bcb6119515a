"""The ``mi`` command line."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence

from typing import TYPE_CHECKING

import attrs
import trio

from mi import VERSION
from mi.observability.logs import configure_logging, get_logger
from mi.settings.config import ConfigError, find_config_file, load_config
from mi.tools import backup, feed, passwd, shell, top

if TYPE_CHECKING:
    from mi.core.server import Server

__all__ = ["main"]

log = get_logger("mi")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mi", description="mi: durable messages with a lifetime")
    parser.add_argument("--version", action="version", version=f"mi {VERSION}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the server")
    serve.add_argument("--config", metavar="FILE", help="TOML config (default: conf/mi.toml if present)")
    serve.add_argument("--host", help="address to listen on")
    serve.add_argument("--port", type=int, help="TCP port (0 = any free port)")
    serve.add_argument("--data-dir", metavar="DIR", help="LMDB data directory")
    serve.add_argument("--shards", type=int, metavar="N", help="shard count for a new data dir")
    serve.add_argument("--durability", choices=["strict", "relaxed"])
    serve.add_argument("--max-db-size", metavar="SIZE", help="data size ceiling, e.g. 16GiB")
    serve.add_argument("--workers", type=int, metavar="N", help="worker threads for storage")
    serve.add_argument("--max-clients", type=int, metavar="N")
    serve.add_argument("--metrics-port", type=int, metavar="P", help="serve Prometheus metrics on this port")
    serve.add_argument("--requirepass", metavar="PW", help="password of the default user (turns auth on)")
    serve.add_argument("--unprotected", action="store_true", help="listen beyond loopback even without auth")
    serve.add_argument("--log-format", choices=["auto", "json", "console"])
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    feed.add_parser(commands)
    backup.add_parsers(commands)
    passwd.add_parser(commands)
    shell.add_parser(commands, version=f"mi {VERSION}")
    top.add_parser(commands)
    return parser


async def _serve_until_signalled(server: Server) -> None:
    """SIGINT/SIGTERM once: graceful shutdown. Twice: stop now."""
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_watch_signals, server, signals, nursery.cancel_scope)
            await server.run()
            nursery.cancel_scope.cancel()  # served and shut down: stop watching signals


async def _watch_signals(server: Server, signals, cancel_scope: trio.CancelScope) -> None:
    async for signum in signals:
        if not server.shutdown_requested:
            log.info("server.signal", signal=signal.Signals(signum).name, action="graceful shutdown")
            server.request_shutdown()
        else:
            log.warning("server.signal", signal=signal.Signals(signum).name, action="stop now")
            cancel_scope.cancel()


def serve(args: argparse.Namespace) -> int:
    # The server is imported here, not above: the other subcommands (cli, top...) start in a
    # fraction of the time without it.
    from mi.core.server import Server  # noqa: PLC0415
    from mi.policy.auth import ProtectedModeError  # noqa: PLC0415
    from mi.policy.tls import TlsError  # noqa: PLC0415
    from storage import StorageError  # noqa: PLC0415

    overrides = {name: getattr(args, name) for name in (
        "host", "port", "data_dir", "shards", "durability", "max_db_size", "workers",
        "max_clients", "requirepass", "metrics_port", "log_format", "log_level")}
    try:
        config = load_config(args.config, overrides=overrides)
    except ConfigError as error:
        print(f"mi: {error}", file=sys.stderr)
        return 2
    if args.unprotected:
        config = attrs.evolve(config, auth=attrs.evolve(config.auth, unprotected=True))
    configure_logging(config.log.format, config.log.level)
    config_file = find_config_file(args.config)
    server = Server(config, config_file=str(config_file) if config_file else None)
    failures: list[BaseException] = []
    try:
        trio.run(_serve_until_signalled, server)
    except* (StorageError, OSError, ProtectedModeError, TlsError) as group:  # a data dir, a port, TLS files
        failures.append(group)
    for failure in failures:
        for error in _leaves(failure):
            log.error("server.failed", error=str(error), kind=type(error).__name__)
    return 1 if failures else 0


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    if args.command == "journal":
        return feed.run(args)
    if args.command in ("snapshot", "restore", "verify"):
        return backup.run(args)
    if args.command == "passwd":
        return passwd.run(args)
    if args.command == "cli":
        return shell.run(args)
    if args.command == "top":
        return top.run(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
