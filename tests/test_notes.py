"""Advisor notes: written by the booth's advisors, read by them and the moderator, never by a
candidate or another booth; on a real SQLite file and over a real server."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from app.core.errors import DomainError, ValidationError
from app.domain import conversations, notes
from app.domain.event import load_event
from app.live.snapshots import candidate_state, console_state
from tests.livekit import Peer, World, csrf_from
from tests.servicekit import (
    make_advisor,
    make_booth,
    make_candidate,
    make_event,
    make_request,
    open_db,
)

SECRET = "Wil BBL zorg; twijfelt over reistijd"
BRAM = "Bram"


async def test_notes_belong_to_the_booth(tmp_path: Path) -> None:
    db = await open_db(tmp_path / "hall.db")
    try:
        event = await make_event(db)
        zorg = await make_booth(db, "zorg")
        bouw = await make_booth(db, "bouw")
        anna = await make_advisor(db, zorg, "anna@zorg.nl")
        bram = await make_advisor(db, zorg, "bram@zorg.nl")
        olaf = await make_advisor(db, bouw, "olaf@bouw.nl")
        candidate = await make_candidate(db, "Sanne")
        t = time.time()
        request = await make_request(db, event, candidate, zorg, now=t)
        conversation, _ = await conversations.accept(
            db, event, advisor_id=anna, request_id=request.id, now=t + 1
        )

        saved = await notes.save_notes(
            db,
            advisor_id=anna,
            booth_id=zorg,
            conversation_id=conversation.id,
            text="  eerste\r\nregel  ",
            now=t + 2,
        )
        assert saved.notes == "eerste\nregel"
        # A colleague at the same booth reads and edits them; the last writer is recorded.
        seen = await notes.notes_for(db, conversation.id, role="advisor", booth_id=zorg)
        assert seen.notes == "eerste\nregel"
        await notes.save_notes(
            db,
            advisor_id=bram,
            booth_id=zorg,
            conversation_id=conversation.id,
            text=SECRET,
            now=t + 3,
        )
        seen = await notes.notes_for(db, conversation.id, role="moderator", booth_id=None)
        assert (seen.notes, seen.notes_by_name) == (SECRET, BRAM)

        # Another booth can neither read nor write, and learns nothing about the id.
        for role, booth in (("advisor", bouw), ("candidate", None), ("anonymous", None)):
            with pytest.raises(DomainError) as refused:
                await notes.notes_for(db, conversation.id, role=role, booth_id=booth)
            assert refused.value.code == "conversation.not_found"
        with pytest.raises(DomainError) as refused:
            await notes.save_notes(
                db,
                advisor_id=olaf,
                booth_id=bouw,
                conversation_id=conversation.id,
                text="overschreven",
                now=t + 4,
            )
        assert refused.value.code == "conversation.not_found"
        with pytest.raises(ValidationError):
            await notes.save_notes(
                db,
                advisor_id=anna,
                booth_id=zorg,
                conversation_id=conversation.id,
                text="x" * (notes.NOTES_MAX + 1),
                now=t + 5,
            )
        assert (await notes.read_notes(db, conversation.id)).notes == SECRET  # type: ignore[union-attr]

        # The advisor's console carries them; the candidate's own view never does.
        console = await console_state(db, event, anna, t + 6)
        assert console["conversation"]["notes"] == SECRET
        mine = await candidate_state(db, await load_event(db), candidate, t + 6)
        assert SECRET not in json.dumps(mine)
    finally:
        await db.close()


@pytest.fixture
async def talking(new_visitor, world: World):  # type: ignore[no-untyped-def]
    """Advisor A1 in conversation with Sanne, and the socket of each."""
    candidate = new_visitor()
    await candidate.sign_in_candidate("Sanne de Vries")
    me = await candidate.socket()
    advisor = new_visitor()
    await advisor.log_in("a1@test.example")
    console = await advisor.socket()
    created = await me.send("request.create", {"booth_id": world.booth_a, "client_key": "k1"})
    accepted = await console.send("request.accept", {"request_id": created["data"]["request_id"]})
    assert accepted["ok"], accepted
    yield candidate, me, advisor, console, accepted["data"]["conversation_id"]
    await me.close()
    await console.close()


async def test_who_may_read_and_write_notes_over_the_socket(new_visitor, talking) -> None:
    _, me, _, console, conversation_id = talking
    saved = await console.send(
        "conversation.note", {"conversation_id": conversation_id, "notes": SECRET}
    )
    assert saved["ok"], saved

    async def peer(email: str | None) -> Peer:
        visitor = new_visitor()
        if email is None:
            await visitor.sign_in_candidate("Kees Jansen", "kees@example.nl")
        else:
            await visitor.log_in(email)
        return await visitor.socket()

    colleague = await peer("a2@test.example")
    other_booth = await peer("b1@test.example")
    moderator = await peer("mod@test.example")
    other_candidate = await peer(None)
    read = {"conversation_id": conversation_id}
    for socket in (colleague, moderator):
        reply = await socket.send("conversation.notes", read)
        assert reply["ok"] and reply["data"]["notes"] == SECRET, reply
    reply = await other_booth.send("conversation.notes", read)
    assert reply["error"]["code"] == "conversation.not_found"
    reply = await other_booth.send("conversation.note", {**read, "notes": "weg ermee"})
    assert reply["error"]["code"] == "conversation.not_found"
    for socket in (me, other_candidate):
        reply = await socket.send("conversation.notes", read)
        assert reply["error"]["code"] == "auth.forbidden"
    reply = await moderator.send("conversation.note", {**read, "notes": "x"})
    assert reply["error"]["code"] == "auth.forbidden"

    # Nothing the candidate receives, then or on a fresh snapshot, holds the notes.
    synced = await me.send("session.sync", {})
    assert SECRET not in json.dumps(synced)
    assert all(SECRET not in json.dumps(m) for m in me.events)
    reply = await colleague.send("conversation.notes", read)
    assert reply["data"]["notes"] == SECRET  # unchanged by every refused write
    for socket in (colleague, other_booth, moderator, other_candidate):
        await socket.close()


async def test_conversation_page_shows_notes_to_booth_and_moderator_only(
    new_visitor, talking
) -> None:
    candidate, _, advisor, console, conversation_id = talking
    page = f"/gesprekken/{conversation_id}"
    token = csrf_from((await advisor.http.get(page)).text)
    posted = await advisor.http.post(
        f"{page}/notities", data={"csrf": token, "notes": "<b>vet</b>\r\nregel twee"}
    )
    assert posted.status_code == 303
    shown = await advisor.http.get(page)
    assert shown.status_code == 200
    assert "&lt;b&gt;vet&lt;/b&gt;" in shown.text and "<b>vet</b>" not in shown.text

    moderator = new_visitor()
    await moderator.log_in("mod@test.example")
    read_only = await moderator.http.get(page)
    assert read_only.status_code == 200 and "&lt;b&gt;vet&lt;/b&gt;" in read_only.text
    assert 'data-testid="notes-form"' not in read_only.text

    other_booth = new_visitor()
    await other_booth.log_in("b1@test.example")
    assert (await other_booth.http.get(page)).status_code == 404
    token = csrf_from((await other_booth.http.get("/adviseur")).text)
    refused = await other_booth.http.post(f"{page}/notities", data={"csrf": token, "notes": "x"})
    assert refused.status_code == 404
    assert (await candidate.http.get(page)).status_code == 403
    anonymous = await new_visitor().http.get(page)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/inloggen"

    # Too long: a clear message, the notes stay as they were.
    token = csrf_from((await advisor.http.get(page)).text)
    too_long = await advisor.http.post(
        f"{page}/notities", data={"csrf": token, "notes": "x" * (notes.NOTES_MAX + 1)}
    )
    assert too_long.status_code == 400 and 'data-testid="field-error-notes"' in too_long.text
    reply = await console.send("conversation.notes", {"conversation_id": conversation_id})
    assert reply["data"]["notes"] == "<b>vet</b>\nregel twee"

    # The console form without scripts saves too.
    token = csrf_from((await advisor.http.get("/adviseur")).text)
    posted = await advisor.http.post(
        "/adviseur/notities",
        data={"csrf": token, "conversation_id": str(conversation_id), "notes": SECRET},
    )
    assert posted.status_code == 303
    assert SECRET in (await advisor.http.get("/adviseur")).text
    assert SECRET not in (await candidate.http.get("/mijn-verzoek")).text
