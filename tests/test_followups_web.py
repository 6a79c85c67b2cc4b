"""Follow-ups against a real server on loopback: the advisor's booking form and availability,
the candidate's "Mijn afspraken" (cancel with a confirm step, ask to reschedule, the .ics
for the owner only), and the advisor's console socket hearing the candidate's change live."""

from __future__ import annotations

import html
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar

from app.core.errors import MESSAGES
from tests.livekit import Browserless, Peer, World, csrf_from
from tests.livekit import db_value as value

ZONE = ZoneInfo("Europe/Amsterdam")
MESSAGE = 'Neem je <b>cv</b> mee & "diploma"'
NOTES = "Wil BBL zorg; geheim voor de kandidaat"


def local(days: int, hour: int, minute: int = 0) -> str:
    moment = (datetime.now(ZONE) + timedelta(days=days)).replace(
        hour=hour, minute=minute, second=0, microsecond=0
    )
    return moment.strftime("%Y-%m-%dT%H:%M")


def rows(path: Path, table: str) -> list[Any]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return connection.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
    finally:
        connection.close()


async def post(who: Browserless, path: str, form: dict[str, Any]) -> Any:
    token = await who.csrf("/")
    return await who.http.post(path, data={"csrf": token, **form})


async def talking(new_visitor: Any, world: World) -> tuple[Browserless, Peer, Browserless, int]:
    """Advisor A1 in a conversation with Sanne, with notes; returns the advisor, their
    console socket, Sanne and the conversation id."""
    advisor = new_visitor()
    await advisor.log_in("a1@test.example")
    console = await advisor.socket()
    sanne = new_visitor()
    await sanne.sign_in_candidate("Sanne de Vries", "sanne@example.nl")
    mine = await sanne.socket()
    made = await mine.send("request.create", {"booth_id": world.booth_a, "client_key": "s1"})
    assert made["ok"], made
    started = await console.send("request.accept", {"request_id": made["data"]["request_id"]})
    conversation_id = started["data"]["conversation_id"]
    saved = await console.send(
        "conversation.note", {"conversation_id": conversation_id, "notes": NOTES}
    )
    assert saved["ok"], saved
    await mine.close()
    return advisor, console, sanne, conversation_id


def booking(conversation_id: int, **changes: Any) -> dict[str, Any]:
    form = {
        "conversation_id": str(conversation_id),
        "offer": "",
        "starts": local(2, 10),
        "minutes": "30",
        "mode": "video",
        "location": "",
        "holder": "me",
        "message": MESSAGE,
    }
    form.update(changes)
    return form


async def test_booking_form_books_and_the_candidate_sees_and_downloads_it(
    new_visitor: Any, world: World, world_db: tuple[Path, World]
) -> None:
    db_path = world_db[0]
    advisor, console, sanne, conversation_id = await talking(new_visitor, world)

    # The running conversation links to the form; the form offers the booth's people.
    page = (await advisor.http.get("/adviseur")).text
    assert f'href="/adviseur/vervolgafspraak?gesprek={conversation_id}"' in page
    form = await advisor.http.get(f"/adviseur/vervolgafspraak?gesprek={conversation_id}")
    assert form.status_code == 200
    assert 'name="starts"' in form.text and "Adviseur A2" in form.text
    assert "Bouwbedrijf B" in form.text
    assert html.escape(NOTES, quote=False) in form.text

    # Bad input: a clear message per field, nothing stored.
    before = rows(db_path, "follow_ups")
    refused = await post(
        advisor,
        "/adviseur/vervolgafspraak",
        booking(conversation_id, starts=local(-1, 10), mode="on_site", location=""),
    )
    assert refused.status_code == 400
    text = html.unescape(refused.text)
    assert MESSAGES["follow_up.in_past"] in text
    assert MESSAGES["follow_up.address_required"] in text
    assert 'id="field-starts"' in refused.text
    assert rows(db_path, "follow_ups") == before == []

    booked = await post(advisor, "/adviseur/vervolgafspraak", booking(conversation_id))
    assert booked.status_code == 303, booked.text
    assert booked.headers["location"].startswith("/adviseur/vervolgafspraken/")
    follow_up_id = int(booked.headers["location"].split("/")[-1].split("?")[0])
    detail = await advisor.http.get(booked.headers["location"])
    assert "De vervolgafspraak is geboekt." in detail.text
    assert html.escape(NOTES, quote=False) in detail.text
    # The same advisor at an overlapping time is refused, by name of the clash.
    clash = await post(
        advisor, "/adviseur/vervolgafspraak", booking(conversation_id, starts=local(2, 10, 15))
    )
    assert clash.status_code == 409
    assert "10:00" in clash.text
    assert value(db_path, "SELECT COUNT(*) FROM follow_ups") == 1
    # An advisor of another booth cannot see it.
    other = new_visitor()
    await other.log_in("b1@test.example")
    assert (await other.http.get(f"/adviseur/vervolgafspraken/{follow_up_id}")).status_code == 404

    # The candidate: linked from the navigation and their request page; the message is
    # shown as text, the notes are not there.
    mine = await sanne.http.get("/mijn-verzoek")
    assert 'href="/mijn-afspraken"' in mine.text
    appointments = await sanne.http.get("/mijn-afspraken")
    assert appointments.status_code == 200
    assert MESSAGE in html.unescape(appointments.text)
    assert "<b>cv</b>" not in appointments.text
    assert "Zorggroep A" in appointments.text and "Adviseur A1" in appointments.text
    assert "30 minuten" in appointments.text
    assert "geheim" not in appointments.text

    # The calendar file: for the owner only; it parses, in the event's zone.
    ics = await sanne.http.get(f"/mijn-afspraken/{follow_up_id}.ics")
    assert ics.status_code == 200
    assert ics.headers["content-type"].startswith("text/calendar")
    assert "attachment" in ics.headers["content-disposition"]
    calendar = Calendar.from_ical(ics.content)
    events = [c for c in calendar.walk() if c.name == "VEVENT"]
    assert len(events) == 1
    start = events[0].decoded("DTSTART")
    assert start.strftime("%Y-%m-%dT%H:%M") == local(2, 10)
    assert (
        start.utcoffset() == datetime.fromisoformat(local(2, 10)).replace(tzinfo=ZONE).utcoffset()
    )
    assert int(events[0]["SEQUENCE"]) == 0
    piet = new_visitor()
    await piet.sign_in_candidate("Piet Anders", "piet@example.nl")
    assert (await piet.http.get(f"/mijn-afspraken/{follow_up_id}.ics")).status_code == 404
    assert (await piet.http.get("/mijn-afspraken/999999.ics")).status_code == 404
    assert "Sanne" not in (await piet.http.get("/mijn-afspraken")).text
    assert (await advisor.http.get(f"/mijn-afspraken/{follow_up_id}.ics")).status_code == 403
    anonymous = new_visitor()
    assert (await anonymous.http.get(f"/mijn-afspraken/{follow_up_id}.ics")).status_code == 303
    await console.close()


async def test_the_console_hears_the_candidates_cancel_and_ask_live(
    new_visitor: Any, world: World, world_db: tuple[Path, World]
) -> None:
    db_path = world_db[0]
    advisor, console, sanne, conversation_id = await talking(new_visitor, world)
    made = await console.send(
        "follow_up.book",
        {
            "conversation_id": conversation_id,
            "starts": local(3, 14),
            "minutes": 20,
            "mode": "on_site",
            "location": "Stationsplein 1, Utrecht",
            "message": "Tot dan",
        },
    )
    assert made["ok"], made
    first = made["data"]["follow_up_id"]
    seen = await console.next_event(
        "console.state", where=lambda d: [f["id"] for f in d["follow_ups"]] == [first]
    )
    assert seen["follow_ups"][0]["status"] == "booked"
    second = (
        await console.send(
            "follow_up.book",
            {
                "conversation_id": conversation_id,
                "starts": local(3, 15),
                "minutes": 30,
                "mode": "video",
            },
        )
    )["data"]["follow_up_id"]

    # The candidate asks to reschedule over their socket: the console hears it.
    peer = await sanne.socket()
    bad = await peer.send("follow_up.ask_reschedule", {"follow_up_id": first, "message": " "})
    assert bad["error"]["code"] == "input.invalid"
    assert "message" in bad["error"]["fields"]
    asked = await peer.send(
        "follow_up.ask_reschedule", {"follow_up_id": first, "message": "Kan het later?"}
    )
    assert asked["ok"], asked
    assert asked["data"]["sequence"] == 1
    state = await console.next_event(
        "console.state",
        where=lambda d: any(f["status"] == "reschedule_requested" for f in d["follow_ups"]),
    )
    item = next(f for f in state["follow_ups"] if f["id"] == first)
    assert item["candidate_message"] == "Kan het later?"
    assert "notes" not in item

    # Someone else's follow-up is unknown to another candidate; nothing changes.
    piet = new_visitor()
    await piet.sign_in_candidate("Piet Anders", "piet@example.nl")
    before = rows(db_path, "follow_ups")
    pieter = await piet.socket()
    foreign = await pieter.send("follow_up.cancel_mine", {"follow_up_id": first})
    assert foreign["error"]["code"] == "follow_up.not_found"
    foreign_form = await post(piet, f"/mijn-afspraken/{first}/annuleren", {"confirm": "yes"})
    assert foreign_form.status_code == 404
    assert rows(db_path, "follow_ups") == before

    # Cancel by the form: the confirm step first, then the console hears it at once.
    confirm = await sanne.http.get(f"/mijn-afspraken/{second}/annuleren")
    assert confirm.status_code == 200 and 'name="confirm"' in confirm.text
    unconfirmed = await post(sanne, f"/mijn-afspraken/{second}/annuleren", {})
    assert unconfirmed.status_code == 400
    assert MESSAGES["input.confirm"] in html.unescape(unconfirmed.text)
    assert rows(db_path, "follow_ups") == before
    done = await post(sanne, f"/mijn-afspraken/{second}/annuleren", {"confirm": "yes"})
    assert done.status_code == 303
    assert done.headers["location"] == "/mijn-afspraken?gedaan=geannuleerd"
    state = await console.next_event(
        "console.state",
        where=lambda d: any(
            f["id"] == second and f["status"] == "cancelled" for f in d["follow_ups"]
        ),
    )
    assert value(db_path, "SELECT sequence FROM follow_ups WHERE id = ?", (second,)) == 1
    assert "De afspraak is geannuleerd." in (await sanne.http.get(done.headers["location"])).text

    # The advisor moves the asked one: booked again, sequence bumped; by the form.
    moved = await post(
        advisor,
        f"/adviseur/vervolgafspraken/{first}/verzetten",
        {"starts": local(4, 9, 30), "minutes": "45"},
    )
    assert moved.status_code == 303, moved.text
    row = value(
        db_path,
        "SELECT status || ':' || sequence || ':' || minutes FROM follow_ups WHERE id = ?",
        (first,),
    )
    assert row == "booked:2:45"
    # A cancelled one cannot be moved; the page says so and nothing changes.
    again = await console.send(
        "follow_up.reschedule", {"follow_up_id": second, "starts": local(5, 10)}
    )
    assert again["error"]["code"] == "follow_up.cancelled"
    # Mails were queued for each change, in order.
    kinds = [r[1] for r in rows(db_path, "outbox")]
    assert kinds == ["booked", "booked", "reschedule_requested", "cancelled", "changed"]
    await peer.close()
    await pieter.close()
    await console.close()


async def test_availability_offers_times_in_the_form(
    new_visitor: Any, world: World, world_db: tuple[Path, World]
) -> None:
    db_path = world_db[0]
    advisor, console, _sanne, conversation_id = await talking(new_visitor, world)
    page = await advisor.http.get("/adviseur/beschikbaarheid")
    assert page.status_code == 200
    wrong = await post(
        advisor, "/adviseur/beschikbaarheid", {"starts": local(2, 12), "ends": local(2, 11)}
    )
    assert wrong.status_code == 400
    assert MESSAGES["input.time_order"] in html.unescape(wrong.text)
    assert rows(db_path, "advisor_availability") == []
    added = await post(
        advisor, "/adviseur/beschikbaarheid", {"starts": local(2, 13), "ends": local(2, 14)}
    )
    assert added.status_code == 303
    listed = await advisor.http.get(added.headers["location"])
    assert "Je beschikbaarheid is toegevoegd." in listed.text
    form = (await advisor.http.get(f"/adviseur/vervolgafspraak?gesprek={conversation_id}")).text
    values = [o.split('"', 1)[0] for o in form.split('name="offer" value="')[1:]]
    assert values[:3] == [local(2, 13), local(2, 13, 15), local(2, 13, 30)]
    # Choosing an offer books that time, whatever the typed field says.
    chosen = await post(
        advisor, "/adviseur/vervolgafspraak", booking(conversation_id, offer=local(2, 13, 15))
    )
    assert chosen.status_code == 303, chosen.text
    # Now 13:15-13:45 is taken: no half hour fits in 13:00-14:00 any more; a quarter does.
    for minutes, expected in (("30", []), ("15", [local(2, 13), local(2, 13, 45)])):
        form = (
            await advisor.http.get(
                f"/adviseur/vervolgafspraak?gesprek={conversation_id}&minuten={minutes}"
            )
        ).text
        offered = [o.split('"', 1)[0] for o in form.split('name="offer" value="')[1:]]
        assert [v for v in offered if v] == expected
    # Another advisor cannot remove it; its owner can.
    period_id = value(db_path, "SELECT id FROM advisor_availability")
    other = new_visitor()
    await other.log_in("a2@test.example")
    assert (
        await post(other, f"/adviseur/beschikbaarheid/{period_id}/verwijderen", {})
    ).status_code == 404
    removed = await post(advisor, f"/adviseur/beschikbaarheid/{period_id}/verwijderen", {})
    assert removed.status_code == 303
    assert rows(db_path, "advisor_availability") == []
    await console.close()


async def test_the_moderator_books_for_the_booth_and_both_advisors_see_it(
    new_visitor: Any, world: World
) -> None:
    _advisor, console, _sanne, conversation_id = await talking(new_visitor, world)
    colleague = new_visitor()
    await colleague.log_in("a2@test.example")
    colleague_console = await colleague.socket()
    moderator = new_visitor()
    await moderator.log_in("mod@test.example")
    form = await moderator.http.get(f"/adviseur/vervolgafspraak?gesprek={conversation_id}")
    assert form.status_code == 200
    assert csrf_from(form.text)
    booked = await post(moderator, "/adviseur/vervolgafspraak", booking(conversation_id))
    assert booked.status_code == 303, booked.text
    for peer in (console, colleague_console):
        state = await peer.next_event("console.state", where=lambda d: d["follow_ups"])
        assert state["follow_ups"][0]["advisor_id"] is None
        assert state["follow_ups"][0]["booth_name"] == "Zorggroep A"
    await colleague_console.close()
    await console.close()
