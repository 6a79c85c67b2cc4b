"""Every name, in every script, comes out as the candidate gave it: on the pages (escaped), in
the proof of attendance (a real PDF read back with poppler's pdftotext), in the calendar file,
in the mail's headers and body (parsed back with Python's e-mail parser) and in the CSV
exports (UTF-8 with a byte order mark, so a spreadsheet reads them)."""

from __future__ import annotations

import csv
import html
import io
import time
import unicodedata
from datetime import datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from app.domain import attendance, booths, reports
from app.domain import booth_setup as booth_admin
from app.domain.calendar_file import build_ics
from app.domain.event import Event
from app.domain.mail_delivery import email_message
from app.storage import outbox as mail
from app.storage.db import Database
from tests.livekit import World
from tests.pdfkit import pdf_texts
from tests.servicekit import make_booth, make_candidate
from tests.test_attendance_web import staff, talk

NAMES = [
    "Özgür Çelik",
    "Ruud van der Berg",
    "IJsbrand Ëlsinga",
    "Anouk ĳssel",
    "Nguyễn Thị Minh Khai",
    "محمد العلي",
    "Ольга Петрова",
    "王秀英",
]
ZONE = ZoneInfo("Europe/Amsterdam")
START = datetime(2026, 11, 26, 10, 0, tzinfo=ZONE).timestamp()
BOM = b"\xef\xbb\xbf"


def plain(text: str) -> str:
    """Text as compared: NFKC (Arabic presentation forms, the ligature ĳ, ... to their
    letters), without format characters (the bidi marks pdftotext puts around right-to-left
    text), whitespace as single spaces."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return " ".join(text.split())


def shows(name: str, text: str) -> bool:
    """Whether ``text`` holds ``name``. pdftotext (poppler 22) gives Arabic back in logical
    order, as letters, between bidi embedding marks (U+202B ... U+202C); other readers give
    visual order (words or letters reversed), which counts as well."""
    text, name = plain(text), plain(name)
    words = name.split()
    return any(
        form in text
        for form in (name, " ".join(reversed(words)), name[::-1], " ".join(w[::-1] for w in words))
    )


def proof_view(name: str) -> dict[str, Any]:
    content = {
        "version": attendance.CONTENT_VERSION,
        "name": name,
        "event": "Banenbeurs Zuid",
        "timezone": "Europe/Amsterdam",
        "days": [{"day": "2026-11-26", "from": START, "until": START + 1200}],
        "conversations": [
            # A booth and an advisor in a script of their own, first in their cells: the
            # cells after them must still show (a fallback font first in a line once left
            # the rest of the page without a font).
            {
                "booth": name,
                "advisor": name,
                "started_at": START,
                "ended_at": START + 600,
                "minutes": 10,
            },
            {
                "booth": "Zorggroep Lindehof",
                "advisor": "Fatima",
                "started_at": START + 600,
                "ended_at": START + 1200,
                "minutes": 10,
            },
        ],
        "total_minutes": 20,
        "follow_ups": [
            {
                "starts_at": START + 86400,
                "minutes": 30,
                "mode": "video",
                "status": "booked",
                "booth": "Zorggroep Lindehof",
                "advisor": name,
            },
        ],
    }
    return attendance.describe(content, START + 1300)


@pytest.mark.parametrize("name", NAMES)
def test_the_proof_pdf_prints_the_name_as_given(name: str) -> None:
    data = attendance.render_pdf(proof_view(name), "ABCDEFGHJKLM")
    lines = pdf_texts(data)
    text = "\n".join(lines)
    naam = [line for line in lines if line.startswith("Naam:")]
    assert len(naam) == 1 and shows(name, naam[0]), naam
    assert "?" not in naam[0]
    assert shows(f"Gesproken met {name}", text) or shows(name, text)
    # The rows after the name are whole: date, time and minutes in the main font.
    assert "donderdag 26 november 2026" in text and "10:10-10:20" in text
    assert "Zorggroep Lindehof" in text and "Totaal: 20 minuten" in text
    assert "ABCD-EFGH-JKLM" in text


def test_the_cjk_font_is_read_only_for_a_proof_that_needs_it() -> None:
    assert attendance.needs_cjk_font(proof_view("王秀英"))
    assert not attendance.needs_cjk_font(proof_view("محمد العلي Ольга Nguyễn Thị ĳssel"))


def test_control_characters_in_a_name_do_not_reach_the_pdf() -> None:
    assert attendance.pdf_text("Özgür\nÇelik\x07") == "Özgür Çelik"
    assert attendance.pdf_text("محمد العلي") == "محمد العلي"


def follow_up(name: str) -> dict[str, Any]:
    """A follow-up as app.domain.calendar_file loads it, with the name everywhere a name goes."""
    return {
        "id": 7, "booth_id": 1, "advisor_id": 2, "candidate_id": 3, "starts_at": START,
        "minutes": 30, "mode": "on_site", "location": f"Stationsplein 1, {name}",
        "message": f"Tot dan, {name}!", "status": "booked", "created_at": START - 86400,
        "sequence": 0, "updated_at": None, "candidate_message": "", "reminded_at": None,
        "booth": f"{name} BV", "booth_slug": "x", "advisor": name, "advisor_email": "a@x.nl",
        "candidate": name, "candidate_email": "c@x.nl", "candidate_erased_at": None,
        "event": "Banenbeurs", "timezone": "Europe/Amsterdam",
    }  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_the_calendar_file_keeps_the_name(name: str) -> None:
    data = build_ics(follow_up(name))
    data.decode("utf-8")  # UTF-8 throughout, also where a long line is folded
    (entry,) = Calendar.from_ical(data).walk("VEVENT")
    assert str(entry["summary"]) == f"Vervolgafspraak met {name} BV"
    assert str(entry["location"]) == f"Stationsplein 1, {name}"
    assert f"Met: {name}" in str(entry["description"])
    assert f"Tot dan, {name}!" in str(entry["description"])


@pytest.mark.parametrize("name", [*NAMES, 'Berg, Ruud "de" (van)'])
def test_the_mail_is_addressed_by_name_in_any_script(name: str) -> None:
    message = mail.Message(
        1, "booked", "kandidaat@voorbeeld.nl", f"Afspraak met {name}", f"Beste {name},\n",
        None, None, 3, 7, START, None, 0, "", START,
    )  # fmt: skip
    raw = email_message(message, None, "Inzoomen <afspraken@inzoomen.example>", name).as_bytes()
    headers = raw.split(b"\n\n", 1)[0]
    headers.decode("ascii")  # encoded words (RFC 2047): every mail server takes them
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    (to,) = parsed["To"].addresses
    assert to.display_name == name and to.addr_spec == "kandidaat@voorbeeld.nl"
    assert str(parsed["Subject"]) == f"Afspraak met {name}"
    body = parsed.get_body(("plain",))
    assert body is not None and body.get_content_charset() == "utf-8"
    assert body.get_content() == f"Beste {name},\n"


def test_a_name_cannot_add_a_header() -> None:
    message = mail.Message(
        1, "booked", "kandidaat@voorbeeld.nl", "Afspraak", "Beste,\n",
        None, None, 3, 7, START, None, 0, "", START,
    )  # fmt: skip
    sneaky = "Özgür\r\nBcc: iedereen@voorbeeld.nl"
    parsed = BytesParser(policy=policy.default).parsebytes(
        email_message(message, None, "afspraken@inzoomen.example", sneaky).as_bytes()
    )
    assert parsed["Bcc"] is None
    assert parsed["To"].addresses[0].display_name == "Özgür Bcc: iedereen@voorbeeld.nl"


async def test_the_recipients_name_comes_from_the_hall(db: Database, event: Event) -> None:
    names = {}
    for i, name in enumerate(NAMES):
        candidate_id = await make_candidate(db, name, f"kandidaat{i}@voorbeeld.nl")
        async with db.transaction() as tx:
            names[name] = await mail.enqueue(
                tx, kind="booked", to_address=f"kandidaat{i}@voorbeeld.nl", subject="Afspraak",
                body="Beste,\n", now=time.time(), candidate_id=candidate_id,
            )  # fmt: skip
    for name, message_id in names.items():
        message = await mail.message(db, message_id)
        assert message is not None
        assert await mail.recipient_name(db, message) == name


@pytest.mark.parametrize("name", NAMES)
def test_the_report_csv_reads_back_in_utf8_with_a_byte_order_mark(name: str) -> None:
    data = reports.to_csv(("booth", "advisor"), [(name, f"={name}")])
    assert data.startswith(BOM)
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows == [["booth", "advisor"], [name, f"'={name}"]]


async def test_the_booth_csv_reads_back_in_utf8_with_a_byte_order_mark(
    db: Database, event: Event
) -> None:
    for i, name in enumerate(NAMES):
        await make_booth(db, f"stand-{i}", name=name, open_now=False)
    data = booth_admin.export_csv(await booths.list_booths(db))
    assert data.startswith(BOM)
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert sorted(r["name"] for r in rows) == sorted(NAMES)


async def test_the_pages_and_the_pdf_show_every_name(
    new_visitor: Any, world: World, world_db: tuple[Path, World]
) -> None:
    _a1, console = await staff(new_visitor, "a1@test.example")
    for i, name in enumerate(NAMES):
        visitor, _conversation = await talk(
            new_visitor, console, world.booth_a, name, f"naam{i}@voorbeeld.nl", f"n{i}"
        )
        page = await visitor.http.get("/mijn-bewijs")
        assert page.status_code == 200
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert html.escape(name, quote=False) in page.text or html.escape(name) in page.text
        assert name in html.unescape(page.text)
        pdf = await visitor.http.get("/mijn-bewijs.pdf")
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        naam = [line for line in pdf_texts(pdf.content) if line.startswith("Naam:")]
        assert len(naam) == 1 and shows(name, naam[0]), naam

    moderator, _socket = await staff(new_visitor, "mod@test.example")
    export = await moderator.http.get("/beheer/stands.csv")
    assert export.status_code == 200
    assert export.headers["content-type"] == "text/csv; charset=utf-8"
    assert export.content.startswith(BOM)
    export.content.decode("utf-8-sig")
    report = await moderator.http.get("/rapport/gesprekken.csv")
    assert report.headers["content-type"] == "text/csv; charset=utf-8"
    assert report.content.startswith(BOM)
