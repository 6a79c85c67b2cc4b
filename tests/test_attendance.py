"""Proof of attendance, on a real SQLite file: what the proof says (from the conversations
and follow-ups), the verification code (same while nothing changed, new after a change, old
codes still valid), checking codes however they are typed, erasure, and the PDF."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from app.core import i18n
from app.domain import attendance, conversations, privacy
from app.domain.event import Event
from app.storage.db import Database
from tests.pdfkit import pdf_pages, pdf_texts
from tests.servicekit import count, make_advisor, make_booth, make_candidate, make_request

ZONE = ZoneInfo("Europe/Amsterdam")
DUTCH_MONTHS = {"januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
                "september", "oktober", "november", "december"}  # fmt: skip


@pytest.fixture(autouse=True)
def _dutch_again() -> object:
    yield
    i18n.set_language(i18n.DEFAULT_LANGUAGE)


async def held(
    db: Database,
    event: Event,
    candidate_id: int,
    booth_id: int,
    advisor_id: int,
    *,
    start: float,
    seconds: float | None,
) -> int:
    """A real request, accepted at ``start``; ended ``seconds`` later (None: still running)."""
    request = await make_request(db, event, candidate_id, booth_id, now=start - 30)
    conversation, _request = await conversations.accept(
        db, event, advisor_id=advisor_id, request_id=request.id, now=start
    )
    if seconds is not None:
        await conversations.end(
            db,
            advisor_id=advisor_id,
            conversation_id=conversation.id,
            now=start + seconds,
            wrap_up_seconds=0,
        )
        async with db.transaction() as tx:
            await tx.execute("UPDATE staff SET status = 'available' WHERE id = ?", (advisor_id,))
    return conversation.id


async def follow_up(
    db: Database,
    *,
    conversation_id: int,
    booth_id: int,
    advisor_id: int | None,
    candidate_id: int,
    starts_at: float,
    minutes: int = 30,
    mode: str = "video",
    status: str = "booked",
) -> int:
    async with db.transaction() as tx:
        return await tx.insert(
            "INSERT INTO follow_ups (conversation_id, booth_id, advisor_id, candidate_id, "
            "starts_at, minutes, mode, location, message, status, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 'https://meet.example.test/x', 'Tot dan', ?, ?)",
            (
                conversation_id,
                booth_id,
                advisor_id,
                candidate_id,
                starts_at,
                minutes,
                mode,
                status,
                time.time(),
            ),
        )


@pytest.fixture
async def hall(db: Database, event: Event) -> dict[str, int]:
    ids = {
        "a": await make_booth(db, "lindehof", name="Zorggroep Lindehof"),
        "b": await make_booth(db, "bouw", name="Bouwbedrijf De Vries & Zn."),
    }
    ids["a1"] = await make_advisor(db, ids["a"], "fatima@lindehof.test", name="Fatima")
    ids["a2"] = await make_advisor(db, ids["a"], "joost@lindehof.test", name="Joost")
    ids["b1"] = await make_advisor(db, ids["b"], "kees@bouw.test", name="Kees")
    ids["zoe"] = await make_candidate(db, "Zoë Çelik-Öztürk", "zoe@voorbeeld.nl")
    ids["other"] = await make_candidate(db, "Ander Persoon", "ander@voorbeeld.nl")
    return ids


async def test_no_conversation_gives_no_proof(
    db: Database, event: Event, hall: dict[str, int]
) -> None:
    request = await make_request(db, event, hall["zoe"], hall["a"])
    assert await attendance.issue(db, hall["zoe"], now=time.time()) is None
    assert await count(db, "attendance_proofs") == 0
    # A running conversation is not counted either.
    await conversations.accept(
        db, event, advisor_id=hall["a1"], request_id=request.id, now=time.time()
    )
    assert await attendance.issue(db, hall["zoe"], now=time.time()) is None
    assert await count(db, "attendance_proofs") == 0


async def test_the_proof_says_what_happened(
    db: Database, event: Event, hall: dict[str, int]
) -> None:
    t0 = time.time()
    first = await held(db, event, hall["zoe"], hall["a"], hall["a1"], start=t0, seconds=600)
    second = await held(db, event, hall["zoe"], hall["b"], hall["b1"], start=t0 + 900, seconds=450)
    # Now in a conversation that has not ended: not on the proof.
    await held(db, event, hall["zoe"], hall["a"], hall["a2"], start=t0 + 1500, seconds=None)
    # Someone else's conversation and follow-up at the same booth: not on it.
    theirs = await held(
        db, event, hall["other"], hall["a"], hall["a1"], start=t0 + 2000, seconds=300
    )
    day = 24 * 3600
    await follow_up(
        db,
        conversation_id=theirs,
        booth_id=hall["a"],
        advisor_id=hall["a1"],
        candidate_id=hall["other"],
        starts_at=t0 + 5 * day,
    )
    await follow_up(
        db,
        conversation_id=first,
        booth_id=hall["a"],
        advisor_id=hall["a1"],
        candidate_id=hall["zoe"],
        starts_at=t0 + 2 * day,
        minutes=45,
    )
    await follow_up(
        db,
        conversation_id=second,
        booth_id=hall["b"],
        advisor_id=None,
        candidate_id=hall["zoe"],
        starts_at=t0 + 3 * day,
        mode="phone",
        status="reschedule_requested",
    )
    await follow_up(
        db,
        conversation_id=second,
        booth_id=hall["b"],
        advisor_id=hall["b1"],
        candidate_id=hall["zoe"],
        starts_at=t0 + 4 * day,
        status="cancelled",
    )

    proof = await attendance.issue(db, hall["zoe"], now=t0 + 3000)
    assert proof is not None and proof.content is not None
    content = proof.content
    assert content["name"] == "Zoë Çelik-Öztürk"
    assert content["event"] == event.name
    assert [(c["booth"], c["advisor"], c["minutes"]) for c in content["conversations"]] == [
        ("Zorggroep Lindehof", "Fatima", 10),
        ("Bouwbedrijf De Vries & Zn.", "Kees", 8),  # 7.5 minutes, rounded
    ]
    assert [c["started_at"] for c in content["conversations"]] == [t0, t0 + 900]
    assert content["total_minutes"] == 18
    assert [(d["from"], d["until"]) for d in content["days"]] == [(t0, t0 + 1350)] or (
        # the two conversations fall on two local days when the test runs around midnight
        len(content["days"]) == 2
    )
    assert [(f["booth"], f["advisor"], f["mode"], f["status"], f["minutes"])
            for f in content["follow_ups"]] == [
        ("Zorggroep Lindehof", "Fatima", "video", "booked", 45),
        ("Bouwbedrijf De Vries & Zn.", "", "phone", "reschedule_requested", 30),
    ]  # fmt: skip
    stored = await db.fetchone(
        "SELECT candidate_id, issued_at, content FROM attendance_proofs WHERE code = ?",
        (proof.code,),
    )
    assert stored is not None
    assert (stored["candidate_id"], stored["issued_at"]) == (hall["zoe"], t0 + 3000)
    assert json.loads(stored["content"]) == content
    assert "Ander Persoon" not in stored["content"]

    view = attendance.describe(content, proof.issued_at)
    start = datetime.fromtimestamp(t0, ZONE)
    assert view["conversations"][0]["start"] == start.strftime("%H:%M")
    assert view["conversations"][0]["date"].split()[2] in DUTCH_MONTHS
    assert view["conversations"][0]["date"].endswith(str(start.year))
    assert [f["mode"] for f in view["follow_ups"]] == ["Video", "Telefoon"]
    assert view["follow_ups"][1]["status"] == "Verzoek om te verzetten"


def test_dates_and_times_in_the_event_zone_in_dutch_and_english() -> None:
    start = datetime(2026, 11, 26, 14, 5, tzinfo=ZONE).timestamp()
    content = {
        "name": "Zoë",
        "event": "LeerWerkWeek",
        "timezone": "Europe/Amsterdam",
        "days": [{"day": "2026-11-26", "from": start, "until": start + 1800}],
        "conversations": [
            {"booth": "A", "advisor": "", "started_at": start, "ended_at": start + 1800,
             "minutes": 30},
        ],
        "total_minutes": 30,
        "follow_ups": [
            {"starts_at": start + 86400 * 7, "minutes": 30, "mode": "on_site",
             "status": "booked", "booth": "A", "advisor": ""},
        ],
    }  # fmt: skip
    view = attendance.describe(content, start + 3600)
    assert view["days"] == [
        {"date": "donderdag 26 november 2026", "start": "14:05", "end": "14:35"}
    ]
    assert view["follow_ups"][0]["date"] == "donderdag 3 december 2026"
    assert view["follow_ups"][0]["mode"] == "Op locatie"
    assert view["issued"] == "donderdag 26 november 2026 15:05"
    i18n.set_language("en")
    view = attendance.describe(content, start)
    assert view["days"][0]["date"] == "Thursday 26 November 2026"
    assert view["follow_ups"][0]["mode"] == "On site"


async def test_same_code_while_unchanged_new_code_after_a_change(
    db: Database, event: Event, hall: dict[str, int]
) -> None:
    t0 = time.time()
    first = await held(db, event, hall["zoe"], hall["a"], hall["a1"], start=t0, seconds=600)
    one = await attendance.issue(db, hall["zoe"], now=t0 + 700)
    revision = await db.revision()
    again = await attendance.issue(db, hall["zoe"], now=t0 + 800)
    assert await db.revision() == revision  # asking again writes nothing at all
    assert one is not None and again is not None
    assert again.code == one.code and again.issued_at == one.issued_at
    assert await count(db, "attendance_proofs") == 1

    # A follow-up is booked: the record changed, so a new code; the old one still holds.
    booked = await follow_up(
        db,
        conversation_id=first,
        booth_id=hall["a"],
        advisor_id=hall["a1"],
        candidate_id=hall["zoe"],
        starts_at=t0 + 86400,
    )
    two = await attendance.issue(db, hall["zoe"], now=t0 + 900)
    assert two is not None and two.code != one.code
    assert await count(db, "attendance_proofs") == 2
    # Cancelled again: the record differs from the last proof, so yet another code.
    async with db.transaction() as tx:
        await tx.execute("UPDATE follow_ups SET status = 'cancelled' WHERE id = ?", (booked,))
    three = await attendance.issue(db, hall["zoe"], now=t0 + 1000)
    assert three is not None and three.code not in (one.code, two.code)

    old = await attendance.verify(db, one.code)
    assert old.status == "valid" and old.proof is not None and old.proof.content is not None
    assert old.proof.content["follow_ups"] == [] and old.proof.issued_at == t0 + 700
    # The first and the third say the same again: both match the record now.
    assert old.current
    middle = await attendance.verify(db, two.code)
    assert middle.status == "valid" and not middle.current
    assert middle.proof is not None and middle.proof.content is not None
    assert len(middle.proof.content["follow_ups"]) == 1
    assert (await attendance.verify(db, three.code)).current

    # Another conversation ends: nothing issued before matches any longer.
    await held(db, event, hall["zoe"], hall["b"], hall["b1"], start=t0 + 1200, seconds=300)
    for code in (one.code, two.code, three.code):
        check = await attendance.verify(db, code)
        assert check.status == "valid" and not check.current


async def test_checking_codes_however_typed(
    db: Database, event: Event, hall: dict[str, int]
) -> None:
    t0 = time.time()
    await held(db, event, hall["zoe"], hall["a"], hall["a1"], start=t0, seconds=600)
    proof = await attendance.issue(db, hall["zoe"], now=t0 + 700)
    assert proof is not None
    shown = proof.display_code
    assert re.fullmatch(r"[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}", shown)
    typed = [
        shown,
        proof.code,
        shown.lower(),
        f"  {shown.replace('-', ' ')}  ",
        " ".join(proof.code.lower()),
        shown.replace("-", "–"),
        f"{proof.code[:4]}--{proof.code[4:]}\t",
    ]
    for text in typed:
        check = await attendance.verify(db, text)
        assert check.status == "valid", text
        assert check.proof is not None and check.proof.code == proof.code
        assert check.current
    unknown_but_well_formed = "".join(
        "A" if ch != "A" else "B" for ch in proof.code
    )  # differs in every place
    for text in [
        "",
        "   ",
        unknown_but_well_formed,
        proof.code[:-1],
        proof.code + "A",
        proof.code[:-1] + "0",  # 0, O, 1 and I are never in a code
        proof.code[:-1] + "O",
        "x" * 1000,
        "'; DROP TABLE attendance_proofs; --",
    ]:
        check = await attendance.verify(db, text)
        assert check.status == "unknown" and check.proof is None, text
    assert await count(db, "attendance_proofs") == 1


def test_codes_are_random_and_easy_to_read() -> None:
    codes = {attendance.new_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert set("".join(codes)) == set(attendance.ALPHABET)
    assert not set("".join(codes)) & set("0O1I")
    assert all(len(code) == 12 for code in codes)
    assert attendance.format_code("ABCDEFGHJKLM") == "ABCD-EFGH-JKLM"
    assert attendance.normalise_code(" abcd efgh-jklm ") == "ABCDEFGHJKLM"


async def test_erased_candidates_proofs_say_so(
    db: Database, event: Event, hall: dict[str, int]
) -> None:
    t0 = time.time()
    await held(db, event, hall["zoe"], hall["a"], hall["a1"], start=t0, seconds=600)
    await held(db, event, hall["other"], hall["a"], hall["a2"], start=t0, seconds=600)
    proof = await attendance.issue(db, hall["zoe"], now=t0 + 700)
    others = await attendance.issue(db, hall["other"], now=t0 + 700)
    assert proof is not None and others is not None

    await privacy.erase(db, hall["zoe"], now=t0 + 800, wrap_up_seconds=0)

    row = await db.fetchone(
        "SELECT content, issued_at FROM attendance_proofs WHERE code = ?", (proof.code,)
    )
    assert row is not None and row["content"] == "" and row["issued_at"] == t0 + 700
    check = await attendance.verify(db, proof.display_code)
    assert check.status == "erased"
    assert check.proof is not None and check.proof.content is None
    assert await attendance.issue(db, hall["zoe"], now=t0 + 900) is None
    # Someone else's proof is untouched.
    theirs = await attendance.verify(db, others.code)
    assert theirs.status == "valid" and theirs.current


async def test_no_shows_are_not_counted(db: Database, event: Event, hall: dict[str, int]) -> None:
    t0 = time.time()
    gone = await held(db, event, hall["zoe"], hall["a"], hall["a1"], start=t0, seconds=120)
    async with db.transaction() as tx:
        await tx.execute("UPDATE conversations SET no_show_at = ended_at WHERE id = ?", (gone,))
    assert await attendance.issue(db, hall["zoe"], now=t0 + 200) is None
    await held(db, event, hall["zoe"], hall["b"], hall["b1"], start=t0 + 300, seconds=300)
    proof = await attendance.issue(db, hall["zoe"], now=t0 + 700)
    assert proof is not None and proof.content is not None
    assert [c["booth"] for c in proof.content["conversations"]] == ["Bouwbedrijf De Vries & Zn."]


async def test_the_pdf_holds_the_proof_and_the_code(
    db: Database, event: Event, hall: dict[str, int]
) -> None:
    t0 = time.time()
    first = await held(db, event, hall["zoe"], hall["a"], hall["a1"], start=t0, seconds=600)
    await follow_up(
        db,
        conversation_id=first,
        booth_id=hall["a"],
        advisor_id=hall["a1"],
        candidate_id=hall["zoe"],
        starts_at=t0 + 86400,
    )
    proof = await attendance.issue(db, hall["zoe"], now=t0 + 700)
    assert proof is not None and proof.content is not None
    data = attendance.render_pdf(attendance.describe(proof.content, proof.issued_at), proof.code)
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    assert b"/MediaBox [0 0 595.28 841.89]" in data  # A4 in points
    text = "\n".join(pdf_texts(data))
    assert proof.display_code in text
    assert "Naam: Zoë Çelik-Öztürk" in text
    assert "Zorggroep Lindehof" in text and "Fatima" in text
    assert "Bewijs van deelname" in text
    assert "Totaal: 10 minuten" in text


def test_a_long_proof_keeps_each_row_on_one_page() -> None:
    start = datetime(2026, 11, 26, 9, 0, tzinfo=ZONE).timestamp()
    rows = [
        {
            "booth": f"Organisatie-{i:02d} met een lange naam die over meer regels loopt",
            "advisor": f"Adviseur {i}",
            "date": "donderdag 26 november 2026",
            "start": f"10:{i:02d}",
            "end": f"11:{i:02d}",
            "minutes": 60,
            "duration": "60 minuten",
        }
        for i in range(40)
    ]
    view = attendance.describe(
        {
            "name": "Zoë",
            "event": "LeerWerkWeek",
            "timezone": "Europe/Amsterdam",
            "days": [{"day": "2026-11-26", "from": start, "until": start + 3600}],
            "conversations": [],
            "total_minutes": 2400,
            "follow_ups": [],
        },
        start,
    )
    view["conversations"] = rows
    data = attendance.render_pdf(view, "ABCDEFGHJKLM")
    pages = ["\n".join(texts) for texts in pdf_pages(data) if texts]
    assert len(pages) >= 3
    for i in range(40):
        together = [
            p for p in pages if f"Organisatie-{i:02d}" in p and f"10:{i:02d}-11:{i:02d}" in p
        ]
        assert together, f"row {i} is split over two pages"
    assert any("ABCD-EFGH-JKLM" in p for p in pages)


def minute_start() -> float:
    """A moment 5 s into a minute, a while ago: a short conversation from then starts and
    ends in the same minute."""
    return (time.time() // 60 - 10) * 60 + 5


async def test_a_conversation_shorter_than_a_minute_is_said_to_be_so(
    db: Database, event: Event, hall: dict[str, int]
) -> None:
    t0 = minute_start()
    await held(db, event, hall["zoe"], hall["a"], hall["a1"], start=t0, seconds=10)
    proof = await attendance.issue(db, hall["zoe"], now=t0 + 60)
    assert proof is not None and proof.content is not None
    # The exact length for machines; no minute that was not there.
    [talk] = proof.content["conversations"]
    assert (talk["seconds"], talk["minutes"]) == (10, 0)
    assert (proof.content["total_seconds"], proof.content["total_minutes"]) == (10, 0)

    view = attendance.describe(proof.content, proof.issued_at)
    [row] = view["conversations"]
    clock = datetime.fromtimestamp(t0, ZONE).strftime("%H:%M")
    assert (row["start"], row["end"], row["duration"]) == (clock, clock, "korter dan een minuut")
    assert view["total"] == "Totaal: korter dan een minuut"

    text = "\n".join(pdf_texts(attendance.render_pdf(view, proof.code)))
    assert "korter dan een minuut" in text
    assert "Totaal: korter dan een minuut" in text
    assert "1 minuut" not in text
    # One moment, not "from 06:46 to 06:46".
    assert f" om {clock}" in text and f"{clock}-{clock}" not in text
    assert f"tot {clock}" not in text

    i18n.set_language("en")
    view = attendance.describe(proof.content, proof.issued_at)
    assert view["conversations"][0]["duration"] == "less than a minute"
    assert view["total"] == "Total: less than a minute"
    text = "\n".join(pdf_texts(attendance.render_pdf(view, proof.code)))
    assert "Total: less than a minute" in text and "Took part on" in text


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (1, "korter dan een minuut"),
        (59, "korter dan een minuut"),
        (60, "1 minuut"),
        (89, "1 minuut"),
        (90, "2 minuten"),
        (450, "8 minuten"),
        (600, "10 minuten"),
    ],
)
def test_lengths_in_words(seconds: int, words: str) -> None:
    assert attendance.duration_text(seconds) == words
    assert attendance.whole_minutes(seconds) == (0 if seconds < 60 else int(words.split()[0]))


async def test_the_total_is_the_real_time_spent(
    db: Database, event: Event, hall: dict[str, int]
) -> None:
    t0 = minute_start() - 3600
    await held(db, event, hall["zoe"], hall["a"], hall["a1"], start=t0, seconds=40)
    await held(db, event, hall["zoe"], hall["b"], hall["b1"], start=t0 + 600, seconds=40)
    proof = await attendance.issue(db, hall["zoe"], now=t0 + 900)
    assert proof is not None and proof.content is not None
    view = attendance.describe(proof.content, proof.issued_at)
    assert [c["duration"] for c in view["conversations"]] == ["korter dan een minuut"] * 2
    # 80 seconds together: a minute and a bit.
    assert view["total"] == "Totaal: 1 minuut"


async def test_a_proof_issued_before_lengths_in_seconds_still_holds_and_reads_right(
    db: Database, event: Event, hall: dict[str, int]
) -> None:
    """A proof of the first version said "1" for a conversation of ten seconds. Its facts
    are the record's: checking it says it is current, asking again gives the same code, and
    it reads "korter dan een minuut" now."""
    t0 = minute_start()
    await held(db, event, hall["zoe"], hall["a"], hall["a1"], start=t0, seconds=10)
    record = await attendance.current_record(db, hall["zoe"])
    assert record is not None
    old = {k: v for k, v in record.items() if k not in ("total_seconds", "total_minutes")}
    old["version"] = 1
    old["conversations"] = [
        {k: v for k, v in c.items() if k != "seconds"} | {"minutes": 1}
        for c in record["conversations"]
    ]
    old["total_minutes"] = 1
    async with db.transaction() as tx:
        await tx.insert(
            "INSERT INTO attendance_proofs (code, candidate_id, issued_at, content) "
            "VALUES (?, ?, ?, ?)",
            ("ABCDEFGHJKLM", hall["zoe"], t0 + 30, json.dumps(old)),
        )

    check = await attendance.verify(db, "ABCD-EFGH-JKLM")
    assert check.status == "valid" and check.current
    assert check.proof is not None and check.proof.content is not None
    view = attendance.describe(check.proof.content, check.proof.issued_at)
    assert view["conversations"][0]["duration"] == "korter dan een minuut"
    assert view["total"] == "Totaal: korter dan een minuut"
    again = await attendance.issue(db, hall["zoe"], now=t0 + 60)
    assert again is not None and again.code == "ABCDEFGHJKLM"
    assert await count(db, "attendance_proofs") == 1
