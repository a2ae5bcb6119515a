"""``mi passwd``: read a password without echo and print the line to paste into ``[auth.users.NAME]``."""

from __future__ import annotations

import argparse
import getpass
import sys

from mi.policy.auth import hash_password

__all__ = ["add_parser", "run"]


def add_parser(commands: argparse._SubParsersAction) -> None:
    passwd = commands.add_parser("passwd", help="hash a password for a user in conf/mi.toml")
    passwd.add_argument("--stdin", action="store_true", help="read the password from standard input (scripts)")


def run(args: argparse.Namespace) -> int:
    try:
        if args.stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass("password: ")
            if getpass.getpass("again: ") != password:
                print("mi: the passwords differ", file=sys.stderr)
                return 1
    except (EOFError, KeyboardInterrupt):
        return 1
    if not password:
        print("mi: an empty password is not allowed", file=sys.stderr)
        return 1
    print(f'password = "{hash_password(password)}"')
    return 0
