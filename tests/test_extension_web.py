"""Extending a conversation against a real server on loopback: over the WebSocket and by the
console's form (without scripts). Both participants' sockets hear the new end at once;
refusals (too early, people waiting, not the advisor's own) leave ``ends_at`` unchanged; the
moderator's permission lets it through and is in the audit log."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from app.core.errors import MESSAGES
from tests.livekit import Browserless, LiveServer, Peer, World, csrf_from, seed_world

# Conversations of 60 s with the warning at 57 s left: the warning comes after 3 s.
LENGTH = 60
WARNING = 57


@pytest.fixture
async def hall(tmp_path: Path) -> AsyncIterator[tuple[LiveServer, World]]:
    path = tmp_path / "extend.db"
    world = await seed_world(path, conversation_seconds=LENGTH, warning_seconds=WARNING)
    live = LiveServer(path, tmp_path / "extend-server.log")
    live.start()
    try:
        yield live, world
    finally:
        live.stop()


@pytest.fixture
async def people() -> AsyncIterator[list[Browserless]]:
    made: list[Browserless] = []
    yield made
    for visitor in made:
        await visitor.aclose()


def read(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def conversation_row(path: Path, conversation_id: int) -> tuple[Any, ...]:
    rows = read(
        path,
        "SELECT ends_at, extended_seconds, warned_at, time_up_at, extension_allowed_by "
        "FROM conversations WHERE id = ?",
        (conversation_id,),
    )
    return rows[0]


async def person(server: LiveServer, people: list[Browserless]) -> Browserless:
    visitor = Browserless(server)
    people.append(visitor)
    return visitor


async def candidate(
    server: LiveServer, people: list[Browserless], booth_id: int, name: str
) -> tuple[Peer, int]:
    visitor = await person(server, people)
    await visitor.sign_in_candidate(name, f"{name.split()[0].lower()}@example.nl")
    peer = await visitor.socket()
    made = await peer.send("request.create", {"booth_id": booth_id, "client_key": name})
    assert made["ok"], made
    return peer, made["data"]["request_id"]


async def staff(server: LiveServer, people: list[Browserless], email: str) -> Browserless:
    visitor = await person(server, people)
    await visitor.log_in(email)
    return visitor


async def talking(
    server: LiveServer, world: World, people: list[Browserless]
) -> tuple[Browserless, Peer, Peer, int]:
    """Advisor A1 in a conversation with Sanne, both connected; the warning was told."""
    a1 = await staff(server, people, "a1@test.example")
    console = await a1.socket()
    sanne, request_id = await candidate(server, people, world.booth_a, "Sanne de Vries")
    started = await console.send("request.accept", {"request_id": request_id})
    assert started["ok"], started
    return a1, console, sanne, started["data"]["conversation_id"]


async def test_the_advisor_extends_over_the_socket_and_both_hear_the_new_end(
    hall: tuple[LiveServer, World], people: list[Browserless]
) -> None:
    server, world = hall
    path = server.db_path
    a1, console, sanne, conversation_id = await talking(server, world, people)
    first_end = conversation_row(path, conversation_id)[0]

    # Before the warning: too early, nothing changes.
    early = await console.send("conversation.extend", {"conversation_id": conversation_id})
    assert early["error"]["code"] == "conversation.extension_too_early", early
    assert conversation_row(path, conversation_id)[:2] == (first_end, 0)

    # At the warning both hear it; the console state offers 5 minutes and the follow-up.
    for peer in (console, sanne):
        warned = await peer.next_event("conversation.warning", timeout=10)
        assert warned == {"id": conversation_id, "ends_at": first_end}
    page = (await a1.http.get("/adviseur")).text
    assert 'action="/adviseur/verlengen"' in page and "Verlengen met 5 minuten" in page
    assert f'href="/adviseur/vervolgafspraak?gesprek={conversation_id}"' in page
    assert re.search(r'data-testid="end-choices"(?! hidden)', page)

    # Eva waits at the booth for anyone: refused with how many wait; unchanged.
    _eva, _ = await candidate(server, people, world.booth_a, "Eva Eerder")
    waiting = await console.send("conversation.extend", {"conversation_id": conversation_id})
    assert waiting["error"]["code"] == "conversation.extension_not_allowed", waiting
    assert "wachtenden: 1" in waiting["error"]["message"]
    # Another booth's advisor cannot extend it (not theirs); a candidate is forbidden.
    b1 = await (await staff(server, people, "b1@test.example")).socket()
    other = await b1.send("conversation.extend", {"conversation_id": conversation_id})
    assert other["error"]["code"] == "conversation.not_found"
    as_candidate = await sanne.send("conversation.extend", {"conversation_id": conversation_id})
    assert as_candidate["error"]["code"] == "auth.forbidden"
    row = conversation_row(path, conversation_id)
    assert row[:2] == (first_end, 0) and row[2] is not None and row[4] is None

    # The moderator allows it for this conversation; the audit log says who.
    moderator = await (await staff(server, people, "mod@test.example")).socket()
    allowed = await moderator.send(
        "conversation.allow_extension", {"conversation_id": conversation_id}
    )
    assert allowed["ok"], allowed
    assert read(
        path,
        "SELECT staff_id, subject FROM audit_log WHERE action = 'conversation.allow_extension'",
    ) == [(world.moderator, f"conversation:{conversation_id}")]
    again = await moderator.send(
        "conversation.allow_extension", {"conversation_id": conversation_id}
    )
    assert again["error"]["code"] == "moderation.no_change"

    done = await console.send("conversation.extend", {"conversation_id": conversation_id})
    assert done["ok"], done
    new_end = first_end + 300
    assert done["data"] == {
        "conversation_id": conversation_id,
        "ends_at": new_end,
        "added_seconds": 300,
        "extended_seconds": 300,
    }
    # Both sockets hear the new end at once, and their states carry it.
    for peer in (console, sanne):
        extended = await peer.next_event("conversation.extended")
        assert extended["id"] == conversation_id and extended["ends_at"] == new_end
    me = await sanne.next_event(
        "me.state", where=lambda d: d["conversation"] and d["conversation"]["ends_at"] == new_end
    )
    assert "extension" not in me["conversation"]
    state = await console.next_event(
        "console.state",
        where=lambda d: d["conversation"] and d["conversation"]["ends_at"] == new_end,
    )
    assert state["conversation"]["extension"]["minutes"] == 5
    assert state["conversation"]["extension"]["allowed_when_waiting"] is True
    # The warning will be told again before the new end: it was reset.
    assert conversation_row(path, conversation_id) == (new_end, 300, None, None, world.moderator)

    # Far from the new end now: too early again, and nothing changes.
    early = await console.send("conversation.extend", {"conversation_id": conversation_id})
    assert early["error"]["code"] == "conversation.extension_too_early"
    assert conversation_row(path, conversation_id)[:2] == (new_end, 300)


async def test_the_console_form_extends_without_scripts(
    hall: tuple[LiveServer, World], people: list[Browserless]
) -> None:
    server, world = hall
    path = server.db_path
    a1, console, sanne, conversation_id = await talking(server, world, people)
    first_end = conversation_row(path, conversation_id)[0]
    token = csrf_from((await a1.http.get("/adviseur")).text)

    # Before the warning the form is refused with the message, and nothing changes.
    early = await a1.http.post(
        "/adviseur/verlengen", data={"csrf": token, "conversation_id": str(conversation_id)}
    )
    assert early.status_code == 409
    assert "Verlengen kan pas vanaf de waarschuwing" in early.text
    assert conversation_row(path, conversation_id)[:2] == (first_end, 0)

    await sanne.next_event("conversation.warning", timeout=10)
    posted = await a1.http.post(
        "/adviseur/verlengen", data={"csrf": token, "conversation_id": str(conversation_id)}
    )
    assert posted.status_code == 303 and posted.headers["location"] == "/adviseur"
    extended = await sanne.next_event("conversation.extended")
    assert extended["ends_at"] == first_end + 300
    await console.next_event("conversation.extended")
    assert conversation_row(path, conversation_id)[:2] == (first_end + 300, 300)


async def test_the_moderator_sets_the_extension_on_the_event_page(
    hall: tuple[LiveServer, World], people: list[Browserless]
) -> None:
    server, world = hall
    path = server.db_path
    moderator = await staff(server, people, "mod@test.example")
    page = (await moderator.http.get("/beheer/evenement")).text
    assert 'action="/beheer/evenement/verlengen"' in page
    token = csrf_from(page)
    before = read(path, "SELECT * FROM event")

    bad = await moderator.http.post(
        "/beheer/evenement/verlengen",
        data={"csrf": token, "extension_minutes": "20", "extension_max_minutes": "<b>x</b>"},
    )
    assert bad.status_code == 400
    assert "Vul een heel getal in van 1 tot en met 15." in bad.text
    assert "Vul een heel getal in van 0 tot en met 30." in bad.text
    assert "<b>x</b>" not in bad.text and "&lt;b&gt;x&lt;/b&gt;" in bad.text
    assert read(path, "SELECT * FROM event") == before

    good = await moderator.http.post(
        "/beheer/evenement/verlengen",
        data={
            "csrf": token,
            "extension_minutes": "3",
            "extension_max_minutes": "6",
            "extension_when_waiting": "yes",
        },
    )
    assert good.status_code == 303
    assert read(
        path,
        "SELECT extension_minutes, extension_max_minutes, extension_when_waiting FROM event",
    ) == [(3, 6, 1)]
    assert read(path, "SELECT action FROM audit_log WHERE action = 'event.extension'") == [
        ("event.extension",)
    ]
    shown = (await moderator.http.get("/beheer/evenement?opgeslagen=verlengen")).text
    assert "De instellingen voor verlengen zijn opgeslagen." in shown
    assert 'name="extension_when_waiting" value="yes" checked' in shown

    # Now people waiting do not stop it, and one click adds 3 minutes.
    _a1, console, _sanne, conversation_id = await talking(server, world, people)
    await candidate(server, people, world.booth_a, "Eva Eerder")
    await console.next_event("conversation.warning", timeout=10)
    done = await console.send("conversation.extend", {"conversation_id": conversation_id})
    assert done["ok"] and done["data"]["added_seconds"] == 180, done
    assert "conversation.extension_not_allowed" in MESSAGES


async def test_the_moderator_allows_it_on_the_step_in_page(
    hall: tuple[LiveServer, World], people: list[Browserless]
) -> None:
    server, world = hall
    path = server.db_path
    _a1, console, _sanne, conversation_id = await talking(server, world, people)
    moderator = await staff(server, people, "mod@test.example")
    page = (await moderator.http.get("/moderator/ingrijpen")).text
    assert 'action="/moderator/ingrijpen/verlengen-toestaan"' in page
    assert f'data-testid="allow-extension-{conversation_id}"' in page
    token = csrf_from(page)

    # An unknown conversation: refused with the message, nothing written.
    unknown = await moderator.http.post(
        "/moderator/ingrijpen/verlengen-toestaan", data={"csrf": token, "conversation_id": "9999"}
    )
    assert unknown.status_code == 404 and MESSAGES["conversation.not_found"] in unknown.text
    assert read(path, "SELECT COUNT(*) FROM audit_log") == [(0,)]

    posted = await moderator.http.post(
        "/moderator/ingrijpen/verlengen-toestaan",
        data={"csrf": token, "conversation_id": str(conversation_id)},
    )
    assert posted.status_code == 303
    assert posted.headers["location"].startswith("/moderator/ingrijpen?gedaan=verlengen-toestaan")
    done = (await moderator.http.get(posted.headers["location"])).text
    assert "De adviseur mag dit gesprek verlengen, ook als er mensen wachten." in done
    assert f'data-testid="extension-allowed-{conversation_id}"' in done
    assert read(path, "SELECT staff_id, action FROM audit_log") == [
        (world.moderator, "conversation.allow_extension")
    ]
    # The advisor's console hears it; with Eva waiting the extension now goes through.
    allowed = await console.next_event(
        "console.state",
        where=lambda d: (
            d["conversation"] and d["conversation"]["extension"]["allowed_when_waiting"]
        ),
    )
    assert allowed["conversation"]["id"] == conversation_id
    await candidate(server, people, world.booth_a, "Eva Eerder")
    await console.next_event("conversation.warning", timeout=10)
    done_extend = await console.send("conversation.extend", {"conversation_id": conversation_id})
    assert done_extend["ok"], done_extend
    log = (await moderator.http.get("/moderator/logboek")).text
    assert "Verlengen van een gesprek toegestaan" in log
