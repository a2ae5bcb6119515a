"""``mi cli``: run one command, or type commands interactively, and read the replies easily.

One-shot: ``mi cli SET k v FROM ns`` sends the arguments as the shell split them. Interactive (or
lines on standard input): each line goes as typed, so the server's inline syntax applies: JSON
needs no quoting (``HSET k {"a": [1, 2]}``) and a quoted token is always a string. Replies come in
RESP3, so they keep their types: JSON objects print as indented JSON, lists are numbered, strings
are quoted, integers and nil are marked as redis-cli marks them. History lives in ``~/.mi_history``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from mi.wire_client import WireClient, add_connection_options, connect
from protocol.errors import CommandError
from protocol.replies import Push, SetReply, SimpleString, Verbatim

__all__ = ["add_parser", "render", "run"]

HISTORY = Path("~/.mi_history")


def add_parser(commands: argparse._SubParsersAction) -> None:
    cli = commands.add_parser("cli", help="run a command, or commands interactively, against a server")
    add_connection_options(cli)
    cli.add_argument("words", nargs=argparse.REMAINDER, metavar="COMMAND ...", help="one command to run")


def render(reply: Any, indent: str = "") -> str:
    """A reply as a person reads it (redis-cli's conventions; JSON objects indented)."""
    if isinstance(reply, CommandError):
        return f"(error) {reply.prefix} {reply.message}"
    if reply is None:
        return "(nil)"
    if isinstance(reply, bool):
        return "(true)" if reply else "(false)"
    if isinstance(reply, int):
        return f"(integer) {reply}"
    if isinstance(reply, float):
        return f"(double) {reply:g}"
    if isinstance(reply, SimpleString):
        return reply.text
    if isinstance(reply, Verbatim):
        return reply.text.rstrip("\r\n").replace("\r\n", "\n")
    if isinstance(reply, bytes):
        return json.dumps(reply.decode("utf-8", "backslashreplace"), ensure_ascii=False)
    if isinstance(reply, dict | tuple) and _is_map(reply):
        return json.dumps(_plain(reply), indent=2, ensure_ascii=False).replace("\n", "\n" + indent)
    items = reply.items if isinstance(reply, SetReply | Push) else reply
    if not items:
        return "(empty array)"
    width = len(str(len(items)))
    lines = []
    for number, item in enumerate(items, 1):
        prefix = f"{number:>{width}}) "
        lines.append(prefix + render(item, indent + " " * len(prefix)))
    return ("\n" + indent).join(lines)


def _is_map(reply: Any) -> bool:
    """Maps come as dicts, or as tuples of pairs once made hashable inside another map."""
    if isinstance(reply, dict):
        return True
    return bool(reply) and all(isinstance(pair, tuple) and len(pair) == 2 for pair in reply)


def _plain(value: Any) -> Any:
    """JSON-ready: bytes as text, maps as objects, sets and arrays as lists."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, dict):
        return {str(_plain(k)): _plain(v) for k, v in value.items()}
    if isinstance(value, tuple) and _is_map(value):
        return {str(_plain(k)): _plain(v) for k, v in value}
    if isinstance(value, SetReply | Push):
        return [_plain(item) for item in value.items]
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, SimpleString | Verbatim):
        return value.text
    if isinstance(value, CommandError):
        return f"{value.prefix} {value.message}"
    return value


def run(args: argparse.Namespace, stdin: TextIO = sys.stdin, out: TextIO = sys.stdout) -> int:
    try:
        client = connect(args, timeout=None)
    except (OSError, CommandError) as error:
        print(f"mi: cannot connect to {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    with client:
        try:
            client.call("HELLO", "3")  # typed replies; without auth this fails and RESP2 stays
        except CommandError:
            pass
        if args.words:
            reply = client.call_raw(*args.words)
            print(render(reply), file=out)
            return 1 if isinstance(reply, CommandError) else 0
        return _interactive(client, f"{args.host}:{args.port}", stdin, out)


def _interactive(client: WireClient, address: str, stdin: TextIO, out: TextIO) -> int:
    terminal = stdin.isatty()
    if terminal:
        _load_history()
    try:
        while True:
            try:
                line = input(f"{address}> ") if terminal else stdin.readline()
            except EOFError:
                break
            if not terminal and not line:
                break
            line = line.strip()
            if not line:
                continue
            if line.lower() in ("quit", "exit"):
                break
            try:
                print(render(client.call_inline(line.encode())), file=out)
            except (OSError, ConnectionError) as error:
                print(f"mi: connection lost: {error}", file=sys.stderr)
                return 1
    except KeyboardInterrupt:
        pass
    finally:
        if terminal:
            _save_history()
    return 0


def _load_history() -> None:
    try:
        import readline

        readline.read_history_file(HISTORY.expanduser())
    except (ImportError, OSError):
        pass


def _save_history() -> None:
    try:
        import readline

        readline.write_history_file(HISTORY.expanduser())
    except (ImportError, OSError):
        pass
