import functools
import time

import pytest
import trio
import trio.testing

from mi.core.server import serve
from support import RawClient, ThreadedRedis, make_config


@pytest.fixture
def config(tmp_path):
    return make_config(tmp_path / "data")


@pytest.fixture
async def server(nursery, config):
    """A running server on a free port; cancelled with the test's nursery."""
    return await nursery.start(serve, config)


@pytest.fixture
def port(server):
    return server.state.port


@pytest.fixture
async def raw(port):
    client = await RawClient.connect(port)
    yield client
    await client.aclose()


@pytest.fixture
def r2(port):
    client = ThreadedRedis(port, protocol=2)
    yield client
    client.client.close()


@pytest.fixture
def r3(port):
    client = ThreadedRedis(port, protocol=3)
    yield client
    client.client.close()


@pytest.fixture
def clock():
    """Trio's clock at real speed that a test can also jump forward (pytest-trio uses it)."""
    return trio.testing.MockClock(rate=1.0)


@pytest.fixture
def now_ms(clock):
    """The server's wall clock, driven by the mock clock so a jump moves TTLs too."""
    anchor = time.time_ns() // 1_000_000
    return lambda: anchor + int(trio.current_time() * 1000)


@pytest.fixture
async def timed_server(nursery, config, now_ms):
    """A server whose notion of time follows ``clock``: jump it to expire messages."""
    return await nursery.start(functools.partial(serve, config, now_ms=now_ms))


@pytest.fixture
async def client(timed_server):
    """A raw client of ``timed_server``."""
    client = await RawClient.connect(timed_server.state.port)
    yield client
    await client.aclose()
