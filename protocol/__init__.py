"""The wire protocol, sans I/O: bytes in, typed commands out; reply values in, bytes out.

Imports no trio, no lmdb, no sockets and no logging, so every rule here is tested in isolation.
"""

from protocol.commands import DECLARATIONS, Command, Declaration
from protocol.encoder import encode, encode_into
from protocol.errors import CommandError, ProtocolError
from protocol.grammar import declaration_of, parse_command
from protocol.parser import NEED_DATA, Limits, NeedData, RequestParser
from protocol.reader import ReplyReader
from protocol.replies import NULL_ARRAY, NullArray, Push, SetReply, SimpleString, Stored, Verbatim
from protocol.request import Request

__all__ = [
    "DECLARATIONS",
    "NEED_DATA",
    "NULL_ARRAY",
    "Command",
    "CommandError",
    "Declaration",
    "Limits",
    "NeedData",
    "NullArray",
    "ProtocolError",
    "Push",
    "ReplyReader",
    "Request",
    "RequestParser",
    "SetReply",
    "SimpleString",
    "Stored",
    "Verbatim",
    "declaration_of",
    "encode",
    "encode_into",
    "parse_command",
]
