"""Who is in which room, for every system alike: users by index, rooms by key.

Our system turns the plan into real users and rooms through its HTTP APIs; the peers use the
room keys as room names. A user's connection joins all of the user's rooms on every system,
as our gateway subscribes a connection to every room of its user.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.config import Config

GROUPS = 100
GROUP_SIZE = 10
DIRECT_PAIRS = 1000
LATENCY_SIZE = 500
RESUME_ROOMS = 100
# Reconnect storm: each user has this many connections, and every room this many members.
STORM_CONNECTIONS_PER_USER = 5
STORM_ROOM_SIZE = 10


@dataclass(frozen=True)
class Room:
    key: str
    members: tuple[int, ...]  # user indexes; the first one creates the room
    direct: bool = False


@dataclass
class Plan:
    users: int = 0
    idle_users: range = field(default_factory=lambda: range(0))
    storm_users: range = field(default_factory=lambda: range(0))
    rooms: dict[str, Room] = field(default_factory=dict)

    def add(self, room: Room) -> None:
        self.rooms[room.key] = room
        self.users = max(self.users, max(room.members) + 1)

    def rooms_of(self) -> dict[int, list[str]]:
        """Each user's room keys, in plan order."""
        out: dict[int, list[str]] = {}
        for room in self.rooms.values():
            for user in room.members:
                out.setdefault(user, []).append(room.key)
        return out


def fanout_key(size: int) -> str:
    return f"f{size}"


def build(config: Config) -> Plan:
    """The users and rooms the selected scenarios need, and no more."""
    plan = Plan()
    wanted = set(config.scenarios)
    # Fan-out rooms are nested (the first `size` users): one set of connections serves them all.
    sizes = set(config.fanout_sizes) if "fanout" in wanted else set()
    if "latency" in wanted:
        sizes.add(LATENCY_SIZE)
    for size in sorted(sizes):
        plan.add(Room(fanout_key(size), tuple(range(size))))
    if "groups" in wanted:
        for g in range(GROUPS):
            first = g * GROUP_SIZE
            plan.add(Room(f"g{g}", tuple(range(first, first + GROUP_SIZE))))
    if "direct" in wanted:
        for i in range(DIRECT_PAIRS):
            plan.add(Room(f"d{i}", (i, i + DIRECT_PAIRS), direct=True))
    if "resume" in wanted:
        # The two members share RESUME_ROOMS group rooms: the missed messages are spread over
        # them, as after a night away.
        for i in range(RESUME_ROOMS):
            plan.add(Room(f"resume{i}", (0, 1)))
    if "idle" in wanted:
        # Users of their own, in rooms of ten: idle sockets of members of the big rooms would
        # make the scenario a presence storm (every connect tells every member) instead.
        first = plan.users
        plan.idle_users = range(first, first + config.idle_users)
        for j, start in enumerate(range(first, first + config.idle_users, GROUP_SIZE)):
            members = tuple(range(start, min(start + GROUP_SIZE, first + config.idle_users)))
            if len(members) > 1:
                plan.add(Room(f"i{j}", members))
        plan.users = max(plan.users, first + config.idle_users)
    if "storm" in wanted:
        add_storm(plan, config.storm_clients, config.storm_rooms)
    return plan


def add_storm(plan: Plan, clients: int, rooms: int) -> None:
    """Users of their own for the reconnect storm, ``clients / 5`` of them, in ``rooms`` rooms of
    ten: room j holds users 10j ... 10j+9 (modulo the users), so each user is in about the same
    number of rooms."""
    first = plan.users
    users = max(STORM_ROOM_SIZE, clients // STORM_CONNECTIONS_PER_USER)
    plan.storm_users = range(first, first + users)
    for j in range(rooms):
        start = j * STORM_ROOM_SIZE
        members = sorted({first + (start + k) % users for k in range(STORM_ROOM_SIZE)})
        plan.add(Room(f"s{j}", tuple(members)))
    plan.users = max(plan.users, first + users)
