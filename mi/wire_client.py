"""A minimal blocking client for mi's own command-line tools (``mi snapshot`` against a server)."""

from __future__ import annotations

import socket
import ssl
from typing import Any

from protocol.encoder import encode_request
from protocol.errors import CommandError
from protocol.parser import NEED_DATA
from protocol.reader import ReplyReader

__all__ = ["WireClient"]


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
        self._socket = sock if tls is None else tls.wrap_socket(sock, server_hostname=host)
        self._reader = ReplyReader()
        if password is not None:
            self.call("AUTH", *([user] if user else []), password)

    def call(self, *args: bytes | str | int) -> Any:
        self._socket.sendall(encode_request(*args))
        while (reply := self._reader.next_reply()) is NEED_DATA:
            data = self._socket.recv(65536)
            if not data:
                raise ConnectionError("the server closed the connection")
            self._reader.receive_data(data)
        if isinstance(reply, CommandError):
            raise reply
        return reply

    def close(self) -> None:
        self._socket.close()

    def __enter__(self) -> WireClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
