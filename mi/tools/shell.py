"""``mi cli``: run one command, or type commands interactively, and read the replies easily.

One-shot: ``mi cli SET k v FROM ns`` sends the arguments as the shell split them. Interactive (or
lines on standard input): each line goes as typed, so the server's inline syntax applies: JSON
needs no quoting (``HSET k {"a": [1, 2]}``) and a quoted token is always a string. Replies come in
RESP3, so they keep their types: JSON objects print as indented JSON, lists are numbered, strings
are quoted, integers and nil are marked as redis-cli marks them; ``--raw`` prints bare values, one
a line, for scripts (as redis-cli's). ``help`` and ``help COMMAND`` answer from the command table;
the prompt shows the namespace once ``SELECT`` left the default one. History lives in
``~/.mi_history``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from mi.tools.wire_client import WireClient, add_connection_options, connect
from protocol.commands import DECLARATIONS
from protocol.errors import CommandError, ProtocolError
from protocol.replies import Push, SetReply, SimpleString, Verbatim
from protocol.values import keyword

__all__ = ["add_parser", "help_text", "render", "render_raw", "run"]

HISTORY = Path("~/.mi_history")


def add_parser(commands: argparse._SubParsersAction, version: str) -> None:
    cli = commands.add_parser("cli", help="run a command, or commands interactively, against a server")
    add_connection_options(cli)
    cli.add_argument("--version", action="version", version=version)
    cli.add_argument("--raw", action="store_true", help="print bare values, one a line (for scripts)")
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


def render_raw(reply: Any) -> str:
    """A reply for a script (``--raw``): strings as they are, nil as an empty line, the items of an
    array one a line, a JSON object on one line, an error as its text."""
    if isinstance(reply, CommandError):
        return f"{reply.prefix} {reply.message}"
    if reply is None:
        return ""
    if isinstance(reply, bool):
        return "true" if reply else "false"
    if isinstance(reply, bytes):
        return reply.decode("utf-8", "backslashreplace")
    if isinstance(reply, SimpleString | Verbatim):
        return reply.text.rstrip("\r\n").replace("\r\n", "\n")
    if isinstance(reply, dict | tuple) and _is_map(reply):
        return json.dumps(_plain(reply), ensure_ascii=False)
    if isinstance(reply, list | tuple | SetReply | Push):
        items = reply.items if isinstance(reply, SetReply | Push) else reply
        return "\n".join(render_raw(item) for item in items)
    return str(reply)


def help_text(words: list[str]) -> str:
    """``help``: how to type commands and which there are; ``help NAME``: its syntax and summary."""
    if not words:
        groups: dict[str, list[str]] = {}
        for declaration in DECLARATIONS.values():
            groups.setdefault(declaration.group, []).append(declaration.name.upper())
        lines = ["Type a command as redis-cli takes it; JSON needs no quotes (HSET k {\"a\": 1}).",
                 "help COMMAND shows its syntax; quit or Ctrl-D leaves.", ""]
        lines += [f"{group}: {' '.join(sorted(names))}" for group, names in sorted(groups.items())]
        return "\n".join(lines)
    declaration = DECLARATIONS.get(keyword(words[0].encode()))
    if declaration is None:
        return f"no command named {words[0]!r} (help lists them)"
    lines = []
    for each in (declaration, *declaration.subcommands):
        lines += [each.syntax, f"  {each.summary}"]
    return "\n".join(lines)


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
    show = render_raw if args.raw else render
    if args.words and keyword(args.words[0].encode()) == "help":
        print(help_text(args.words[1:]), file=out)
        return 0
    address = f"{args.host}:{args.port}"
    try:
        client = connect(args, timeout=None)
    except (OSError, CommandError, ProtocolError) as error:
        print(f"mi: cannot connect to {address}: {error}", file=sys.stderr)
        return 1
    with client:
        try:
            try:
                client.call("HELLO", "3")  # typed replies; without auth this fails and RESP2 stays
            except CommandError:
                pass
            if args.words:
                reply = client.call_raw(*args.words)
                print(show(reply), file=out)
                return 1 if isinstance(reply, CommandError) else 0
            return _interactive(client, address, stdin, out, show)
        except (OSError, ProtocolError) as error:
            print(f"mi: {address}: {error}", file=sys.stderr)
            return 1


def _interactive(client: WireClient, address: str, stdin: TextIO, out: TextIO, show: Any) -> int:
    terminal = stdin.isatty()
    if terminal:
        _load_history()
    namespace = "default"
    try:
        while True:
            prompt = address if namespace == "default" else f"{address}[{namespace}]"
            try:
                line = input(f"{prompt}> ") if terminal else stdin.readline()
            except EOFError:
                break
            if not terminal and not line:
                break
            line = line.strip()
            if not line:
                continue
            words = line.split()
            if words[0].lower() in ("quit", "exit"):
                break
            if words[0].lower() == "help":
                print(help_text(words[1:]), file=out)
                continue
            reply = client.call_inline(line.encode())
            print(show(reply), file=out)
            if words[0].lower() == "select" and not isinstance(reply, CommandError):
                namespace = _namespace(client)
    except KeyboardInterrupt:
        pass
    finally:
        if terminal:
            _save_history()
    return 0


def _namespace(client: WireClient) -> str:
    """The connection's namespace, as the server says it (after SELECT)."""
    info = client.call("CLIENT", "INFO")
    text = info.decode() if isinstance(info, bytes) else info.text
    fields = dict(part.split("=", 1) for part in text.split() if "=" in part)
    return fields.get("ns", "default")


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
