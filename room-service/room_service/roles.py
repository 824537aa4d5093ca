"""Who may do what in a room: the role rules of docs/api/rooms.md, with no I/O.

The store reads the roles under the room's lock and asks these functions; each returns
nothing when the action is allowed and raises the error the caller gets otherwise.

- Group rooms rank ``owner`` > ``admin`` > ``member``. Owners and admins rename and add.
  Removing someone, or changing their role, is allowed only on members ranked strictly below
  you, and only owners change other members' roles. Anyone may leave or lower their own
  role, except the last owner, who must make someone else an owner first.
- Direct rooms have two plain members and no owner: nobody renames, adds, removes others or
  changes roles (409 ``direct_room``); either may leave.
"""

from __future__ import annotations

from enum import StrEnum

from chatcore.errors import Conflict, Forbidden


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


RANK = {Role.MEMBER: 0, Role.ADMIN: 1, Role.OWNER: 2}
DIRECT = "direct"


def _not_direct(kind: str) -> None:
    if kind == DIRECT:
        raise Conflict(
            "A direct room always has its two people: no renaming, adding, removing or roles.",
            code="direct_room",
        )


def check_rename(kind: str, actor: str) -> None:
    _not_direct(kind)
    if Role(actor) is Role.MEMBER:
        raise Forbidden("Only the room's owners and admins may rename it.")


def check_add(kind: str, actor: str) -> None:
    _not_direct(kind)
    if Role(actor) is Role.MEMBER:
        raise Forbidden("Only the room's owners and admins may add members.")


def check_remove(kind: str, actor: str, target: str, *, leaving: bool) -> None:
    """``leaving``: the actor removes themself, which every member may do."""
    if leaving:
        return
    _not_direct(kind)
    if Role(actor) is Role.MEMBER:
        raise Forbidden("Only the room's owners and admins may remove members.")
    if RANK[Role(target)] >= RANK[Role(actor)]:
        raise Forbidden(f"An {actor} may remove only members ranked below them.")


def check_set_role(kind: str, actor: str, target: str, new: str, *, own: bool, owners: int) -> None:
    """``own``: the actor changes their own role; ``owners``: how many owners the room has."""
    _not_direct(kind)
    if own:
        if RANK[Role(new)] > RANK[Role(actor)]:
            raise Forbidden("Nobody may raise their own role.")
        if Role(actor) is Role.OWNER and Role(new) is not Role.OWNER and owners <= 1:
            raise Conflict(
                "You are the room's only owner: make someone else an owner first.",
                code="last_owner",
            )
        return
    if Role(actor) is not Role.OWNER:
        raise Forbidden("Only the room's owners may change other members' roles.")
    if Role(target) is Role.OWNER:
        raise Forbidden("An owner cannot change another owner's role.")


def check_moderator(kind: str, actor: str) -> None:
    """Invites, bans and mutes: owners and admins of a group room."""
    _not_direct(kind)
    if Role(actor) is Role.MEMBER:
        raise Forbidden("Only the room's owners and admins may do that.")


def check_moderate(actor: str, target: str | None, *, own: bool) -> None:
    """Ban or mute ``target`` (their role, None if not a member): never the owner, never
    oneself, and an admin only members ranked below them."""
    if own:
        raise Forbidden("You cannot ban or mute yourself.", code="cannot_moderate_self")
    if target is None:
        return
    if Role(target) is Role.OWNER:
        raise Forbidden("Nobody may ban or mute a room's owner.", code="cannot_moderate_owner")
    if RANK[Role(target)] >= RANK[Role(actor)]:
        raise Forbidden(f"An {actor} may ban or mute only members ranked below them.")
