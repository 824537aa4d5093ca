"""The role rules of room_service.roles, every combination, without I/O."""

from __future__ import annotations

import itertools

import pytest

from chatcore.errors import ChatError, Conflict, Forbidden
from room_service import roles

ROLES = ("owner", "admin", "member")


def _answer(check: object, *args: object, **kwargs: object) -> str:
    """'ok', or the error code the check raised."""
    try:
        check(*args, **kwargs)  # type: ignore[operator]
    except ChatError as error:
        return error.code
    return "ok"


def test_renaming_and_adding_need_owner_or_admin() -> None:
    """Owners and admins rename and add; members are forbidden; direct rooms refuse both."""
    for check in (roles.check_rename, roles.check_add):
        assert [_answer(check, "group", r) for r in ROLES] == ["ok", "ok", "forbidden"]
        assert {_answer(check, "direct", r) for r in ROLES} == {"direct_room"}


def test_removing_others_needs_a_higher_rank() -> None:
    """An owner removes admins and members, an admin members, a member nobody."""
    allowed = {("owner", "admin"), ("owner", "member"), ("admin", "member")}
    for actor, target in itertools.product(ROLES, ROLES):
        expected = "ok" if (actor, target) in allowed else "forbidden"
        assert _answer(roles.check_remove, "group", actor, target, leaving=False) == expected
        assert _answer(roles.check_remove, "direct", actor, target, leaving=False) == (
            "direct_room"
        )


def test_everyone_may_leave() -> None:
    """Leaving is allowed for every role in both kinds of room."""
    for kind, role in itertools.product(("group", "direct"), ROLES):
        assert _answer(roles.check_remove, kind, role, role, leaving=True) == "ok"


def test_changing_others_roles() -> None:
    """Only owners change others' roles, and never another owner's."""
    for actor, target, new in itertools.product(ROLES, ROLES, ROLES):
        answer = _answer(roles.check_set_role, "group", actor, target, new, own=False, owners=2)
        expected = "ok" if actor == "owner" and target != "owner" else "forbidden"
        assert answer == expected, (actor, target, new)


def test_changing_ones_own_role() -> None:
    """Anyone may lower their own role, nobody raise it; the last owner may not step down."""
    for actor, new in itertools.product(ROLES, ROLES):
        raising = ROLES.index(new) < ROLES.index(actor)
        shared = _answer(roles.check_set_role, "group", actor, actor, new, own=True, owners=2)
        alone = _answer(roles.check_set_role, "group", actor, actor, new, own=True, owners=1)
        assert shared == ("forbidden" if raising else "ok"), (actor, new)
        if actor == "owner" and new != "owner":
            assert alone == "last_owner"
        else:
            assert alone == shared


def test_direct_rooms_have_no_roles_to_change() -> None:
    """Every role change in a direct room is 409 direct_room."""
    for own in (True, False):
        answer = _answer(
            roles.check_set_role, "direct", "member", "member", "admin", own=own, owners=0
        )
        assert answer == "direct_room"


def test_errors_carry_their_statuses() -> None:
    """Refusals are 403 Forbidden; state conflicts are 409 Conflict."""
    with pytest.raises(Forbidden):
        roles.check_add("group", "member")
    with pytest.raises(Conflict):
        roles.check_add("direct", "owner")
    with pytest.raises(Conflict):
        roles.check_set_role("group", "owner", "owner", "member", own=True, owners=1)
