"""ACL WHOAMI, ACL USERS, ACL LIST (declared in ``protocol.commands.acl``).

ACL LIST writes mi's users in Redis's rule notation where the two agree: ``on``/``off``,
``nopass`` or a password (Redis's ``#<sha256>`` for ``requirepass``, which the configuration
holds in clear; ``#scrypt`` for a user's, which it holds only as an scrypt hash), ``%R~glob`` and
``%W~glob`` for what it may read and write (in mi the globs match namespaces, not keys), and
``+@all``, less ``-@admin`` for a user who is not an operator.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from mi.commands.base import REGISTRY
from protocol.commands import AclList, AclUsers, AclWhoami

if TYPE_CHECKING:
    from mi.core.state import Connection
    from mi.settings.config import AuthConfig

__all__: list[str] = []


@REGISTRY.connection(AclWhoami)
def acl_whoami(session: Connection, command: AclWhoami) -> str:
    return "default" if session.user is None else session.user.name


def _rules(config: AuthConfig) -> dict[str, str]:
    """Each user's ACL LIST line, by name: ``default`` first, as Redis lists it."""
    if not config.enabled:
        default = "user default on nopass ~* &* +@all"
    elif config.requirepass is not None:
        digest = hashlib.sha256(config.requirepass.encode()).hexdigest()
        default = f"user default on #{digest} ~* &* +@all"
    else:  # only named users may connect
        default = "user default off resetpass -@all"
    rules = {"default": default}
    for name, user in config.users.items():
        rights = " ".join([*(f"%R~{glob}" for glob in user.read), *(f"%W~{glob}" for glob in user.write)])
        commands = "+@all" if user.admin else "+@all -@admin"
        rules[name] = f"user {name} {'on' if user.enabled else 'off'} #scrypt {rights} {commands}".replace("  ", " ")
    return rules


@REGISTRY.connection(AclUsers)
def acl_users(session: Connection, command: AclUsers) -> list[str]:
    return list(_rules(session.server.config.auth))


@REGISTRY.connection(AclList)
def acl_list(session: Connection, command: AclList) -> list[str]:
    return list(_rules(session.server.config.auth).values())
