"""RequestParser: RESP arrays and inline lines in, requests out; Redis's framing errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.errors import ProtocolError
from protocol.parser import NEED_DATA, Limits, NeedData, RequestParser
from protocol.request import Request

SMALL = Limits(max_inline_size=16, max_bulk_len=8, max_array_len=4)


def resp(*args: bytes) -> bytes:
    """A request as clients send it: a RESP array of bulk strings."""
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def splittings(data: bytes) -> Iterator[list[bytes]]:
    """Every way the tests deliver ``data``: whole, a byte at a time, in two at every offset."""
    yield [data]
    yield [data[i : i + 1] for i in range(len(data))]
    for i in range(1, len(data)):
        yield [data[:i], data[i:]]


def drain(parser: RequestParser) -> list[Request]:
    """Every request the parser can give now."""
    requests = []
    while (request := parser.next_request()) is not NEED_DATA:
        requests.append(request)
    return requests


def feed(chunks: list[bytes], limits: Limits = Limits(), drain_each: bool = True) -> list[Request]:
    """The requests parsed from ``chunks``, drained after each read or only after the last."""
    parser = RequestParser(limits)
    requests: list[Request] = []
    for index, chunk in enumerate(chunks):
        parser.receive_data(chunk)
        if drain_each or index == len(chunks) - 1:
            requests += drain(parser)
    return requests


def parse(data: bytes, limits: Limits = Limits()) -> list[Request]:
    """The requests in ``data``, checked to be the same however the bytes are split."""
    expected = feed([data], limits)
    for chunks in splittings(data):
        assert feed(chunks, limits) == expected, chunks
        assert feed(chunks, limits, drain_each=False) == expected, chunks
    return expected


def protocol_error(data: bytes, limits: Limits = Limits()) -> str:
    """The framing error ``data`` raises, checked to be the same whole and in small pieces."""
    messages = set()
    step = 1 if len(data) < 4096 else 1024
    for chunks in ([data], [data[i : i + step] for i in range(0, len(data), step)]):
        with pytest.raises(ProtocolError) as caught:
            feed(chunks, limits)
        messages.add(str(caught.value))
    assert len(messages) == 1, messages
    return messages.pop()


# --- valid input ------------------------------------------------------------------------------


def test_resp_array_is_one_request():
    """A RESP array of bulk strings becomes one request with those arguments, none quoted."""
    assert parse(resp(b"SET", b"k", b"v")) == [Request((b"SET", b"k", b"v"))]


def test_inline_line_is_one_request():
    """An inline line ended by CRLF is split into tokens."""
    assert parse(b"SET k v\r\n") == [Request((b"SET", b"k", b"v"))]


def test_inline_line_may_end_with_bare_newline():
    """An inline line may end with LF alone (nc, telnet in some modes)."""
    assert parse(b"PING\n") == [Request((b"PING",))]


def test_inline_carriage_return_before_newline_is_not_part_of_the_last_token():
    """Only the CR right before the LF is dropped; the last token keeps its bytes."""
    assert parse(b"ECHO a\r\r\n") == [Request((b"ECHO", b"a"))]


def test_inline_quoted_tokens_are_marked():
    """Inline tokens written in quotes are reported by index."""
    assert parse(b'SET k "42"\r\n') == [Request((b"SET", b"k", b"42"), frozenset({2}))]


def test_inline_json_token_runs_to_its_bracket():
    """A JSON object with spaces is one inline token."""
    line = b'HSET k {"a": [1, "x y]"]}\r\n'
    assert parse(line) == [Request((b"HSET", b"k", b'{"a": [1, "x y]"]}'))]


def test_bulk_strings_are_never_marked_quoted():
    """Quotes inside a RESP bulk string are data, and the argument is not marked quoted."""
    assert parse(resp(b"SET", b"k", b'"42"')) == [Request((b"SET", b"k", b'"42"'))]


def test_bulk_string_may_hold_any_bytes():
    """Bulk strings are binary safe: CR, LF, NUL and '*' are data."""
    value = b"\r\n*1\r\n\x00$3\r\n\xff"
    assert parse(resp(b"SET", b"k", value)) == [Request((b"SET", b"k", value))]


def test_empty_bulk_string_is_an_empty_argument():
    """``$0`` is an empty argument."""
    assert parse(resp(b"SET", b"k", b"")) == [Request((b"SET", b"k", b""))]


def test_bulk_longer_than_the_header_table_is_parsed():
    """A length of several digits (beyond the fast lookup) is read correctly."""
    value = bytes(range(256)) * 20
    assert parse(resp(b"SET", b"k", value))[0].args[2] == value


def test_bulk_length_with_leading_zeros_is_accepted():
    """A header is an optional minus and digits: ``$03`` is three."""
    assert parse(b"*1\r\n$04\r\nPING\r\n") == [Request((b"PING",))]


def test_pipelined_requests_come_out_in_order():
    """RESP and inline requests in one read are all parsed, in order."""
    data = resp(b"SET", b"a", b"1") + b"GET a\r\n" + resp(b"DEL", b"a")
    assert [r.args[0] for r in parse(data)] == [b"SET", b"GET", b"DEL"]


def test_empty_query_is_skipped():
    """A bare CRLF is no request (Redis: "Handle an empty query")."""
    assert parse(b"\r\n" + resp(b"PING")) == [Request((b"PING",))]


def test_whitespace_only_line_is_skipped():
    """A line of spaces and tabs is no request."""
    assert parse(b" \t \r\nPING\r\n") == [Request((b"PING",))]


def test_zero_length_multibulk_is_skipped():
    """``*0`` is no request (Redis: "Regression for a crash on zero-length multibulk")."""
    assert parse(b"*0\r\nPING\r\n") == [Request((b"PING",))]


def test_negative_multibulk_length_is_skipped():
    """``*-10`` is no request and the connection goes on (Redis: "Negative multibulk length")."""
    assert parse(b"*-10\r\n" + resp(b"PING")) == [Request((b"PING",))]


def test_partial_request_needs_data():
    """A request cut short yields NEED_DATA, and completes when the rest arrives."""
    parser = RequestParser()
    parser.receive_data(b"*2\r\n$3\r\nGET\r\n$1\r")
    assert parser.next_request() is NEED_DATA
    parser.receive_data(b"\nk\r\n")
    assert parser.next_request() == Request((b"GET", b"k"))


def test_need_data_is_a_sentinel_of_its_own_type():
    """NEED_DATA is the NeedData instance and prints as its name."""
    assert isinstance(NEED_DATA, NeedData)
    assert repr(NEED_DATA) == "NEED_DATA"


def test_reads_queued_before_draining_are_parsed():
    """Reads received while earlier requests were not yet drained are all parsed."""
    parser = RequestParser()
    for chunk in (b"PING\r\n*1\r\n$4\r\nPI", b"NG\r\n", b"*1\r\n$4\r", b"\nPING\r\n"):
        parser.receive_data(chunk)
    assert drain(parser) == [Request((b"PING",))] * 3


def test_read_after_a_fresh_buffer_is_not_held_back_by_an_old_wait():
    """A wait recorded deep in an old buffer does not delay reads queued on a new one."""
    parser = RequestParser()
    parser.receive_data(resp(b"ECHO", b"x" * 1000))
    assert len(drain(parser)) == 1
    parser.receive_data(b"*1\r\n$4\r\nPI")  # not drained before the next read
    parser.receive_data(b"NG\r\n")
    assert drain(parser) == [Request((b"PING",))]


def test_read_after_a_join_is_not_held_back_by_an_old_wait():
    """After queued reads are joined, a stale wait does not delay the reads that follow."""
    parser = RequestParser()
    parser.receive_data(resp(b"ECHO", b"x" * 1000) + b"*1\r\n$4\r\nPI")
    assert len(drain(parser)) == 1
    parser.receive_data(b"NG\r\n*1\r\n$4\r\nPI")
    assert parser.next_request() == Request((b"PING",))  # not drained before the next read
    parser.receive_data(b"NG\r\n")
    assert drain(parser) == [Request((b"PING",))]


def test_bulk_at_the_length_limit_is_accepted():
    """A bulk string of exactly max_bulk_len bytes is fine."""
    assert parse(resp(b"12345678"), SMALL) == [Request((b"12345678",))]


def test_array_at_the_length_limit_is_accepted():
    """An array of exactly max_array_len elements is fine."""
    assert parse(resp(b"a", b"b", b"c", b"d"), SMALL) == [Request((b"a", b"b", b"c", b"d"))]


def test_inline_line_at_the_size_limit_is_accepted():
    """An inline line of exactly max_inline_size bytes (before its LF) is fine."""
    assert parse(b"ECHO 12345678901\n", SMALL) == [Request((b"ECHO", b"12345678901"))]


def test_large_bulk_in_many_reads_is_reassembled():
    """A bulk string far larger than one read arrives intact."""
    value = b"0123456789abcdef" * 16384  # 256 KiB
    data = resp(b"SET", b"k", value)
    chunks = [data[i : i + 4096] for i in range(0, len(data), 4096)]
    assert feed(chunks) == [Request((b"SET", b"k", value))]


# --- framing errors (Redis tests/unit/protocol.tcl and friends) ---------------------------------


def test_out_of_range_multibulk_length_is_an_error():
    """An array count over max_array_len is an invalid multibulk length."""
    assert protocol_error(b"*20000000\r\n") == "invalid multibulk length"


def test_huge_multibulk_length_is_an_error():
    """A count beyond 64 bits is an invalid multibulk length."""
    assert protocol_error(b"*3000000000000000000000\r\n") == "invalid multibulk length"


def test_non_number_multibulk_length_is_an_error():
    """``*abc`` is an invalid multibulk length."""
    assert protocol_error(b"*abc\r\n") == "invalid multibulk length"


def test_multibulk_length_with_plus_sign_is_an_error():
    """Only an optional minus may precede the digits."""
    assert protocol_error(b"*+1\r\n$4\r\nPING\r\n") == "invalid multibulk length"


def test_multibulk_length_with_space_is_an_error():
    """Spaces around the digits are not allowed."""
    assert protocol_error(b"* 1\r\n$4\r\nPING\r\n") == "invalid multibulk length"


def test_empty_multibulk_length_is_an_error():
    """``*`` with no digits is an invalid multibulk length."""
    assert protocol_error(b"*\r\n") == "invalid multibulk length"


def test_multibulk_header_must_end_with_crlf():
    """``*3x\\n`` (no CR before the LF) is an invalid multibulk length."""
    assert protocol_error(b"*3x\n$3\r\nSET\r\n") == "invalid multibulk length"


def test_multibulk_header_with_bare_newline_is_an_error():
    """``*1\\n`` without CR is an invalid multibulk length."""
    assert protocol_error(b"*1\n$4\r\nPING\r\n") == "invalid multibulk length"


def test_too_big_mbulk_count_string_is_an_error():
    """A ``*`` header over 64 KiB with no newline is refused."""
    assert protocol_error(b"*" + b"1" * 65 * 1024) == "too big mbulk count string"


def test_wrong_multibulk_payload_header_is_an_error():
    """An element not starting with ``$`` names the byte received (Redis's test, verbatim)."""
    data = b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n"
    assert protocol_error(data) == "expected '$', got 'f'"


def test_multibulk_not_followed_by_bulk_arguments_is_an_error():
    """``*1`` followed by an inline word is refused."""
    assert protocol_error(b"*1\r\nfoo\r\n") == "expected '$', got 'f'"


def test_expected_dollar_error_never_holds_a_line_break():
    """A CR or LF where ``$`` should be is shown as a space, so the error stays one line."""
    assert protocol_error(b"*1\r\n\r\n") == "expected '$', got ' '"


def test_negative_bulk_length_is_an_error():
    """``$-10`` is an invalid bulk length."""
    data = b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$-10\r\n"
    assert protocol_error(data) == "invalid bulk length"


def test_null_bulk_in_a_request_is_an_error():
    """``$-1`` (a null) cannot be a request argument."""
    assert protocol_error(b"*1\r\n$-1\r\n") == "invalid bulk length"


def test_out_of_range_bulk_length_is_an_error():
    """A bulk length over max_bulk_len is an invalid bulk length."""
    data = b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$2000000000\r\n"
    assert protocol_error(data) == "invalid bulk length"


def test_bulk_length_over_configured_limit_is_an_error():
    """The limit is the configured one, even for lengths the fast path knows."""
    assert protocol_error(b"*1\r\n$9\r\n123456789\r\n", SMALL) == "invalid bulk length"


def test_non_number_bulk_length_is_an_error():
    """``$blabla`` is an invalid bulk length."""
    data = b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$blabla\r\n"
    assert protocol_error(data) == "invalid bulk length"


def test_bulk_length_with_plus_sign_is_an_error():
    """``$+3`` is an invalid bulk length."""
    assert protocol_error(b"*1\r\n$+3\r\nGET\r\n") == "invalid bulk length"


def test_bulk_header_must_end_with_crlf():
    """``$3x\\n`` is an invalid bulk length."""
    assert protocol_error(b"*3\r\n$3x\nSET\r\n") == "invalid bulk length"


def test_too_big_bulk_count_string_is_an_error():
    """A ``$`` header over 64 KiB with no newline is refused."""
    assert protocol_error(b"*1\r\n$" + b"1" * 65 * 1024) == "too big bulk count string"


def test_bulk_data_followed_by_cr_and_other_byte_is_an_error():
    """``SET\\rx`` where ``SET\\r\\n`` belongs is refused."""
    data = b"*3\r\n$3\r\nSET\rx$3\r\nkey\r\n"
    assert protocol_error(data) == "expected CRLF after bulk data"


def test_bulk_data_longer_than_declared_is_an_error():
    """``$3`` followed by ``SETxx`` is refused."""
    data = b"*3\r\n$3\r\nSETxx$3\r\nkey\r\n"
    assert protocol_error(data) == "expected CRLF after bulk data"


def test_too_big_inline_request_is_an_error():
    """An inline line over max_inline_size with no newline yet is refused."""
    assert protocol_error(b"x" * 17, SMALL) == "too big inline request"


def test_inline_line_over_the_limit_is_an_error_even_when_complete():
    """The verdict does not depend on whether the newline came in the same read."""
    assert protocol_error(b"ECHO 123456789012\n", SMALL) == "too big inline request"


def test_unbalanced_quotes_are_an_error():
    """An unterminated inline quote is a protocol error (Redis: "Unbalanced double quotes")."""
    assert protocol_error(b'set foo "b"a"r\r\nping\r\n') == "unbalanced quotes in request"


def test_unbalanced_single_quotes_are_an_error():
    """Redis: "Unbalanced single quotes"."""
    assert protocol_error(b"set foo 'b'a'r\r\nping\r\n") == "unbalanced quotes in request"


def test_unbalanced_brackets_are_not_a_protocol_error():
    """An unterminated inline JSON token is left for the command to reject; the stream is fine."""
    assert parse(b'HSET k {"a": [1}\r\nPING\r\n') == [
        Request((b"HSET", b"k", b'{"a":', b"[1}")),
        Request((b"PING",)),
    ]


@pytest.mark.parametrize(
    ("start", "error"),
    [
        (b"\x00", "too big inline request"),
        (b"*\x00", "too big mbulk count string"),
        (b"$\x00", "too big inline request"),
        (b"*1\r\n$\x00", "too big bulk count string"),
    ],
)
def test_protocol_desync_is_detected(start, error):
    """Junk then 64 KiB with no newline ends in a protocol error, never a wait (Redis's tests)."""
    assert protocol_error(start + b"A" * 65 * 1024) == error


def test_errors_are_sticky():
    """After a framing error every call raises the same error: the stream is lost."""
    parser = RequestParser()
    parser.receive_data(b"*x\r\nPING\r\n")
    with pytest.raises(ProtocolError) as first:
        parser.next_request()
    with pytest.raises(ProtocolError) as again:
        parser.next_request()
    with pytest.raises(ProtocolError) as on_receive:
        parser.receive_data(b"PING\r\n")
    assert first.value is again.value is on_receive.value


def test_requests_before_a_framing_error_are_returned_first():
    """Complete requests ahead of bad bytes come out before the error is raised."""
    parser = RequestParser()
    parser.receive_data(b"PING\r\n*x\r\n")
    assert parser.next_request() == Request((b"PING",))
    with pytest.raises(ProtocolError, match="invalid multibulk length"):
        parser.next_request()


# --- properties -------------------------------------------------------------------------------

argument_lists = st.lists(st.binary(max_size=40), min_size=1, max_size=6)


@given(argument_lists, st.data())
def test_any_arguments_round_trip(args, data):
    """Encoding any arguments as a RESP array and parsing them gives them back."""
    encoded = resp(*args)
    cut = data.draw(st.integers(0, len(encoded)))
    assert feed([encoded[:cut], encoded[cut:]]) == [Request(tuple(args))]


@given(st.lists(argument_lists, min_size=1, max_size=8), st.lists(st.integers(0, 400)))
def test_pipelined_arguments_round_trip_however_split(requests, cuts):
    """Many requests in one stream, cut anywhere, come back in order."""
    stream = b"".join(resp(*args) for args in requests)
    offsets = sorted({0, len(stream), *(c for c in cuts if c < len(stream))})
    chunks = [stream[a:b] for a, b in zip(offsets, offsets[1:], strict=False)]
    assert feed(chunks, drain_each=False) == [Request(tuple(a)) for a in requests]


fragments = st.one_of(
    st.sampled_from([b"*", b"$", b"\r\n", b"\n", b"\r", b"-", b"1", b"3", b"0", b" ", b'"', b"'",
                     b"{", b"}", b"[", b"]", b"\\", b"PING", b"*1\r\n", b"$4\r\n", b"*-1\r\n"]),
    st.binary(max_size=8),
)


@settings(max_examples=300)
@given(st.lists(fragments, max_size=40), st.integers(1, 16))
def test_arbitrary_bytes_raise_only_protocol_errors(parts, step):
    """Whatever a client sends, the parser returns requests, NEED_DATA or a ProtocolError."""
    stream = b"".join(parts)
    parser = RequestParser(SMALL)
    produced = 0
    try:
        for i in range(0, len(stream), step):
            parser.receive_data(stream[i : i + step])
            while (request := parser.next_request()) is not NEED_DATA:
                assert isinstance(request, Request) and request.args
                produced += 1
                assert produced <= len(stream)  # each request consumes bytes: no endless loop
    except ProtocolError:
        pass


# --- odd elements, big counts and pipelines: the same verdict however the bytes arrive ---------


def outcome(chunks: list[bytes], limits: Limits = Limits()) -> tuple[list[Request], str | None]:
    """The requests parsed from ``chunks`` (drained after each read) and the framing error that
    ended them, if any."""
    parser = RequestParser(limits)
    requests: list[Request] = []
    try:
        for chunk in chunks:
            parser.receive_data(chunk)
            while (request := parser.next_request()) is not NEED_DATA:
                requests.append(request)
    except ProtocolError as error:
        return requests, str(error)
    return requests, None


def test_requests_before_a_non_bulk_element_are_answered_first():
    """Good pipelined requests come out before a ``+simple`` element, which mi refuses."""
    parser = RequestParser()
    parser.receive_data(resp(b"PING") * 3 + b"*1\r\n+PING\r\n")
    assert drain_until_error(parser) == ([Request((b"PING",))] * 3, "expected '$', got '+'")


def drain_until_error(parser: RequestParser) -> tuple[list[Request], str]:
    """The requests the parser gives before its framing error, and the error's text."""
    requests = []
    with pytest.raises(ProtocolError) as caught:
        while (request := parser.next_request()) is not NEED_DATA:
            requests.append(request)
    return requests, str(caught.value)


@pytest.mark.parametrize(
    ("element", "error"),
    [
        (b"+PING\r\n", "expected '$', got '+'"),
        (b":1\r\n", "expected '$', got ':'"),
        (b"(123\r\n", "expected '$', got '('"),
        (b"=8\r\ntxt:PING\r\n", "expected '$', got '='"),
        (b"_\r\n", "expected '$', got '_'"),
        (b"-ERR x\r\n", "expected '$', got '-'"),
        (b"*1\r\n$4\r\nPING\r\n", "expected '$', got '*'"),
        (b"%1\r\n$1\r\na\r\n$1\r\nb\r\n", "expected '$', got '%'"),
        (b"$4\r\nPINGxx", "expected CRLF after bulk data"),
    ],
)
def test_elements_that_are_not_bulk_strings_get_mi_texts(element, error):
    """Other RESP types (which a general RESP reader would accept) are refused with mi's texts."""
    data = resp(b"PING") + b"*2\r\n$4\r\nECHO\r\n" + element + resp(b"PING")
    assert outcome([data]) == ([Request((b"PING",))], error)
    assert outcome([data[i : i + 1] for i in range(len(data))]) == ([Request((b"PING",))], error)


def test_huge_nested_array_count_is_refused_without_allocating_it():
    """A nested array announcing four billion elements is refused at its header, not allocated."""
    data = resp(b"PING") + b"*1\r\n*4000000000\r\n"
    assert outcome([data]) == ([Request((b"PING",))], "expected '$', got '*'")
    # Also after a request that spanned reads, within the joined buffer.
    echo = resp(b"ECHO", b"x" * 100)
    chunks = [echo[:30], echo[30:] + data]
    expected = [Request((b"ECHO", b"x" * 100)), Request((b"PING",))]
    assert outcome(chunks) == (expected, "expected '$', got '*'")


def test_bulk_data_that_looks_like_a_big_header_is_parsed():
    """A value holding ``*12345`` (bytes that look like a header) still round trips in a pipeline."""
    requests = [(b"SET", b"k", b"*12345\r\n%99999"), (b"GET", b"k"), (b"DEL", b"k")]
    data = b"".join(resp(*args) for args in requests)
    assert parse(data) == [Request(args) for args in requests]


def test_array_of_a_thousand_elements_is_parsed():
    """An array whose count has four digits is framed whole."""
    args = tuple(b"%d" % i for i in range(1500))
    assert feed([resp(*args) + resp(b"PING")]) == [Request(args), Request((b"PING",))]


def test_resp_then_inline_then_resp_in_one_read_and_after():
    """A mixed read gives every request in order, and RESP in the next read still parses."""
    parser = RequestParser()
    parser.receive_data(resp(b"SET", b"a", b"1") + b"GET a\r\n\r\n" + resp(b"DEL", b"a"))
    assert [r.args for r in drain(parser)] == [(b"SET", b"a", b"1"), (b"GET", b"a"), (b"DEL", b"a")]
    parser.receive_data(resp(b"PING") + b"PING\r\n" + resp(b"ECHO", b"x"))
    assert [r.args for r in drain(parser)] == [(b"PING",), (b"PING",), (b"ECHO", b"x")]


def test_bulk_over_the_limit_is_refused_at_its_header_when_the_request_spans_reads():
    """A partial request after complete ones is checked at its header, before its body comes."""
    parser = RequestParser(SMALL)
    parser.receive_data(resp(b"PING") + b"*1\r\n$9\r\n1234")
    assert drain_until_error(parser) == ([Request((b"PING",))], "invalid bulk length")


def test_array_over_the_limit_is_refused_at_its_header_when_the_request_spans_reads():
    """An array count over the limit is refused once its header line arrives, body unsent."""
    parser = RequestParser(SMALL)
    parser.receive_data(resp(b"PING") + b"*5")
    assert parser.next_request() == Request((b"PING",))
    assert parser.next_request() is NEED_DATA
    parser.receive_data(b"\r\n$1\r\n")
    with pytest.raises(ProtocolError, match="invalid multibulk length"):
        parser.next_request()


def test_limits_in_force_are_those_set_last():
    """Limits set between reads (pre-auth to full, and back) apply to complete requests too."""
    parser = RequestParser()
    parser.receive_data(resp(b"123456789"))
    assert drain(parser) == [Request((b"123456789",))]
    parser.limits = SMALL
    parser.receive_data(resp(b"a", b"b", b"c", b"d", b"e"))
    assert drain_until_error(parser) == ([], "invalid multibulk length")


def test_bulk_over_the_limit_in_a_complete_request_is_refused():
    """A complete request is held to max_bulk_len, however long the rest of the read."""
    data = resp(b"PING") + resp(b"SET", b"k", b"123456789")
    assert outcome([data], SMALL) == ([Request((b"PING",))], "invalid bulk length")


def test_large_read_of_small_requests_is_parsed():
    """A read far larger than the reader's keep-size parses whole, and the next read too."""
    parser = RequestParser()
    parser.receive_data(resp(b"SET", b"k", b"v" * 100) * 200)
    assert len(drain(parser)) == 200
    parser.receive_data(resp(b"PING"))
    assert drain(parser) == [Request((b"PING",))]


stream_parts = st.one_of(
    argument_lists.map(lambda args: resp(*args)),
    st.sampled_from([b"PING\r\n", b"SET k 'v w'\n", b"\r\n", b" \r\n", b"*0\r\n", b"*-1\r\n",
                     b"*1\r\n$04\r\nPING\r\n", b"*1\r\n+PING\r\n", b"*2\r\n$1\r\na\r\n:1\r\n",
                     b"*1\r\n$4\r\nPINGxx", b"*1\r\n*2\r\n", b"*30000\r\n", b"$3\r\n"]),
    fragments,
)


@settings(max_examples=300)
@given(st.lists(stream_parts, max_size=12), st.lists(st.integers(1, 40), min_size=1), st.booleans())
def test_any_stream_gives_the_same_outcome_however_split(parts, sizes, small):
    """Whole, a byte at a time or in random chunks: the same requests, then the same error."""
    stream = b"".join(parts)
    limits = SMALL if small else Limits()
    chunks, offset = [], 0
    while offset < len(stream):
        size = sizes[len(chunks) % len(sizes)]
        chunks.append(stream[offset : offset + size])
        offset += size
    whole = outcome([stream], limits)
    assert outcome([stream[i : i + 1] for i in range(len(stream))], limits) == whole
    assert outcome(chunks, limits) == whole
