"""An advisor hands the candidate to another booth, against a real server on loopback: over
the WebSocket and by the console's form (without scripts); the candidate hears their new
place at the other booth, the other booth's advisor hears the entry with the note; refusals
change nothing."""

from __future__ import annotations

import html
import sqlite3
from pathlib import Path
from typing import Any

from app.core.errors import MESSAGES
from tests.livekit import Browserless, Peer, World

NOTE = 'Zoekt bouw, BBL <b>niveau 2</b> & "snel"'


def dump(path: Path) -> list[Any]:
    """The rows a transfer may change."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [
            connection.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
            for table in ("requests", "conversations")
        ] + [connection.execute("SELECT id, status, wrap_up_until FROM staff").fetchall()]
    finally:
        connection.close()


async def waiting(
    new_visitor: Any, booth_id: int, name: str, key: str
) -> tuple[Browserless, Peer, int]:
    visitor = new_visitor()
    await visitor.sign_in_candidate(name, f"{name.split()[0].lower()}@example.nl")
    peer = await visitor.socket()
    made = await peer.send("request.create", {"booth_id": booth_id, "client_key": key})
    assert made["ok"], made
    return visitor, peer, made["data"]["request_id"]


async def advisor(new_visitor: Any, email: str) -> tuple[Browserless, Peer]:
    visitor = new_visitor()
    await visitor.log_in(email)
    return visitor, await visitor.socket()


async def test_an_advisor_hands_the_candidate_to_another_booth_keeping_their_time(
    new_visitor: Any, world: World, world_db: tuple[Path, World]
) -> None:
    b1, console_b = await advisor(new_visitor, "b1@test.example")
    a1, console_a = await advisor(new_visitor, "a1@test.example")
    _, eva, eva_request = await waiting(new_visitor, world.booth_b, "Eva Eerder", "e1")
    sanne_visitor, sanne, sanne_request = await waiting(
        new_visitor, world.booth_a, "Sanne de Vries", "s1"
    )
    _, lars, lars_request = await waiting(new_visitor, world.booth_b, "Lars Later", "l1")
    started = await console_a.send("request.accept", {"request_id": sanne_request})
    conversation_id = started["data"]["conversation_id"]

    # The console offers the other booth (and its advisor who is there) in the form.
    page = (await a1.http.get("/adviseur")).text
    assert 'action="/adviseur/doorverwijzen"' in page
    assert f'<option value="{world.booth_b}">Bouwbedrijf B</option>' in page
    assert f'<option value="{world.booth_a}">' not in page

    # Refused: the advisor's own booth; another advisor's conversation. Nothing changes.
    before = dump(world_db[0])
    same = await console_a.send(
        "conversation.transfer", {"conversation_id": conversation_id, "booth_id": world.booth_a}
    )
    assert same["error"]["code"] == "transfer.same_booth"
    not_mine = await console_b.send(
        "conversation.transfer", {"conversation_id": conversation_id, "booth_id": world.booth_a}
    )
    assert not_mine["error"]["code"] == "conversation.not_found"
    unknown = await console_a.send(
        "conversation.transfer", {"conversation_id": conversation_id, "booth_id": 999999}
    )
    assert unknown["error"]["code"] == "booth.not_found"
    assert dump(world_db[0]) == before

    done = await console_a.send(
        "conversation.transfer",
        {"conversation_id": conversation_id, "booth_id": world.booth_b, "note": NOTE},
    )
    assert done["ok"], done
    new_request = done["data"]["request_id"]

    # The candidate hears at once: in line at B, second (after Eva, who came earlier).
    told = await sanne.next_event(
        "me.state",
        where=lambda d: d["request"] and d["request"]["booth_id"] == world.booth_b,
    )
    assert told["request"]["id"] == new_request and told["request"]["status"] == "waiting"
    assert told["request"]["position"] == 2 and told["request"]["booth_name"] == "Bouwbedrijf B"
    assert told["conversation"] is None
    assert "niveau 2" not in str(told)  # the note is for staff only
    # Lars came after Sanne's first request: he moves back to third.
    moved_back = await lars.next_event(
        "me.state", where=lambda d: d["request"] and d["request"]["position"] == 3
    )
    assert moved_back["request"]["id"] == lars_request
    # B's advisor hears the entry, where it came from and the note.
    entry_seen = await console_b.next_event(
        "console.state", where=lambda d: any(q["transfer_note"] for q in d["queue"])
    )
    queue = entry_seen["queue"]
    assert [q["request_id"] for q in queue] == [eva_request, new_request, lars_request]
    assert queue[1]["transferred_from"] == "Zorggroep A" and queue[1]["transfer_note"] == NOTE
    # The advisor of A is wrapping up, free of the conversation.
    freed = await console_a.next_event(
        "console.state", where=lambda d: d["advisor"]["status"] == "wrapping_up"
    )
    assert freed["conversation"] is None
    # The console page of B shows it escaped; the candidate's page never shows the note.
    page_b = (await b1.http.get("/adviseur")).text
    assert NOTE in html.unescape(page_b) and "&lt;b&gt;niveau 2&lt;/b&gt;" in page_b
    assert "<b>niveau 2</b>" not in page_b
    assert "doorverwezen door" in page_b
    mine = html.unescape((await sanne_visitor.http.get("/mijn-verzoek")).text)
    assert "Bouwbedrijf B" in mine and "niveau 2" not in mine

    # Again: the conversation has ended; nothing changes.
    before = dump(world_db[0])
    again = await console_a.send(
        "conversation.transfer", {"conversation_id": conversation_id, "booth_id": world.booth_b}
    )
    assert again["error"]["code"] == "conversation.ended"
    assert dump(world_db[0]) == before
    for peer in (console_a, console_b, eva, sanne, lars):
        await peer.close()


async def test_the_console_form_transfers_to_one_advisor_and_refuses_clearly(
    new_visitor: Any, world: World, world_db: tuple[Path, World]
) -> None:
    _, console_b = await advisor(new_visitor, "b1@test.example")
    a2, console_a = await advisor(new_visitor, "a2@test.example")
    _, piet, piet_request = await waiting(new_visitor, world.booth_a, "Piet Bakker", "p1")
    started = await console_a.send("request.accept", {"request_id": piet_request})
    conversation_id = started["data"]["conversation_id"]

    async def post(**fields: Any) -> Any:
        token = await a2.csrf("/adviseur")
        data = {"csrf": token, "conversation_id": conversation_id, "note": "", **fields}
        return await a2.http.post("/adviseur/doorverwijzen", data=data)

    before = dump(world_db[0])
    wrong = await post(booth_id=world.booth_b, advisor_id=world.advisor_a1)
    assert wrong.status_code == 404
    assert MESSAGES["advisor.not_found"] in html.unescape(wrong.text)
    same = await post(booth_id=world.booth_a, advisor_id="")
    assert same.status_code == 409
    assert MESSAGES["transfer.same_booth"] in html.unescape(same.text)
    assert dump(world_db[0]) == before

    done = await post(booth_id=world.booth_b, advisor_id=world.advisor_b1, note="Belt terug")
    assert done.status_code == 303 and done.headers["location"] == "/adviseur"
    told = await piet.next_event(
        "me.state", where=lambda d: d["request"] and d["request"]["booth_id"] == world.booth_b
    )
    assert told["request"]["position"] == 1
    assert told["request"]["advisor_name"] == "Adviseur B1"
    seen = await console_b.next_event("console.state", where=lambda d: len(d["queue"]) == 1)
    assert seen["queue"][0]["for_me"] and seen["queue"][0]["transfer_note"] == "Belt terug"
    # B1 takes Piet: the conversation runs at B.
    taken = await console_b.send("request.accept", {"request_id": told["request"]["id"]})
    assert taken["ok"], taken
    for peer in (console_a, console_b, piet):
        await peer.close()
