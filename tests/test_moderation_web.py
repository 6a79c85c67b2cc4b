"""The moderator steps in, against a real server on loopback: the forms of the step-in page
(without scripts), the actions over the WebSocket, and what the candidate, the advisor and
the hall hear at once; the audit log page."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from app.core.errors import MESSAGES
from tests.livekit import Browserless, Peer, World, db_value

STEP_IN = "/moderator/ingrijpen"


def page_text(response: Any) -> str:
    return html.unescape(response.text)


async def moderator(new_visitor: Any) -> Browserless:
    mod = new_visitor()
    await mod.log_in("mod@test.example")
    return mod


async def step(mod: Browserless, form: str, **fields: Any) -> Any:
    token = await mod.csrf(STEP_IN)
    return await mod.http.post(f"{STEP_IN}/{form}", data={"csrf": token, **fields})


async def waiting_candidate(
    new_visitor: Any, booth_id: int, name: str, email: str, key: str
) -> tuple[Browserless, Peer, int]:
    visitor = new_visitor()
    await visitor.sign_in_candidate(name, email)
    peer = await visitor.socket()
    made = await peer.send("request.create", {"booth_id": booth_id, "client_key": key})
    assert made["ok"], made
    return visitor, peer, made["data"]["request_id"]


def booth_in(delta: dict[str, Any], booth_id: int) -> dict[str, Any] | None:
    return next((b for b in delta["booths"] if b["id"] == booth_id), None)


async def test_closing_a_booth_by_form_tells_its_candidate_and_the_hall_at_once(
    new_visitor: Any, world: World, world_db: tuple[Path, World]
) -> None:
    mod = await moderator(new_visitor)
    hall = await new_visitor().socket()
    _, me, request_id = await waiting_candidate(
        new_visitor, world.booth_a, "Sanne de Vries", "sanne@example.nl", "k1"
    )

    page = await mod.http.get(STEP_IN)
    assert page.status_code == 200
    section = re.search(
        rf'<section[^>]*id="stand-{world.booth_a}".*?</section>', page.text, re.DOTALL
    )
    assert section, "the booth has its own section to link to"
    assert f'data-testid="waiting-request-{request_id}"' in section.group(0)
    assert "Sanne" in section.group(0)
    assert "Vries" not in page.text and "sanne@example.nl" not in page.text  # first name only

    done = await step(mod, "stand-sluiten", booth_id=world.booth_a, waiting=1, confirm="yes")
    assert done.status_code == 303
    assert done.headers["location"] == (
        f"{STEP_IN}?gedaan=stand-sluiten&beeindigd=1#stand-{world.booth_a}"
    )

    told = await me.next_event(
        "me.state", where=lambda d: d["request"] and d["request"]["status"] == "cancelled"
    )
    assert told["request"]["closed_reason"] == "booth_closed"
    assert [s["id"] for s in told["request"]["suggestions"]] == [world.booth_b]
    delta = await hall.next_event(
        "hall.delta", where=lambda d: (b := booth_in(d, world.booth_a)) and b["closed"]
    )
    closed = booth_in(delta, world.booth_a)
    assert closed is not None and closed["open_now"] is False and closed["queue_length"] == 0

    # Another candidate sees it closed in the hall and is refused there, clearly.
    await new_candidate_sees_booth_a_closed(new_visitor, "Piet Bakker", world)
    after = await mod.http.get(f"{STEP_IN}?gedaan=stand-sluiten")
    assert "De stand is gesloten." in page_text(after)
    assert f'data-testid="booth-closed-{world.booth_a}"' in after.text

    again = await me.send("request.create", {"booth_id": world.booth_a, "client_key": "k2"})
    assert again["error"]["code"] == "booth.closed_by_moderator"
    assert await step(mod, "stand-openen", booth_id=world.booth_a) is not None
    reopened = await hall.next_event(
        "hall.delta", where=lambda d: (b := booth_in(d, world.booth_a)) and not b["closed"]
    )
    assert booth_in(reopened, world.booth_a)["open_now"] is True  # type: ignore[index]
    for peer in (me, hall):
        await peer.close()


def booth_section(page: str, booth_id: int) -> str:
    found = re.search(rf'<section[^>]*id="stand-{booth_id}".*?</section>', page, re.DOTALL)
    assert found, "the booth has its own section"
    return html.unescape(found.group(0))


async def test_closing_a_booth_asks_to_confirm_with_the_number_waiting_and_asks_again(
    new_visitor: Any, world: World, world_db: tuple[Path, World]
) -> None:
    """Without scripts: the form says how many wait and needs the tick; if more wait by the
    time it is sent, nothing changes and the page asks again with the new number."""
    path = world_db[0]
    mod = await moderator(new_visitor)
    waiting_sql = "SELECT COUNT(*) FROM requests WHERE booth_id = ? AND status = 'waiting'"
    closed_sql = "SELECT closed FROM booths WHERE id = ?"

    # Nobody waits: said plainly.
    empty = booth_section((await mod.http.get(STEP_IN)).text, world.booth_a)
    assert "Er wacht nu niemand bij deze stand." in empty
    assert 'name="waiting" value="0"' in empty

    _, first, _r1 = await waiting_candidate(
        new_visitor, world.booth_a, "Sanne de Vries", "sanne@example.nl", "c1"
    )
    section = booth_section((await mod.http.get(STEP_IN)).text, world.booth_a)
    assert "1 kandidaat wacht bij deze stand. Het verzoek wordt beëindigd" in section
    assert "komt niet terug als je de stand weer opent" in section
    assert 'name="waiting" value="1"' in section
    assert 'data-testid="confirm-booth-close-' in section

    # Not ticked: refused, clearly, and nothing changed.
    unconfirmed = await step(mod, "stand-sluiten", booth_id=world.booth_a, waiting=1)
    assert unconfirmed.status_code == 400
    assert MESSAGES["input.confirm"] in page_text(unconfirmed)
    # The summary leads to the tick, in that booth's form, shown open.
    tick = f"field-booth-close-{world.booth_a}"
    assert f'href="#{tick}"' in unconfirmed.text and f'id="{tick}"' in unconfirmed.text
    assert '<details class="step-details" open>' in booth_section(unconfirmed.text, world.booth_a)
    assert (
        db_value(path, waiting_sql, (world.booth_a,)),
        db_value(path, closed_sql, (world.booth_a,)),
    ) == (1, 0)
    # Ticked, but without the number the page shows: nothing was confirmed.
    bare = await step(mod, "stand-sluiten", booth_id=world.booth_a, confirm="yes")
    assert bare.status_code == 400 and MESSAGES["input.confirm"] in page_text(bare)
    assert db_value(path, closed_sql, (world.booth_a,)) == 0

    # Two more join while the moderator reads: their confirmation for one does not cover three.
    _, second, _r2 = await waiting_candidate(
        new_visitor, world.booth_a, "Piet Bakker", "piet@example.nl", "c2"
    )
    _, third, _r3 = await waiting_candidate(
        new_visitor, world.booth_a, "Kees Klaassen", "kees@example.nl", "c3"
    )
    stale = await step(mod, "stand-sluiten", booth_id=world.booth_a, waiting=1, confirm="yes")
    assert stale.status_code == 409
    said = page_text(stale)
    assert "Er is niets veranderd: bij Zorggroep A wachten nu 3 kandidaten" in said
    assert f'href="#field-booth-close-{world.booth_a}"' in stale.text
    assert (
        db_value(path, waiting_sql, (world.booth_a,)),
        db_value(path, closed_sql, (world.booth_a,)),
    ) == (3, 0)
    # The page asks again at once: that booth's form open, with the new number, not ticked.
    again = booth_section(stale.text, world.booth_a)
    assert re.search(r'<details class="step-details" open>', again)
    assert "3 kandidaten wachten bij deze stand. Hun verzoeken worden beëindigd" in again
    assert 'name="waiting" value="3"' in again and "checked" not in again

    done = await step(mod, "stand-sluiten", booth_id=world.booth_a, waiting=3, confirm="yes")
    assert done.status_code == 303
    after = page_text(await mod.http.get(done.headers["location"]))
    assert "De stand is gesloten. 3 wachtende kandidaten hebben bericht gekregen." in after
    for peer in (first, second, third):
        told = await peer.next_event(
            "me.state", where=lambda d: d["request"] and d["request"]["status"] == "cancelled"
        )
        assert told["request"]["closed_reason"] == "booth_closed"
        await peer.close()

    # Opening it again brings nobody back, as the confirmation said.
    assert (await step(mod, "stand-openen", booth_id=world.booth_a)).status_code == 303
    assert db_value(path, waiting_sql, (world.booth_a,)) == 0

    # Only a moderator: others are refused before anything is looked at.
    advisor = new_visitor()
    await advisor.log_in("a1@test.example")
    forbidden = await step(
        advisor, "stand-sluiten", booth_id=world.booth_a, waiting=0, confirm="yes"
    )
    assert forbidden.status_code == 403
    candidate = new_visitor()
    await candidate.sign_in_candidate("Bram Boos", "bram@example.nl")
    token = await candidate.csrf("/")
    refused = await candidate.http.post(
        f"{STEP_IN}/stand-sluiten",
        data={"csrf": token, "booth_id": world.booth_a, "waiting": 0, "confirm": "yes"},
    )
    assert refused.status_code == 403
    assert db_value(path, closed_sql, (world.booth_a,)) == 0


async def new_candidate_sees_booth_a_closed(new_visitor: Any, name: str, world: World) -> None:
    """A new candidate opens the hall: the closed booth reads closed, without its button."""
    visitor = new_visitor()
    await visitor.sign_in_candidate(name, f"{name.split()[0].lower()}@example.nl")
    hall = await visitor.http.get("/")
    card = re.search(rf'<article[^>]*id="booth-{world.booth_a}".*?</article>', hall.text, re.DOTALL)
    assert card is not None
    assert 'data-closed="1"' in card.group(0)
    assert "Gesloten door de organisatie" in html.unescape(card.group(0))
    zoom = await visitor.http.post(
        f"/inzoomen/{world.booth_a}",
        data={"csrf": await visitor.csrf(f"/inzoomen/{world.booth_a}"), "client_key": "z1"},
    )
    assert zoom.status_code == 409
    assert MESSAGES["booth.closed_by_moderator"] in html.unescape(zoom.text)


async def test_a_moved_request_keeps_its_place_and_the_candidate_sees_the_new_booth(
    new_visitor: Any, world: World, world_db: tuple[Path, World]
) -> None:
    mod = await moderator(new_visitor)
    b1 = new_visitor()
    await b1.log_in("b1@test.example")
    console_b = await b1.socket()
    visitor, early, early_id = await waiting_candidate(
        new_visitor, world.booth_a, "Eva Eerst", "eva@example.nl", "e1"
    )
    _, late, late_id = await waiting_candidate(
        new_visitor, world.booth_b, "Lars Laat", "lars@example.nl", "l1"
    )
    control = await mod.socket()

    moved = await control.send(
        "request.move", {"request_id": early_id, "booth_id": world.booth_b, "advisor_id": None}
    )
    assert moved["ok"], moved

    told = await early.next_event(
        "me.state", where=lambda d: d["request"] and d["request"]["booth_id"] == world.booth_b
    )
    assert told["request"]["position"] == 1 and told["request"]["moved_at"] is not None
    assert told["request"]["booth_name"] == "Bouwbedrijf B"
    pushed_back = await late.next_event(
        "me.state", where=lambda d: d["request"] and d["request"]["position"] == 2
    )
    assert pushed_back["request"]["id"] == late_id
    queue = await console_b.next_event("console.state", where=lambda d: len(d["queue"]) == 2)
    assert [q["request_id"] for q in queue["queue"]] == [early_id, late_id]
    page = page_text(await visitor.http.get("/mijn-verzoek"))
    assert "De organisatie heeft je verzoek verplaatst." in page and "Bouwbedrijf B" in page

    # To an advisor of the other booth: refused, nothing moved.
    wrong = await control.send(
        "request.move",
        {"request_id": early_id, "booth_id": world.booth_a, "advisor_id": world.advisor_b1},
    )
    assert wrong["error"]["code"] == "advisor.not_found"
    # By the form, to one advisor of booth B.
    # By the form: one choice names the booth and, here, one of its advisors who is present.
    choice = f"{world.booth_b}:{world.advisor_b1}"
    assert f'<option value="{choice}"' in (await mod.http.get(STEP_IN)).text
    garbled = await step(mod, "verplaatsen", request_id=early_id, target="b:x")
    assert garbled.status_code == 400
    assert (
        db_value(world_db[0], "SELECT advisor_id FROM requests WHERE id = ?", (early_id,)) is None
    )
    done = await step(mod, "verplaatsen", request_id=early_id, target=choice)
    assert done.status_code == 303
    with_b1 = await early.next_event(
        "me.state", where=lambda d: d["request"] and d["request"]["advisor_id"] == world.advisor_b1
    )
    assert with_b1["request"]["advisor_name"] == "Adviseur B1"
    for peer in (early, late, control, console_b):
        await peer.close()


async def test_ending_a_stuck_conversation_asks_to_confirm_then_tells_both(
    new_visitor: Any, world: World, world_db: tuple[Path, World]
) -> None:
    mod = await moderator(new_visitor)
    a1 = new_visitor()
    await a1.log_in("a1@test.example")
    console = await a1.socket()
    _, me, request_id = await waiting_candidate(
        new_visitor, world.booth_a, "Sanne Stuck", "stuck@example.nl", "s1"
    )
    started = await console.send("request.accept", {"request_id": request_id})
    conversation_id = started["data"]["conversation_id"]
    page = await mod.http.get(STEP_IN)
    assert f'data-testid="running-conversation-{conversation_id}"' in page.text

    unconfirmed = await step(mod, "gesprek-beeindigen", conversation_id=conversation_id)
    assert unconfirmed.status_code == 400
    assert MESSAGES["input.confirm"] in page_text(unconfirmed)
    running = "SELECT ended_at FROM conversations WHERE id = ?"
    assert db_value(world_db[0], running, (conversation_id,)) is None

    done = await step(mod, "gesprek-beeindigen", conversation_id=conversation_id, confirm="yes")
    assert done.status_code == 303
    ended = await me.next_event(
        "me.state", where=lambda d: d["conversation"] and d["conversation"]["ended_at"]
    )
    assert ended["conversation"]["id"] == conversation_id
    freed = await console.next_event(
        "console.state", where=lambda d: d["advisor"]["status"] == "wrapping_up"
    )
    assert freed["conversation"] is None
    again = await step(mod, "gesprek-beeindigen", conversation_id=conversation_id, confirm="yes")
    assert again.status_code == 409 and MESSAGES["conversation.ended"] in page_text(again)
    for peer in (me, console):
        await peer.close()


async def test_a_blocked_candidate_is_signed_out_and_cannot_come_back_until_unblocked(
    new_visitor: Any, world: World, world_db: tuple[Path, World]
) -> None:
    mod = await moderator(new_visitor)
    visitor, me, request_id = await waiting_candidate(
        new_visitor, world.booth_a, "Bram Boos", "bram@example.nl", "b1"
    )
    candidate_id = db_value(
        world_db[0], "SELECT candidate_id FROM requests WHERE id = ?", (request_id,)
    )
    a1 = new_visitor()
    await a1.log_in("a1@test.example")
    console = await a1.socket()

    unconfirmed = await step(mod, "blokkeren", candidate_id=candidate_id)
    assert unconfirmed.status_code == 400
    assert (
        db_value(world_db[0], "SELECT blocked_at FROM candidates WHERE id = ?", (candidate_id,))
        is None
    )

    done = await step(mod, "blokkeren", candidate_id=candidate_id, confirm="yes")
    assert done.status_code == 303
    closed = await me.wait_closed()
    assert closed is not None  # the socket of the blocked candidate closed
    await console.next_event("console.state", where=lambda d: not d["queue"])
    assert (
        db_value(world_db[0], "SELECT closed_reason FROM requests WHERE id = ?", (request_id,))
        == "blocked"
    )
    # The old cookie stands for nobody now.
    assert (await visitor.http.get("/mijn-verzoek")).status_code == 303
    # Signing in again with that e-mail address is refused, clearly.
    fresh = new_visitor()
    token = await fresh.csrf("/aanmelden")
    refused = await fresh.http.post(
        "/aanmelden",
        data={
            "csrf": token,
            "name": "Bram",
            "email": "BRAM@example.nl",
            "consent": "yes",
            "next": "/",
        },
    )
    assert refused.status_code == 400
    assert MESSAGES["candidate.blocked_email"] in page_text(refused)
    listed = await mod.http.get(STEP_IN)
    assert f'data-testid="blocked-{candidate_id}"' in listed.text

    lifted = await step(mod, "deblokkeren", candidate_id=candidate_id)
    assert lifted.status_code == 303
    await fresh.sign_in_candidate("Bram", "bram@example.nl")
    await console.close()


async def test_closing_the_event_needs_confirming_ends_waits_and_refuses_requests(
    new_visitor: Any, world: World
) -> None:
    mod = await moderator(new_visitor)
    hall = await new_visitor().socket()
    _, me, _request_id = await waiting_candidate(
        new_visitor, world.booth_b, "Wim Wacht", "wim@example.nl", "w1"
    )
    unconfirmed = await step(mod, "evenement-sluiten")
    assert unconfirmed.status_code == 400 and MESSAGES["input.confirm"] in page_text(unconfirmed)

    done = await step(mod, "evenement-sluiten", confirm="yes")
    assert done.status_code == 303
    told = await me.next_event(
        "me.state", where=lambda d: d["request"] and d["request"]["status"] == "cancelled"
    )
    assert told["request"]["closed_reason"] == "event_closed"
    delta = await hall.next_event(
        "hall.delta", where=lambda d: d["booths"] and all(b["event_closed"] for b in d["booths"])
    )
    assert not any(b["open_now"] for b in delta["booths"])
    again = await me.send("request.create", {"booth_id": world.booth_a, "client_key": "w2"})
    assert again["error"]["code"] == "event.closed"
    page = page_text(await mod.http.get(STEP_IN))
    assert "Het evenement is gesloten." in page

    assert (await step(mod, "evenement-openen")).status_code == 303
    reopened = await me.send("request.create", {"booth_id": world.booth_a, "client_key": "w3"})
    assert reopened["ok"], reopened
    for peer in (me, hall):
        await peer.close()


async def test_the_audit_log_page_lists_every_step_newest_first_for_moderators_only(
    new_visitor: Any, world: World
) -> None:
    mod = await moderator(new_visitor)
    for form in ("stand-sluiten", "stand-openen") * 3:
        sent = await step(mod, form, booth_id=world.booth_b, waiting=0, confirm="yes")
        assert sent.status_code == 303
    page = await mod.http.get("/moderator/logboek")
    assert page.status_code == 200
    rows = re.findall(
        r'data-testid="audit-entry" data-entry-id="(\d+)" data-action="([a-z.]+)"', page.text
    )
    assert [a for _, a in rows] == ["booth.open", "booth.close"] * 3
    ids = [int(i) for i, _ in rows]
    assert ids == sorted(ids, reverse=True)
    text = page_text(page)
    assert "Stand gesloten" in text and "Stand Bouwbedrijf B" in text and "Moderator" in text

    older = await mod.http.get(f"/moderator/logboek?voor={ids[1]}")
    older_ids = [int(i) for i in re.findall(r'data-entry-id="(\d+)"', older.text)]
    assert older_ids == ids[2:]
    assert (await mod.http.get("/moderator/logboek?voor=abc")).status_code == 400

    # Other parts' steps read as words too, with whom they concern.
    control = await mod.socket()
    posted = await control.send("announcement.create", {"text": "Welkom!", "audience": "all"})
    assert posted["ok"], posted
    await control.close()
    newest = page_text(await mod.http.get("/moderator/logboek"))
    assert newest.index("Mededeling geplaatst") < newest.index("Stand geopend")

    advisor = new_visitor()
    await advisor.log_in("a1@test.example")
    assert (await advisor.http.get("/moderator/logboek")).status_code == 403
    anonymous = new_visitor()
    refused = await anonymous.http.get("/moderator/logboek")
    assert refused.status_code == 303 and refused.headers["location"] == "/inloggen"


async def test_with_two_workers_a_step_on_one_reaches_people_on_the_other(
    two_workers: tuple[Any, Any], world: World, people: list[Browserless]
) -> None:
    """Two server processes sharing live updates through a real Redis: the moderator on one,
    the hall and the candidate on the other."""
    a, b = two_workers
    mod, watcher, candidate, b1 = Browserless(a), Browserless(b), Browserless(b), Browserless(a)
    people += [mod, watcher, candidate, b1]
    await mod.log_in("mod@test.example")
    await b1.log_in("b1@test.example")  # present: a request can be moved to them
    await candidate.sign_in_candidate("Bram Boos", "bram@example.nl")
    hall = await watcher.socket()
    me = await candidate.socket()
    made = await me.send("request.create", {"booth_id": world.booth_b, "client_key": "x1"})
    assert made["ok"], made
    control = await mod.socket()

    closed = await control.send("booth.close", {"booth_id": world.booth_a})
    assert closed["ok"], closed
    await hall.next_event(
        "hall.delta", where=lambda d: (v := booth_in(d, world.booth_a)) and v["closed"]
    )

    moved = await control.send(
        "request.move",
        {
            "request_id": made["data"]["request_id"],
            "booth_id": world.booth_b,
            "advisor_id": world.advisor_b1,
        },
    )
    assert moved["ok"], moved
    await me.next_event(
        "me.state", where=lambda d: d["request"] and d["request"]["advisor_id"] == world.advisor_b1
    )

    candidate_id = db_value_of(b, made["data"]["request_id"])
    blocked = await control.send("candidate.block", {"candidate_id": candidate_id})
    assert blocked["ok"], blocked
    assert await me.wait_closed() is not None  # its socket on the other worker closed
    for peer in (hall, control):
        await peer.close()


def db_value_of(server: Any, request_id: int) -> int:
    return int(
        db_value(server.db_path, "SELECT candidate_id FROM requests WHERE id = ?", (request_id,))
    )


async def test_closing_a_booth_over_the_socket_checks_the_confirmed_number_too(
    new_visitor: Any, world: World
) -> None:
    """``booth.close`` with ``waiting`` is refused when more wait by now, and changes nothing."""
    mod = await moderator(new_visitor)
    control = await mod.socket()
    people = [
        await waiting_candidate(new_visitor, world.booth_b, f"Wacht {n}", f"w{n}@example.nl", "k")
        for n in range(2)
    ]
    refused = await control.send("booth.close", {"booth_id": world.booth_b, "waiting": 1})
    assert refused["error"]["code"] == "moderation.more_waiting", refused
    assert "(2)" in refused["error"]["message"]
    still = await people[0][1].send("session.sync")
    assert still["data"]["me"]["request"]["status"] == "waiting"
    negative = await control.send("booth.close", {"booth_id": world.booth_b, "waiting": -1})
    assert negative["error"]["code"] == "input.invalid", negative
    closed = await control.send("booth.close", {"booth_id": world.booth_b, "waiting": 2})
    assert closed["ok"] and closed["data"]["requests_ended"] == 2, closed
    for _visitor, peer, _request_id in people:
        await peer.close()
    await control.close()
