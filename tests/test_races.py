"""Transitions that meet at the same instant, against two real server processes on one real
database (a SQLite file, and a PostgreSQL server), over the real WebSocket protocol.

The two processes share live updates through Redis, as workers or app machines do, and the
people of each race are spread over them: which process handles which move is part of the
race, and only the database can keep one of them from winning twice.

Every race is one line of ``RACES``: who sends what (all frames are put on the wire before
any reply is read), from which starting state, and what the database must hold afterwards.
After every round the database is checked: one effect per race, never a server error, and
the hall's invariants (one running conversation per person, a conversation for every
accepted request and none for any other, an advisor "in conversation" exactly when they are).
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Imported now rather than by its pytest plugin while a failure is reported: a garbage
# collection during that import can trip CPython 3.11's AST depth check (a SystemError).
import hypothesis  # noqa: F401
import pytest
import pytest_asyncio
from websockets.exceptions import ConnectionClosed

from app.domain import accounts
from app.storage.db import POSTGRESQL, SQLITE, Database
from tests.livekit import (
    PASSWORD,
    Browserless,
    LiveServer,
    Peer,
    World,
    csrf_from,
    fire,
    seed_world,
)
from tests.pgkit import PostgresServer
from tests.rediskit import RedisServer, unique_prefix

pytestmark = pytest.mark.asyncio(loop_scope="module")

ADVISORS = 10
PAIR_ROUNDS = 60
# Limits on message rates and request counts would refuse a test that sends this fast on
# purpose; races are about what the database holds, so they are lifted here.
UNLIMITED = {
    "INZOOMEN_WRAP_UP_SECONDS": "0",
    "INZOOMEN_WS_RATE": "1000000",
    "INZOOMEN_WS_BURST": "1000000",
    "INZOOMEN_WS_USER_RATE": "1000000",
    "INZOOMEN_WS_USER_BURST": "1000000",
    "INZOOMEN_REQUESTS_PER_MINUTE": "1000000",
}

# Placeholders in a move's data, filled in per round.
REQ = "$request"  # the request the round is about
CONV = "$conversation"  # the running conversation the round is about
KEY = "$key"  # a client key of this round
KEY2 = "$key2"  # another client key of this round
REQ2 = "$request2"  # a second request waiting in the same line
BOOTH = "$booth"  # the booth of the ten advisors
OTHER_BOOTH = "$other_booth"


@dataclass(frozen=True)
class Move:
    actor: str
    action: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Race:
    """Moves sent at the same instant from ``start``; ``ok`` replies expected (an int, or a
    set of allowed counts); every refusal carries one of ``refusals``; ``effects`` counts
    what changed in the database and must be 1."""

    name: str
    rounds: int
    # "idle", "waiting", "running", "due" (waiting, past its expiry time), "away" (waiting,
    # its candidate away past the grace period), "two" (two candidates waiting) or
    # "running+next" (a conversation runs and another candidate waits)
    start: str
    moves: tuple[Move, ...]
    refusals: frozenset[str]
    ok: frozenset[int] = frozenset({1})

    def moves_in(self, order: list[int]) -> list[Move]:
        return [self.moves[i] for i in order]


def race(
    name: str,
    rounds: int,
    start: str,
    moves: list[Move],
    refusals: set[str],
    ok: set[int] | None = None,
) -> Race:
    return Race(name, rounds, start, tuple(moves), frozenset(refusals), frozenset(ok or {1}))


def accept(actor: str) -> Move:
    return Move(actor, "request.accept", {"request_id": REQ})


def cancel(actor: str) -> Move:
    return Move(actor, "request.cancel", {"request_id": REQ})


def decline(actor: str) -> Move:
    return Move(actor, "request.decline", {"request_id": REQ})


def end(actor: str) -> Move:
    return Move(actor, "conversation.end", {"conversation_id": CONV})


def create(actor: str, booth: str = BOOTH, key: str = KEY) -> Move:
    return Move(actor, "request.create", {"booth_id": booth, "client_key": key})


def status(actor: str, value: str) -> Move:
    return Move(actor, "advisor.status", {"status": value})


TAKEN = {"request.not_waiting"}
TEN = [accept(f"adv{i}") for i in range(ADVISORS)]
NEXT = [Move(f"adv{i}", "request.accept", {"request_id": None}) for i in range(ADVISORS)]
# One line per pair of transitions that can meet: name, rounds, start, moves, refusals, oks.
RACES = [
    race("10 advisors accept", 1000, "waiting", TEN, TAKEN),
    # Each pair below runs its rounds on each backend.
    race(
        "accept twice, one advisor",
        PAIR_ROUNDS,
        "waiting",
        [accept("adv0"), accept("adv0_tab")],
        TAKEN | {"advisor.busy"},
    ),
    race("cancel vs accept", PAIR_ROUNDS, "waiting", [cancel("cand"), accept("adv1")], TAKEN),
    race("decline vs accept", PAIR_ROUNDS, "waiting", [decline("adv0"), accept("adv1")], TAKEN),
    race("cancel vs cancel", PAIR_ROUNDS, "waiting", [cancel("cand"), cancel("cand_tab")], TAKEN),
    race(
        "end vs end", PAIR_ROUNDS, "running", [end("adv0"), end("adv0_tab")], {"conversation.ended"}
    ),
    race(
        "create vs create, same key",
        PAIR_ROUNDS,
        "idle",
        [create("cand"), create("cand_tab")],
        set(),
        {2},
    ),
    race(
        "create vs create, other keys",
        PAIR_ROUNDS,
        "idle",
        [create("cand"), create("cand_tab", OTHER_BOOTH, KEY2)],
        {"request.already_open"},
    ),
    race(
        "status vs accept",
        PAIR_ROUNDS,
        "waiting",
        [status("adv0_tab", "paused"), accept("adv0")],
        {"advisor.busy"},
        {1, 2},
    ),
    race(
        "grace lapse vs accept",
        PAIR_ROUNDS,
        "away",
        [accept("adv0"), create("waker", OTHER_BOOTH)],
        TAKEN,
        {1, 2},
    ),
    race("decline vs decline", PAIR_ROUNDS, "waiting", [decline("adv0"), decline("adv1")], TAKEN),
    race("decline vs cancel", PAIR_ROUNDS, "waiting", [decline("adv0"), cancel("cand")], TAKEN),
    race(
        "end vs accept the next (two tabs)",
        PAIR_ROUNDS,
        "running+next",
        [end("adv0"), Move("adv0_tab", "request.accept", {"request_id": REQ2})],
        {"advisor.busy"},
        {1, 2},
    ),
    race(
        "10 advisors take the next of two", PAIR_ROUNDS, "two", NEXT, {"request.queue_empty"}, {2}
    ),
    race(
        "expiry vs accept",
        PAIR_ROUNDS,
        "due",
        [accept("adv0"), create("waker", OTHER_BOOTH)],
        TAKEN,
        {1, 2},
    ),
]


@dataclass
class Hall:
    servers: list[LiveServer]
    db: Database
    world: World
    advisor_ids: dict[str, int]
    peers: dict[str, Peer]
    candidate_ids: dict[str, int]
    keys: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def server(self) -> LiveServer:
        return self.servers[0]

    async def read(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        return await self.db.fetchall(sql, params)

    async def value(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        return await self.db.fetchvalue(sql, params)

    async def write(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        async with self.db.transaction() as tx:
            await tx.execute(sql, params)

    def logs(self) -> str:
        return "".join(server.log() for server in self.servers)


async def add_advisors(path: Path | str, booth_id: int, count: int) -> list[int]:
    db = await Database.open(path)
    try:
        async with db.transaction() as tx:
            return [
                await accounts.create_staff(
                    tx,
                    email=f"race{i}@test.example",
                    name=f"Adviseur R{i}",
                    role="advisor",
                    password=PASSWORD,
                    booth_id=booth_id,
                )
                for i in range(count)
            ]
    finally:
        await db.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=[SQLITE, POSTGRESQL])
async def hall(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    redis_server: RedisServer,
) -> AsyncIterator[Hall]:
    """One hall per backend for every race of this module: each round starts from a tidy
    hall. Two server processes serve it; advisors and each person's two tabs alternate
    between them."""
    tmp_path = tmp_path_factory.mktemp("races")
    target: Path | str = tmp_path / "races.db"
    if request.param == POSTGRESQL:
        pg: PostgresServer = request.getfixturevalue("pg_server")
        target = pg.database()
    world = await seed_world(target)
    extra = await add_advisors(target, world.booth_a, ADVISORS - 2)
    env = {
        **UNLIMITED,
        "INZOOMEN_REDIS_URL": redis_server.url,
        "INZOOMEN_REDIS_PREFIX": unique_prefix(f"races-{request.param}"),
    }
    servers = [LiveServer(target, tmp_path / f"races-server-{name}.log", env=env) for name in "ab"]
    visitors: list[Browserless] = []
    peers: dict[str, Peer] = {}
    db = await Database.open(target, migrate=False)
    try:
        for server in servers:
            server.start()
        emails = ["a1@test.example", "a2@test.example"]
        emails += [f"race{i}@test.example" for i in range(ADVISORS - 2)]
        advisor_ids = {}
        for i, (email, staff_id) in enumerate(
            zip(emails, [world.advisor_a1, world.advisor_a2, *extra], strict=True)
        ):
            visitor = Browserless(servers[i % 2])
            visitors.append(visitor)
            await visitor.log_in(email)
            peers[f"adv{i}"] = await visitor.socket()
            advisor_ids[f"adv{i}"] = staff_id
            if i == 0:  # a second tab of the same advisor, on the other process
                other = Browserless(servers[1])
                other.http.cookies.update(visitor.http.cookies)
                visitors.append(other)
                peers["adv0_tab"] = await other.socket()
                advisor_ids["adv0_tab"] = staff_id
        candidate_ids = {}
        for name, email in (("cand", "kandidaat@example.nl"), ("waker", "wekker@example.nl")):
            visitor = Browserless(servers[0])
            visitors.append(visitor)
            await visitor.sign_in_candidate(name.title(), email)
            peers[name] = await visitor.socket()
            candidate_ids[name] = int(
                await db.fetchvalue("SELECT id FROM candidates WHERE email = ?", (email,))
            )
            if name == "cand":  # a second tab of the same candidate, on the other process
                other = Browserless(servers[1])
                other.http.cookies.update(visitor.http.cookies)
                visitors.append(other)
                peers["cand_tab"] = await other.socket()
                candidate_ids["cand_tab"] = candidate_ids[name]
        yield Hall(servers, db, world, advisor_ids, peers, candidate_ids)
    finally:
        for peer in peers.values():
            await peer.close()
        for visitor in visitors:
            await visitor.aclose()
        for server in servers:
            server.stop()
        await db.close()
        # Finalise what the round trips left behind now, not at some later moment (a
        # collection during an import can trip CPython 3.11's AST depth check).
        gc.collect()


@dataclass
class Tally:
    rounds: int = 0
    double_effects: int = 0
    server_errors: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    winners: Counter[str] = field(default_factory=Counter)


async def must(peer: Peer, action: str, data: dict[str, Any]) -> dict[str, Any]:
    reply = await peer.send(action, data, timeout=10)
    assert reply["ok"], (action, data, reply)
    return dict(reply["data"])


async def prepare(hall: Hall, start: str) -> dict[str, Any]:
    """Bring the hall to the round's starting state; return the values for placeholders."""
    n = next(hall.keys)
    values: dict[str, Any] = {
        KEY: f"key-{n}",
        KEY2: f"key-{n}-b",
        BOOTH: hall.world.booth_a,
        OTHER_BOOTH: hall.world.booth_b,
    }
    if start == "idle":
        return values
    made = await must(
        hall.peers["cand"],
        "request.create",
        {"booth_id": hall.world.booth_a, "client_key": f"setup-{n}"},
    )
    assert made["created"]
    values[REQ] = made["request_id"]
    if start in ("running", "running+next"):
        started = await must(
            hall.peers["adv0"], "request.accept", {"request_id": made["request_id"]}
        )
        values[CONV] = started["conversation_id"]
        if start == "running+next":
            waiting = await must(
                hall.peers["waker"],
                "request.create",
                {"booth_id": hall.world.booth_a, "client_key": f"setup-{n}-w"},
            )
            values[REQ2] = waiting["request_id"]
    elif start == "away":
        # Seen last an hour ago: past any grace period; the deadline task lapses it when it
        # next looks, which the waker's new request makes it do at the same instant.
        await hall.write(
            "UPDATE requests SET away_since = ? WHERE id = ?",
            (time.time() - 3600, made["request_id"]),
        )
    elif start == "two":
        other = await must(
            hall.peers["waker"],
            "request.create",
            {"booth_id": hall.world.booth_a, "client_key": f"setup-{n}-w"},
        )
        values[REQ2] = other["request_id"]
    elif start == "due":
        # The request's time is up; the deadline task expires it when it next looks, which
        # the waker's new request makes it do at the same instant as the accept.
        await hall.write(
            "UPDATE requests SET expires_at = ? WHERE id = ?", (time.time() - 1, made["request_id"])
        )
    return values


async def tidy(hall: Hall) -> None:
    """End what is running, cancel what waits, and make every advisor available."""
    for peer in hall.peers.values():
        peer.events.clear()
    ids = {v: k for k, v in hall.advisor_ids.items() if not k.endswith("_tab")}
    for row in await hall.read("SELECT id, advisor_id FROM conversations WHERE ended_at IS NULL"):
        await must(
            hall.peers[ids[row["advisor_id"]]], "conversation.end", {"conversation_id": row["id"]}
        )
    names = {v: k for k, v in hall.candidate_ids.items() if not k.endswith("_tab")}
    for row in await hall.read("SELECT id, candidate_id FROM requests WHERE status = 'waiting'"):
        await must(
            hall.peers[names[row["candidate_id"]]], "request.cancel", {"request_id": row["id"]}
        )
    for row in await hall.read(
        "SELECT id FROM staff WHERE role = 'advisor' AND status != 'available'"
    ):
        if row["id"] in ids:
            await must(hall.peers[ids[row["id"]]], "advisor.status", {"status": "available"})


def fill(data: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    return {k: values.get(v, v) if isinstance(v, str) else v for k, v in data.items()}


async def check_hall(hall: Hall) -> None:
    """What must hold whatever happened."""
    bad = await hall.read(
        "SELECT r.id, r.status, COUNT(c.id) AS n FROM requests r "
        "LEFT JOIN conversations c ON c.request_id = r.id GROUP BY r.id "
        "HAVING (r.status = 'accepted' AND COUNT(c.id) != 1) "
        "OR (r.status != 'accepted' AND COUNT(c.id) != 0)"
    )
    assert not bad, [dict(r) for r in bad]
    assert not await hall.read(
        "SELECT candidate_id FROM requests WHERE status = 'waiting' "
        "GROUP BY candidate_id HAVING COUNT(*) > 1"
    )
    for who in ("advisor_id", "candidate_id"):
        assert not await hall.read(
            f"SELECT {who} FROM conversations WHERE ended_at IS NULL "
            f"GROUP BY {who} HAVING COUNT(*) > 1"
        )
    mismatched = await hall.read(
        "SELECT s.id, s.status FROM staff s WHERE s.role = 'advisor' AND "
        "(s.status = 'in_conversation') != EXISTS (SELECT 1 FROM conversations c "
        "WHERE c.advisor_id = s.id AND c.ended_at IS NULL)"
    )
    assert not mismatched, [dict(r) for r in mismatched]


async def effects(
    hall: Hall, spec: Race, values: dict[str, Any], replies: list[dict[str, Any]], before: int
) -> tuple[int, str]:
    """How many times the round changed what it is about, and how it ended."""
    winners = [m for m, r in zip(spec.moves, replies, strict=True) if r["ok"]]
    if spec.start == "idle":  # creates: count the requests made
        made = await hall.read(
            "SELECT id FROM requests WHERE candidate_id = ? AND id > ?",
            (hall.candidate_ids["cand"], before),
        )
        ids = {r["data"]["request_id"] for r in replies if r["ok"]}
        assert ids == {row["id"] for row in made}, (ids, [dict(r) for r in made])
        created = sum(1 for r in replies if r["ok"] and r["data"]["created"])
        return max(len(made), created), f"{len(winners)} ok"
    if spec.start in ("running", "running+next"):
        ended = await hall.value("SELECT ended_at FROM conversations WHERE id = ?", (values[CONV],))
        assert ended is not None
        status = await hall.value(
            "SELECT status FROM staff WHERE id = ?", (hall.advisor_ids["adv0"],)
        )
        ends = [m for m in winners if m.action == "conversation.end"]
        if spec.start == "running":
            assert status in ("wrapping_up", "available"), status
            return len(ends), "ended"
        # The next request was taken only if the end came first, and then exactly once.
        taken = await hall.read(
            "SELECT c.advisor_id FROM conversations c WHERE c.request_id = ?", (values[REQ2],)
        )
        accepted = [m for m in winners if m.action == "request.accept"]
        assert len(taken) == len(accepted), (replies, [dict(t) for t in taken])
        after_end = ("wrapping_up", "available")  # wrap-up lasts 0 s here
        assert status in (("in_conversation",) if accepted else after_end), status
        return len(ends), "ended, next taken" if accepted else "ended, next refused"
    if spec.start == "two":  # each of the two requests is taken once, by one who said ok
        taken = await hall.read(
            "SELECT r.status, c.advisor_id FROM requests r JOIN conversations c "
            "ON c.request_id = r.id WHERE r.id IN (?, ?)",
            (values[REQ], values[REQ2]),
        )
        winners_ids = sorted(hall.advisor_ids[m.actor] for m in winners)
        assert sorted(t["advisor_id"] for t in taken) == winners_ids, [dict(t) for t in taken]
        assert {t["status"] for t in taken} == {"accepted"}
        return len(taken) - 1, f"{len(taken)} taken"
    (request,) = await hall.read(
        "SELECT status, closed_by, closed_reason FROM requests WHERE id = ?", (values[REQ],)
    )
    conversations = await hall.read(
        "SELECT advisor_id FROM conversations WHERE request_id = ?", (values[REQ],)
    )
    changed = [m for m in winners if m.action != "request.create" and m.action != "advisor.status"]
    expected_status = {
        "request.accept": "accepted",
        "request.cancel": "cancelled",
        "request.decline": "declined",
    }
    if changed:
        (move,) = changed if len(changed) == 1 else (None,)  # more than one: a double effect
        if move is None:
            return len(changed), "double"
        assert request["status"] == expected_status[move.action], (move, dict(request))
        if move.action == "request.accept":
            assert [c["advisor_id"] for c in conversations] == [hall.advisor_ids[move.actor]]
            assert request["closed_by"] == hall.advisor_ids[move.actor]
        return len(conversations) if move.action == "request.accept" else 1, request["status"]
    # Nobody changed the request by a command: only the deadline task may have, once.
    assert spec.start in ("due", "away"), (spec.name, replies)
    assert request["status"] == "expired", dict(request)
    assert request["closed_reason"] == ("away" if spec.start == "away" else ""), dict(request)
    assert not conversations
    return 1, "expired"


async def run_round(hall: Hall, spec: Race, tally: Tally) -> None:
    values = await prepare(hall, spec.start)
    before = int(await hall.value("SELECT COALESCE(MAX(id), 0) FROM requests"))
    # Each round puts the frames on the wire in another order, so every side gets to be first,
    # and with another head start (0-3 ms) for each: the two server processes handle their
    # moves side by side, and one kind of move may reach the database a little sooner than
    # another, whatever the order of the frames.
    shift = tally.rounds % len(spec.moves)
    order = [*range(shift, len(spec.moves)), *range(shift)]
    head_start = (tally.rounds // len(spec.moves)) % 4 / 1000
    sent = []
    for move in spec.moves_in(order):
        sent.append(await fire(hall.peers[move.actor], move.action, fill(move.data, values)))
        if head_start:
            await asyncio.sleep(head_start)
    futures = [sent[order.index(i)] for i in range(len(spec.moves))]
    replies = list(await asyncio.wait_for(asyncio.gather(*futures), 10))
    tally.rounds += 1
    errors = [r for r in replies if not r["ok"] and r["error"]["code"] == "server.error"]
    tally.server_errors += len(errors)
    assert not errors, errors
    oks = sum(1 for r in replies if r["ok"])
    assert oks in spec.ok, (spec.name, replies)
    refused = {r["error"]["code"] for r in replies if not r["ok"]}
    assert refused <= spec.refusals, (spec.name, replies)
    for r in replies:
        if not r["ok"]:
            assert r["error"]["message"], r  # a clear, translated refusal
    count, outcome = await effects(hall, spec, values, replies, before)
    tally.winners.update(m.actor for m, r in zip(spec.moves, replies, strict=True) if r["ok"])
    if count != 1:
        tally.double_effects += 1
    assert count == 1, (spec.name, outcome, replies)
    if spec.name == "status vs accept":
        status_ok = replies[0]["ok"]
        staff = await hall.value(
            "SELECT status FROM staff WHERE id = ?", (hall.advisor_ids["adv0"],)
        )
        assert staff == "in_conversation", (replies, staff)
        outcome = "status first" if status_ok else "accept first"
    tally.outcomes[outcome] += 1
    await check_hall(hall)
    await tidy(hall)
    await check_hall(hall)


@pytest.mark.parametrize("spec", RACES, ids=[r.name for r in RACES])
async def test_race(hall: Hall, spec: Race) -> None:
    tally = Tally()
    started = time.monotonic()
    for _ in range(spec.rounds):
        await run_round(hall, spec, tally)
    took = time.monotonic() - started
    log = hall.logs()
    assert "Traceback" not in log, log[-3000:]
    print(
        f"\n{spec.name}: rounds {tally.rounds}, double effects {tally.double_effects}, "
        f"server errors {tally.server_errors}, outcomes {dict(tally.outcomes)}, "
        f"ok replies by {dict(tally.winners)}, "
        f"{took:.1f} s"
    )
    assert tally.rounds == spec.rounds
    assert tally.double_effects == 0
    assert tally.server_errors == 0
    # Every side won some rounds: the races were real, not one side always first.
    actors = {m.actor for m in spec.moves}
    assert set(tally.winners) == actors, tally.winners


# Erasure is a form, not a socket command, so its races have a table of their own: the
# candidate's command on their open socket and their erasure, at the same instant.
ERASE_RACES = [
    ("erase vs create", "idle", "cand", "request.create", {"booth_id": BOOTH, "client_key": KEY}),
    ("erase vs accept", "waiting", "adv0", "request.accept", {"request_id": REQ}),
    ("erase vs cancel", "waiting", "cand", "request.cancel", {"request_id": REQ}),
]
ERASE_ROUNDS = 60
# Refusals a command may meet when the person is erased at the same instant.
GONE = {"auth.sign_in_required", "request.not_waiting", "request.not_found"}


@pytest.mark.parametrize("spec", ERASE_RACES, ids=[r[0] for r in ERASE_RACES])
async def test_erasure_race(hall: Hall, spec: tuple[str, str, str, str, dict[str, Any]]) -> None:
    name, start, actor, action, data = spec
    tally = Tally()
    started = time.monotonic()
    for n in range(ERASE_ROUNDS):
        visitor = Browserless(hall.server)
        await visitor.sign_in_candidate(f"Wis {n}", f"wis{n}-{name[9:]}@example.nl")
        cand = await visitor.socket()
        candidate_id = int(
            await hall.value("SELECT MAX(id) FROM candidates WHERE erased_at IS NULL")
        )
        values = {KEY: f"e{n}", BOOTH: hall.world.booth_a}
        if start == "waiting":
            made = await must(
                cand, "request.create", {"booth_id": hall.world.booth_a, "client_key": "w"}
            )
            values[REQ] = made["request_id"]
        token = csrf_from((await visitor.http.get("/mijn-gegevens/wissen")).text)
        peer = cand if actor == "cand" else hall.peers[actor]
        form = {"csrf": token, "confirm": "yes"}
        # One of the two is sent 0-9 ms after the other, the erasure first in even rounds
        # and the command first in odd ones, so that each gets to the database first in
        # some rounds however long each path takes on this machine.
        delay = (n % 10) / 1000

        if n % 2 == 0:
            erasing = asyncio.create_task(visitor.http.post("/mijn-gegevens/wissen", data=form))
            await asyncio.sleep(delay)
            commanding = asyncio.create_task(answer(peer, action, fill(data, values)))
        else:
            commanding = asyncio.create_task(answer(peer, action, fill(data, values)))
            await asyncio.sleep(delay)
            erasing = asyncio.create_task(visitor.http.post("/mijn-gegevens/wissen", data=form))
        reply = await commanding
        erased = await erasing
        assert erased.status_code == 303, erased.text
        tally.rounds += 1
        if reply["ok"] is False:
            assert reply["error"]["code"] != "server.error", reply
            assert reply["error"]["code"] in GONE, reply
        tally.outcomes["ok" if reply["ok"] else str(reply.get("error", {}).get("code"))] += 1
        # The erased candidate waits nowhere and talks to nobody; the hall is whole.
        assert not await hall.read(
            "SELECT id FROM requests WHERE candidate_id = ? AND status = 'waiting'", (candidate_id,)
        )
        assert not await hall.read(
            "SELECT id FROM conversations WHERE candidate_id = ? AND ended_at IS NULL",
            (candidate_id,),
        )
        assert await hall.value("SELECT erased_at FROM candidates WHERE id = ?", (candidate_id,))
        await check_hall(hall)
        # Who reached the database first, from what it holds: a reply can be lost when the
        # erasure closes the socket before the command's answer is sent.
        tally.winners[
            "command" if await command_first(hall, action, candidate_id) else "erasure"
        ] += 1
        await cand.close()
        await visitor.aclose()
        await tidy(hall)
    log = hall.logs()
    assert "Traceback" not in log, log[-3000:]
    print(
        f"\n{name}: rounds {tally.rounds}, server errors 0, replies {dict(tally.outcomes)}, "
        f"first {dict(tally.winners)}, {time.monotonic() - started:.1f} s"
    )
    # Each side went first in some rounds.
    assert set(tally.winners) == {"command", "erasure"}, tally.winners
    # A command that was answered ok took effect before the erasure.
    assert tally.winners["command"] >= tally.outcomes["ok"], (tally.winners, tally.outcomes)


async def answer(peer: Peer, action: str, data: dict[str, Any]) -> dict[str, Any]:
    """Send a command and wait for its reply; "closed" when the socket closes first."""
    try:
        return dict(await asyncio.wait_for(await fire(peer, action, data), 10))
    except ConnectionClosed:  # the session ended and closed the candidate's socket
        return {"ok": None, "error": {"code": "closed"}}


async def command_first(hall: Hall, action: str, candidate_id: int) -> bool:
    """Whether the candidate's command took effect before their erasure."""
    if action == "request.create":
        return bool(
            await hall.value(
                "SELECT COUNT(*) FROM requests WHERE candidate_id = ?", (candidate_id,)
            )
        )
    if action == "request.accept":
        return bool(
            await hall.value(
                "SELECT COUNT(*) FROM conversations WHERE candidate_id = ?", (candidate_id,)
            )
        )
    # A cancel before the erasure closed the request earlier than the erasure did.
    return bool(
        await hall.value(
            "SELECT COUNT(*) FROM requests r JOIN candidates c ON c.id = r.candidate_id "
            "WHERE r.candidate_id = ? AND r.closed_at < c.erased_at",
            (candidate_id,),
        )
    )
