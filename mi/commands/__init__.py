"""Command execution, one module per family; importing this package registers every handler."""

from mi.commands import keys, namespaces, server, strings
from mi.commands.base import REGISTRY, Kind, Write, as_command_error

__all__ = ["REGISTRY", "Kind", "Write", "as_command_error", "keys", "namespaces", "server", "strings"]
