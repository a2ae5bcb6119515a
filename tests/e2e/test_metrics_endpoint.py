"""The Prometheus endpoint, scraped with a real HTTP client while commands run."""

from __future__ import annotations

import httpx
import pytest
from attrs import evolve

from protocol.replies import SimpleString
from support import make_config

OK = SimpleString("OK")


@pytest.fixture
def config(tmp_path):
    config = make_config(tmp_path / "data")
    return evolve(config, server=evolve(config.server, metrics_port=0))


def value(text: str, sample: str) -> float:
    """The value of one sample line (``name{labels}``) of the exposition."""
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.split()[-1])
    raise AssertionError(f"no {sample} in the scrape")


async def scrape(server) -> str:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{server.state.metrics_port}/metrics")
    assert response.status_code == 200
    return response.text


async def test_figures_move_as_commands_run(server, raw):
    before = await scrape(server)
    assert "process_resident_memory_bytes" in before, "the standard process metrics"
    for i in range(3):
        assert await raw.command("SET", f"k{i}", "v", "FROM", "orders") == OK
    await raw.command("GET")  # wrong arity: a failure
    after = await scrape(server)
    assert value(after, 'mi_commands_total{command="set"}') == 3
    assert value(after, 'mi_command_failures_total{command="get"}') == 1
    assert value(after, 'mi_errors_total{prefix="ERR"}') >= 1
    assert value(after, 'mi_command_duration_seconds_count{command="set"}') == 3
    assert value(after, 'mi_command_duration_seconds_bucket{command="set",le="+Inf"}') == 3
    assert value(after, 'mi_namespace_keys{namespace="orders"}') == 3
    assert value(after, "mi_connected_clients") == 1
    commits = sum(value(after, f'mi_commits_total{{shard="{i}"}}') for i in range(4))
    assert commits >= 3
