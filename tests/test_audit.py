"""The audit log speaks the reader's language: details are kept as a kind and values, and
put into words through the catalogues. Entries an older version wrote as English phrases are
read back into the same kinds, so an old database reads the same. Checked as rules, on a
real SQLite file, and on the audit page of a real server in Dutch and in English."""

from __future__ import annotations

import html
import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.core import i18n
from app.domain import accounts, announcements, audit, audit_text, moderation
from app.domain.audit import Detail
from app.domain.event import Event
from app.storage.db import Database
from tests.livekit import Browserless, World
from tests.servicekit import make_booth, make_candidate, make_request


@pytest.fixture(autouse=True)
def _dutch_again() -> Iterator[None]:
    """Tests that switch the language of this process leave it Dutch."""
    yield
    i18n.set_language(i18n.DEFAULT_LANGUAGE)


# Every phrase an older version wrote, exactly as its code formatted it, and the detail it
# is read back as.
OLD_PHRASES: list[tuple[str, str, Detail]] = [
    ("event.close", "waiting requests ended: 1", Detail("requests_ended", {"count": 1})),
    ("booth.close", "waiting requests ended: 0", Detail("requests_ended", {"count": 0})),
    (
        "request.move",
        "from booth:1 to booth:2 advisor:3",
        Detail(
            "request_moved",
            {"from_booth": 1, "from_advisor": None, "to_booth": 2, "to_advisor": 3},
        ),
    ),
    (
        "request.move",
        "from booth:1 advisor:4 to booth:2",
        Detail(
            "request_moved",
            {"from_booth": 1, "from_advisor": 4, "to_booth": 2, "to_advisor": None},
        ),
    ),
    ("conversation.stop", "booth:1", Detail("at_booth", {"booth": 1})),
    (
        "candidate.block",
        "requests ended: 1, conversations ended: 0, sessions ended: 2",
        Detail("candidate_blocked", {"requests": 1, "conversations": 0, "sessions": 2}),
    ),
    (
        "announcement.create",
        "all: Om 15:00: pauze",
        Detail("announcement", {"audience": "all", "text": "Om 15:00: pauze"}),
    ),
    (
        "announcement.create",
        "advisors: Koffie\nstaat klaar",
        Detail("announcement", {"audience": "advisors", "text": "Koffie\nstaat klaar"}),
    ),
    (
        "event.settings",
        "name, timezone",
        Detail("settings_changed", {"fields": ["name", "timezone"]}),
    ),
    ("event.settings", "-", Detail("settings_changed", {"fields": []})),
    (
        "event.extension",
        "extension_minutes",
        Detail("settings_changed", {"fields": ["extension_minutes"]}),
    ),
    (
        "event.readiness",
        "ready_seconds=60, ready_step_back=3, join_seconds=120",
        Detail(
            "readiness_settings", {"ready_seconds": 60, "ready_step_back": 3, "join_seconds": 120}
        ),
    ),
    ("event.day_added", "09:00-17:00", Detail("hours", {"opens": "09:00", "closes": "17:00"})),
    ("event.day_changed", "10:00-16:00", Detail("hours", {"opens": "10:00", "closes": "16:00"})),
    ("event.day_removed", "2 schedule blocks removed", Detail("blocks_removed", {"count": 2})),
    ("booth.create", "Zorggroep A", Detail("booth_name", {"name": "Zorggroep A"})),
    ("booth.update", "Zorg; en welzijn", Detail("booth_name", {"name": "Zorg; en welzijn"})),
    (
        "booth.remove",
        "Zorg; en welzijn; 2 advisors deactivated",
        Detail("booth_removed", {"name": "Zorg; en welzijn", "advisors": 2}),
    ),
    ("booth.move", "up to 1", Detail("booth_moved", {"direction": "up", "position": 1})),
    ("booth.move", "down to 3", Detail("booth_moved", {"direction": "down", "position": 3})),
    (
        "booth.import",
        "2 created, 1 updated",
        Detail("booths_imported", {"created": 2, "updated": 1}),
    ),
    (
        "schedule.add",
        "2026-03-12 09:00-12:00 staff:3",
        Detail("slot", {"day": "2026-03-12", "starts": "09:00", "ends": "12:00", "advisor": 3}),
    ),
    (
        "schedule.remove",
        "2026-03-12 09:00-12:00",
        Detail("slot", {"day": "2026-03-12", "starts": "09:00", "ends": "12:00", "advisor": None}),
    ),
    ("staff.invite", "moderator", Detail("invited", {"role": "moderator", "booth": None})),
    ("staff.invite", "advisor booth:2", Detail("invited", {"role": "advisor", "booth": 2})),
    (
        "staff.deactivate",
        "2 waiting requests now for the booth",
        Detail("deactivated", {"released": 2}),
    ),
    (
        "staff.assign",
        "booth:1 -> booth:2",
        Detail("assigned", {"from_booth": 1, "to_booth": 2, "released": 0}),
    ),
    (
        "staff.assign",
        "booth:1 -> booth:2; 1 waiting requests now for the booth",
        Detail("assigned", {"from_booth": 1, "to_booth": 2, "released": 1}),
    ),
    (
        "conversation.allow_extension",
        "booth 1, advisor 3",
        Detail("with_advisor", {"booth": 1, "advisor": 3}),
    ),
    (
        "follow_up.book",
        "2026-03-12T14:00 30 min video",
        Detail("follow_up", {"local": "2026-03-12T14:00", "minutes": 30, "mode": "video"}),
    ),
    (
        "follow_up.reschedule",
        "2026-03-12T14:00 45 min",
        Detail("follow_up", {"local": "2026-03-12T14:00", "minutes": 45, "mode": None}),
    ),
]

NAMES = audit_text.Names(
    booths={1: "Zorggroep A", 2: "Bouwbedrijf B"},
    staff={3: "Fatima", 4: "Joost"},
    announcements={},
)

# Each kind in words, in Dutch and in English, with the names above.
IN_WORDS: list[tuple[Detail, str, str]] = [
    (
        Detail("requests_ended", {"count": 1}),
        "1 wachtend verzoek beëindigd",
        "1 waiting request ended",
    ),
    (
        Detail("requests_ended", {"count": 3}),
        "3 wachtende verzoeken beëindigd",
        "3 waiting requests ended",
    ),
    (Detail("requests_ended", {"count": 0}), "Er wachtte niemand.", "Nobody was waiting."),
    (
        Detail(
            "request_moved",
            {"from_booth": 1, "from_advisor": None, "to_booth": 2, "to_advisor": 3},
        ),
        "Van Zorggroep A: de eerste die vrij is naar Bouwbedrijf B, bij Fatima",
        "From Zorggroep A: whoever is free first to Bouwbedrijf B, with Fatima",
    ),
    (Detail("at_booth", {"booth": 1}), "Bij Zorggroep A", "At Zorggroep A"),
    (
        Detail("candidate_blocked", {"requests": 1, "conversations": 0, "sessions": 2}),
        "1 wachtend verzoek beëindigd, 0 gesprekken beëindigd, afgemeld in 2 browsers",
        "1 waiting request ended, 0 conversations ended, signed out in 2 browsers",
    ),
    (
        Detail("announcement", {"audience": "all", "text": "Om 15:00: pauze"}),
        "Iedereen in de hal: “Om 15:00: pauze”",
        "Everyone in the hall: “Om 15:00: pauze”",
    ),
    (
        Detail("announcement", {"audience": "advisors", "text": "Koffie"}),
        "Alleen de adviseurs: “Koffie”",
        "Advisors only: “Koffie”",
    ),
    (
        Detail("settings_changed", {"fields": ["name", "timezone"]}),
        "Gewijzigd: Naam van het evenement; Tijdzone",
        "Changed: Name of the event; Time zone",
    ),
    (Detail("settings_changed", {"fields": []}), "Niets gewijzigd.", "Nothing changed."),
    (
        Detail("readiness_settings", {"ready_seconds": 60, "ready_step_back": 3}),
        "Tijd om te laten weten dat je klaar bent (seconden): 60; "
        "Plaatsen terug na geen reactie: 3",
        "Time to say you are ready (seconds): 60; Places back after no answer: 3",
    ),
    (
        Detail("hours", {"opens": "09:00", "closes": "17:00"}),
        "Open van 09:00 tot 17:00",
        "Open from 09:00 to 17:00",
    ),
    (
        Detail("blocks_removed", {"count": 2}),
        "2 roosterblokken verwijderd",
        "2 schedule blocks removed",
    ),
    (Detail("booth_name", {"name": "Zorggroep A"}), "Naam: Zorggroep A", "Name: Zorggroep A"),
    (
        Detail("booth_removed", {"name": "Zorggroep A", "advisors": 1}),
        "Naam: Zorggroep A, 1 adviseur uitgezet",
        "Name: Zorggroep A, 1 advisor deactivated",
    ),
    (
        Detail("booth_moved", {"direction": "up", "position": 1}),
        "Eén plek omhoog, nu op plek 1",
        "One place up, now in place 1",
    ),
    (
        Detail("booth_moved", {"direction": "down", "position": 3}),
        "Eén plek omlaag, nu op plek 3",
        "One place down, now in place 3",
    ),
    (
        Detail("booths_imported", {"created": 2, "updated": 1}),
        "2 toegevoegd, 1 gewijzigd",
        "2 added, 1 changed",
    ),
    (
        Detail("slot", {"day": "2026-03-12", "starts": "09:00", "ends": "12:00", "advisor": 3}),
        "donderdag 12 maart van 09:00 tot 12:00, Fatima",
        "Thursday 12 March from 09:00 to 12:00, Fatima",
    ),
    (Detail("invited", {"role": "moderator", "booth": None}), "Organisator", "Organiser"),
    (
        Detail("invited", {"role": "advisor", "booth": 2}),
        "Adviseur bij Bouwbedrijf B",
        "Advisor at Bouwbedrijf B",
    ),
    (
        Detail("deactivated", {"released": 2}),
        "2 wachtende verzoeken zijn nu voor de eerste die vrij is",
        "2 waiting requests now go to whoever is free first",
    ),
    (
        Detail("assigned", {"from_booth": 1, "to_booth": 2, "released": 1}),
        "Van Zorggroep A naar Bouwbedrijf B, 1 wachtend verzoek is nu voor de eerste die vrij is",
        "From Zorggroep A to Bouwbedrijf B, 1 waiting request now goes to whoever is free first",
    ),
    (
        Detail("with_advisor", {"booth": 1, "advisor": 3}),
        "Fatima bij Zorggroep A",
        "Fatima at Zorggroep A",
    ),
    (
        Detail("follow_up", {"local": "2026-03-12T14:00", "minutes": 30, "mode": "video"}),
        "donderdag 12 maart 14:00, 30 minuten, Video",
        "Thursday 12 March 14:00, 30 minutes, Video",
    ),
    (
        Detail("follow_up", {"local": "2026-03-12T14:00", "minutes": 1, "mode": "phone"}),
        "donderdag 12 maart 14:00, 1 minuut, Telefoon",
        "Thursday 12 March 14:00, 1 minute, Phone",
    ),
]

# Words that give away the other language in a detail (names and typed texts aside).
ENGLISH = re.compile(
    r"\b(waiting|requests?|ended|created|updated|advisors?|deactivated|schedule|blocks?|"
    r"removed|booth|sessions?|conversations?|from|to|min|up|down|changed|nothing|all)\b",
    re.IGNORECASE,
)
DUTCH = re.compile(
    r"\b(wachtende?|verzoek(en)?|beëindigd|toegevoegd|gewijzigd|adviseurs?|uitgezet|"
    r"roosterblok(ken)?|verwijderd|stand|gesprek(ken)?|afgemeld|van|naar|bij|plek|"
    r"omhoog|omlaag|niets|niemand|iedereen|minuut|minuten|eerste|mededeling|naam)\b",
    re.IGNORECASE,
)


# -- the rules ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("action", "phrase", "expected"), OLD_PHRASES)
def test_every_old_english_phrase_is_read_back_as_its_kind(
    action: str, phrase: str, expected: Detail
) -> None:
    assert audit.read_detail(action, phrase) == expected


def test_a_detail_is_stored_as_data_and_read_back_the_same() -> None:
    detail = Detail("request_moved", {"from_booth": 1, "from_advisor": None, "to_booth": 2})
    stored = detail.stored()
    assert audit.read_detail("request.move", stored) == detail
    assert audit.read_detail("booth.open", "") is None
    # A phrase this code never wrote stays as it is.
    assert audit.read_detail("booth.close", "iets anders") == Detail(
        "text", {"text": "iets anders"}
    )
    # A booth whose name looks like JSON is still a name.
    assert audit.read_detail("booth.create", '{"a": 1}') == Detail(
        "booth_name", {"name": '{"a": 1}'}
    )
    # A long text is cut; the JSON around it stays whole.
    long = Detail("announcement", {"audience": "all", "text": "x" * 500})
    cut = audit.read_detail("announcement.create", long.stored())
    assert cut is not None and cut.values["text"] == "x" * (audit.DETAIL_MAX - 1) + "…"


@pytest.mark.parametrize(("detail", "dutch", "english"), IN_WORDS)
def test_every_kind_reads_in_dutch_and_in_english(detail: Detail, dutch: str, english: str) -> None:
    i18n.set_language("nl")
    assert audit_text.detail_text(detail, NAMES) == dutch
    i18n.set_language("en")
    assert audit_text.detail_text(detail, NAMES) == english


def test_every_kind_written_has_words_and_every_old_phrase_too() -> None:
    kinds = {detail.kind for detail, _nl, _en in IN_WORDS}
    assert {expected.kind for _a, _p, expected in OLD_PHRASES} <= kinds
    assert kinds | {"text"} == set(audit_text._KINDS)


def test_every_action_written_has_a_label() -> None:
    """Read from the writers themselves: every ``action=`` of an audit entry in app/."""
    app = Path(__file__).resolve().parent.parent / "app"
    written: set[str] = set()
    for path in sorted(app.rglob("*.py")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip().startswith("action=") or 'action="' in line:
                written |= set(re.findall(r'"([a-z_]+\.[a-z_]+)"', line))
    assert {"booth.close", "event.day_changed", "follow_up.cancel"} <= written
    assert written <= set(audit_text.ACTION_LABELS), written - set(audit_text.ACTION_LABELS)


def test_every_kind_of_subject_written_has_a_label() -> None:
    app = Path(__file__).resolve().parent.parent / "app"
    kinds = {
        kind
        for path in sorted(app.rglob("*.py"))
        for kind in re.findall(r'subject=f?"([a-z_]+)', path.read_text(encoding="utf-8"))
    }
    assert {"booth", "booths", "announcement", "follow_up", "day"} <= kinds
    assert kinds <= set(audit_text.SUBJECT_LABELS), kinds - set(audit_text.SUBJECT_LABELS)


def test_an_announcement_is_named_by_the_start_of_its_text() -> None:
    assert announcements.short_name("Koffie staat klaar") == "Koffie staat klaar"
    assert (
        announcements.short_name("  Om 15:00\nbegint   de pauze. ") == "Om 15:00 begint de pauze."
    )
    long = "Om 15:00 begint de pauze in de grote zaal, met koffie en thee voor iedereen"
    named = announcements.short_name(long)
    assert named == "Om 15:00 begint de pauze in de grote…"
    assert len(named) <= announcements.NAME_MAX + 1
    # One long word is cut where the limit is.
    assert announcements.short_name("x" * 60) == "x" * announcements.NAME_MAX + "…"


async def test_the_log_names_announcements_and_keeps_no_english_on_a_real_database(
    db: Database, event: Event
) -> None:
    async with db.transaction() as tx:
        mod = await accounts.create_staff(
            tx, email="mod@voorbeeld.nl", name="Mo", role="moderator", password="x" * 12
        )
    booth = await make_booth(db, "a", name="Zorggroep A")
    candidate = await make_candidate(db, "Sanne")
    await make_request(db, event, candidate, booth)
    now = time.time()
    await moderation.set_booth_closed(db, staff_id=mod, booth_id=booth, closed=True, now=now)
    text = "<b>Koffie</b> staat klaar in de kantine, kom langs"
    made, _ = await announcements.create(db, staff_id=mod, audience="all", text=text, now=now)
    await announcements.end(db, staff_id=mod, announcement_id=made.id, now=now)
    stored = [row[0] for row in await db.fetchall("SELECT detail FROM audit_log ORDER BY id")]
    assert stored == [
        '{"kind": "requests_ended", "values": {"count": 1}}',
        '{"kind": "announcement", "values": {"audience": "all", "text": "' + text + '"}}',
        "",
    ]
    entries = await audit.entries(db)
    names = audit_text.Names(announcements={made.id: made.name})
    subjects = [audit_text.subject_text(e.subject, names) for e in entries]
    assert subjects[:2] == ["Mededeling “<b>Koffie</b> staat klaar in de kantine…”"] * 2
    i18n.set_language("en")
    assert audit_text.subject_text(entries[0].subject, names).startswith("Announcement “<b>Koffie")
    assert audit_text.detail_text(entries[-1].parsed_detail, names) == "1 waiting request ended"


# -- the audit page, old and new entries, in both languages --------------------------------


TYPED = "<b>Koffie</b> staat klaar"


def _insert_old_entries(path: Path, world: World) -> None:
    """What a database written by an older version holds: English phrases."""
    rows = [
        ("booth.close", f"booth:{world.booth_a}", "waiting requests ended: 2"),
        (
            "request.move",
            "request:1",
            f"from booth:{world.booth_a} to booth:{world.booth_b} advisor:{world.advisor_b1}",
        ),
        (
            "candidate.block",
            "candidate:1",
            "requests ended: 1, conversations ended: 0, sessions ended: 1",
        ),
        ("announcement.create", "announcement:999", "all: Welkom op de beurs"),
        ("booth.import", "booths", "2 created, 1 updated"),
        ("booth.remove", f"booth:{world.booth_b}", "Bouwbedrijf B; 1 advisors deactivated"),
        ("event.day_removed", "day:2026-03-12", "3 schedule blocks removed"),
        (
            "staff.assign",
            f"staff:{world.advisor_a1}",
            f"booth:{world.booth_a} -> booth:{world.booth_b}",
        ),
        (
            "conversation.allow_extension",
            "conversation:1",
            f"booth {world.booth_a}, advisor {world.advisor_a1}",
        ),
        ("follow_up.book", "follow_up:1", "2026-03-12T14:00 30 min video"),
        ("event.settings", "event", "name, timezone"),
    ]
    with sqlite3.connect(path) as connection:
        connection.executemany(
            "INSERT INTO audit_log (at, staff_id, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
            [(time.time(), world.moderator, a, s, d) for a, s, d in rows],
        )


def _details(page: str, label: str) -> list[str]:
    cells = re.findall(rf'<td data-label="{label}">(.*?)</td>', page, re.DOTALL)
    return [html.unescape(c).strip() for c in cells]


def _without_names(text: str) -> str:
    for name in (
        "Zorggroep A",
        "Bouwbedrijf B",
        "Adviseur A1",
        "Adviseur B1",
        "Moderator",
        "Welkom op de beurs",
        TYPED,
    ):
        text = text.replace(name, "")
    return text


async def test_the_audit_page_speaks_one_language_for_old_and_new_entries(
    new_visitor: Any, world: World, world_db: tuple[Path, World]
) -> None:
    _insert_old_entries(world_db[0], world)
    mod: Browserless = new_visitor()
    await mod.log_in("mod@test.example")
    control = await mod.socket()
    made = await control.send("announcement.create", {"text": TYPED, "audience": "advisors"})
    assert made["ok"], made
    ended = await control.send(
        "announcement.end", {"announcement_id": made["data"]["announcement_id"]}
    )
    assert ended["ok"], ended
    assert (await control.send("booth.close", {"booth_id": world.booth_b}))["ok"]
    await control.close()

    dutch = (await mod.http.get("/moderator/logboek")).text
    english = (await mod.http.get("/moderator/logboek", headers={"Accept-Language": "en"})).text
    assert '<html lang="en">' not in dutch and '<html lang="en">' in english
    nl_details, en_details = _details(dutch, "Details"), _details(english, "Details")
    assert len(nl_details) == len(en_details) == 14
    for text in nl_details:
        assert not ENGLISH.search(_without_names(text)), text
    for text in en_details:
        assert not DUTCH.search(_without_names(text)), text
    assert "2 wachtende verzoeken beëindigd" in nl_details
    assert "2 waiting requests ended" in en_details
    assert f"Alleen de adviseurs: “{TYPED}”" in nl_details
    assert f"Advisors only: “{TYPED}”" in en_details
    # What the moderator typed is shown as text, never as markup.
    assert "<b>Koffie" not in dutch and "&lt;b&gt;Koffie&lt;/b&gt;" in dutch
    assert (
        "Van Zorggroep A: de eerste die vrij is naar Bouwbedrijf B, bij Adviseur B1" in nl_details
    )

    # Announcements are named by their text; one no longer in its table by the text its
    # entry kept.
    nl_subjects = _details(dutch, "Waarop")
    assert nl_subjects.count(f"Mededeling “{TYPED}”") == 2
    assert "Mededeling “Welkom op de beurs”" in nl_subjects
    en_subjects = _details(english, "Subject")
    assert en_subjects.count(f"Announcement “{TYPED}”") == 2
    for text in en_subjects:
        assert not DUTCH.search(_without_names(text)), text
