"""Webhooks: due messages POSTed to a real HTTP server on 127.0.0.1; 2xx acknowledges, else retry."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import trio
from attrs import evolve

from mi.settings.config import NamespaceSettings
from protocol.replies import SimpleString
from support import IO_TIMEOUT, as_map, make_config

OK = SimpleString("OK")


class Receiver:
    """An HTTP server that records each POSTed JSON body and answers the statuses it is given."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.raw: list[tuple[bytes, dict[str, str]]] = []  # each POST's bytes and headers
        self.stalls: list[float] = []  # seconds to wait before answering, in order; none once they run out
        self.in_flight = self.most_in_flight = 0
        lock = threading.Lock()
        self.statuses: list[int] = []  # answered in order; 200 once they run out
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                with lock:
                    receiver.in_flight += 1
                    receiver.most_in_flight = max(receiver.most_in_flight, receiver.in_flight)
                    stall = receiver.stalls.pop(0) if receiver.stalls else 0.0
                time.sleep(stall)
                with lock:
                    receiver.in_flight -= 1
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.raw.append((raw, dict(self.headers)))
                receiver.bodies.append(json.loads(raw))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/due"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    thread = threading.Thread(target=receiver.http.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.http.shutdown()
    receiver.http.server_close()


@pytest.fixture
def config(tmp_path, receiver):
    hooks = NamespaceSettings(
        on_expire="deliver", webhook=receiver.url, retry_backoff=0.05, max_attempts=3, dead_letter="hooks-dead"
    )
    config = make_config(tmp_path / "data")
    return evolve(config, namespaces={"hooks": hooks}, webhooks=evolve(config.webhooks, secrets={"hooks": SECRET}))


SECRET = "whsec-test-6f1d0c"


def verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """A receiver's check, as docs/webhooks.md gives it."""
    fields = dict(part.split("=", 1) for part in header.split(","))
    timestamp = int(fields["t"])
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields["v1"]) and abs(time.time() - timestamp) <= tolerance


async def until(check) -> None:
    with trio.fail_after(IO_TIMEOUT):
        while not await check():
            await trio.sleep(0.01)



async def settled(raw) -> bool:
    info = as_map(await raw.command("NAMESPACE", "INFO", "hooks"))
    return info[b"due"] == info[b"in_flight"] == info[b"keys"] == 0


async def test_a_due_message_is_posted_and_a_2xx_acknowledges_it(raw, receiver):
    await raw.command("HSET", "order:1", '{"total": 12}', "FROM", "hooks", "PX", "10", "PRIORITY", "3")

    async def posted() -> bool:
        return len(receiver.bodies) == 1

    await until(posted)
    await until(lambda: settled(raw))
    body = receiver.bodies[0]
    assert {k: body[k] for k in ("ns", "key", "value", "type", "priority", "attempt")} == {
        "ns": "hooks", "key": "order:1", "value": {"total": 12}, "type": "json", "priority": 3, "attempt": 1,
    }
    assert body["deadline"] > 0 and "-" in body["id"]


async def test_failures_are_retried_with_backoff_until_a_2xx(raw, receiver):
    receiver.statuses = [500, 503]
    await raw.command("SET", "job", "x", "FROM", "hooks", "PX", "10")

    async def third_attempt() -> bool:
        return len(receiver.bodies) == 3

    await until(third_attempt)
    await until(lambda: settled(raw))
    assert [body["attempt"] for body in receiver.bodies] == [1, 2, 3]
    assert await raw.command("GET", "job", "FROM", "hooks-dead") is None


async def test_after_max_attempts_the_message_goes_to_the_dead_letter_namespace(raw, receiver):
    receiver.statuses = [500, 500, 500]
    await raw.command("SET", "job", "poison", "FROM", "hooks", "PX", "10")

    async def dead_lettered() -> bool:
        return await raw.command("GET", "job", "FROM", "hooks-dead") == b"poison"

    await until(dead_lettered)
    assert len(receiver.bodies) == 3
    await until(lambda: settled(raw))


async def test_a_webhook_set_at_run_time_starts_delivering(raw, receiver):
    assert await raw.command("NAMESPACE", "CONFIG", "late", "SET", "on_expire", "deliver") == OK
    assert await raw.command("NAMESPACE", "CONFIG", "late", "SET", "webhook", receiver.url) == OK
    await raw.command("SET", "k", "v", "FROM", "late", "PX", "10")

    async def posted() -> bool:
        return [body["key"] for body in receiver.bodies] == ["k"]

    await until(posted)


async def test_an_unreachable_webhook_is_retried_and_the_server_goes_on(raw, receiver):
    receiver.http.shutdown()
    receiver.http.server_close()  # nothing listens there any more
    await raw.command("SET", "job", "x", "FROM", "hooks", "PX", "10")

    async def dead_lettered() -> bool:
        return await raw.command("GET", "job", "FROM", "hooks-dead") == b"x"

    await until(dead_lettered)
    assert await raw.command("PING") == SimpleString("PONG")


async def test_a_namespace_with_a_secret_signs_each_post(raw, receiver, capsys):
    receiver.statuses = [500]  # a failure is logged: the secret must not be in the log
    await raw.command("SET", "job", "x", "FROM", "hooks", "PX", "10")

    async def twice() -> bool:
        return len(receiver.raw) == 2

    await until(twice)
    for body, headers in receiver.raw:
        header = headers["Mi-Signature"]
        assert verify(SECRET, header, body)
        assert not verify("another secret", header, body)
        assert not verify(SECRET, header, body.replace(b'"x"', b'"y"'))  # a changed body fails
        timestamp = int(header.split(",")[0].removeprefix("t="))
        assert abs(time.time() - timestamp) < IO_TIMEOUT
    assert SECRET not in capsys.readouterr().out


async def test_a_namespace_without_a_secret_sends_no_signature(raw, receiver):
    assert await raw.command("NAMESPACE", "CONFIG", "plain", "SET", "on_expire", "deliver") == OK
    assert await raw.command("NAMESPACE", "CONFIG", "plain", "SET", "webhook", receiver.url) == OK
    await raw.command("SET", "k", "v", "FROM", "plain", "PX", "10")

    async def posted() -> bool:
        return len(receiver.raw) == 1

    await until(posted)
    assert "Mi-Signature" not in receiver.raw[0][1]
    assert SECRET not in json.dumps(await raw.command("NAMESPACE", "CONFIG", "hooks", "GET"), default=repr)


async def test_a_post_slower_than_webhook_timeout_counts_as_failed(raw, receiver):
    assert await raw.command("NAMESPACE", "CONFIG", "hooks", "SET", "webhook_timeout", "200ms") == OK
    receiver.stalls = [1.5]  # the first POST would get its 200 only after 1.5 s
    await raw.command("SET", "job", "x", "FROM", "hooks", "PX", "10")

    async def retried() -> bool:
        return [body["attempt"] for body in receiver.bodies] == [2]  # the first never finished in time

    await until(retried)


async def test_webhook_concurrency_bounds_the_posts_in_flight(raw, receiver):
    assert await raw.command("NAMESPACE", "CONFIG", "hooks", "SET", "webhook_concurrency", "1") == OK
    receiver.stalls = [0.05] * 5
    for i in range(5):
        await raw.command("SET", f"job{i}", "x", "FROM", "hooks", "PX", "10")

    async def all_posted() -> bool:
        return len(receiver.bodies) == 5

    await until(all_posted)
    assert receiver.most_in_flight == 1


async def test_a_paused_namespace_posts_nothing_until_resumed(server, raw, receiver):
    assert await raw.command("NAMESPACE", "PAUSE", "hooks") == OK
    await raw.command("SET", "job", "x", "FROM", "hooks", "PX", "10")

    async def due() -> bool:
        return as_map(await raw.command("NAMESPACE", "INFO", "hooks"))[b"due"] == 1

    await until(due)
    webhooks = server.state.webhooks
    looked = webhooks.looks["hooks"]
    server.state.due_signals.notify({"hooks"})  # the webhook task looks again, with the message due

    async def looked_again() -> bool:
        return webhooks.looks["hooks"] > looked

    await until(looked_again)
    assert await due()  # it looked, and left the message due: nothing taken, nothing posted
    assert receiver.bodies == []
    assert await raw.command("NAMESPACE", "RESUME", "hooks") == OK

    async def posted() -> bool:
        return len(receiver.bodies) == 1

    await until(posted)
