"""Transitions that meet at the same instant, against a real server process and its real
database file, over the real WebSocket protocol.

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
import sqlite3
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
from app.storage.db import Database
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

pytestmark = pytest.mark.asyncio(loop_scope="module")

ADVISORS = 10
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
    race(
        "accept twice, one advisor",
        200,
        "waiting",
        [accept("adv0"), accept("adv0_tab")],
        TAKEN | {"advisor.busy"},
    ),
    race("cancel vs accept", 200, "waiting", [cancel("cand"), accept("adv1")], TAKEN),
    race("decline vs accept", 200, "waiting", [decline("adv0"), accept("adv1")], TAKEN),
    race("cancel vs cancel", 200, "waiting", [cancel("cand"), cancel("cand_tab")], TAKEN),
    race("end vs end", 200, "running", [end("adv0"), end("adv0_tab")], {"conversation.ended"}),
    race(
        "create vs create, same key", 200, "idle", [create("cand"), create("cand_tab")], set(), {2}
    ),
    race(
        "create vs create, other keys",
        200,
        "idle",
        [create("cand"), create("cand_tab", OTHER_BOOTH, KEY2)],
        {"request.already_open"},
    ),
    race(
        "status vs accept",
        200,
        "waiting",
        [status("adv0_tab", "paused"), accept("adv0")],
        {"advisor.busy"},
        {1, 2},
    ),
    race(
        "grace lapse vs accept",
        200,
        "away",
        [accept("adv0"), create("waker", OTHER_BOOTH)],
        TAKEN,
        {1, 2},
    ),
    race("decline vs decline", 200, "waiting", [decline("adv0"), decline("adv1")], TAKEN),
    race("decline vs cancel", 200, "waiting", [decline("adv0"), cancel("cand")], TAKEN),
    race(
        "end vs accept the next (two tabs)",
        200,
        "running+next",
        [end("adv0"), Move("adv0_tab", "request.accept", {"request_id": REQ2})],
        {"advisor.busy"},
        {1, 2},
    ),
    race("10 advisors take the next of two", 200, "two", NEXT, {"request.queue_empty"}, {2}),
    race(
        "expiry vs accept",
        200,
        "due",
        [accept("adv0"), create("waker", OTHER_BOOTH)],
        TAKEN,
        {1, 2},
    ),
]


@dataclass
class Hall:
    server: LiveServer
    db_path: Path
    world: World
    advisor_ids: dict[str, int]
    peers: dict[str, Peer]
    candidate_ids: dict[str, int]
    keys: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def read(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        conn = sqlite3.connect(self.db_path, timeout=10)
        conn.row_factory = sqlite3.Row
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def value(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        rows = self.read(sql, params)
        return rows[0][0] if rows else None

    def write(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        conn = sqlite3.connect(self.db_path, timeout=10, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(sql, params)
            conn.execute("COMMIT")
        finally:
            conn.close()


async def add_advisors(path: Path, booth_id: int, count: int) -> list[int]:
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


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def hall(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Hall]:
    """One hall for every race of this module: each round starts from a tidy hall."""
    tmp_path = tmp_path_factory.mktemp("races")
    path = tmp_path / "races.db"
    world = await seed_world(path)
    extra = await add_advisors(path, world.booth_a, ADVISORS - 2)
    server = LiveServer(path, tmp_path / "races-server.log", env=UNLIMITED)
    server.start()
    visitors: list[Browserless] = []
    peers: dict[str, Peer] = {}
    try:
        emails = ["a1@test.example", "a2@test.example"]
        emails += [f"race{i}@test.example" for i in range(ADVISORS - 2)]
        advisor_ids = {}
        for i, (email, staff_id) in enumerate(
            zip(emails, [world.advisor_a1, world.advisor_a2, *extra], strict=True)
        ):
            visitor = Browserless(server)
            visitors.append(visitor)
            await visitor.log_in(email)
            peers[f"adv{i}"] = await visitor.socket()
            advisor_ids[f"adv{i}"] = staff_id
            if i == 0:  # a second tab of the same advisor
                peers["adv0_tab"] = await visitor.socket()
                advisor_ids["adv0_tab"] = staff_id
        candidate_ids = {}
        for name, email in (("cand", "kandidaat@example.nl"), ("waker", "wekker@example.nl")):
            visitor = Browserless(server)
            visitors.append(visitor)
            await visitor.sign_in_candidate(name.title(), email)
            peers[name] = await visitor.socket()
            candidate_ids[name] = int(
                read_value(path, "SELECT id FROM candidates WHERE email = ?", (email,))
            )
            if name == "cand":  # a second tab of the same candidate
                peers["cand_tab"] = await visitor.socket()
                candidate_ids["cand_tab"] = candidate_ids[name]
        yield Hall(server, path, world, advisor_ids, peers, candidate_ids)
    finally:
        for peer in peers.values():
            await peer.close()
        for visitor in visitors:
            await visitor.aclose()
        server.stop()
        # Finalise what the round trips left behind now, not at some later moment (a
        # collection during an import can trip CPython 3.11's AST depth check).
        gc.collect()


def read_value(path: Path, sql: str, params: tuple[Any, ...]) -> Any:
    conn = sqlite3.connect(path, timeout=10)
    try:
        row = conn.execute(sql, params).fetchone()
        return None if row is None else row[0]
    finally:
        conn.close()


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
        hall.write(
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
        hall.write(
            "UPDATE requests SET expires_at = ? WHERE id = ?", (time.time() - 1, made["request_id"])
        )
    return values


async def tidy(hall: Hall) -> None:
    """End what is running, cancel what waits, and make every advisor available."""
    for peer in hall.peers.values():
        peer.events.clear()
    ids = {v: k for k, v in hall.advisor_ids.items() if not k.endswith("_tab")}
    for row in hall.read("SELECT id, advisor_id FROM conversations WHERE ended_at IS NULL"):
        await must(
            hall.peers[ids[row["advisor_id"]]], "conversation.end", {"conversation_id": row["id"]}
        )
    names = {v: k for k, v in hall.candidate_ids.items() if not k.endswith("_tab")}
    for row in hall.read("SELECT id, candidate_id FROM requests WHERE status = 'waiting'"):
        await must(
            hall.peers[names[row["candidate_id"]]], "request.cancel", {"request_id": row["id"]}
        )
    for row in hall.read("SELECT id FROM staff WHERE role = 'advisor' AND status != 'available'"):
        if row["id"] in ids:
            await must(hall.peers[ids[row["id"]]], "advisor.status", {"status": "available"})


def fill(data: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    return {k: values.get(v, v) if isinstance(v, str) else v for k, v in data.items()}


def check_hall(hall: Hall) -> None:
    """What must hold whatever happened."""
    bad = hall.read(
        "SELECT r.id, r.status, COUNT(c.id) AS n FROM requests r "
        "LEFT JOIN conversations c ON c.request_id = r.id GROUP BY r.id "
        "HAVING (r.status = 'accepted' AND n != 1) OR (r.status != 'accepted' AND n != 0)"
    )
    assert not bad, [dict(r) for r in bad]
    assert not hall.read(
        "SELECT candidate_id FROM requests WHERE status = 'waiting' "
        "GROUP BY candidate_id HAVING COUNT(*) > 1"
    )
    for who in ("advisor_id", "candidate_id"):
        assert not hall.read(
            f"SELECT {who} FROM conversations WHERE ended_at IS NULL "
            f"GROUP BY {who} HAVING COUNT(*) > 1"
        )
    mismatched = hall.read(
        "SELECT s.id, s.status FROM staff s WHERE s.role = 'advisor' AND "
        "(s.status = 'in_conversation') != EXISTS (SELECT 1 FROM conversations c "
        "WHERE c.advisor_id = s.id AND c.ended_at IS NULL)"
    )
    assert not mismatched, [dict(r) for r in mismatched]


def effects(
    hall: Hall, spec: Race, values: dict[str, Any], replies: list[dict[str, Any]], before: int
) -> tuple[int, str]:
    """How many times the round changed what it is about, and how it ended."""
    winners = [m for m, r in zip(spec.moves, replies, strict=True) if r["ok"]]
    if spec.start == "idle":  # creates: count the requests made
        made = hall.read(
            "SELECT id FROM requests WHERE candidate_id = ? AND id > ?",
            (hall.candidate_ids["cand"], before),
        )
        ids = {r["data"]["request_id"] for r in replies if r["ok"]}
        assert ids == {row["id"] for row in made}, (ids, [dict(r) for r in made])
        created = sum(1 for r in replies if r["ok"] and r["data"]["created"])
        return max(len(made), created), f"{len(winners)} ok"
    if spec.start in ("running", "running+next"):
        ended = hall.value("SELECT ended_at FROM conversations WHERE id = ?", (values[CONV],))
        assert ended is not None
        status = hall.value("SELECT status FROM staff WHERE id = ?", (hall.advisor_ids["adv0"],))
        ends = [m for m in winners if m.action == "conversation.end"]
        if spec.start == "running":
            assert status in ("wrapping_up", "available"), status
            return len(ends), "ended"
        # The next request was taken only if the end came first, and then exactly once.
        taken = hall.read(
            "SELECT c.advisor_id FROM conversations c WHERE c.request_id = ?", (values[REQ2],)
        )
        accepted = [m for m in winners if m.action == "request.accept"]
        assert len(taken) == len(accepted), (replies, [dict(t) for t in taken])
        after_end = ("wrapping_up", "available")  # wrap-up lasts 0 s here
        assert status in (("in_conversation",) if accepted else after_end), status
        return len(ends), "ended, next taken" if accepted else "ended, next refused"
    if spec.start == "two":  # each of the two requests is taken once, by one who said ok
        taken = hall.read(
            "SELECT r.status, c.advisor_id FROM requests r JOIN conversations c "
            "ON c.request_id = r.id WHERE r.id IN (?, ?)",
            (values[REQ], values[REQ2]),
        )
        winners_ids = sorted(hall.advisor_ids[m.actor] for m in winners)
        assert sorted(t["advisor_id"] for t in taken) == winners_ids, [dict(t) for t in taken]
        assert {t["status"] for t in taken} == {"accepted"}
        return len(taken) - 1, f"{len(taken)} taken"
    request = hall.read(
        "SELECT status, closed_by, closed_reason FROM requests WHERE id = ?", (values[REQ],)
    )[0]
    conversations = hall.read(
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
    before = int(hall.value("SELECT COALESCE(MAX(id), 0) FROM requests"))
    # Each round puts the frames on the wire in another order, so every side gets to be first.
    shift = tally.rounds % len(spec.moves)
    order = [*range(shift, len(spec.moves)), *range(shift)]
    sent = await asyncio.gather(
        *(fire(hall.peers[m.actor], m.action, fill(m.data, values)) for m in spec.moves_in(order))
    )
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
    count, outcome = effects(hall, spec, values, replies, before)
    tally.winners.update(m.actor for m, r in zip(spec.moves, replies, strict=True) if r["ok"])
    if count != 1:
        tally.double_effects += 1
    assert count == 1, (spec.name, outcome, replies)
    if spec.name == "status vs accept":
        status_ok = replies[0]["ok"]
        staff = hall.value("SELECT status FROM staff WHERE id = ?", (hall.advisor_ids["adv0"],))
        assert staff == "in_conversation", (replies, staff)
        outcome = "status first" if status_ok else "accept first"
    tally.outcomes[outcome] += 1
    check_hall(hall)
    await tidy(hall)
    check_hall(hall)


@pytest.mark.parametrize("spec", RACES, ids=[r.name for r in RACES])
async def test_race(hall: Hall, spec: Race) -> None:
    tally = Tally()
    started = time.monotonic()
    for _ in range(spec.rounds):
        await run_round(hall, spec, tally)
    took = time.monotonic() - started
    log = hall.server.log()
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
            read_value(hall.db_path, "SELECT MAX(id) FROM candidates WHERE erased_at IS NULL", ())
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
        # The erasure is posted, and the command follows 0-9 ms later: a form takes longer
        # to reach the database than a socket command, so some rounds each goes first.
        erasing = asyncio.create_task(visitor.http.post("/mijn-gegevens/wissen", data=form))
        await asyncio.sleep((n % 10) / 1000)
        try:
            reply = await asyncio.wait_for(await fire(peer, action, fill(data, values)), 10)
        except ConnectionClosed:  # the session ended and closed the candidate's socket first
            reply = {"ok": None, "error": {"code": "closed"}}
        erased = await erasing
        assert erased.status_code == 303, erased.text
        tally.rounds += 1
        if reply["ok"] is False:
            assert reply["error"]["code"] != "server.error", reply
            assert reply["error"]["code"] in GONE, reply
        tally.outcomes["ok" if reply["ok"] else str(reply.get("error", {}).get("code"))] += 1
        # The erased candidate waits nowhere and talks to nobody; the hall is whole.
        assert not hall.read(
            "SELECT id FROM requests WHERE candidate_id = ? AND status = 'waiting'", (candidate_id,)
        )
        assert not hall.read(
            "SELECT id FROM conversations WHERE candidate_id = ? AND ended_at IS NULL",
            (candidate_id,),
        )
        assert hall.value("SELECT erased_at FROM candidates WHERE id = ?", (candidate_id,))
        check_hall(hall)
        await cand.close()
        await visitor.aclose()
        await tidy(hall)
    log = hall.server.log()
    assert "Traceback" not in log, log[-3000:]
    print(
        f"\n{name}: rounds {tally.rounds}, server errors 0, outcomes {dict(tally.outcomes)}, "
        f"{time.monotonic() - started:.1f} s"
    )
    # Each side went first in some rounds.
    assert tally.outcomes["ok"] and tally.rounds - tally.outcomes["ok"], tally.outcomes
