"""sd_notify without libsystemd: tell a ``Type=notify`` service manager when mi is ready or stopping.

systemd passes ``NOTIFY_SOCKET`` (a path, or ``@name`` in the abstract namespace) and reads
newline-separated ``KEY=value`` datagrams from it. Outside systemd the variable is unset and every
call here does nothing. A failure is logged, never raised: readiness reporting must not stop a
server that is otherwise fine (systemd then times the start out and says so itself).
"""

from __future__ import annotations

import os
import socket

from mi.observability.logs import get_logger

__all__ = ["notify", "ready", "stopping"]

SEND_TIMEOUT = 1.0  # seconds; a datagram to a live manager is instant, a stuck one must not hang us

log = get_logger("mi.systemd")


def notify(*assignments: str) -> bool:
    """Send ``KEY=value`` lines to ``$NOTIFY_SOCKET``; True if sent, False if unset or failed."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # abstract namespace: a leading NUL instead of the "@"
    elif not address.startswith("/"):  # e.g. systemd's vsock: form, which mi does not speak
        log.warning("systemd.notify_failed", socket=address, error="unsupported NOTIFY_SOCKET address")
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.settimeout(SEND_TIMEOUT)
            sock.connect(address)
            sock.sendall("\n".join(assignments).encode())
    except (OSError, ValueError) as error:  # ValueError: a NUL in the path, text that will not encode
        log.warning("systemd.notify_failed", socket=os.environ.get("NOTIFY_SOCKET"), error=str(error))
        return False
    return True


def ready(host: str, port: int) -> bool:
    """The server listens: systemd may start what depends on it."""
    return notify("READY=1", f"STATUS=listening on {host}:{port}")


def stopping() -> bool:
    """Graceful shutdown began (systemd shows "deactivating" until the process exits)."""
    return notify("STOPPING=1", "STATUS=stopping: answering what was received, then committing")
