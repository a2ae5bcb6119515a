"""The ceiling of mi's stack: a Trio server that parses requests with mi's parser and answers
without storage (SET -> +OK, GET -> nil, anything else -> empty array). scripts/bench measures it
next to mi so the table shows how much of mi's cost is storage and command execution.

Usage: bare_trio_server.py PORT   (listens on 127.0.0.1 until killed)
"""

import sys

import trio

from protocol.parser import NEED_DATA, RequestParser

REPLIES = {b"SET": b"+OK\r\n", b"GET": b"$-1\r\n", b"PING": b"+PONG\r\n"}


async def handle(stream: trio.SocketStream) -> None:
    parser = RequestParser()
    try:
        while data := await stream.receive_some(65536):
            parser.receive_data(data)
            out = bytearray()
            while (request := parser.next_request()) is not NEED_DATA:
                out += REPLIES.get(request.args[0].upper(), b"*0\r\n")
            await stream.send_all(out)
    except trio.BrokenResourceError:
        pass


if __name__ == "__main__":
    trio.run(lambda: trio.serve_tcp(handle, int(sys.argv[1]), host="127.0.0.1"))
