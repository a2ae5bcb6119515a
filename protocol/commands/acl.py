"""ACL WHOAMI, ACL USERS, ACL LIST: what redis-py and redis-cli ask of Redis's access lists.

mi's users come from the configuration (``[auth.users.NAME]``, docs/security.md), not from ACL
SETUSER, so only the commands that read them are here. Their handlers are in ``mi.commands.acl``.
"""

from __future__ import annotations

from typing import ClassVar

from attrs import frozen

from protocol.commands.base import Command
from protocol.commands.declaration import CONNECTION_FLAGS, NO_KEYS, declare, declare_container
from protocol.request import Request

__all__ = ["AclList", "AclUsers", "AclWhoami"]


@frozen
class AclWhoami(Command):
    """``ACL WHOAMI``: the connection's user."""

    name: ClassVar[str] = "acl|whoami"


@frozen
class AclUsers(Command):
    """``ACL USERS``: every user's name."""

    name: ClassVar[str] = "acl|users"


@frozen
class AclList(Command):
    """``ACL LIST``: every user as a line of rules, in Redis's notation where mi's rights map onto it."""

    name: ClassVar[str] = "acl|list"


_FORMS: dict[str, type[Command]] = {"acl|whoami": AclWhoami, "acl|users": AclUsers, "acl|list": AclList}


@declare("acl|whoami", 2, CONNECTION_FLAGS, NO_KEYS, "server",
         "Returns the authenticated user of the connection.",
         "ACL WHOAMI",
         forms=(AclWhoami,))  # fmt: skip
@declare("acl|users", 2, ("admin", *CONNECTION_FLAGS), NO_KEYS, "server",
         "Lists the names of the configured users.",
         "ACL USERS",
         forms=(AclUsers,))  # fmt: skip
@declare("acl|list", 2, ("admin", *CONNECTION_FLAGS), NO_KEYS, "server",
         "Lists the configured users and their rights, in ACL rule notation.",
         "ACL LIST",
         forms=(AclList,))  # fmt: skip
def _acl_bare(name: str, request: Request) -> Command:
    return _FORMS[name]()


declare_container("acl", (), "server",
                  "A container for access list commands.",
                  "ACL subcommand [argument ...]")  # fmt: skip
