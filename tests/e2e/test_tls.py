"""TLS: a certificate made in the test, redis-py with ssl=True, client certificates, bad handshakes."""

from __future__ import annotations

import ssl

import pytest
import redis
import trio
import trustme
from attrs import evolve

from mi.settings.config import TlsConfig
from mi.core.server import serve
from support import IO_TIMEOUT, make_config


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def config(tmp_path, ca):
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_pem.write_to_path(str(tmp_path / "server.key"))
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "server.crt"))
    tls = TlsConfig(cert=str(tmp_path / "server.crt"), key=str(tmp_path / "server.key"), handshake_timeout=0.5)
    return evolve(make_config(tmp_path / "data"), tls=tls)


def tls_client(port: int, ca: trustme.CA, tmp_path, **options) -> redis.Redis:
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    return redis.Redis(host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=str(tmp_path / "ca.pem"), socket_timeout=IO_TIMEOUT,
                       retry=None, **options)


async def test_redis_py_over_tls(port, ca, tmp_path):
    client = tls_client(port, ca, tmp_path)
    assert await trio.to_thread.run_sync(client.execute_command, "SET", "k", "secret", "FROM", "ns")
    assert await trio.to_thread.run_sync(client.execute_command, "GET", "k", "FROM", "ns") == b"secret"
    client.close()


async def test_plain_text_and_silence_are_dropped_and_the_server_goes_on(port, ca, tmp_path):
    plain = await trio.open_tcp_stream("127.0.0.1", port)
    await plain.send_all(b"PING\r\n")  # not a TLS ClientHello
    with trio.fail_after(IO_TIMEOUT):
        received = b""
        while chunk := await plain.receive_some(100):  # at most a TLS alert, then the end
            received += chunk
    assert b"PONG" not in received
    silent = await trio.open_tcp_stream("127.0.0.1", port)  # never starts the handshake
    with trio.fail_after(IO_TIMEOUT):
        assert await silent.receive_some(100) == b"", "closed after the handshake timeout"
    client = tls_client(port, ca, tmp_path)
    assert await trio.to_thread.run_sync(client.ping)
    client.close()
    await plain.aclose()
    await silent.aclose()


async def test_a_client_certificate_can_be_required(nursery, tmp_path, ca, config):
    clients_ca = trustme.CA()
    clients_ca.cert_pem.write_to_path(str(tmp_path / "clients-ca.pem"))
    server = await nursery.start(serve, evolve(config, tls=evolve(config.tls, ca=str(tmp_path / "clients-ca.pem"))))
    port = server.state.port
    anonymous = tls_client(port, ca, tmp_path)
    with pytest.raises((redis.ConnectionError, ssl.SSLError)):
        await trio.to_thread.run_sync(anonymous.ping)
    identity = clients_ca.issue_cert("worker")
    identity.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "worker.pem"))
    known = tls_client(port, ca, tmp_path, ssl_certfile=str(tmp_path / "worker.pem"))
    assert await trio.to_thread.run_sync(known.ping)
    known.close()
