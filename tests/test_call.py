"""The call on the hall's own page, over the wire: a real server on loopback, real
WebSockets, a real SQLite file. Who may open a call and pass signalling messages, what is
checked, what reaches whom, and that a call ends with its conversation. (What a person sees
and hears in it is tested in real Chromium: tests/test_call_browser.py.)"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.core.errors import DomainError
from app.domain import calls
from app.domain.accounts import Staff
from app.domain.event import Event, load_event
from app.domain.video import CALL_PATH, appointment_link, meeting_for
from app.storage.sqlite import _statements
from tests.livekit import Browserless, LiveServer, Peer, World, db_value, seed_world

OFFER = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


@dataclass
class Scene:
    server: LiveServer
    world: World
    db_path: Path
    candidate: Browserless
    advisor: Browserless
    c: Peer
    a: Peer
    token: str
    conversation_id: int
    clients: list[Browserless]

    def client(self) -> Browserless:
        visitor = Browserless(self.server)
        self.clients.append(visitor)
        return visitor


@pytest.fixture
async def scene(tmp_path: Path) -> AsyncIterator[Scene]:
    """A running conversation on an event with built-in video."""
    path = tmp_path / "call.db"
    world = await seed_world(path, video_provider="builtin")
    server = LiveServer(path, tmp_path / "call-server.log")
    server.start()
    candidate, advisor = Browserless(server), Browserless(server)
    clients = [candidate, advisor]
    peers: list[Peer] = []
    try:
        await candidate.sign_in_candidate("Sanne de Vries", "sanne@example.nl")
        await advisor.log_in("a1@test.example")
        c, a = await candidate.socket(), await advisor.socket()
        peers += [c, a]
        made = await c.send("request.create", {"booth_id": world.booth_a, "client_key": "k1"})
        assert made["ok"], made
        taken = await a.send("request.accept", {"request_id": made["data"]["request_id"]})
        assert taken["ok"], taken
        mine = await c.next_event("me.state", where=lambda d: d.get("conversation"))
        url = mine["conversation"]["video_url"]
        assert mine["conversation"]["builtin_call"] is True
        assert url.startswith(CALL_PATH)
        token = url[len(CALL_PATH) :]
        yield Scene(
            server,
            world,
            path,
            candidate,
            advisor,
            c,
            a,
            token,
            taken["data"]["conversation_id"],
            clients,
        )
    finally:
        for peer in peers:
            await peer.close()
        for visitor in clients:
            await visitor.aclose()
        server.stop()


async def quiet(peer: Peer, name: str, seconds: float = 0.5) -> list[dict[str, object]]:
    """The events of this name that arrived within a short while (none expected)."""
    await asyncio.sleep(seconds)
    return [frame for frame in peer.events if frame["event"] == name]


def error_code(reply: dict[str, object]) -> str:
    assert reply["ok"] is False, reply
    error = reply["error"]
    assert isinstance(error, dict)
    return str(error["code"])


# -- the call page -------------------------------------------------------------------------


async def test_both_participants_get_the_same_call_page_and_opening_it_is_joining(
    scene: Scene,
) -> None:
    console = await scene.a.next_event("console.state", where=lambda d: d.get("conversation"))
    assert console["conversation"]["video_url"] == f"{CALL_PATH}{scene.token}"
    assert console["conversation"]["builtin_call"] is True
    # 32 random bytes, URL-safe: unguessable.
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", scene.token)
    assert db_value(scene.db_path, "SELECT joined_at FROM conversations") is None

    page = await scene.candidate.http.get(f"{CALL_PATH}{scene.token}")
    assert page.status_code == 200
    assert f'data-token="{scene.token}"' in page.text
    assert 'data-role="candidate"' in page.text
    assert re.search(r'<script type="module" src="/static/js/call\.[0-9a-f]+\.js"', page.text)
    # Being on the call page is being in the call.
    assert db_value(scene.db_path, "SELECT joined_at FROM conversations") is not None
    # The advisor sees at once that the candidate is in.
    await scene.a.next_event(
        "console.state", where=lambda d: (d["conversation"] or {}).get("joined_at") is not None
    )

    staff_page = await scene.advisor.http.get(f"{CALL_PATH}{scene.token}")
    assert staff_page.status_code == 200
    assert 'data-role="advisor"' in staff_page.text
    assert "Sanne de Vries" in staff_page.text


async def test_nobody_else_learns_anything_about_the_call(scene: Scene) -> None:
    third = scene.client()
    await third.sign_in_candidate("Derde Kandidaat", "derde@example.nl")
    other_advisor = scene.client()
    await other_advisor.log_in("b1@test.example")
    moderator = scene.client()
    await moderator.log_in("mod@test.example")
    for visitor in (third, other_advisor, moderator):
        real = await visitor.http.get(f"{CALL_PATH}{scene.token}")
        made_up = await visitor.http.get(f"{CALL_PATH}{'x' * 43}")
        assert real.status_code == made_up.status_code == 404
        assert "Dit gesprek bestaat niet" in real.text
        # The same page, but for the token itself (in the link to the other language).
        assert real.text.replace(scene.token, "T") == made_up.text.replace("x" * 43, "T")
    anonymous = scene.client()
    asked = await anonymous.http.get(f"{CALL_PATH}{scene.token}")
    assert asked.status_code == 303
    assert asked.headers["location"].startswith("/aanmelden?next=")
    assert db_value(scene.db_path, "SELECT joined_at FROM conversations") is None


# -- signalling ----------------------------------------------------------------------------


async def test_signals_pass_to_the_other_participant_only(scene: Scene) -> None:
    third = scene.client()
    await third.sign_in_candidate("Derde Kandidaat", "derde@example.nl")
    t = await third.socket()
    try:
        sent = await scene.a.send(
            "call.signal", {"token": scene.token, "kind": "offer", "peer": "adv1", "sdp": OFFER}
        )
        assert sent["ok"], sent
        heard = await scene.c.next_event("call.signal")
        assert heard == {
            "token": scene.token,
            "from": "advisor",
            "kind": "offer",
            "peer": "adv1",
            "sdp": OFFER,
        }
        sent = await scene.c.send(
            "call.signal",
            {
                "token": scene.token,
                "kind": "candidate",
                "peer": "cand1",
                "to": "adv1",
                "candidate": "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host",
                "sdp_mid": "0",
            },
        )
        assert sent["ok"], sent
        heard = await scene.a.next_event("call.signal")
        assert heard["kind"] == "candidate" and heard["to"] == "adv1"
        assert heard["from"] == "candidate" and heard["sdp_mid"] == "0"
        # Nobody hears their own signals, and nobody else hears any.
        assert await quiet(t, "call.signal") == []
        assert [f for f in scene.c.events if f["event"] == "call.signal"] == []
        assert [f for f in scene.a.events if f["event"] == "call.signal"] == []
    finally:
        await t.close()


async def test_a_third_candidate_cannot_signal_and_nothing_reaches_the_call(scene: Scene) -> None:
    third = scene.client()
    await third.sign_in_candidate("Derde Kandidaat", "derde@example.nl")
    t = await third.socket()
    other_advisor = scene.client()
    await other_advisor.log_in("b1@test.example")
    o = await other_advisor.socket()
    moderator = scene.client()
    await moderator.log_in("mod@test.example")
    m = await moderator.socket()
    try:
        hello = {"token": scene.token, "kind": "hello", "peer": "intruder"}
        made_up = {**hello, "token": "y" * 43}
        for peer in (t, o):
            assert error_code(await peer.send("call.signal", hello)) == "call.not_found"
            assert error_code(await peer.send("call.signal", made_up)) == "call.not_found"
            fallback = {"token": scene.token, "choice": "external"}
            assert error_code(await peer.send("call.fallback", fallback)) == "call.not_found"
        assert error_code(await m.send("call.signal", hello)) == "auth.forbidden"
        phone = {"token": scene.token, "phone": "0612345678", "agree": True}
        assert error_code(await t.send("call.phone_me", phone)) == "call.not_found"
        assert await quiet(scene.c, "call.signal") == []
        assert [f for f in scene.a.events if f["event"] in ("call.signal", "call.fallback")] == []
        assert db_value(scene.db_path, "SELECT callback_phone FROM conversations") == ""
    finally:
        for peer in (t, o, m):
            await peer.close()


@pytest.mark.parametrize(
    ("data", "code", "field"),
    [
        ({"kind": "shout", "peer": "p"}, "input.bad_choice", "kind"),
        ({"kind": "offer", "peer": "p"}, "input.required", "sdp"),
        ({"kind": "answer", "peer": "p", "sdp": ""}, "input.required", "sdp"),
        ({"kind": "offer", "peer": "p", "sdp": "v" * (calls.SDP_MAX + 1)}, "input.too_long", "sdp"),
        ({"kind": "candidate", "peer": "p"}, "input.required", "candidate"),
        (
            {"kind": "media", "peer": "p", "audio": True, "audio_only": True},
            "input.required",
            "video",
        ),
        ({"kind": "media", "peer": "p", "audio": "yes"}, "input.wrong_type", "audio"),
        ({"kind": "hello", "peer": ""}, "input.required", "peer"),
        ({"kind": "hello", "peer": "p" * (calls.PEER_MAX + 1)}, "input.too_long", "peer"),
        ({"kind": "hello", "peer": "p", "secret": 1}, "input.invalid", "secret"),
    ],
)
async def test_bad_signals_are_refused_and_passed_on_to_nobody(
    scene: Scene, data: dict[str, object], code: str, field: str
) -> None:
    reply = await scene.c.send("call.signal", {"token": scene.token, **data})
    assert error_code(reply) == "input.invalid"
    error = reply["error"]
    assert isinstance(error, dict)
    limit = calls.SDP_MAX if field == "sdp" else calls.PEER_MAX
    assert error["fields"] == {field: DomainError(code, max=limit).message()}, reply
    assert await quiet(scene.a, "call.signal", 0.3) == []


async def test_the_call_ends_with_the_conversation(scene: Scene) -> None:
    ended = await scene.a.send("conversation.end", {"conversation_id": scene.conversation_id})
    assert ended["ok"], ended
    hello = {"token": scene.token, "kind": "hello", "peer": "p"}
    assert error_code(await scene.c.send("call.signal", hello)) == "call.ended"
    assert error_code(await scene.a.send("call.signal", hello)) == "call.ended"
    phone = {"token": scene.token, "phone": "0612345678", "agree": True}
    assert error_code(await scene.c.send("call.phone_me", phone)) == "call.ended"
    page = await scene.candidate.http.get(f"{CALL_PATH}{scene.token}")
    assert page.status_code == 200
    assert "Het gesprek is afgelopen." in page.text
    assert not re.search(r'<script type="module" src="/static/js/call\.', page.text)
    # Opening it after the end is no joining.
    assert db_value(scene.db_path, "SELECT joined_at FROM conversations") is None
    await asyncio.sleep(0.3)
    assert [f for f in scene.a.events if f["event"] == "call.signal"] == []


# -- when video does not work --------------------------------------------------------------


async def test_the_external_room_is_told_to_the_other_side(scene: Scene) -> None:
    room = db_value(scene.db_path, "SELECT room_url FROM conversations")
    assert isinstance(room, str) and room.startswith("https://meet.example.test/inzoomen-")
    chosen = await scene.c.send("call.fallback", {"token": scene.token, "choice": "external"})
    assert chosen["ok"] and chosen["data"]["url"] == room
    told = await scene.a.next_event("call.fallback")
    assert told == {"token": scene.token, "choice": "external", "url": room, "from": "candidate"}
    # This advisor has no personal link: that way out does not exist.
    personal = {"token": scene.token, "choice": "personal"}
    assert error_code(await scene.a.send("call.fallback", personal)) == "call.no_personal_link"


async def test_bel_mij_needs_a_number_and_consent_and_reaches_the_advisor_only(
    scene: Scene,
) -> None:
    base = {"token": scene.token}
    refused = await scene.c.send("call.phone_me", {**base, "phone": "0612345678", "agree": False})
    assert error_code(refused) == "call.phone_consent"
    refused = await scene.c.send("call.phone_me", {**base, "phone": "bel me", "agree": True})
    assert error_code(refused) == "input.phone"
    refused = await scene.c.send("call.phone_me", {**base, "phone": " ", "agree": True})
    assert error_code(refused) == "input.required"
    assert db_value(scene.db_path, "SELECT callback_phone FROM conversations") == ""
    assert [f for f in scene.a.events if f["event"] == "call.fallback"] == []

    asked = await scene.c.send("call.phone_me", {**base, "phone": "06 1234 5678", "agree": True})
    assert asked["ok"] and asked["data"]["phone"] == "06 1234 5678"
    told = await scene.a.next_event("call.fallback")
    assert told["choice"] == "phone" and told["phone"] == "06 1234 5678"
    assert told["name"] == "Sanne de Vries"
    page = await scene.advisor.http.get(f"{CALL_PATH}{scene.token}")
    assert 'href="tel:0612345678"' in page.text
    # Erasing their data takes the number too.
    token = await scene.candidate.csrf("/mijn-gegevens/wissen")
    erased = await scene.candidate.http.post(
        "/mijn-gegevens/wissen", data={"csrf": token, "confirm": "yes"}
    )
    assert erased.status_code == 303
    assert db_value(scene.db_path, "SELECT callback_phone FROM conversations") == ""


async def test_bel_mij_works_as_a_plain_form_with_clear_errors(scene: Scene) -> None:
    path = f"{CALL_PATH}{scene.token}"
    token = await scene.candidate.csrf(path)
    refused = await scene.candidate.http.post(
        f"{path}/bel-mij", data={"csrf": token, "phone": "0612345678"}
    )
    assert refused.status_code == 409
    assert "Geef toestemming dat de adviseur je op dit nummer belt." in refused.text
    assert db_value(scene.db_path, "SELECT callback_phone FROM conversations") == ""
    done = await scene.candidate.http.post(
        f"{path}/bel-mij", data={"csrf": token, "phone": "0612345678", "agree": "ja"}
    )
    assert done.status_code == 303 and done.headers["location"] == path
    page = await scene.candidate.http.get(path)
    assert "De adviseur belt je op 0612345678." in page.text


# -- providers -----------------------------------------------------------------------------


def _event(provider: str) -> Event:
    return Event(
        name="Beurs",
        timezone="Europe/Amsterdam",
        conversation_seconds=600,
        warning_seconds=120,
        video_provider=provider,
        video_base_url="https://meet.example.test/",
    )


def _advisor(link: str = "") -> Staff:
    return Staff(
        id=1,
        email="a@example.nl",
        name="Aisha",
        role="advisor",
        booth_id=1,
        personal_link=link,
        status="available",
        status_since=0.0,
        active=True,
    )


def test_every_provider_answers_through_the_same_interface() -> None:
    builtin = meeting_for(_event("builtin"), _advisor())
    assert builtin.call_token is not None
    assert builtin.video_url == f"{CALL_PATH}{builtin.call_token}"
    assert builtin.room_url.startswith("https://meet.example.test/inzoomen-")
    jitsi = meeting_for(_event("jitsi"), _advisor())
    assert jitsi.call_token is None
    assert jitsi.video_url.startswith("https://meet.example.test/inzoomen-")
    assert jitsi.video_url != jitsi.room_url
    personal = meeting_for(_event("personal"), _advisor("https://video.example.nl/aisha"))
    assert personal.call_token is None and personal.video_url == "https://video.example.nl/aisha"
    # Two calls never share a token or a room.
    again = meeting_for(_event("builtin"), _advisor())
    assert again.call_token != builtin.call_token and again.room_url != builtin.room_url
    # A follow-up appointment is no conversation in the hall: an external room.
    assert appointment_link(_event("builtin"), _advisor()).startswith("https://meet.example.test/")


async def test_an_existing_event_keeps_its_video_settings_when_the_schema_moves(
    tmp_path: Path,
) -> None:
    from app.storage.db import Database, migrations

    path = tmp_path / "old.db"
    connection = sqlite3.connect(path)
    connection.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT)"
    )
    for version, sql in migrations():
        if version >= 19:
            break
        for statement in _statements(sql):
            connection.execute(statement)
        connection.execute("INSERT INTO schema_migrations (version) VALUES (?)", (version,))
    connection.execute(
        "INSERT INTO event (id, name, video_provider, video_base_url, join_seconds) "
        "VALUES (1, 'Oude beurs', 'personal', 'https://meet.example.test', 90)"
    )
    connection.commit()
    connection.close()
    db = await Database.open(path)
    try:
        event = await load_event(db)
        assert (event.name, event.video_provider) == ("Oude beurs", "personal")
        assert await db.fetchvalue("SELECT join_seconds FROM event") == 90
        # The trigger that gives a conversation its join limit is back.
        assert await db.fetchvalue(
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'conversations_join_until'"
        )
        async with db.transaction() as tx:
            await tx.execute("UPDATE event SET video_provider = 'builtin'")
        assert (await load_event(db)).video_provider == "builtin"
    finally:
        await db.close()


async def test_signals_cross_between_two_workers_through_redis(
    two_workers: tuple[LiveServer, LiveServer],
    world_db: tuple[Path, World],
    people: list[Browserless],
) -> None:
    """The candidate on one worker process, the advisor on another: signalling passes
    through the shared Redis channel like every other live message."""
    path, world = world_db
    connection = sqlite3.connect(path, timeout=10)
    with connection:
        connection.execute("UPDATE event SET video_provider = 'builtin'")
    connection.close()
    a, b = two_workers
    people += [Browserless(a), Browserless(b)]
    candidate, advisor = people
    await candidate.sign_in_candidate("Twee Werkers", "twee@example.nl")
    await advisor.log_in("a1@test.example")
    c, s = await candidate.socket(), await advisor.socket()
    try:
        made = await c.send("request.create", {"booth_id": world.booth_a, "client_key": "k1"})
        request_id = made["data"]["request_id"]
        await s.next_event(
            "console.state", where=lambda d: any(r["request_id"] == request_id for r in d["queue"])
        )
        assert (await s.send("request.accept", {"request_id": request_id}))["ok"]
        mine = await c.next_event("me.state", where=lambda d: d["conversation"] is not None)
        token = mine["conversation"]["video_url"][len(CALL_PATH) :]
        offer = {"token": token, "kind": "offer", "peer": "adv1", "sdp": OFFER}
        assert (await s.send("call.signal", offer))["ok"]
        heard = await c.next_event("call.signal")
        assert heard["sdp"] == OFFER and heard["from"] == "advisor"
        answer = {"token": token, "kind": "answer", "peer": "cand1", "to": "adv1", "sdp": OFFER}
        assert (await c.send("call.signal", answer))["ok"]
        heard = await s.next_event("call.signal")
        assert heard["kind"] == "answer" and heard["to"] == "adv1"
    finally:
        await c.close()
        await s.close()
