"""Announcements: the rules of making and ending them on a real SQLite file (with the audit
entry of each), the moderator's page and forms, and what each role hears over the WebSocket
of a real server (and of two workers sharing Redis)."""

from __future__ import annotations

import html
import sqlite3
import time
from datetime import datetime
from typing import Any

import pytest

from app.core.errors import DomainError, ValidationError
from app.domain import accounts, announcements, audit
from app.domain.event import Event
from app.storage.db import Database
from tests.livekit import Browserless, LiveServer, Peer, World, csrf_from
from tests.servicekit import count

PAGE = "/moderator/mededelingen"


async def make_moderator(db: Database) -> int:
    async with db.transaction() as tx:
        return await accounts.create_staff(
            tx, email="mod@voorbeeld.nl", name="Moniek", role="moderator", password="x" * 12
        )


# -- the rules, on a real SQLite file --------------------------------------------------------


async def test_create_keeps_the_text_and_writes_the_audit_entry(db: Database, event: Event) -> None:
    moderator = await make_moderator(db)
    now = time.time()
    made, created = await announcements.create(
        db, staff_id=moderator, audience="all", text="  Om 15:00 begint de pauze.\r\n  ", now=now
    )
    assert created
    assert (made.audience, made.text, made.created_by_name) == (
        "all",
        "Om 15:00 begint de pauze.",
        "Moniek",
    )
    assert made.live
    entries = await audit.entries(db)
    assert [(e.action, e.subject, e.staff_id) for e in entries] == [
        ("announcement.create", f"announcement:{made.id}", moderator)
    ]
    assert entries[0].parsed_detail == audit.Detail(
        "announcement", {"audience": "all", "text": "Om 15:00 begint de pauze."}
    )
    assert [a.id for a in await announcements.live_announcements(db)] == [made.id]


async def test_the_same_text_twice_is_one_announcement(db: Database, event: Event) -> None:
    moderator = await make_moderator(db)
    first, created = await announcements.create(
        db, staff_id=moderator, audience="all", text="Welkom!", now=time.time()
    )
    again, created_again = await announcements.create(
        db, staff_id=moderator, audience="all", text="Welkom!", now=time.time()
    )
    assert created and not created_again and again.id == first.id
    # To the other audience it is another announcement.
    other, created_other = await announcements.create(
        db, staff_id=moderator, audience="advisors", text="Welkom!", now=time.time()
    )
    assert created_other and other.id != first.id
    assert await count(db, "announcements") == 2
    assert await count(db, "audit_log") == 2


@pytest.mark.parametrize(
    ("text", "audience", "errors"),
    [
        ("", "all", {"text": "input.required"}),
        (" \n\t ", "all", {"text": "input.required"}),
        ("x" * (announcements.TEXT_MAX + 1), "all", {"text": "input.too_long"}),
        ("bel\x07", "all", {"text": "input.invalid"}),
        ("Hallo", "candidates", {"audience": "input.bad_choice"}),
        ("", "", {"text": "input.required", "audience": "input.bad_choice"}),
    ],
)
async def test_bad_input_is_refused_and_changes_nothing(
    db: Database, event: Event, text: str, audience: str, errors: dict[str, str]
) -> None:
    moderator = await make_moderator(db)
    with pytest.raises(ValidationError) as refused:
        await announcements.create(
            db, staff_id=moderator, audience=audience, text=text, now=time.time()
        )
    assert {name: error.code for name, error in refused.value.errors.items()} == errors
    assert await count(db, "announcements") == 0
    assert await count(db, "audit_log") == 0


async def test_the_limit_is_exactly_the_limit(db: Database, event: Event) -> None:
    moderator = await make_moderator(db)
    text = "é" * announcements.TEXT_MAX
    made, _ = await announcements.create(
        db, staff_id=moderator, audience="all", text=text, now=time.time()
    )
    assert made.text == text
    # A line break sent by a browser as CRLF counts as one character.
    crlf = "a\r\n" * (announcements.TEXT_MAX // 2)
    made, _ = await announcements.create(
        db, staff_id=moderator, audience="all", text=crlf, now=time.time()
    )
    assert len(made.text) == announcements.TEXT_MAX - 1


async def test_no_more_than_the_most_live_at_once(db: Database, event: Event) -> None:
    moderator = await make_moderator(db)
    made = []
    for n in range(announcements.LIVE_MAX):
        one, _ = await announcements.create(
            db, staff_id=moderator, audience="all", text=f"Nummer {n}", now=time.time()
        )
        made.append(one)
    with pytest.raises(DomainError) as refused:
        await announcements.create(
            db, staff_id=moderator, audience="advisors", text="Eén te veel", now=time.time()
        )
    assert refused.value.code == "announcement.too_many"
    assert await count(db, "announcements") == announcements.LIVE_MAX
    await announcements.end(db, staff_id=moderator, announcement_id=made[0].id, now=time.time())
    await announcements.create(
        db, staff_id=moderator, audience="advisors", text="Nu wel", now=time.time()
    )


async def test_end_once_with_its_audit_entry(db: Database, event: Event) -> None:
    moderator = await make_moderator(db)
    made, _ = await announcements.create(
        db, staff_id=moderator, audience="advisors", text="Koffie staat klaar", now=time.time()
    )
    at = time.time()
    ended = await announcements.end(db, staff_id=moderator, announcement_id=made.id, now=at)
    assert (ended.ended_at, ended.ended_by_name, ended.live) == (at, "Moniek", False)
    assert await announcements.live_announcements(db) == []
    with pytest.raises(DomainError) as twice:
        await announcements.end(db, staff_id=moderator, announcement_id=made.id, now=time.time())
    assert twice.value.code == "announcement.ended"
    with pytest.raises(DomainError) as missing:
        await announcements.end(db, staff_id=moderator, announcement_id=999, now=time.time())
    assert missing.value.code == "announcement.not_found"
    actions = [e.action for e in await audit.entries(db)]
    assert actions == ["announcement.end", "announcement.create"]
    # Ended, the same text can be made live again: a new announcement.
    again, created = await announcements.create(
        db, staff_id=moderator, audience="advisors", text="Koffie staat klaar", now=time.time()
    )
    assert created and again.id != made.id


async def test_who_sees_which_audience(db: Database, event: Event) -> None:
    moderator = await make_moderator(db)
    everyone, _ = await announcements.create(
        db, staff_id=moderator, audience="all", text="Voor iedereen", now=time.time()
    )
    staff_only, _ = await announcements.create(
        db, staff_id=moderator, audience="advisors", text="Alleen adviseurs", now=time.time()
    )
    for role in ("anonymous", "candidate"):
        audiences = announcements.audiences_for(role)
        seen = await announcements.live_announcements(db, audiences)
        assert [a.id for a in seen] == [everyone.id], role
    for role in ("advisor", "moderator"):
        audiences = announcements.audiences_for(role)
        seen = await announcements.live_announcements(db, audiences)
        assert [a.id for a in seen] == [staff_only.id, everyone.id], role
    # What a client is told: no staff names, nothing it does not show.
    assert announcements.view(staff_only) == {
        "id": staff_only.id,
        "audience": "advisors",
        "text": "Alleen adviseurs",
        "created_at": staff_only.created_at,
    }


async def test_ended_today_counts_from_midnight_in_the_event_zone(
    db: Database, event: Event
) -> None:
    moderator = await make_moderator(db)
    midnight = datetime(2026, 3, 12, 0, 0, tzinfo=event.zone).timestamp()
    old, _ = await announcements.create(
        db, staff_id=moderator, audience="all", text="Gisteren", now=midnight - 7200
    )
    await announcements.end(db, staff_id=moderator, announcement_id=old.id, now=midnight - 60)
    new, _ = await announcements.create(
        db, staff_id=moderator, audience="all", text="Vandaag", now=midnight + 60
    )
    await announcements.end(db, staff_id=moderator, announcement_id=new.id, now=midnight + 120)
    await announcements.create(
        db, staff_id=moderator, audience="all", text="Nog live", now=midnight + 180
    )
    today = await announcements.ended_today(db, event, midnight + 3600)
    assert [a.id for a in today] == [new.id]
    assert announcements.start_of_day(event, midnight + 3600) == midnight


# -- the page and its forms, on a real server ------------------------------------------------


async def moderator_of(server: LiveServer) -> Browserless:
    moderator = Browserless(server)
    await moderator.log_in("mod@test.example")
    return moderator


async def post_announcement(
    who: Browserless, text: str, audience: str = "all", csrf: str | None = None
) -> Any:
    token = csrf or csrf_from((await who.http.get("/inloggen")).text)
    return await who.http.post(PAGE, data={"csrf": token, "text": text, "audience": audience})


async def test_the_page_makes_lists_and_ends_announcements(
    server: LiveServer, world: World, people: list[Browserless]
) -> None:
    moderator = await moderator_of(server)
    people.append(moderator)
    page = await moderator.http.get(PAGE)
    assert page.status_code == 200
    assert f'maxlength="{announcements.TEXT_MAX}"' in page.text
    assert f"maximaal {announcements.TEXT_MAX} tekens" in page.text
    assert 'data-testid="no-live-announcements"' in page.text

    posted = await post_announcement(moderator, "<b>Pauze</b> om 15:00")
    assert posted.status_code == 303
    assert posted.headers["location"] == f"{PAGE}?gedaan=geplaatst"
    page = await moderator.http.get(posted.headers["location"])
    assert 'data-testid="announcement-done"' in page.text
    # Escaped everywhere: in the list and in the banner at the top.
    assert "<b>Pauze</b>" not in page.text
    assert page.text.count(html.escape("<b>Pauze</b> om 15:00")) >= 2
    assert 'data-testid="live-announcement"' in page.text
    # Its end button names it by the start of its text, escaped too.
    assert '<span class="visually-hidden">: &lt;b&gt;Pauze&lt;/b&gt; om 15:00</span>' in page.text

    announcement_id = int(
        page.text.split('data-testid="live-announcement" data-announcement-id="')[1].split('"')[0]
    )
    token = csrf_from(page.text)
    ended = await moderator.http.post(f"{PAGE}/{announcement_id}/beeindigen", data={"csrf": token})
    assert ended.status_code == 303
    page = await moderator.http.get(ended.headers["location"])
    assert 'data-testid="no-live-announcements"' in page.text
    assert 'data-testid="ended-announcement"' in page.text
    # Ending it again tells the moderator it already ended, on the page itself.
    again = await moderator.http.post(f"{PAGE}/{announcement_id}/beeindigen", data={"csrf": token})
    assert again.status_code == 409
    assert "Deze mededeling is al beëindigd." in again.text
    assert 'data-testid="announcement-form"' in again.text


async def test_the_form_says_what_is_wrong_and_keeps_what_was_typed(
    server: LiveServer, world: World, people: list[Browserless]
) -> None:
    moderator = await moderator_of(server)
    people.append(moderator)
    too_long = "x" * (announcements.TEXT_MAX + 1)
    answer = await post_announcement(moderator, too_long, "advisors")
    assert answer.status_code == 400
    assert 'data-testid="error-summary"' in answer.text
    assert 'href="#field-text"' in answer.text
    assert f"maximaal {announcements.TEXT_MAX} tekens" in answer.text
    assert too_long in answer.text  # kept in the field, to shorten
    assert 'value="advisors" checked' in answer.text
    empty = await post_announcement(moderator, "   ")
    assert empty.status_code == 400 and 'data-testid="field-error-text"' in empty.text
    page = await moderator.http.get(PAGE)
    assert 'data-testid="no-live-announcements"' in page.text
    # Over the socket the same limit, with the same message.
    desk = await moderator.socket()
    reply = await desk.send("announcement.create", {"text": too_long, "audience": "all"})
    assert reply["error"]["code"] == "input.invalid"
    assert f"maximaal {announcements.TEXT_MAX} tekens" in reply["error"]["fields"]["text"]
    await desk.close()
    # Line breaks typed in the form (sent as CRLF) count once each.
    lines = "\r\n".join(["regel"] * (announcements.TEXT_MAX // 6))
    assert len(lines) > announcements.TEXT_MAX
    assert (await post_announcement(moderator, lines)).status_code == 303


async def test_the_banner_is_on_every_page_from_the_first_paint(
    server: LiveServer, world: World, people: list[Browserless]
) -> None:
    moderator = await moderator_of(server)
    candidate, advisor, visitor = Browserless(server), Browserless(server), Browserless(server)
    people += [moderator, candidate, advisor, visitor]
    await candidate.sign_in_candidate("Sanne", "sanne@example.nl")
    await advisor.log_in("a1@test.example")
    assert (await post_announcement(moderator, "Voor iedereen in de hal")).status_code == 303
    assert (
        await post_announcement(moderator, "Alleen voor adviseurs", "advisors")
    ).status_code == 303
    for who, paths, sees_advisors in (
        (visitor, ["/", "/privacy", "/aanmelden"], False),
        (candidate, ["/", "/mijn-verzoek", "/mijn-gegevens", "/toegankelijkheid"], False),
        (advisor, ["/adviseur", "/"], True),
        (moderator, [PAGE], True),
    ):
        for path in paths:
            page = await who.http.get(path)
            assert page.status_code == 200, path
            assert "Voor iedereen in de hal" in page.text, path
            assert ("Alleen voor adviseurs" in page.text) is sees_advisors, path


# -- live, over the WebSocket ----------------------------------------------------------------


def texts(items: list[dict[str, Any]]) -> list[str]:
    return [a["text"] for a in items]


def showing(peer: Peer, audience: str, wanted: list[str]):  # type: ignore[no-untyped-def]
    def check(data: dict[str, Any]) -> bool:
        return data["audience"] == audience and texts(data["announcements"]) == wanted

    return check


async def test_each_role_hears_only_its_announcements_live(
    server: LiveServer, world: World, people: list[Browserless]
) -> None:
    moderator = await moderator_of(server)
    candidate, advisor, visitor = Browserless(server), Browserless(server), Browserless(server)
    people += [moderator, candidate, advisor, visitor]
    await candidate.sign_in_candidate("Sanne", "sanne@example.nl")
    await advisor.log_in("b1@test.example")
    hall, me, console, desk = (
        await visitor.socket(),
        await candidate.socket(),
        await advisor.socket(),
        await moderator.socket(),
    )
    for peer in (hall, me, console, desk):
        assert peer.state["announcements"]["announcements"] == []

    made = await desk.send(
        "announcement.create", {"text": "Alleen adviseurs", "audience": "advisors"}
    )
    assert made["ok"], made
    staff_only = made["data"]["announcement_id"]
    made = await desk.send("announcement.create", {"text": "Iedereen", "audience": "all"})
    assert made["ok"], made
    everyone = made["data"]["announcement_id"]

    for peer in (hall, me, console, desk):
        await peer.next_event("announcements.state", where=showing(peer, "all", ["Iedereen"]))
    for peer in (console, desk):
        await peer.next_event(
            "announcements.state", where=showing(peer, "advisors", ["Alleen adviseurs"])
        )
    # A connection opened now gets them in its state: what its role may see, newest first.
    late_me, late_console = await candidate.socket(), await advisor.socket()
    assert texts(late_me.state["announcements"]["announcements"]) == ["Iedereen"]
    assert texts(late_console.state["announcements"]["announcements"]) == [
        "Iedereen",
        "Alleen adviseurs",
    ]

    ended = await desk.send("announcement.end", {"announcement_id": everyone})
    assert ended["ok"], ended
    for peer in (hall, me, late_me, console, desk):
        await peer.next_event("announcements.state", where=showing(peer, "all", []))
    assert (await desk.send("announcement.end", {"announcement_id": staff_only}))["ok"]
    for peer in (console, late_console, desk):
        await peer.next_event("announcements.state", where=showing(peer, "advisors", []))

    # Candidates and visitors were never sent the advisors' one, in any frame.
    for peer in (hall, me, late_me):
        assert not any("Alleen adviseurs" in str(frame) for frame in peer.events)
        assert "Alleen adviseurs" not in str(peer.state)
        assert not any(
            frame["event"] == "announcements.state" and frame["data"]["audience"] == "advisors"
            for frame in peer.events
        )
    for peer in (hall, me, console, desk, late_me, late_console):
        await peer.close()


async def test_only_the_moderator_may_announce(
    server: LiveServer, world: World, people: list[Browserless]
) -> None:
    candidate, advisor, visitor = Browserless(server), Browserless(server), Browserless(server)
    people += [candidate, advisor, visitor]
    await candidate.sign_in_candidate("Sanne", "sanne@example.nl")
    await advisor.log_in("a1@test.example")
    for who, code in (
        (visitor, "auth.sign_in_required"),
        (candidate, "auth.forbidden"),
        (advisor, "auth.forbidden"),
    ):
        peer = await who.socket()
        reply = await peer.send("announcement.create", {"text": "Hoi", "audience": "all"})
        assert reply["error"]["code"] == code
        reply = await peer.send("announcement.end", {"announcement_id": 1})
        assert reply["error"]["code"] == code
        await peer.close()
        answer = await post_announcement(who, "Hoi")
        assert answer.status_code == 403
    connection = sqlite3.connect(server.db_path)
    try:
        assert connection.execute("SELECT COUNT(*) FROM announcements").fetchone() == (0,)
        assert connection.execute("SELECT COUNT(*) FROM audit_log").fetchone() == (0,)
    finally:
        connection.close()


async def test_two_workers_tell_their_own_clients(
    two_workers: tuple[LiveServer, LiveServer], world: World, people: list[Browserless]
) -> None:
    a, b = two_workers
    moderator = await moderator_of(a)
    visitor, advisor = Browserless(b), Browserless(b)
    people += [moderator, visitor, advisor]
    await advisor.log_in("a2@test.example")
    hall, console = await visitor.socket(), await advisor.socket()
    desk = await moderator.socket()
    made = await desk.send("announcement.create", {"text": "Via werker A", "audience": "all"})
    assert made["ok"], made
    await hall.next_event("announcements.state", where=showing(hall, "all", ["Via werker A"]))
    made = await desk.send("announcement.create", {"text": "Team", "audience": "advisors"})
    await console.next_event("announcements.state", where=showing(console, "advisors", ["Team"]))
    # Worker B holds them too: a page opened there shows both at once.
    page = await advisor.http.get("/adviseur")
    assert "Via werker A" in page.text and "Team" in page.text
    assert (
        await desk.send("announcement.end", {"announcement_id": made["data"]["announcement_id"]})
    )["ok"]
    await console.next_event("announcements.state", where=showing(console, "advisors", []))
    for peer in (hall, console, desk):
        await peer.close()
