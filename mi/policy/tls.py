"""TLS for client connections: the server's SSL context, from ``[tls]``."""

from __future__ import annotations

import ssl

from mi.settings.config import TlsConfig

__all__ = ["TlsError", "server_context"]


class TlsError(ValueError):
    """The TLS files cannot be used; the message names the file and the problem."""


def server_context(config: TlsConfig) -> ssl.SSLContext:
    """A context for the server side: TLS 1.2 or newer, client certificates checked if ``ca`` is set."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if config.key is None:
        msg = "tls.cert is set but tls.key is not: both are needed"
        raise TlsError(msg)
    try:
        context.load_cert_chain(config.cert, config.key)
    except (OSError, ssl.SSLError) as error:
        msg = f"cannot load tls.cert {config.cert} / tls.key {config.key}: {error}"
        raise TlsError(msg) from None
    if config.ca is not None:
        try:
            context.load_verify_locations(config.ca)
        except (OSError, ssl.SSLError) as error:
            msg = f"cannot load tls.ca {config.ca}: {error}"
            raise TlsError(msg) from None
        context.verify_mode = ssl.CERT_REQUIRED
    return context
