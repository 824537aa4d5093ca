from harness.config import load
from harness.plan import build
from harness.scenarios import Scenarios
from harness.systems import System


def test_full_plan_has_the_rooms_of_every_scenario() -> None:
    """Nested fan-out rooms, 100 groups of 10, 1,000 direct pairs, the resume pair, idle and
    storm users of their own."""
    plan = build(load([], {"BENCH_IDLE_USERS": "2000"}))
    rooms = plan.rooms
    for size in (10, 100, 500, 1000, 2000, 5000):
        assert rooms[f"f{size}"].members == tuple(range(size))
    assert sum(1 for k in rooms if k.startswith("g")) == 100
    assert all(len(rooms[f"g{g}"].members) == 10 for g in range(100))
    directs = [r for k, r in rooms.items() if k.startswith("d")]
    assert len(directs) == 1000
    assert all(r.direct and len(r.members) == 2 for r in directs)
    assert all(rooms[f"resume{i}"].members == (0, 1) for i in range(100))
    assert list(plan.idle_users) == list(range(5000, 7000))
    assert list(plan.storm_users) == list(range(7000, 9000))
    assert plan.users == 9000


def test_storm_users_have_five_connections_and_rooms_of_ten() -> None:
    """10,000 storm clients are 2,000 users, each in 5 of the 1,000 rooms of ten."""
    plan = build(load([], {"SCENARIOS": "storm"}))
    storm = [r for k, r in plan.rooms.items() if k.startswith("s")]
    assert len(storm) == 1000
    assert all(len(set(r.members)) == 10 for r in storm)
    rooms_of = plan.rooms_of()
    assert len(plan.storm_users) == 2000
    assert {len(rooms_of[u]) for u in plan.storm_users} == {5}


def test_idle_users_are_in_no_big_room() -> None:
    """Idle connections belong to users who are each in one room of ten, and no other."""
    plan = build(load([], {"BENCH_IDLE_USERS": "100"}))
    rooms_of = plan.rooms_of()
    for user in plan.idle_users:
        assert len(rooms_of[user]) == 1
        assert len(plan.rooms[rooms_of[user][0]].members) == 10


def test_a_subset_makes_only_the_users_it_needs() -> None:
    """SCENARIOS=latency makes the 1x500 room only; resume alone makes two users."""
    plan = build(load([], {"SCENARIOS": "latency"}))
    assert list(plan.rooms) == ["f500"]
    assert plan.users == 500
    assert build(load([], {"SCENARIOS": "resume"})).users == 2
    assert len(build(load([], {"SCENARIOS": "resume"})).rooms) == 100
    assert list(build(load([], {"SCENARIOS": "fanout", "BENCH_SIZES": "10,100"})).rooms) == [
        "f10",
        "f100",
    ]


def test_one_process_rows_run_their_siblings_best_windows() -> None:
    """A size given a window runs that one window; a size without one is swept."""
    env = {"SCENARIOS": "fanout", "BENCH_SIZES": "500,2000", "BENCH_WINDOWS": "16,64,256"}
    config = load([], env)
    system = System("socketio-1p", "sio", "ws://x", False, [], {}, processes=1)
    case = Scenarios(config, build(config)).fanout(system, {500: 64})
    steps = [(s["size"], s["window"]) for s in case.spec["steps"]]
    assert steps == [(500, 64), (2000, 16), (2000, 64), (2000, 256)]
