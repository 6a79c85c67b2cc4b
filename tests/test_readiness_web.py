"""Readiness and no-shows against a real server on loopback: the candidate is asked "Ben je
er klaar voor?" within a second of the state that makes them next, confirms over the
WebSocket or by the form, the advisor's console shows it; a missed prompt moves them back, a
second one closes the request; a candidate who does not join is a no-show and frees the
advisor; the moderator's settings are checked. Short limits are set in the event's settings
columns of the server's database file (the form only takes sensible ones)."""

from __future__ import annotations

import html
import sqlite3
from pathlib import Path
from typing import Any

from app.core.errors import MESSAGES
from tests.livekit import Browserless, Peer, World


def execute(path: Path, sql: str, params: tuple[Any, ...] = ()) -> None:
    connection = sqlite3.connect(path)
    try:
        with connection:
            connection.execute(sql, params)
    finally:
        connection.close()


def value(path: Path, sql: str, params: tuple[Any, ...] = ()) -> Any:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = connection.execute(sql, params).fetchone()
        return None if row is None else row[0]
    finally:
        connection.close()


def limits(path: Path, ready: int, step_back: int, join: int) -> None:
    execute(
        path,
        "UPDATE event SET ready_seconds = ?, ready_step_back = ?, join_seconds = ?",
        (ready, step_back, join),
    )


async def candidate(new_visitor: Any, name: str) -> tuple[Browserless, Peer]:
    visitor = new_visitor()
    await visitor.sign_in_candidate(name, f"{name.split()[0].lower()}@example.nl")
    return visitor, await visitor.socket()


async def ask(peer: Peer, booth_id: int, key: str) -> int:
    made = await peer.send("request.create", {"booth_id": booth_id, "client_key": key})
    assert made["ok"], made
    return int(made["data"]["request_id"])


async def advisor(new_visitor: Any, email: str, status: str) -> tuple[Browserless, Peer]:
    visitor = new_visitor()
    await visitor.log_in(email)
    peer = await visitor.socket()
    changed = await peer.send("advisor.status", {"status": status})
    assert changed["ok"], changed
    return visitor, peer


def asked(data: dict[str, Any]) -> bool:
    request = data.get("request") or {}
    return request.get("status") == "waiting" and request.get("ready_asked_at") is not None


async def test_asked_as_soon_as_an_advisor_is_free_confirmed_live_and_shown_on_the_console(
    new_visitor: Any, world: World, world_db: tuple[Path, World]
) -> None:
    path = world_db[0]
    _, console = await advisor(new_visitor, "a1@test.example", "paused")
    _, sanne = await candidate(new_visitor, "Sanne de Vries")
    request_id = await ask(sanne, world.booth_a, "s1")
    state = await sanne.next_event("me.state", where=lambda d: d.get("request"))
    assert state["request"]["ready_asked_at"] is None  # nobody is free: not asked

    # The advisor becomes available: Sanne is asked by a push, without asking herself.
    changed = await console.send("advisor.status", {"status": "available"})
    assert changed["ok"]
    prompt = await sanne.next_event("me.state", timeout=10, where=asked)
    request = prompt["request"]
    assert request["id"] == request_id
    assert request["ready_until"] - request["ready_asked_at"] == 60  # the default limit
    assert request["ready_at"] is None and request["ready_extended"] is False

    # More time once; a second time is refused and changes nothing.
    more = await sanne.send("request.more_time", {"request_id": request_id})
    assert more["ok"] and more["data"]["ready_until"] == request["ready_until"] + 60
    again = await sanne.send("request.more_time", {"request_id": request_id})
    assert again["error"]["code"] == "ready.already_extended"
    until = value(path, "SELECT ready_until FROM requests WHERE id = ?", (request_id,))
    assert until == request["ready_until"] + 60

    # The console shows "asked", then "klaar" once Sanne confirms.
    entry = await console.next_event(
        "console.state", where=lambda d: d["queue"] and d["queue"][0]["ready_asked"]
    )
    assert entry["queue"][0]["ready"] is False
    ready = await sanne.send("request.ready", {"request_id": request_id})
    assert ready["ok"], ready
    confirmed = await console.next_event(
        "console.state", where=lambda d: d["queue"] and d["queue"][0]["ready"]
    )
    assert confirmed["queue"][0]["request_id"] == request_id

    # Accepted: the console says the candidate has not joined; joining records it.
    started = await console.send("request.accept", {"request_id": request_id})
    conversation_id = started["data"]["conversation_id"]
    running = await console.next_event("console.state", where=lambda d: d["conversation"])
    assert running["conversation"]["joined_at"] is None
    assert running["conversation"]["join_until"] - running["conversation"]["started_at"] == 120
    joined = await sanne.send("conversation.join", {"conversation_id": conversation_id})
    assert joined["ok"], joined
    assert joined["data"]["video_url"].startswith("https://meet.example.test/")
    seen = await console.next_event(
        "console.state", where=lambda d: d["conversation"] and d["conversation"]["joined_at"]
    )
    assert seen["conversation"]["joined_at"] == joined["data"]["joined_at"]


async def test_a_missed_prompt_moves_back_and_a_no_show_frees_the_advisor(
    new_visitor: Any, world: World, world_db: tuple[Path, World]
) -> None:
    path = world_db[0]
    limits(path, ready=2, step_back=3, join=2)
    _, console = await advisor(new_visitor, "a1@test.example", "paused")
    _, ada = await candidate(new_visitor, "Ada Eerst")
    bas_visitor, bas = await candidate(new_visitor, "Bas Later")
    ada_request = await ask(ada, world.booth_a, "a1")
    bas_request = await ask(bas, world.booth_a, "b1")
    await console.send("advisor.status", {"status": "available"})
    first = await ada.next_event("me.state", timeout=3, where=asked)
    assert first["request"]["ready_until"] - first["request"]["ready_asked_at"] == 2

    # Ada lets it pass: she moves behind Bas (a line shorter than three places: to its end)
    # and Bas is asked.
    moved = await ada.next_event(
        "me.state", timeout=5, where=lambda d: (d.get("request") or {}).get("position") == 2
    )
    assert moved["request"]["status"] == "waiting" and moved["request"]["ready_asked_at"] is None
    await bas.next_event("me.state", timeout=3, where=asked)
    created = value(path, "SELECT created_at FROM requests WHERE id = ?", (ada_request,))
    line_at = value(path, "SELECT line_at FROM requests WHERE id = ?", (ada_request,))
    assert line_at > created  # her place moved, her time did not

    # Bas confirms by the form (no scripts), is accepted, and never joins: a no-show.
    token = await bas_visitor.csrf("/mijn-verzoek")
    response = await bas_visitor.http.post(
        "/mijn-verzoek/klaar", data={"csrf": token, "request_id": str(bas_request)}
    )
    assert response.status_code == 303 and response.headers["location"] == "/mijn-verzoek"
    started = await console.send("request.accept", {})
    assert started["ok"] and started["data"]["request_id"] == bas_request
    conversation_id = started["data"]["conversation_id"]
    gone = await bas.next_event(
        "me.state", timeout=6, where=lambda d: (d.get("conversation") or {}).get("no_show")
    )
    assert gone["conversation"]["id"] == conversation_id
    assert gone["conversation"]["ended_at"] is not None
    free = await console.next_event(
        "console.state", timeout=3, where=lambda d: d["advisor"]["status"] == "available"
    )
    assert free["conversation"] is None
    assert value(path, "SELECT wrap_up_until FROM staff WHERE id = ?", (world.advisor_a1,)) is None

    # The advisor is free at once, so Ada is asked again; she misses it again: a no-show.
    await ada.next_event("me.state", timeout=3, where=asked)
    closed = await ada.next_event(
        "me.state", timeout=6, where=lambda d: (d.get("request") or {}).get("status") == "expired"
    )
    assert closed["request"]["closed_reason"] == "no_show"
    # She may ask again.
    again = await ada.send("request.create", {"booth_id": world.booth_a, "client_key": "a2"})
    assert again["ok"] and again["data"]["created"] is True
    # The no-show is not counted as a held conversation in the moderator's figures.
    moderator = new_visitor()
    await moderator.log_in("mod@test.example")
    overview = (await moderator.socket()).state["overview"]
    assert overview["totals"]["conversations_done_today"] == 0


async def test_forms_for_more_time_and_joining_and_refusals(
    new_visitor: Any, world: World, world_db: tuple[Path, World]
) -> None:
    path = world_db[0]
    _, console = await advisor(new_visitor, "a1@test.example", "available")
    sanne_visitor, sanne = await candidate(new_visitor, "Sanne de Vries")
    eva_visitor, _ = await candidate(new_visitor, "Eva Anders")
    request_id = await ask(sanne, world.booth_a, "s1")
    await sanne.next_event("me.state", timeout=3, where=asked)

    # The page says how long, in words, with the buttons to confirm and for more time.
    page = html.unescape((await sanne_visitor.http.get("/mijn-verzoek")).text)
    assert "Ben je er klaar voor?" in page and "Je hebt 60 seconden, tot " in page
    assert 'action="/mijn-verzoek/klaar"' in page and 'action="/mijn-verzoek/meer-tijd"' in page

    token = await sanne_visitor.csrf("/mijn-verzoek")
    more = await sanne_visitor.http.post(
        "/mijn-verzoek/meer-tijd", data={"csrf": token, "request_id": str(request_id)}
    )
    assert more.status_code == 303
    page = html.unescape((await sanne_visitor.http.get("/mijn-verzoek")).text)
    assert "Je hebt 120 seconden, tot " in page

    # Someone else's request or conversation: refused, nothing changes.
    eva_token = await eva_visitor.csrf("/mijn-verzoek")
    before = value(path, "SELECT ready_at FROM requests WHERE id = ?", (request_id,))
    refused = await eva_visitor.http.post(
        "/mijn-verzoek/klaar", data={"csrf": eva_token, "request_id": str(request_id)}
    )
    assert refused.status_code == 404
    assert html.escape(MESSAGES["request.not_found"]) in refused.text
    assert value(path, "SELECT ready_at FROM requests WHERE id = ?", (request_id,)) == before

    started = await console.send("request.accept", {"request_id": request_id})
    conversation_id = started["data"]["conversation_id"]
    refused = await eva_visitor.http.post(
        "/mijn-verzoek/deelnemen", data={"csrf": eva_token, "conversation_id": conversation_id}
    )
    assert refused.status_code == 404
    assert value(path, "SELECT joined_at FROM conversations") is None

    # The join button goes through the server, which notes it and sends them to the call.
    page = (await sanne_visitor.http.get("/mijn-verzoek")).text
    assert 'action="/mijn-verzoek/deelnemen"' in page
    joined = await sanne_visitor.http.post(
        "/mijn-verzoek/deelnemen", data={"csrf": token, "conversation_id": conversation_id}
    )
    assert joined.status_code == 303
    video_url = value(path, "SELECT video_url FROM conversations WHERE id = ?", (conversation_id,))
    assert joined.headers["location"] == video_url
    assert value(path, "SELECT joined_at FROM conversations WHERE id = ?", (conversation_id,))


async def test_the_moderator_sets_the_limits_and_bad_values_change_nothing(
    new_visitor: Any, world_db: tuple[Path, World]
) -> None:
    path = world_db[0]
    moderator = new_visitor()
    await moderator.log_in("mod@test.example")
    page = (await moderator.http.get("/beheer/evenement")).text
    assert 'action="/beheer/evenement/klaar"' in page

    def settings() -> tuple[Any, ...]:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row = connection.execute(
                "SELECT ready_seconds, ready_step_back, join_seconds FROM event"
            ).fetchone()
            return tuple(row)
        finally:
            connection.close()

    assert settings() == (60, 3, 120)
    token = await moderator.csrf("/beheer/evenement")
    bad = await moderator.http.post(
        "/beheer/evenement/klaar",
        data={"csrf": token, "ready_seconds": "5", "ready_step_back": "11", "join_seconds": "x"},
    )
    assert bad.status_code == 400
    text = html.unescape(bad.text)
    for low, high in ((20, 600), (1, 10), (30, 900)):
        assert f"Vul een heel getal in van {low} tot en met {high}." in text
    assert settings() == (60, 3, 120)
    good = await moderator.http.post(
        "/beheer/evenement/klaar",
        data={"csrf": token, "ready_seconds": "45", "ready_step_back": "2", "join_seconds": "90"},
    )
    assert good.status_code == 303
    assert good.headers["location"] == "/beheer/evenement?opgeslagen=klaar#klaar"
    assert settings() == (45, 2, 90)
