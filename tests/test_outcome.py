"""Commands say what they changed; one call publishes it.

Every command of the registry returns an ``Outcome`` and never pushes anything itself: the
modules under ``app/commands/`` are read and must not touch the hub or the live publisher
(but for the one call in ``perform``) nor spell a topic. One ``Outcome`` becomes exactly the
pushes it names, each once, on the topics of the people concerned, in the fixed order, on a
real database with a real ``Live`` and ``MemoryHub``. ``perform`` applies a command's
throttle (new requests per candidate) for the socket and the form alike, publishes nothing
when a command is refused, and keeps the administration forms' commands off the socket.
"""

from __future__ import annotations

import ast
import inspect
import json
import sqlite3
import time
import typing
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from app.commands import actions, registry
from app.commands.envelope import Field
from app.core.config import Settings
from app.core.errors import DomainError
from app.domain import booth_setup, queue
from app.domain.event import load_event
from app.domain.outcome import Outcome
from app.domain.principals import Principal
from app.live.deadlines import Deadlines
from app.live.hub import MemoryHub
from app.live.publish import DEADLINES_WAKE, HALL_VIEWS, Live
from app.live.resources import Resources
from app.storage.db import Database
from tests.livekit import Browserless, LiveServer, World, db_value, seed_world
from tests.servicekit import make_candidate

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = ROOT / "app" / "commands"
ALL_ACTIONS = {**actions.REGISTRY, **actions.FORM_COMMANDS}
# What a command module may read from the live layer: the hall as held, the announcements.
LIVE_READS = {"feed", "announcements_for"}


# -- (a) the handlers: they say what changed, they push nothing ---------------------------------


def _problems(path: Path) -> list[str]:
    """Every place in one module that pushes by hand or spells a hub topic."""
    return _problems_in(path.read_text(encoding="utf-8"), path.name)


def _problems_in(text: str, name: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(text)):
        where = f"{name}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Attribute) and node.attr == "hub":
            found.append(f"{where}: .hub")
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "live"
            and node.attr not in LIVE_READS
            and not (name == "registry.py" and node.attr == "publish")
        ):
            found.append(f"{where}: .live.{node.attr}")
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value.startswith(("candidate:", "staff:", "booth:"))
        ):
            found.append(f"{where}: topic {node.value!r}")
    return found


def test_no_command_module_pushes_by_hand_or_names_a_topic() -> None:
    modules = sorted(COMMANDS.glob("*.py"))
    assert {m.name for m in modules} >= {"registry.py", "candidate.py", "setup.py"}
    problems = [problem for module in modules for problem in _problems(module)]
    assert problems == []


def test_the_static_check_sees_a_push_by_hand() -> None:
    """The check above catches the old ways of publishing, and the one call only where it
    belongs."""
    text = (
        "async def handler(r, p, data):\n"
        "    await r.live.booths_changed([1])\n"
        '    await r.hub.publish(f"candidate:{p.id}", "me.state", {})\n'
        '    await announce(r.hub, "staff:1")\n'
        "    await r.live.publish(outcome)\n"
        "    return r.live.feed.snapshot()\n"
    )
    found = [p.split(": ", 1)[1] for p in _problems_in(text, "candidate.py")]
    assert sorted(found) == [
        ".hub",
        ".hub",
        ".live.booths_changed",
        ".live.publish",
        "topic 'candidate:'",
        "topic 'staff:1'",
    ]
    assert ".live.publish" not in [p.split(": ", 1)[1] for p in _problems_in(text, "registry.py")]


@pytest.mark.parametrize("name", sorted(ALL_ACTIONS))
def test_every_handler_lives_under_commands_and_returns_an_outcome(name: str) -> None:
    handler = ALL_ACTIONS[name].handler
    source = Path(inspect.getfile(handler)).resolve()
    assert source.parent == COMMANDS, (name, source)
    returned = typing.get_type_hints(handler)["return"]
    assert isinstance(returned, type) and issubclass(returned, Outcome), (name, returned)
    assert _problems(source) == []


def test_the_forms_commands_are_not_in_the_protocol() -> None:
    assert not set(actions.REGISTRY) & set(actions.FORM_COMMANDS)
    assert all(a.forms_only for a in actions.FORM_COMMANDS.values())
    assert not any(a.forms_only for a in actions.REGISTRY.values())
    assert all(a.roles == frozenset({"moderator"}) for a in actions.FORM_COMMANDS.values())
    protocol = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
    for name in actions.REGISTRY:
        assert f"`{name}`" in protocol, name


# -- (b) one outcome, the pushes it names, each once -----------------------------------------------


class Recorder:
    """Hears topics and writes down, in arrival order, which topic heard which event."""

    def __init__(self, hub: MemoryHub, topics: list[str]) -> None:
        self.hub = hub
        self.topics = topics
        self.heard: list[tuple[str, str, Any]] = []
        self._stack = ExitStack()

    def __enter__(self) -> Recorder:
        for topic in self.topics:
            self._stack.enter_context(self.hub.local.attached([topic], _Sink(self, topic)))
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stack.close()

    def take(self) -> list[tuple[str, str, Any]]:
        heard, self.heard = self.heard, []
        return heard


class _Sink:
    def __init__(self, recorder: Recorder, topic: str) -> None:
        self.recorder = recorder
        self.topic = topic

    def deliver(self, message: str) -> None:
        frame = json.loads(message)
        self.recorder.heard.append((self.topic, frame["event"], frame["data"]))

    def end(self) -> None:
        raise AssertionError(f"{self.topic} overflowed")


@pytest.fixture
async def hall(tmp_path: Path) -> AsyncIterator[tuple[Resources, World]]:
    """The test hall (two booths, three advisors, a moderator) on a real file, with the
    hall's own publisher on a hub in memory, as the server builds them."""
    path = tmp_path / "hall.db"
    world = await seed_world(path)
    db = await Database.open(path)
    hub = MemoryHub()
    live = Live(db, hub, time.time)
    deadlines = Deadlines(db, live, time.time)
    resources = Resources(Settings(database_path=path), db, hub, live, deadlines)
    try:
        yield resources, world
    finally:
        await db.close()


async def _candidate(db: Database, name: str, email: str) -> int:
    return await make_candidate(db, name, email)


def _topics(world: World, candidates: list[int]) -> list[str]:
    people = [f"candidate:{c}" for c in candidates]
    staff = [f"staff:{s}" for s in (world.advisor_a1, world.advisor_a2, world.advisor_b1)]
    booths = [f"booth:{b}" for b in (world.booth_a, world.booth_b)]
    internal = [DEADLINES_WAKE, HALL_VIEWS, "announcements.changed"]
    return [
        *people,
        *staff,
        f"staff:{world.moderator}",
        *booths,
        "hall",
        "moderators",
        "advisors",
        *internal,
    ]


async def test_one_outcome_makes_exactly_the_pushes_it_names(
    hall: tuple[Resources, World],
) -> None:
    r, world = hall
    db = r.db
    event = await load_event(db)
    waiting = await _candidate(db, "Wachtende Kandidaat", "wacht@example.nl")
    changed = await _candidate(db, "Andere Kandidaat", "ander@example.nl")
    blocked = await _candidate(db, "Geblokkeerde Kandidaat", "blok@example.nl")
    request, _ = await queue.create_request(
        db,
        event,
        candidate_id=waiting,
        booth_id=world.booth_a,
        advisor_id=None,
        question="",
        client_key="k-wait",
        now=r.now(),
        ttl_seconds=3600,
    )
    outcome = Outcome(
        reply={"ignored": True},
        booth_ids={world.booth_a},
        candidate_ids={changed},
        revoked_candidates={blocked: "blocked"},
        revoked_staff={world.advisor_b1: "deactivated"},
    )
    with Recorder(r.hub, _topics(world, [waiting, changed, blocked])) as heard:
        await r.live.publish(outcome)
        pushed = heard.take()
        rev = await db.revision()
        assert [(topic, name) for topic, name, _data in pushed] == [
            # The booth changed: whoever watches deadlines looks again, its advisors' consoles
            # and its waiting candidates are told; the hall and overview are marked, not yet
            # pushed (they are coalesced).
            (DEADLINES_WAKE, DEADLINES_WAKE),
            (f"staff:{world.advisor_a1}", "console.state"),
            (f"staff:{world.advisor_a2}", "console.state"),
            (f"candidate:{waiting}", "me.state"),
            # The candidate named.
            (f"candidate:{changed}", "me.state"),
            # Last, the sessions that ended.
            (f"candidate:{blocked}", "session.revoked"),
            (f"staff:{world.advisor_b1}", "session.revoked"),
        ]
        data = {(topic, name): d for topic, name, d in pushed}
        mine = data[(f"candidate:{waiting}", "me.state")]
        assert mine["request"]["id"] == request.id and mine["request"]["position"] == 1
        assert mine["rev"] == rev
        assert data[(f"candidate:{changed}", "me.state")]["request"] is None
        console = data[(f"staff:{world.advisor_a1}", "console.state")]
        assert [item["request_id"] for item in console["queue"]] == [request.id]
        assert data[(f"candidate:{blocked}", "session.revoked")] == {
            "session": None,
            "reason": "blocked",
        }
        assert data[(f"staff:{world.advisor_b1}", "session.revoked")] == {
            "session": None,
            "reason": "deactivated",
        }
        # The coalesced part: one read of the marked booth for the hall, one overview.
        await r.live.publish_marked()
        later = heard.take()
        assert [(topic, name) for topic, name, _data in later] == [
            (HALL_VIEWS, HALL_VIEWS),
            ("moderators", "overview.state"),
        ]
        assert [v["id"] for v in later[0][2]["views"]] == [world.booth_a]
        await r.live.publish_marked()
        assert heard.take() == []  # nothing marked twice


async def test_every_part_of_an_outcome_has_its_push_in_the_fixed_order(
    hall: tuple[Resources, World],
) -> None:
    r, world = hall
    db = r.db
    candidate = await _candidate(db, "Sanne", "sanne@example.nl")
    outcome = Outcome(
        deadlines=True,
        hall=True,
        candidate_ids={candidate},
        advisor_ids={world.advisor_b1},
        overview=True,  # brought by the hall already: not pushed twice
        announcements=True,
        revoked_staff={world.advisor_a2: "moved"},
    )
    with Recorder(r.hub, _topics(world, [candidate])) as heard:
        await r.live.publish(outcome)
        assert [(topic, name) for topic, name, _data in heard.take()] == [
            (DEADLINES_WAKE, DEADLINES_WAKE),
            (HALL_VIEWS, HALL_VIEWS),
            ("moderators", "overview.state"),
            (f"candidate:{candidate}", "me.state"),
            (f"staff:{world.advisor_b1}", "console.state"),
            # Every process holds the new announcements and tells its own hall and advisors
            # (the hub's listeners hear a message before the connections do).
            ("hall", "announcements.state"),
            ("advisors", "announcements.state"),
            ("announcements.changed", "announcements.changed"),
            (f"staff:{world.advisor_a2}", "session.revoked"),
        ]
        # An outcome that names nothing pushes nothing.
        await r.live.publish(Outcome(reply={"server_time": 1.0}))
        assert heard.take() == []


def test_outcomes_merge_each_thing_once() -> None:
    first = Outcome(
        reply={"a": 1}, booth_ids={1, 2}, candidate_ids={5}, revoked_candidates={5: "blocked"}
    )
    second = Outcome(reply={"b": 2}, booth_ids={2, 3}, deadlines=True, revoked_staff={9: "moved"})
    both = first | second
    assert both.booth_ids == {1, 2, 3} and both.candidate_ids == {5}
    assert both.deadlines and not both.hall
    assert both.revoked_candidates == {5: "blocked"} and both.revoked_staff == {9: "moved"}
    assert both.reply == {"a": 1, "b": 2}
    assert first.booth_ids == {1, 2}  # neither side changed


# -- perform: the one call, the throttle, refusals, the forms' commands ---------------------------


async def test_perform_publishes_a_moderators_block_once_and_answers_the_counts(
    hall: tuple[Resources, World],
) -> None:
    r, world = hall
    db = r.db
    event = await load_event(db)
    candidate = await _candidate(db, "Lastig", "lastig@example.nl")
    await queue.create_request(
        db,
        event,
        candidate_id=candidate,
        booth_id=world.booth_a,
        advisor_id=None,
        question="",
        client_key="k-block",
        now=r.now(),
        ttl_seconds=3600,
    )
    moderator = Principal("moderator", world.moderator, "Moderator")
    with Recorder(r.hub, _topics(world, [candidate])) as heard:
        reply = await actions.perform(r, moderator, "candidate.block", {"candidate_id": candidate})
        assert reply == {"requests_ended": 1, "conversations_ended": 0}
        pushed = [(topic, name) for topic, name, _data in heard.take()]
    assert pushed == [
        (DEADLINES_WAKE, DEADLINES_WAKE),
        (f"staff:{world.advisor_a1}", "console.state"),
        (f"staff:{world.advisor_a2}", "console.state"),
        (f"candidate:{candidate}", "me.state"),
        (f"candidate:{candidate}", "session.revoked"),
    ]


async def test_a_request_sent_again_tells_the_asker_their_state_once_more(
    hall: tuple[Resources, World],
) -> None:
    """The first try may have been committed while its answer and its push were lost."""
    r, world = hall
    candidate = await _candidate(r.db, "Twee Keer", "tweekeer@example.nl")
    me = Principal("candidate", candidate, "Twee Keer")
    data = {"booth_id": world.booth_a, "client_key": "k-again"}
    first = await actions.perform(r, me, "request.create", data)
    with Recorder(r.hub, _topics(world, [candidate])) as heard:
        again = await actions.perform(r, me, "request.create", data)
        pushed = [(topic, name) for topic, name, _data in heard.take()]
    assert again == {"request_id": first["request_id"], "created": False}
    assert pushed == [(f"candidate:{candidate}", "me.state")]


async def test_a_refused_command_publishes_nothing(hall: tuple[Resources, World]) -> None:
    r, world = hall
    candidate = await _candidate(r.db, "Sanne", "sanne@example.nl")
    me = Principal("candidate", candidate, "Sanne")
    with Recorder(r.hub, _topics(world, [candidate])) as heard:
        with pytest.raises(DomainError) as refused:
            await actions.perform(r, me, "request.cancel", {"request_id": 999})
        assert refused.value.code == "request.not_found"
        with pytest.raises(DomainError) as wrong_role:
            await actions.perform(r, me, "event.close", {})
        assert wrong_role.value.code == "auth.forbidden"
        assert heard.take() == []


async def test_the_request_throttle_is_the_registrys(hall: tuple[Resources, World]) -> None:
    r, world = hall
    r.settings = Settings(database_path=r.settings.database_path, requests_per_minute=2)
    candidate = await _candidate(r.db, "Sanne", "sanne@example.nl")
    me = Principal("candidate", candidate, "Sanne")
    assert actions.REGISTRY["request.create"].throttle is not None
    for key in ("k1", "k2"):
        made = await actions.perform(
            r, me, "request.create", {"booth_id": world.booth_a, "client_key": key}
        )
        await actions.perform(r, me, "request.cancel", {"request_id": made["request_id"]})
    with pytest.raises(DomainError) as limited:
        await actions.perform(
            r, me, "request.create", {"booth_id": world.booth_a, "client_key": "k3"}
        )
    assert limited.value.code == "rate.limited"
    # The same form sent again is never refused: it gets the request it made.
    again = await actions.perform(
        r, me, "request.create", {"booth_id": world.booth_a, "client_key": "k1"}
    )
    assert again["created"] is False
    assert await r.db.fetchvalue("SELECT COUNT(*) FROM requests") == 2


async def test_a_forms_command_is_found_for_a_form_only(hall: tuple[Resources, World]) -> None:
    r, world = hall
    moderator = Principal("moderator", world.moderator, "Moderator")
    data = {"staff_id": world.advisor_a2, "booth_id": str(world.booth_b)}
    with pytest.raises(DomainError) as unknown:
        await actions.perform(r, moderator, "staff.assign", data)
    assert unknown.value.code == "protocol.unknown_action"
    assert (
        await r.db.fetchvalue("SELECT booth_id FROM staff WHERE id = ?", (world.advisor_a2,))
        == world.booth_a
    )
    advisor = Principal("advisor", world.advisor_a1, "A1", world.booth_a)
    with pytest.raises(DomainError) as forbidden:
        await actions.perform(r, advisor, "staff.assign", data, form=True)
    assert forbidden.value.code == "auth.forbidden"
    with Recorder(r.hub, _topics(world, [])) as heard:
        reply = await actions.perform(r, moderator, "staff.assign", data, form=True)
        pushed = [(topic, name, d) for topic, name, d in heard.take()]
    assert reply == {
        "staff_id": world.advisor_a2,
        "from_booth": world.booth_a,
        "to_booth": world.booth_b,
    }
    assert [(topic, name) for topic, name, _d in pushed] == [
        (DEADLINES_WAKE, DEADLINES_WAKE),
        (f"staff:{world.advisor_a1}", "console.state"),
        (f"staff:{world.advisor_a2}", "console.state"),
        (f"staff:{world.advisor_b1}", "console.state"),
        (f"staff:{world.advisor_a2}", "session.revoked"),
    ]
    assert pushed[-1][2] == {"session": None, "reason": "moved"}


async def test_a_form_picks_its_fields_and_the_domain_checks_them(
    hall: tuple[Resources, World],
) -> None:
    r, world = hall
    moderator = Principal("moderator", world.moderator, "Moderator")
    create = actions.FORM_COMMANDS["booth.create"]
    posted = {"csrf": "x", "name": "", "kind": "employer", "sector": "zorg", "offers": ["bbl"]}
    data = create.pick(posted)
    assert "csrf" not in data and data["offers"] == ["bbl"]
    with pytest.raises(DomainError) as refused:
        await actions.perform(r, moderator, "booth.create", data, form=True)
    assert refused.value.code == "input.invalid"
    assert "name" in refused.value.field_messages()  # type: ignore[attr-defined]
    with pytest.raises(booth_setup.ImportRefused):
        await actions.perform(r, moderator, "booth.import", {"file": b""}, form=True)
    made = await actions.perform(r, moderator, "booth.create", {**data, "name": "Nieuw"}, form=True)
    assert (
        await r.db.fetchvalue("SELECT name FROM booths WHERE id = ?", (made["booth_id"],))
        == "Nieuw"
    )


def test_registering_a_name_twice_is_refused() -> None:
    handler = actions.FORM_COMMANDS["staff.assign"].handler
    with pytest.raises(RuntimeError):
        registry.action("staff.assign", ("moderator",))(handler)
    with pytest.raises(RuntimeError):
        registry.action("request.create", ("candidate",), forms_only=True)(handler)


# -- the throttle against a real server: the socket and the form share it -----------------------


@pytest.fixture
async def strict_world(tmp_path: Path) -> tuple[Path, World]:
    path = tmp_path / "strict.db"
    return path, await seed_world(path)


@pytest.fixture
def strict_server(
    strict_world: tuple[Path, World], tmp_path: Path
) -> Iterator[tuple[LiveServer, World]]:
    """A hall that lets a candidate make two new requests a minute."""
    path, world = strict_world
    env = {"INZOOMEN_REQUESTS_PER_MINUTE": "2"}
    with LiveServer(path, tmp_path / "strict.log", env=env) as live:
        yield live, world


async def test_the_socket_and_the_form_share_one_request_throttle(
    strict_server: tuple[LiveServer, World],
) -> None:
    server, world = strict_server
    candidate = Browserless(server)
    try:
        await candidate.sign_in_candidate("Sanne de Vries")
        socket = await candidate.socket()
        made = await socket.send("request.create", {"booth_id": world.booth_a, "client_key": "s1"})
        assert made["ok"], made
        cancelled = await socket.send("request.cancel", {"request_id": made["data"]["request_id"]})
        assert cancelled["ok"], cancelled
        token = await candidate.csrf(f"/inzoomen/{world.booth_a}")
        posted = await candidate.http.post(
            f"/inzoomen/{world.booth_a}", data={"csrf": token, "question": "", "client_key": "f1"}
        )
        assert posted.status_code == 303, posted.text
        second = db_value(server.db_path, "SELECT id FROM requests WHERE client_key = 'f1'")
        cancelled = await socket.send("request.cancel", {"request_id": second})
        assert cancelled["ok"], cancelled
        # Two new requests in the minute: the third is refused by either way in.
        refused = await socket.send(
            "request.create", {"booth_id": world.booth_a, "client_key": "s2"}
        )
        assert refused["error"]["code"] == "rate.limited", refused
        token = await candidate.csrf(f"/inzoomen/{world.booth_a}")
        posted = await candidate.http.post(
            f"/inzoomen/{world.booth_a}", data={"csrf": token, "question": "", "client_key": "f2"}
        )
        assert posted.status_code == 429
        assert db_value(server.db_path, "SELECT COUNT(*) FROM requests") == 2
        await socket.close()
    finally:
        await candidate.aclose()
    connection = sqlite3.connect(f"file:{server.db_path}?mode=ro", uri=True)
    try:
        keys = [row[0] for row in connection.execute("SELECT client_key FROM requests ORDER BY id")]
    finally:
        connection.close()
    assert keys == ["s1", "f1"]


def test_the_forms_field_kinds_refuse_other_values() -> None:
    offers, upload = Field("offers", list), Field("file", bytes)
    assert offers.clean(["bbl", "bol"]) == ["bbl", "bol"]
    assert upload.clean(b"a,b") == b"a,b"
    for field, wrong in ((offers, ["bbl", 1]), (offers, "bbl"), (upload, "a,b")):
        with pytest.raises(DomainError) as refused:
            field.clean(wrong)
        assert refused.value.code == "input.wrong_type"
