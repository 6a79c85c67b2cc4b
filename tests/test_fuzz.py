"""Fuzzing every WebSocket action and every HTML form of one real server process.

What is fuzzed is discovered, never listed: the socket actions are ``actions.REGISTRY`` (with
each action's fields), the forms are every route of ``app.web.pages.routes`` that takes POST,
with the field names found in the forms the pages render for each role. A new action or
form is fuzzed without anyone editing this file.

Hypothesis makes the inputs (wrong types, nested objects, huge and empty strings, unicode,
unknown keys and actions, other people's ids, every role, broken envelopes, malformed JSON,
binary frames, forms without or with a wrong CSRF token) with a fixed seed, so a run is
reproducible. Messages are pipelined: a batch is sent, then its replies are read (one reply
per message, in order). After each batch:

- no reply is ``server.error`` and the server's log holds no traceback;
- a ``clock.sync`` round trip on every connection answers (the server is responsive);
- if nothing in the batch was accepted, every table is exactly as it was before the batch
  (except records that exist to count refusals: failed logins; and when someone was last
  seen); if something was accepted, the hall's invariants still hold.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from starlette.convertors import IntegerConvertor
from starlette.routing import Route
from websockets.exceptions import ConnectionClosed

from app.commands.actions import REGISTRY
from app.commands.envelope import Field
from app.core.errors import MESSAGES
from app.domain.principals import ROLES
from app.web.pages import routes as page_routes
from tests.livekit import Browserless, LiveServer, Peer, World, csrf_from, seed_world

T = TypeVar("T")

SOCKET_BATCHES = 500
SOCKET_BATCH = 50
FORM_BATCHES = 120
FORM_BATCH = 3
WS_MAX_BYTES = 64 * 1024

FUZZ_ENV = {
    # Nothing moves by itself while the fuzzer compares states: no wrap-up ends, no grace
    # period runs out, no request expires during the run.
    "INZOOMEN_WRAP_UP_SECONDS": "100000",
    "INZOOMEN_GRACE_SECONDS": "100000",
    # Rate limits would refuse the fuzzer's pace; what is fuzzed here is the input.
    "INZOOMEN_WS_RATE": "1000000",
    "INZOOMEN_WS_BURST": "1000000",
    "INZOOMEN_WS_USER_RATE": "1000000",
    "INZOOMEN_WS_USER_BURST": "1000000",
    "INZOOMEN_REQUESTS_PER_MINUTE": "1000000",
    "INZOOMEN_LOGIN_FAILURES_PER_ACCOUNT": "1000000",
    "INZOOMEN_LOGIN_FAILURES_PER_IP": "1000000",
}
# Read-only actions: an accepted one changes nothing either.
READ_ONLY = {"session.sync", "clock.sync", "conversation.notes"}
# Tables and columns that change on purpose when input is refused or someone is seen: failed
# logins are recorded to throttle them, and the revision counts every write, that one too.
NOT_COMPARED_TABLES = {"login_failures", "revision"}
# Columns that follow whether someone is connected, not what anyone did.
NOT_COMPARED_COLUMNS = {
    ("requests", "away_since"),
    ("sessions", "last_seen"),
    ("candidates", "online_until"),
}
# Whoever is next is asked "Ben je er klaar voor?" by the server's timers (app.domain.readiness),
# also after a batch that was refused as a whole: the ask is no one's input.
NOT_COMPARED_COLUMNS |= {("requests", "ready_asked_at"), ("requests", "ready_until")}
SIGN_IN_PAGES = ("/aanmelden", "/inloggen")


# -- the hall and a loop of its own --------------------------------------------------------


class Loop:
    """An event loop on its own thread, so Hypothesis (synchronous) can drive async clients."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 120) -> T:
        return self.submit(coro).result(timeout)

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@dataclass
class Role:
    """One principal: a visitor (cookie jar) and its socket."""

    name: str
    visitor: Browserless
    peer: Peer | None = None
    session_id: int | None = None
    csrf: str = ""


@dataclass
class FuzzHall:
    server: LiveServer
    db_path: Path
    world: World
    loop: Loop
    sockets: dict[str, Role]  # the roles the socket fuzzer speaks as
    forms: dict[str, Role]  # the roles the form fuzzer posts as (sessions of their own)
    keep: list[Peer]  # sockets of the people who own the other objects
    form_fields: dict[str, set[str]] = field(default_factory=dict)  # action path -> names
    counts: Counter[str] = field(default_factory=Counter)
    dirty: bool = False  # a batch failed half-way: replies may be left over

    def table_dump(self) -> dict[str, list[tuple[Any, ...]]]:
        conn = sqlite3.connect(self.db_path, timeout=10)
        try:
            tables = [
                r[0]
                for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%' ORDER BY name"
                )
            ]
            dump = {}
            for table in tables:
                if table in NOT_COMPARED_TABLES:
                    continue
                columns = [
                    r[1]
                    for r in conn.execute(f"PRAGMA table_info({table})")
                    if (table, r[1]) not in NOT_COMPARED_COLUMNS
                ]
                cols = ", ".join(f'"{c}"' for c in columns)
                dump[table] = conn.execute(f"SELECT {cols} FROM {table} ORDER BY rowid").fetchall()
            return dump
        finally:
            conn.close()

    def value(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        conn = sqlite3.connect(self.db_path, timeout=10)
        try:
            row = conn.execute(sql, params).fetchone()
            return None if row is None else row[0]
        finally:
            conn.close()

    def invariants(self) -> None:
        conn = sqlite3.connect(self.db_path, timeout=10)
        try:
            checks = {
                "a conversation for every accepted request and none for others": (
                    "SELECT r.id FROM requests r LEFT JOIN conversations c "
                    "ON c.request_id = r.id GROUP BY r.id HAVING "
                    "(r.status = 'accepted') != (COUNT(c.id) = 1)"
                ),
                "one waiting request per candidate": (
                    "SELECT candidate_id FROM requests WHERE status = 'waiting' "
                    "GROUP BY candidate_id HAVING COUNT(*) > 1"
                ),
                "in conversation exactly while a conversation runs": (
                    "SELECT s.id FROM staff s WHERE s.role = 'advisor' AND "
                    "(s.status = 'in_conversation') != EXISTS (SELECT 1 FROM conversations c "
                    "WHERE c.advisor_id = s.id AND c.ended_at IS NULL)"
                ),
            }
            for what, sql in checks.items():
                assert not conn.execute(sql).fetchall(), what
        finally:
            conn.close()

    def log_is_clean(self) -> None:
        log = self.server.log()
        assert "Traceback" not in log, log[-4000:]
        assert "server.error" not in log, log[-4000:]


def newest_session(hall_path: Path) -> int:
    conn = sqlite3.connect(hall_path, timeout=10)
    try:
        return int(conn.execute("SELECT MAX(id) FROM sessions").fetchone()[0])
    finally:
        conn.close()


async def sign_in(server: LiveServer, path: Path, role: str, tag: str) -> Role:
    visitor = Browserless(server)
    if role == "candidate":
        await visitor.sign_in_candidate(f"Fuzz {tag}", f"fuzz-{tag}@example.nl")
    elif role == "advisor":
        await visitor.log_in("a1@test.example")
    elif role == "moderator":
        await visitor.log_in("mod@test.example")
    found = Role(role, visitor)
    if role != "anonymous":
        found.session_id = newest_session(path)
    for page in ("/", *SIGN_IN_PAGES):
        html = (await visitor.http.get(page)).text
        if 'name="csrf"' in html:
            found.csrf = csrf_from(html)
            break
    assert found.csrf, f"no page with a form for {role}"
    return found


async def set_up(
    server: LiveServer, path: Path, world: World
) -> tuple[dict[str, Role], list[Peer]]:
    """Other people's objects to aim at, and a signed-in socket for every role."""
    keep = []
    staff = {}
    for email in ("a2@test.example", "b1@test.example"):
        visitor = Browserless(server)
        await visitor.log_in(email)
        staff[email] = await visitor.socket()
        keep.append(staff[email])
        await visitor.aclose()  # the socket stays open
    for i, (booth, advisor, end) in enumerate(
        ((world.booth_b, None, False), (world.booth_b, "b1@test.example", False),
         (world.booth_a, "a2@test.example", True))
    ):  # fmt: skip
        visitor = Browserless(server)
        await visitor.sign_in_candidate(f"Ander {i}", f"ander{i}@example.nl")
        peer = await visitor.socket()
        keep.append(peer)
        await visitor.aclose()  # the socket stays open
        made = await peer.send("request.create", {"booth_id": booth, "client_key": f"o{i}"})
        assert made["ok"], made
        if advisor is not None:
            console = staff[advisor]
            started = await console.send(
                "request.accept", {"request_id": made["data"]["request_id"]}
            )
            assert started["ok"], started
            conversation_id = started["data"]["conversation_id"]
            noted = await console.send(
                "conversation.note",
                {"conversation_id": conversation_id, "notes": f"geheim-{booth}"},
            )
            assert noted["ok"], noted
            if end:
                ended = await console.send("conversation.end", {"conversation_id": conversation_id})
                assert ended["ok"], ended
    # The fuzzer's own candidates get ids beyond those it fuzzes with (IDS): a moderator's
    # candidate.block of one of them would end the very session being fuzzed.
    conn = sqlite3.connect(path, timeout=10)
    try:
        conn.execute(
            "INSERT INTO candidates (id, name, email, phone, consent_at, created_at) "
            "VALUES (1000, 'Buiten bereik', 'buiten-bereik@example.nl', '', 0, 0)"
        )
        conn.commit()
    finally:
        conn.close()
    roles = {}
    for role in ROLES:
        found = await sign_in(server, path, role, "socket")
        found.peer = await found.visitor.socket()
        assert found.peer.welcome["role"] == role
        roles[role] = found
    # A live announcement: the moderator's page then shows the form that ends it.
    made = await roles["moderator"].peer.send(
        "announcement.create", {"text": "Fuzz", "audience": "all"}
    )
    assert made["ok"], made
    return roles, keep


@pytest.fixture(scope="module")
def fuzz_hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzHall]:
    directory = tmp_path_factory.mktemp("fuzz")
    path = directory / "fuzz.db"
    loop = Loop()
    world = loop.run(seed_world(path))
    # The readiness limits are the event's (app.domain.readiness): none runs out during the run.
    connection = sqlite3.connect(path)
    with connection:
        connection.execute("UPDATE event SET ready_seconds = 100000, join_seconds = 100000")
    connection.close()
    server = LiveServer(path, directory / "fuzz-server.log", env=FUZZ_ENV)
    server.start()
    try:
        sockets, keep = loop.run(set_up(server, path, world))
        forms = {r: loop.run(sign_in(server, path, r, "form")) for r in ROLES}
        give_follow_ups(path, world, forms)
        hall = FuzzHall(server, path, world, loop, sockets, forms, keep)
        hall.form_fields = loop.run(discover_forms(hall))
        yield hall
    finally:

        async def close_all() -> None:
            for role in (*sockets.values(), *forms.values()):
                if role.peer is not None:
                    await role.peer.close()
                await role.visitor.aclose()
            for peer in keep:
                await peer.close()

        try:
            loop.run(close_all())
        finally:
            server.stop()
            loop.close()


# -- forms, discovered -------------------------------------------------------------------

_PARAM = re.compile(r"\{(\w+)(?::(\w+))?\}")


class FormScraper(HTMLParser):
    """Every form's action and the names of its fields."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: dict[str, set[str]] = {}
        self._current: set[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "form" and (found.get("method") or "").lower() == "post":
            self._current = self.forms.setdefault(found.get("action") or "", set())
        elif tag in ("input", "textarea", "select", "button") and self._current is not None:
            self._current.add(str(found.get("name") or "csrf"))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def post_routes() -> list[Route]:
    return [r for r in page_routes if isinstance(r, Route) and "POST" in (r.methods or ())]


def get_routes() -> list[Route]:
    return [r for r in page_routes if isinstance(r, Route) and "GET" in (r.methods or ())]


# Forms shown only to whoever holds a secret link (a staff invitation, a call page): no page
# of the hall renders them for a made-up link, so they are fuzzed with invented fields and
# tokens.
BEHIND_A_SECRET_LINK = {"/uitnodiging/{token}", "/videogesprek/{token}/bel-mij"}
# Forms a page shows only in a state the fuzzed hall is not in (the event closed, a booth
# closed, a candidate blocked): fuzzed with invented fields, like the ones above.
IN_ANOTHER_STATE = {
    "/moderator/ingrijpen/evenement-openen",
    "/moderator/ingrijpen/stand-openen",
    "/moderator/ingrijpen/deblokkeren",
}


def fill_path(path: str, values: dict[str, str]) -> str:
    return _PARAM.sub(lambda m: values.get(m.group(1), "1"), path)


async def discover_forms(hall: FuzzHall) -> dict[str, set[str]]:
    """Render every page as every role and collect the forms on them."""
    scraper = FormScraper()
    for role in hall.forms.values():
        for route in get_routes():
            for n in ("1", "2", "3", "nl"):
                response = await role.visitor.http.get(_PARAM.sub(n, route.path))
                if "html" in response.headers.get("content-type", ""):
                    scraper.feed(response.text)
    forms = {action: names for action, names in scraper.forms.items() if action.startswith("/")}
    missing = [
        route.path
        for route in post_routes()
        if route.path not in BEHIND_A_SECRET_LINK | IN_ANOTHER_STATE
        and not any(route.path_regex.match(a) for a in forms)
    ]
    assert not missing, f"no form found for {missing}"
    return forms


# -- strategies ----------------------------------------------------------------------------

SIZES = (0, 1, 2, 63, 64, 65, 100, 101, 499, 500, 501, 4999, 5000, 5001)
IDS = st.integers(min_value=1, max_value=60)  # existing objects, other people's included

leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
json_value = st.recursive(
    leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=8,
)
big_text = st.builds(
    lambda ch, n: ch * n,
    st.characters(codec="utf-8") | st.sampled_from("a é😀\x00\u202e"),
    st.sampled_from(SIZES),
)
surrogates = st.text(st.characters(categories=["Cs"]), min_size=1, max_size=3)
odd_text = st.one_of(
    st.text(max_size=40),
    big_text,
    surrogates,
    st.sampled_from(["", " ", "\n", "\r\n", "null", "0", "-1", "1e9", "²", "١٢", "<b>x</b>"]),
)


def value_for(f: Field) -> st.SearchStrategy[Any]:
    """Right and wrong values for one field, by its kind."""
    wrong = st.one_of(json_value, odd_text)
    if f.kind is int:
        right = st.one_of(
            IDS,
            st.sampled_from([0, -1, 2**31, 2**53 - 1, 2**53, 2**63, 2**64, 10**30]),
            st.builds(str, IDS),
        )
    elif f.kind is str:
        limit = f.max_length or 100
        right = st.one_of(
            st.sampled_from(f.choices) if f.choices else st.text(max_size=limit),
            st.builds(
                lambda ch, n: ch * n,
                st.sampled_from("xé😀 "),
                st.sampled_from((limit - 1, limit, limit + 1)),
            ),
        )
    elif f.kind is bool:
        right = st.booleans()
    else:
        right = json_value
    return st.one_of(right, right, wrong)


def payload_for(fields: tuple[Field, ...]) -> st.SearchStrategy[dict[str, Any]]:
    known = st.fixed_dictionaries({}, optional={f.name: value_for(f) for f in fields})
    unknown = st.one_of(
        st.just({}),
        st.just({}),
        st.dictionaries(st.one_of(st.text(max_size=70), surrogates), json_value, max_size=2),
    )
    return st.builds(lambda a, b: {**b, **a}, known, unknown)


ACTIONS = sorted(REGISTRY)


@st.composite
def command(draw: st.DrawFn) -> dict[str, Any]:
    """A well-formed envelope: a known (or unknown) action with a fuzzed payload."""
    name = draw(st.one_of(*(st.just(a) for a in ACTIONS), st.text(min_size=1, max_size=70)))
    found = REGISTRY.get(name)
    if found is not None and draw(st.integers(0, 9)) > 0:
        data: Any = draw(payload_for(found.fields))
    else:
        data = draw(
            st.one_of(st.just({}), st.dictionaries(st.text(max_size=10), json_value, max_size=3))
        )
    frame = {"action": name, "data": data}
    if draw(st.booleans()) and data == {}:
        del frame["data"]  # data may be left out
    return frame


def nested(depth: int, kind: str) -> str:
    if kind == "list":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


junk_text = st.one_of(
    st.text(max_size=60),
    st.sampled_from(['{"id": "x"', '{"id":', "", "[", "{}", "null", '"id"', "{'id': 1}"]),
    st.builds(
        nested, st.sampled_from((10, 100, 1000, 5000, 20000)), st.sampled_from(("list", "dict"))
    ),
    st.builds(
        lambda depth: '{"id":"n","action":"clock.sync","data":{"x":' + nested(depth, "list") + "}}",
        st.sampled_from((10, 1000, 20000)),
    ),
)
junk_envelope = st.one_of(
    json_value,
    st.dictionaries(st.sampled_from(["id", "action", "data", "extra"]), json_value, max_size=4),
    st.fixed_dictionaries(
        {"id": st.one_of(st.text(min_size=65, max_size=80), st.just(""), json_value)},
        optional={"action": st.one_of(st.sampled_from(ACTIONS), json_value), "data": json_value},
    ),
    st.fixed_dictionaries(
        {"id": st.text(min_size=1, max_size=64), "action": st.sampled_from(ACTIONS)},
        optional={"data": json_value, "extra": json_value},
    ),
)


@dataclass(frozen=True)
class Message:
    """One input; the fuzzer sends it as every role."""

    kind: str  # "command", "envelope", "text", "binary"
    body: Any

    def frame(self, command_id: str) -> str | bytes:
        if self.kind == "binary":
            return bytes(self.body)
        if self.kind == "text":
            return str(self.body)
        if self.kind == "command":
            return json.dumps({"id": command_id, **self.body})
        return json.dumps(self.body)


socket_message = st.sampled_from(["command"] * 6 + ["envelope", "text", "binary"]).flatmap(
    lambda kind: st.builds(
        Message,
        st.just(kind),
        {
            "command": command(),
            "envelope": junk_envelope,
            "text": junk_text,
            "binary": st.binary(max_size=64),
        }[kind],
    )
)


@dataclass(frozen=True)
class Post:
    """One form post; the fuzzer sends it as every role."""

    route: int
    params: tuple[str, ...]
    fields: tuple[tuple[str, str], ...]
    csrf: str  # "right", "none", "wrong", "twice"
    encoding: str  # "form", "multipart", "raw"
    raw: bytes


form_text = st.one_of(
    st.text(max_size=40).filter(lambda s: "\x00" not in s),
    big_text.filter(lambda s: "\x00" not in s),
    st.builds(str, IDS),
    st.sampled_from(["", " ", "yes", "no", "0", "-1", "²", "١٢", "9" * 30, "on", "\r\n"]),
)


@st.composite
def form_post(
    draw: st.DrawFn, fields_of: Callable[[int], list[str]], params_of: Callable[[int], list[str]]
) -> Post:
    routes = post_routes()
    index = draw(st.integers(0, len(routes) - 1))
    params = []
    for candidates in _route_params(routes[index], params_of(index)):
        params.append(draw(candidates))
    names = fields_of(index)
    chosen = draw(st.lists(st.sampled_from(names), unique=True)) if names else []
    extra = draw(st.lists(st.text(min_size=1, max_size=12), max_size=2))
    fields = tuple((name, draw(form_text)) for name in [*chosen, *extra] if name != "csrf")
    return Post(
        index,
        tuple(params),
        fields,
        draw(st.sampled_from(["right"] * 5 + ["none", "wrong", "twice"])),
        draw(st.sampled_from(["form"] * 4 + ["multipart", "raw"])),
        draw(st.binary(max_size=80)),
    )


def _route_params(route: Route, seen: list[str]) -> list[st.SearchStrategy[str]]:
    out: list[st.SearchStrategy[str]] = []
    for name, convertor in route.param_convertors.items():
        if isinstance(convertor, IntegerConvertor):
            out.append(st.one_of(st.builds(str, IDS), st.sampled_from(["0", "9" * 20, "9" * 40])))
        else:
            out.append(
                st.one_of(
                    st.sampled_from(seen) if seen else st.just("x"),
                    st.text(min_size=1, max_size=20).filter(lambda s: "/" not in s),
                )
            )
        del name
    return out


# -- running batches -----------------------------------------------------------------------


@dataclass
class Outcome:
    accepted: list[str] = field(default_factory=list)  # what was accepted and may change state
    sent: int = 0


def _action_of(message: Message) -> str | None:
    body = message.body
    if message.kind in ("command", "envelope") and isinstance(body, dict):
        action = body.get("action")
        return action if isinstance(action, str) else None
    return None


def check_reply(role: str, message: Message, command_id: str, reply: dict[str, Any]) -> None:
    assert isinstance(reply, dict) and isinstance(reply.get("ok"), bool), reply
    assert isinstance(reply.get("server_time"), float), reply
    unreadable = not reply["ok"] and reply["error"]["code"] == "protocol.bad_json"
    if message.kind == "command":
        # Unreadable text (half a surrogate pair, say) has no id the server could read.
        assert reply["id"] == (None if unreadable else command_id), (reply, message)
    if reply["ok"]:
        return
    error = reply["error"]
    assert error["code"] in MESSAGES and error["code"] != "server.error", (error, message)
    assert isinstance(error["message"], str) and error["message"], (error, message)
    action = REGISTRY.get(str(_action_of(message)))
    readable = message.kind == "command" and not unreadable
    if readable and action is not None and role not in action.roles:
        expected = "auth.sign_in_required" if role == "anonymous" else "auth.forbidden"
        assert error["code"] == expected, (error, message)


async def oversized(hall: FuzzHall, frame: str | bytes) -> None:
    """A frame over the limit closes its (anonymous) socket with 1009."""
    visitor = Browserless(hall.server)
    peer = await visitor.socket()
    try:
        await peer.connection.send(frame)
        closed = await peer.wait_closed(10)
        assert isinstance(closed, ConnectionClosed) and closed.rcvd is not None, closed
        assert closed.rcvd.code == 1009, closed
    finally:
        await peer.close()
        await visitor.aclose()


def secrets_kept_from(hall: FuzzHall, role: str) -> tuple[str, ...]:
    """What a role may never be told, whatever it sends: other candidates' names and the
    notes of booths that are not its own (the fuzzer's advisor is at booth A)."""
    booth_b_notes = f"geheim-{hall.world.booth_b}"
    booth_a_notes = f"geheim-{hall.world.booth_a}"
    if role in ("anonymous", "candidate"):
        return ("Ander 0", "Ander 1", "Ander 2", booth_a_notes, booth_b_notes)
    if role == "advisor":
        return ("Ander 0", "Ander 1", booth_b_notes)
    return ()


async def drain(peer: Peer) -> None:
    await asyncio.sleep(0)
    while True:
        try:
            await peer.orphan_reply(timeout=0.01)
        except TimeoutError:
            return


async def run_socket_batch(hall: FuzzHall, batch: list[Message], first: int) -> Outcome:
    outcome = Outcome()
    frames: dict[str, list[tuple[Message, str, str | bytes]]] = {r: [] for r in hall.sockets}
    n = first
    for message in batch:
        for role in hall.sockets:
            n += 1
            command_id = f"f{n}"
            frame = message.frame(command_id)
            size = len(frame) if isinstance(frame, bytes) else len(frame.encode("utf-8", "replace"))
            if size > WS_MAX_BYTES:
                await oversized(hall, frame)
                outcome.sent += 1
                break  # once is enough: it never reaches a role
            frames[role].append((message, command_id, frame))

    async def one_role(role: Role, items: list[tuple[Message, str, str | bytes]]) -> None:
        assert role.peer is not None
        if hall.dirty:
            # Replies left over from a batch that failed half-way (Hypothesis runs a failing
            # batch again to report it) are not this batch's.
            await drain(role.peer)
        for _, _, frame in items:
            await role.peer.connection.send(frame)
        for message, command_id, _ in items:
            reply = await role.peer.orphan_reply(timeout=30)
            check_reply(role.name, message, command_id, reply)
            if reply["ok"]:
                told = json.dumps(reply, ensure_ascii=False)
                for secret in secrets_kept_from(hall, role.name):
                    assert secret not in told, (role.name, secret, message, told[:2000])
            action = _action_of(message)
            if reply["ok"] and action not in READ_ONLY:
                outcome.accepted.append(f"{role.name} {action}")
        outcome.sent += len(items)
        heard = json.dumps(role.peer.events, ensure_ascii=False)
        role.peer.events.clear()
        for secret in secrets_kept_from(hall, role.name):
            assert secret not in heard, (role.name, secret, heard[:2000])

        # Still answering, promptly and in order.
        synced = await role.peer.send("clock.sync", timeout=10)
        assert synced["ok"], synced

    hall.dirty = True
    await asyncio.gather(*(one_role(hall.sockets[r], items) for r, items in frames.items()))
    hall.dirty = False
    return outcome


def route_url(route: Route, params: tuple[str, ...]) -> str:
    values = iter(params)
    return _PARAM.sub(lambda m: quote(next(values), safe=""), route.path)


async def run_form_batch(hall: FuzzHall, posts: list[Post], http: httpx.AsyncClient) -> Outcome:
    outcome = Outcome()
    routes = post_routes()

    async def one(name: str, post: Post) -> None:
        role = hall.forms[name]
        url = route_url(routes[post.route], post.params)
        tokens = {
            "right": [role.csrf],
            "none": [],
            "wrong": [role.csrf[::-1] or "x"],
            "twice": [role.csrf, "x"],
        }[post.csrf]
        pairs = [("csrf", t) for t in tokens] + list(post.fields)
        headers = {"Cookie": role.visitor.cookie_header(), "Origin": hall.server.url}
        if post.encoding == "raw":
            body = "&".join(f"csrf={quote(t)}" for t in tokens).encode() + b"&" + post.raw
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            response = await http.post(url, content=body, headers=headers)
        elif post.encoding == "multipart":
            files = {"upload": ("x.txt", post.raw, "text/plain")}
            response = await http.post(url, data=dict(pairs), files=files, headers=headers)
        else:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            response = await http.post(url, content=urlencode(pairs).encode(), headers=headers)
        http.cookies.clear()
        outcome.sent += 1
        assert response.status_code < 500, (response.status_code, post, url, response.text[-2000:])
        if post.csrf in ("none", "wrong") and routes[post.route].path_regex.match(url):
            assert response.status_code == 403, (response.status_code, post, url)
        location = response.headers.get("location", "")
        refused = response.status_code >= 400 or (
            300 <= response.status_code < 400 and location.startswith(SIGN_IN_PAGES)
        )
        if not refused:
            outcome.accepted.append(
                f"{name} POST {routes[post.route].path} -> {response.status_code}"
            )

    semaphore = asyncio.Semaphore(4)

    async def bounded(name: str, post: Post) -> None:
        async with semaphore:
            await one(name, post)

    await asyncio.gather(*(bounded(name, p) for p in posts for name in hall.forms))
    return outcome


async def clock_sync_all(hall: FuzzHall) -> list[bool]:
    peers = [role.peer for role in hall.sockets.values() if role.peer is not None]
    replies = await asyncio.gather(*(peer.send("clock.sync") for peer in peers))
    return [reply["ok"] for reply in replies] + [len(peers) == len(hall.sockets)]


async def renew_form_roles(hall: FuzzHall) -> int:
    """A role whose session a form ended (signing out, erasing) signs in again."""
    renewed = 0
    for name, role in list(hall.forms.items()):
        if role.session_id is None:
            continue
        if hall.value("SELECT 1 FROM sessions WHERE id = ?", (role.session_id,)) is None:
            await role.visitor.aclose()
            hall.forms[name] = await sign_in(
                hall.server, hall.db_path, name, f"form{renewed}-{time.monotonic_ns()}"
            )
            renewed += 1
    return renewed


def compare(before: dict[str, list[Any]], after: dict[str, list[Any]], what: Any) -> None:
    changed = {
        t: (before.get(t), after.get(t))
        for t in set(before) | set(after)
        if before.get(t) != after.get(t)
    }
    assert not changed, ("refused input changed stored state", changed, what)


# -- the tests ---------------------------------------------------------------------------


def _params_seen(hall: FuzzHall) -> Callable[[int], list[str]]:
    def seen(index: int) -> list[str]:
        route = post_routes()[index]
        values = set()
        for action in hall.form_fields:
            match = route.path_regex.match(action)
            if match:
                values.update(str(v) for v in match.groupdict().values())
        return sorted(values)

    return seen


def _fields_of(hall: FuzzHall) -> Callable[[int], list[str]]:
    def names(index: int) -> list[str]:
        route = post_routes()[index]
        found: set[str] = set()
        for action, fields in hall.form_fields.items():
            if route.path_regex.match(action):
                found |= fields
        return sorted(found)

    return names


FUZZ_SETTINGS = settings(
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


# Hypothesis warns that a batch of fifty messages makes a long description; that is fine.
@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")
def test_fuzz_every_action_and_form(fuzz_hall: FuzzHall) -> None:
    hall = fuzz_hall
    tally: Counter[str] = Counter()
    log_seen = [0]

    def log_clean() -> None:
        text = hall.server.log()
        new, log_seen[0] = text[log_seen[0] :], len(text)
        assert "Traceback" not in new, new[-4000:]

    started = time.monotonic()

    # While Hypothesis makes the next batch, the server works on this one; each batch's
    # outcome is checked before the next is sent (and the last one after the loop).
    running: list[tuple[Future[Outcome], list[Message], dict[str, list[Any]]]] = []

    def settle() -> None:
        if not running:
            return
        future, batch, before = running.pop()
        outcome = future.result(120)
        tally["socket"] += outcome.sent
        tally["socket inputs"] += len(batch)
        tally["socket batches"] += 1
        log_clean()
        if outcome.accepted:
            tally["socket accepted"] += len(outcome.accepted)
            hall.invariants()
        else:
            compare(before, hall.table_dump(), batch)
            tally["socket batches all refused"] += 1

    @settings(FUZZ_SETTINGS, max_examples=SOCKET_BATCHES)
    @given(st.lists(socket_message, min_size=SOCKET_BATCH, max_size=SOCKET_BATCH))
    def socket_batches(batch: list[Message]) -> None:
        settle()
        before = hall.table_dump()
        first = tally["socket"] + tally["socket sent ahead"]
        future = hall.loop.submit(run_socket_batch(hall, batch, first))
        tally["socket sent ahead"] += len(batch) * len(ROLES)
        running.append((future, batch, before))

    socket_batches()
    settle()
    socket_seconds = time.monotonic() - started

    started = time.monotonic()
    seen, names = _params_seen(hall), _fields_of(hall)

    async def client() -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=hall.server.url, follow_redirects=False, timeout=30)

    http = hall.loop.run(client())
    try:

        @settings(FUZZ_SETTINGS, max_examples=FORM_BATCHES)
        @given(st.lists(form_post(names, seen), min_size=FORM_BATCH, max_size=FORM_BATCH))
        def form_batches(posts: list[Post]) -> None:
            before = hall.table_dump()
            outcome = hall.loop.run(run_form_batch(hall, posts, http))
            tally["forms"] += outcome.sent
            tally["form inputs"] += len(posts)
            tally["form batches"] += 1
            log_clean()
            if outcome.accepted:
                tally["forms accepted"] += len(outcome.accepted)
                hall.invariants()
                tally["form roles signed in again"] += hall.loop.run(renew_form_roles(hall))
            else:
                compare(before, hall.table_dump(), posts)
                tally["form batches all refused"] += 1
            # The server still answers every role on its socket.
            assert all(hall.loop.run(clock_sync_all(hall)))

        form_batches()
    finally:
        hall.loop.run(http.aclose())
    form_seconds = time.monotonic() - started
    hall.log_is_clean()
    total = tally["socket"] + tally["forms"]
    print(
        f"\nfuzzed {total} messages: {tally['socket']} socket messages in "
        f"{tally['socket batches']} batches ({tally['socket batches all refused']} all refused "
        f"and compared, {tally['socket accepted']} accepted changes) in {socket_seconds:.1f} s; "
        f"{tally['forms']} form posts in {tally['form batches']} batches "
        f"({tally['form batches all refused']} all refused and compared, "
        f"{tally['forms accepted']} accepted, {tally['form roles signed in again']} sign-ins "
        f"again) in {form_seconds:.1f} s; server errors 0, tracebacks 0, "
        f"state changes from refused input 0"
    )
    assert total >= 100_000


# -- what the fuzzer found, and the frames every server must survive -------------------------


async def _refused_changes_nothing(
    hall: FuzzHall, role: str, frames: list[str | bytes]
) -> list[dict[str, Any]]:
    """Send frames as a role; every one gets a refusal and nothing is stored."""
    peer = hall.sockets[role].peer
    assert peer is not None
    before = hall.table_dump()
    for frame in frames:
        await peer.connection.send(frame)
    replies = [await peer.orphan_reply(timeout=10) for _ in frames]
    assert all(not r["ok"] for r in replies), replies
    assert (await peer.send("clock.sync"))["ok"]
    assert hall.table_dump() == before
    return replies


def test_half_a_surrogate_pair_is_unreadable_not_a_crash(fuzz_hall: FuzzHall) -> None:
    """JSON can carry half of a surrogate pair (\\ud800), which is no character: it can be
    neither stored nor sent back. Such a frame is refused as unreadable, wherever it is."""
    frames: list[str | bytes] = [
        '{"id": "\\ud800", "action": "clock.sync"}',
        '{"id": "s1", "action": "request.create", "data": {"\\udabc": 1}}',
        '{"id": "s2", "action": "request.create", "data": {"booth_id": 1, '
        '"client_key": "k\\udc00", "question": "x"}}',
        '{"id": "s3", "action": "request.\\ud800"}',
    ]
    replies = fuzz_hall.loop.run(_refused_changes_nothing(fuzz_hall, "candidate", frames))
    assert [r["error"]["code"] for r in replies] == ["protocol.bad_json"] * 4
    assert all(r["id"] is None for r in replies)
    # A whole pair is a character like any other.
    peer = fuzz_hall.sockets["anonymous"].peer
    assert peer is not None
    fuzz_hall.loop.run(peer.connection.send('{"id": "\\ud83d\\ude00", "action": "clock.sync"}'))
    reply = fuzz_hall.loop.run(peer.orphan_reply())
    assert reply["ok"] and reply["id"] == "\U0001f600"
    fuzz_hall.log_is_clean()


def test_unreadable_frames_get_an_error_and_the_connection_stays(fuzz_hall: FuzzHall) -> None:
    frames: list[str | bytes] = [
        "not json",
        '{"id": "x"',
        b"\x00\x01binary",
        "[1, 2, 3]",
        '{"id": 7, "action": "clock.sync"}',
        '{"id": "x", "action": "clock.sync", "data": [] }',
        '{"id": "x", "action": "clock.sync", "extra": 1}',
        nested(100, "list"),
        nested(20_000, "list"),
        '{"id": "n", "action": "clock.sync", "data": {"x": ' + nested(9_000, "dict") + "}}",
        '{"id": "n", "action": "request.create", "data": {"booth_id": ' + nested(50, "list") + "}}",
        '{"id": "big", "action": "clock.sync", "data": {"n": ' + "9" * 5000 + "}}",
    ]
    replies = fuzz_hall.loop.run(_refused_changes_nothing(fuzz_hall, "candidate", frames))
    codes = [r["error"]["code"] for r in replies]
    assert codes == [
        "protocol.bad_json",
        "protocol.bad_json",
        "protocol.bad_envelope",
        "protocol.bad_envelope",
        "protocol.bad_envelope",
        "protocol.bad_envelope",
        "protocol.bad_envelope",
        "protocol.bad_envelope",
        "protocol.bad_json",
        "protocol.bad_json",
        "input.invalid",
        "protocol.bad_json",
    ], codes
    fuzz_hall.log_is_clean()


def test_oversized_frames_close_with_1009(fuzz_hall: FuzzHall) -> None:
    for frame in ("x" * (WS_MAX_BYTES + 1), b"\x00" * (WS_MAX_BYTES + 1)):
        fuzz_hall.loop.run(oversized(fuzz_hall, frame))
    # The server goes on for everyone else.
    peer = fuzz_hall.sockets["moderator"].peer
    assert peer is not None
    assert fuzz_hall.loop.run(peer.send("clock.sync"))["ok"]
    fuzz_hall.log_is_clean()


def _post(hall: FuzzHall, role: str, path: str, fields: list[tuple[str, str]]) -> httpx.Response:
    async def post() -> httpx.Response:
        visitor = hall.forms[role].visitor
        headers = {"Cookie": visitor.cookie_header(), "Content-Type": FORM_TYPE}
        async with httpx.AsyncClient(base_url=hall.server.url) as http:
            return await http.post(path, content=urlencode(fields).encode(), headers=headers)

    return hall.loop.run(post())


FORM_TYPE = "application/x-www-form-urlencoded"


@pytest.mark.parametrize("route", post_routes(), ids=lambda r: r.path)
def test_every_form_without_or_with_a_wrong_csrf_token_is_refused(
    fuzz_hall: FuzzHall, route: Route
) -> None:
    path = fill_path(route.path, {})
    for role in ROLES:
        right = fuzz_hall.forms[role].csrf
        for tokens in ([], ["wrong"], [right[:-1]], [""]):
            before = fuzz_hall.table_dump()
            response = _post(fuzz_hall, role, path, [("csrf", t) for t in tokens])
            assert response.status_code == 403, (role, tokens, response.status_code)
            assert "Je formulier is verlopen" in response.text
            assert fuzz_hall.table_dump() == before, (role, path)
    fuzz_hall.log_is_clean()


def test_ids_too_long_for_the_database_match_no_page(fuzz_hall: FuzzHall) -> None:
    """Path ids of any length used to reach the database, which cannot hold them (500)."""
    huge = "9" * 20
    for route in post_routes():
        if "{" not in route.path:
            continue
        path = _PARAM.sub(huge, route.path)
        for role in ROLES:
            before = fuzz_hall.table_dump()
            csrf = fuzz_hall.forms[role].csrf
            response = _post(fuzz_hall, role, path, [("csrf", csrf), ("notes", "x")])
            assert response.status_code == 404, (role, path, response.status_code)
            assert fuzz_hall.table_dump() == before

    async def pages() -> list[int]:
        visitor = fuzz_hall.forms["moderator"].visitor
        return [
            (await visitor.http.get(_PARAM.sub(huge, r.path))).status_code
            for r in get_routes()
            if "{" in r.path and ":int" in r.path
        ]

    assert set(fuzz_hall.loop.run(pages())) == {404}
    fuzz_hall.log_is_clean()


def test_form_ids_in_other_digits_are_refused(fuzz_hall: FuzzHall) -> None:
    """'²' is a digit to Python's isdigit() but no number to int(): it used to be a 500."""
    for role in ("candidate", "advisor"):
        csrf = fuzz_hall.forms[role].csrf
        for path, name in (
            ("/mijn-verzoek/annuleren", "request_id"),
            ("/adviseur/accepteren", "request_id"),
            ("/adviseur/beeindigen", "conversation_id"),
            ("/inzoomen/1", "advisor_id"),
        ):
            for value in ("²", "¹²", "٣"):
                before = fuzz_hall.table_dump()
                response = _post(fuzz_hall, role, path, [("csrf", csrf), (name, value)])
                assert 400 <= response.status_code < 500, (role, path, value, response)
                assert fuzz_hall.table_dump() == before
    fuzz_hall.log_is_clean()


def give_follow_ups(path: Path, world: World, forms: dict[str, Role]) -> None:
    """A follow-up of the form candidate with advisor A1 and an availability period of A1,
    so that the pages show the forms that change them (and the fuzzer finds them)."""
    conn = sqlite3.connect(path, timeout=10)
    try:
        candidate_id = conn.execute(
            "SELECT candidate_id FROM sessions WHERE id = ?", (forms["candidate"].session_id,)
        ).fetchone()[0]
        later = time.time() + 2 * 86400
        conn.execute(
            "INSERT INTO follow_ups (booth_id, advisor_id, candidate_id, starts_at, minutes, "
            "mode, location, message, status, created_at, sequence, updated_at) "
            "VALUES (?, ?, ?, ?, 30, 'on_site', 'Stationsplein 1', 'Fuzz', 'booked', ?, 0, ?)",
            (world.booth_a, world.advisor_a1, candidate_id, later, later - 86400, later - 86400),
        )
        conn.execute(
            "INSERT INTO advisor_availability (staff_id, starts_at, ends_at, created_at) "
            "VALUES (?, ?, ?, ?)",
            (world.advisor_a1, later + 3600, later + 7200, later - 86400),
        )
        conn.commit()
    finally:
        conn.close()
