"""A minimal blocking client for mi's own command-line tools (``mi snapshot``, ``mi cli``)."""

from __future__ import annotations

import argparse
import os
import socket
import ssl
from typing import Any

from protocol.encoder import encode_request
from protocol.errors import CommandError
from protocol.parser import NEED_DATA
from protocol.reader import ReplyReader

__all__ = ["WireClient", "add_connection_options", "connect"]


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    """``--host --port --user --password --tls --cacert``, as every tool that talks to a server takes them."""
    parser.add_argument("--host", default="127.0.0.1", help="server address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7379, help="server port (default 7379)")
    parser.add_argument("--user", help="user to authenticate as (default: the default user)")
    parser.add_argument("--password", help="password (default: $MI_PASSWORD, if set)")
    parser.add_argument("--tls", action="store_true", help="the server speaks TLS")
    parser.add_argument("--cacert", metavar="FILE", help="CA certificate to check the server's with")


def connect(args: argparse.Namespace, timeout: float | None = 10.0) -> WireClient:
    """A client for the server the options name (authenticated if a password is given)."""
    password = args.password if args.password is not None else os.environ.get("MI_PASSWORD")
    tls = ssl.create_default_context(cafile=args.cacert) if args.tls else None
    return WireClient(args.host, args.port, timeout, user=args.user, password=password, tls=tls)


# A TLS server answers plain text with an alert record (or just closes): say so, not a traceback.
TLS_RECORD_TYPES = (0x15, 0x16)  # alert, handshake
NOT_RESP = "the server did not answer in the Redis protocol: if the port speaks TLS, add --tls (and --cacert FILE)"


def _handshake(tls: ssl.SSLContext, sock: socket.socket, host: str) -> ssl.SSLSocket:
    try:
        return tls.wrap_socket(sock, server_hostname=host)
    except ssl.SSLCertVerificationError:
        raise  # its message says what is wrong with the certificate
    except ssl.SSLError as error:
        sock.close()
        msg = f"TLS handshake failed ({error.reason or error}): does the port speak TLS?"
        raise ConnectionError(msg) from None


class WireClient:
    """One connection; ``call`` sends a command and returns its reply (``CommandError`` raised)."""

    def __init__(
        self,
        host: str,
        port: int,
        timeout: float | None = 10.0,
        *,
        user: str | None = None,
        password: str | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        sock = socket.create_connection((host, port), timeout=timeout)
        self._socket = sock if tls is None else _handshake(tls, sock, host)
        self._reader = ReplyReader()
        self._answered = False  # until the first reply, bytes of TLS mean the port speaks TLS
        if password is not None:
            self.call("AUTH", *([user] if user else []), password)

    def call(self, *args: bytes | str | int) -> Any:
        """The reply to a command; an error reply is raised as ``CommandError``."""
        reply = self.call_raw(*args)
        if isinstance(reply, CommandError):
            raise reply
        return reply

    def call_raw(self, *args: bytes | str | int) -> Any:
        """The reply to a command sent as a RESP array; an error reply is returned."""
        return self._exchange(encode_request(*args))

    def call_inline(self, line: bytes) -> Any:
        """The reply to a command sent as typed (the server's inline syntax); errors returned."""
        return self._exchange(line + b"\r\n")

    def _exchange(self, request: bytes) -> Any:
        self._socket.sendall(request)
        while (reply := self._reader.next_reply()) is NEED_DATA:
            data = self._socket.recv(65536)
            if not self._answered and (not data or data[0] in TLS_RECORD_TYPES):
                raise ConnectionError(NOT_RESP)
            if not data:
                raise ConnectionError("the server closed the connection")
            self._reader.receive_data(data)
        self._answered = True
        return reply

    def close(self) -> None:
        self._socket.close()

    def __enter__(self) -> WireClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
