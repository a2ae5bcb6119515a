"""How `mi cli` prints replies."""

from __future__ import annotations

from mi.tools.shell import render
from protocol.errors import CommandError
from protocol.replies import SetReply, SimpleString, Verbatim


def test_scalars_as_redis_cli_prints_them():
    assert render(None) == "(nil)"
    assert render(7) == "(integer) 7"
    assert render(True) == "(true)"
    assert render(1.5) == "(double) 1.5"
    assert render(b'say "hi"') == '"say \\"hi\\""'
    assert render(SimpleString("OK")) == "OK"
    assert render(CommandError("WRONGTYPE", "Operation against a key")) == "(error) WRONGTYPE Operation against a key"
    assert render(Verbatim("# Server\r\nx:1\r\n")) == "# Server\nx:1"


def test_maps_as_indented_json_and_arrays_numbered():
    assert render({b"a": [1, b"x"]}) == '{\n  "a": [\n    1,\n    "x"\n  ]\n}'
    assert render([]) == "(empty array)"
    nested = render([b"a", [1, 2], SetReply((b"s",))] + [b"x"] * 8)
    lines = nested.splitlines()
    assert lines[0] == ' 1) "a"'
    assert lines[1] == " 2) 1) (integer) 1" and lines[2] == "    2) (integer) 2"  # under its first
    assert lines[3] == ' 3) 1) "s"'
    assert lines[-1] == '11) "x"'
