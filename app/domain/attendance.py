"""Proof of attendance: what a candidate did at the event, for people who must show what
they did to find work.

A proof says: the candidate's name as they gave it, the event, the day(s) and times they
took part, each organisation (booth) they spoke with, when and for how long, and their
follow-up appointments (booked or asked to be moved, not cancelled). Only conversations
that ended count; a running one does not. A length is said as it was: in whole minutes, or
"korter dan een minuut" for a conversation that ended within one, never a rounded-up "1".

When the candidate asks for their proof, it is issued under a verification code: a short
code that is easy to type and read aloud (12 characters without 0, O, 1 or I, shown as
``XXXX-XXXX-XXXX``), stored with a snapshot of exactly what the proof says. Asking again
while nothing changed gives the same code; a changed record gives a new code, and old codes
stay valid for what they said then. The moderator checks a code: what it said, when it was
issued, and whether it still matches the candidate's record. Erasing the candidate empties
the snapshot (``app.domain.privacy``); the code then says the data was erased.

The document itself (a PDF made with fpdf2) is made here as well; the pages only serve it.
It is written in the fonts in ``app/fonts`` (see the README there), so that every name is
printed as the candidate gave it, in whatever script: Noto Sans for Latin (with Vietnamese
and the Dutch and Turkish letters), Greek and Cyrillic, Noto Sans Arabic and Droid Sans
Fallback (Chinese, Japanese, Korean) where it has no glyph. Text shaping (HarfBuzz) joins
Arabic letters and sets right-to-left text in its order.
"""

from __future__ import annotations

import functools
import json
import secrets
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date

from app.core import i18n
from app.core.i18n import N_
from app.core.i18n import gettext as _
from app.storage.db import Database, Transaction

# Easy to read aloud and type: no 0/O and no 1/I.
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 12
GROUP = 4
# How many new codes to try when one is taken already (32**12 codes: practically never).
CODE_TRIES = 10
# 2: each conversation has its length in seconds, and minutes are 0 below one minute (1 held
# "1" for a conversation of ten seconds). Older proofs are read as version 2 (``_upgraded``).
CONTENT_VERSION = 2

MODES = {"video": N_("Video"), "phone": N_("Telefoon"), "on_site": N_("Op locatie")}
FOLLOW_UP_STATUSES = {
    "booked": N_("Afgesproken"),
    "reschedule_requested": N_("Verzoek om te verzetten"),
}


@dataclass(frozen=True)
class Proof:
    """One issued proof. ``content`` is None once the candidate's data was erased."""

    code: str
    candidate_id: int
    issued_at: float
    content: dict[str, Any] | None

    @property
    def display_code(self) -> str:
        return format_code(self.code)


@dataclass(frozen=True)
class Check:
    """What checking a typed code found: ``status`` is "unknown", "valid" or "erased";
    ``current`` says whether a valid proof still matches the candidate's record."""

    status: str
    proof: Proof | None = None
    current: bool = False


# -- codes --------------------------------------------------------------------------------


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def format_code(code: str) -> str:
    return "-".join(code[i : i + GROUP] for i in range(0, len(code), GROUP))


def normalise_code(typed: str) -> str | None:
    """The code as stored, from what someone typed: case, spaces and dashes do not matter.
    None when it cannot be a code at all."""
    if not isinstance(typed, str) or len(typed) > 100:
        return None
    cleaned = "".join(ch for ch in typed.upper() if not ch.isspace() and ch not in "-‐‑–—_.")
    if len(cleaned) != CODE_LENGTH or any(ch not in ALPHABET for ch in cleaned):
        return None
    return cleaned


# -- what the proof says ------------------------------------------------------------------


def _canonical(content: dict[str, Any]) -> str:
    return json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def length_seconds(started_at: float, ended_at: float) -> int:
    """A conversation's length in whole seconds."""
    return max(0, round(ended_at - started_at))


def whole_minutes(seconds: float) -> int:
    """A length in whole minutes, to the nearest; 0 below one minute. A conversation of ten
    seconds is not "1 minute": the words say it was shorter than one (``duration_text``)."""
    return 0 if seconds < 60 else int((seconds + 30) // 60)


def _conversation(started_at: float, ended_at: float, **names: str) -> dict[str, Any]:
    seconds = length_seconds(started_at, ended_at)
    return {
        **names,
        "started_at": started_at,
        "ended_at": ended_at,
        "seconds": seconds,
        "minutes": whole_minutes(seconds),
    }


def _totals(conversations: list[dict[str, Any]]) -> dict[str, int]:
    """The time spent in all conversations, from their real lengths (not from the rounded
    minutes of each)."""
    seconds = sum(int(c["seconds"]) for c in conversations)
    return {"total_seconds": seconds, "total_minutes": whole_minutes(seconds)}


def _upgraded(content: dict[str, Any]) -> dict[str, Any]:
    """A proof's content in the current version. Version 1 lacked the lengths in seconds and
    rounded short conversations up to a minute: both follow from the times it holds, so an
    older proof that says the same facts still matches the record (same code, "current")."""
    if "total_seconds" in content and all("seconds" in c for c in content["conversations"]):
        return content
    conversations = [
        _conversation(c["started_at"], c["ended_at"], booth=c["booth"], advisor=c["advisor"])
        for c in content["conversations"]
    ]
    rest = {k: v for k, v in content.items() if k not in ("total_minutes", "total_seconds")}
    return {
        **rest,
        "version": CONTENT_VERSION,
        "conversations": conversations,
        **_totals(conversations),
    }


def _same(stored: str, content: dict[str, Any]) -> bool:
    """Whether a stored proof says what ``content`` says (an older version read as new)."""
    return stored == _canonical(content) or (
        bool(stored) and _canonical(_upgraded(json.loads(stored))) == _canonical(content)
    )


async def _record(db: Database | Transaction, candidate_id: int) -> dict[str, Any] | None:
    """What the candidate's proof says now, or None when they have no counted conversation
    (or no longer exist, or were erased)."""
    person = await db.fetchone(
        "SELECT name FROM candidates WHERE id = ? AND erased_at IS NULL", (candidate_id,)
    )
    if person is None:
        return None
    event = await db.fetchone("SELECT name, timezone FROM event WHERE id = 1")
    if event is None:
        return None
    # A conversation that ended because the candidate never came (a no-show, see
    # app.domain.readiness) is no proof of anything.
    rows = await db.fetchall(
        "SELECT c.started_at, c.ended_at, b.name AS booth, COALESCE(s.name, '') AS advisor "
        "FROM conversations c JOIN booths b ON b.id = c.booth_id "
        "LEFT JOIN staff s ON s.id = c.advisor_id "
        "WHERE c.candidate_id = ? AND c.ended_at IS NOT NULL AND c.ended_at > c.started_at "
        "AND c.no_show_at IS NULL ORDER BY c.started_at, c.id",
        (candidate_id,),
    )
    if not rows:
        return None
    zone = ZoneInfo(event["timezone"])
    conversations = [
        _conversation(
            row["started_at"], row["ended_at"], booth=row["booth"], advisor=row["advisor"]
        )
        for row in rows
    ]
    days: dict[str, dict[str, Any]] = {}
    for c in conversations:
        day = datetime.fromtimestamp(c["started_at"], zone).date().isoformat()
        span = days.setdefault(day, {"day": day, "from": c["started_at"], "until": c["ended_at"]})
        span["from"] = min(span["from"], c["started_at"])
        span["until"] = max(span["until"], c["ended_at"])
    follow_ups = await db.fetchall(
        "SELECT f.starts_at, f.minutes, f.mode, f.status, b.name AS booth, "
        "COALESCE(s.name, '') AS advisor FROM follow_ups f "
        "JOIN booths b ON b.id = f.booth_id LEFT JOIN staff s ON s.id = f.advisor_id "
        "WHERE f.candidate_id = ? AND f.status IN ('booked', 'reschedule_requested') "
        "ORDER BY f.starts_at, f.id",
        (candidate_id,),
    )
    return {
        "version": CONTENT_VERSION,
        "name": person["name"],
        "event": event["name"],
        "timezone": event["timezone"],
        "days": sorted(days.values(), key=lambda d: str(d["day"])),
        "conversations": conversations,
        **_totals(conversations),
        "follow_ups": [
            {
                "starts_at": f["starts_at"],
                "minutes": f["minutes"],
                "mode": f["mode"],
                "status": f["status"],
                "booth": f["booth"],
                "advisor": f["advisor"],
            }
            for f in follow_ups
        ],
    }


async def current_record(db: Database, candidate_id: int) -> dict[str, Any] | None:
    """What the candidate's proof would say now (None: nothing to prove yet)."""
    return await _record(db, candidate_id)


def _proof(row: Any) -> Proof:
    content = json.loads(row["content"]) if row["content"] else None
    return Proof(row["code"], row["candidate_id"], row["issued_at"], content)


async def _last_issued(db: Database | Transaction, candidate_id: int) -> Any:
    return await db.fetchone(
        "SELECT code, candidate_id, issued_at, content FROM attendance_proofs "
        "WHERE candidate_id = ? ORDER BY issued_at DESC, id DESC LIMIT 1",
        (candidate_id,),
    )


async def issue(db: Database, candidate_id: int, *, now: float) -> Proof | None:
    """The candidate's proof as their record stands now: the last one issued when nothing
    changed since, else a new one under a new code. None when they had no conversation."""
    # Most views change nothing: they are answered by reads alone.
    content = await _record(db, candidate_id)
    if content is None:
        return None
    last = await _last_issued(db, candidate_id)
    if last is not None and _same(last["content"], content):
        return _proof(last)
    async with db.transaction() as tx:
        # Again inside the write transaction: what changed meanwhile counts.
        content = await _record(tx, candidate_id)
        if content is None:
            return None
        blob = _canonical(content)
        last = await _last_issued(tx, candidate_id)
        if last is not None and _same(last["content"], content):
            return _proof(last)
        for _try in range(CODE_TRIES):
            code = new_code()
            taken = await tx.fetchone("SELECT 1 FROM attendance_proofs WHERE code = ?", (code,))
            if taken is None:
                break
        else:  # pragma: no cover - 32**12 codes
            raise RuntimeError("no free verification code found")
        await tx.insert(
            "INSERT INTO attendance_proofs (code, candidate_id, issued_at, content) "
            "VALUES (?, ?, ?, ?)",
            (code, candidate_id, now, blob),
        )
    return Proof(code, candidate_id, now, json.loads(blob))


async def verify(db: Database, typed: str) -> Check:
    """Check a code as someone typed it. An unknown code says only that it is unknown."""
    code = normalise_code(typed)
    if code is None:
        return Check("unknown")
    row = await db.fetchone(
        "SELECT p.code, p.candidate_id, p.issued_at, p.content, c.erased_at "
        "FROM attendance_proofs p JOIN candidates c ON c.id = p.candidate_id WHERE p.code = ?",
        (code,),
    )
    if row is None:
        return Check("unknown")
    if row["erased_at"] is not None or not row["content"]:
        return Check("erased", Proof(row["code"], row["candidate_id"], row["issued_at"], None))
    proof = _proof(row)
    now = await _record(db, row["candidate_id"])
    return Check("valid", proof, now is not None and _same(row["content"], now))


# -- how it reads -------------------------------------------------------------------------


def _long_date(moment: datetime) -> str:
    """E.g. "donderdag 26 november 2026" (or "Thursday 26 November 2026")."""
    return format_date(moment.date(), "EEEE d MMMM y", locale=i18n.current_language())


def _label(labels: dict[str, str], code: str) -> str:
    label = labels.get(code)
    return _(label) if label is not None else code


def duration_text(seconds: float) -> str:
    """A length as the proof says it: "12 minuten", or "korter dan een minuut"."""
    minutes = whole_minutes(seconds)
    if minutes == 0:
        return _("korter dan een minuut")
    return i18n.ngettext("%(num)s minuut", "%(num)s minuten", minutes)


def total_text(seconds: float) -> str:
    """The time spent in all conversations: "Totaal: 18 minuten" or "Totaal: korter dan een
    minuut"."""
    minutes = whole_minutes(seconds)
    if minutes == 0:
        return _("Totaal: korter dan een minuut")
    return i18n.ngettext("Totaal: %(num)s minuut", "Totaal: %(num)s minuten", minutes)


def moment_text(timestamp: float, timezone: str) -> str:
    """A moment as people read it, e.g. "donderdag 26 november 2026 14:05"."""
    moment = datetime.fromtimestamp(timestamp, ZoneInfo(timezone))
    return f"{_long_date(moment)} {i18n.format_clock(moment)}"


def describe(content: dict[str, Any], issued_at: float | None = None) -> dict[str, Any]:
    """The proof's content as people read it, in the current language and the event's time
    zone: the same words on the page and in the PDF."""
    content = _upgraded(content)
    zone = ZoneInfo(content["timezone"])

    def local(ts: float) -> datetime:
        return datetime.fromtimestamp(ts, zone)

    def clock(ts: float) -> str:
        return i18n.format_clock(local(ts))

    return {
        "name": content["name"],
        "event": content["event"],
        # ``start`` and ``end`` the same minute: one moment ("om 06:46"), not "06:46 tot 06:46".
        "days": [
            {
                "date": _long_date(local(d["from"])),
                "start": clock(d["from"]),
                "end": clock(d["until"]),
            }
            for d in content["days"]
        ],
        "conversations": [
            {
                "booth": c["booth"],
                "advisor": c["advisor"],
                "date": _long_date(local(c["started_at"])),
                "start": clock(c["started_at"]),
                "end": clock(c["ended_at"]),
                "minutes": c["minutes"],
                "duration": duration_text(c["seconds"]),
            }
            for c in content["conversations"]
        ],
        "total_minutes": content["total_minutes"],
        "total": total_text(content["total_seconds"]),
        "follow_ups": [
            {
                "date": _long_date(local(f["starts_at"])),
                "time": i18n.format_clock(local(f["starts_at"])),
                "minutes": f["minutes"],
                "booth": f["booth"],
                "advisor": f["advisor"],
                "mode": _label(MODES, f["mode"]),
                "status": _label(FOLLOW_UP_STATUSES, f["status"]),
            }
            for f in content["follow_ups"]
        ],
        "issued": moment_text(issued_at, content["timezone"]) if issued_at is not None else "",
        "timezone": content["timezone"],
    }


# -- the PDF ------------------------------------------------------------------------------

FONTS = Path(__file__).resolve().parent.parent / "fonts"
# The face the proof is written in, per style ("" regular, "B" bold, "I" italic).
MAIN_FONT = ("noto-sans", {"": "NotoSans-Regular.ttf", "B": "NotoSans-Bold.ttf",
                           "I": "NotoSans-Italic.ttf"})  # fmt: skip
# Where the main face has no glyph, in this order. A style a fallback lacks (Arabic italic,
# CJK bold) is written in the style it has.
ARABIC_FONT = ("noto-sans-arabic", {"": "NotoSansArabic-Regular.ttf",
                                     "B": "NotoSansArabic-Bold.ttf"})  # fmt: skip
CJK_FONT = ("droid-sans-fallback", {"": "DroidSansFallbackFull.ttf"})


@functools.cache
def _covered() -> frozenset[int]:
    """The code points the main face and the Arabic face have glyphs for (read once)."""
    from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

    covered: set[int] = set()
    for file in ("NotoSans-Regular.ttf", "NotoSansArabic-Regular.ttf"):
        with TTFont(FONTS / file, lazy=True) as font:
            covered.update(font.getBestCmap())
    return frozenset(covered)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def needs_cjk_font(view: dict[str, Any]) -> bool:
    """Whether the proof holds a letter only the CJK face has. That face is large (reading
    it takes most of a second), so a proof without such letters does without it."""
    covered = _covered()
    return any(
        ord(ch) not in covered and not ch.isspace() for text in _strings(view) for ch in text
    )


def pdf_text(text: str) -> str:
    """Text as the PDF writes it: everything as it is, without control characters (a line
    break or tab in a name is a space) and without unassigned code points."""
    out = []
    for ch in text:
        category = unicodedata.category(ch)
        if category in ("Cc", "Zl", "Zp"):
            out.append(" " if ch.isspace() else "")
        elif category in ("Cs", "Co", "Cn"):
            continue
        else:
            out.append(ch)
    return "".join(out)


def _document() -> Any:
    """An fpdf2 document that writes its font into the page as soon as it is chosen.

    fpdf2 (2.8) writes a chosen font lazily, with the first line of text. When that line
    starts in a fallback font (a name in Arabic or Chinese at the start of a table cell) the
    font lands inside a saved-and-restored graphics state (q ... Q), and every line after it
    is shown without a font: garbled, or not at all. Written at once, the font is part of
    the page's state before any line, and a line in a fallback font only changes it locally.
    """
    from fpdf import FPDF

    class Document(FPDF):
        def set_font(self, family: str | None = None, style: Any = "", size: float = 0) -> None:
            super().set_font(family, style, size)
            font = self.current_font
            if self.page and font is not None and not self.current_font_is_set_on_page:
                self._out(self._set_font_for_page(font, self.font_size_pt))

    return Document(orientation="P", unit="mm", format="A4")


def render_pdf(view: dict[str, Any], code: str) -> bytes:
    """The proof as an A4 PDF: the same content as the printable page, and the code."""
    from fpdf.enums import XPos, YPos

    pdf = _document()
    fonts = (MAIN_FONT, ARABIC_FONT, CJK_FONT) if needs_cjk_font(view) else (MAIN_FONT, ARABIC_FONT)
    for family, styles in fonts:
        for style, file in styles.items():
            pdf.add_font(family, style, FONTS / file)
    pdf.set_fallback_fonts([family for family, _styles in fonts[1:]], exact_match=False)
    # Arabic letters joined and right-to-left runs in their order (HarfBuzz, uharfbuzz).
    pdf.set_text_shaping(True)
    pdf.set_margins(20, 20, 20)
    pdf.set_auto_page_break(True, margin=20)
    pdf.set_title(pdf_text(_("Bewijs van deelname") + " – " + view["event"]))
    pdf.set_author(pdf_text(view["event"]))
    pdf.set_lang(i18n.current_language())
    pdf.add_page()
    width = pdf.epw

    def line(text: str, size: float = 11, style: str = "", height: float = 6) -> None:
        pdf.set_font(MAIN_FONT[0], style, size)
        pdf.multi_cell(
            width, height, pdf_text(text), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )

    def heading(text: str) -> None:
        pdf.ln(4)
        line(text, 13, "B", 8)

    line(_("Bewijs van deelname"), 20, "B", 11)
    line(view["event"], 13, "", 8)
    pdf.ln(2)
    line(_("Naam: %(name)s", name=view["name"]), 12, "B", 7)
    for day in view["days"]:
        if day["start"] == day["end"]:
            line(_("Deelgenomen op %(date)s om %(time)s", date=day["date"], time=day["start"]))
            continue
        line(
            _(
                "Deelgenomen op %(date)s van %(start)s tot %(end)s",
                date=day["date"],
                start=day["start"],
                end=day["end"],
            )
        )

    heading(_("Gesprekken"))
    columns = (0.30, 0.30, 0.15, 0.25)
    headers = (_("Organisatie"), _("Datum"), _("Tijd"), _("Duur"))
    pdf.set_font(MAIN_FONT[0], "B", 10)
    for share, text in zip(columns, headers, strict=True):
        pdf.cell(width * share, 7, pdf_text(text), border="B")
    pdf.ln(7)
    pdf.set_font(MAIN_FONT[0], "", 10)
    for c in view["conversations"]:
        cells = (
            c["booth"],
            c["date"],
            c["start"] if c["start"] == c["end"] else f"{c['start']}-{c['end']}",
            c["duration"],
        )
        # A row is never split over two pages: start a new page when it would not fit.
        needed = 0.0
        for share, text in zip(columns, cells, strict=True):
            height = pdf.multi_cell(width * share, 6, pdf_text(text), dry_run=True, output="HEIGHT")
            assert isinstance(height, float | int)
            needed = max(needed, float(height))
        if pdf.get_y() + needed + 5 > pdf.page_break_trigger:
            pdf.add_page()
        top = pdf.get_y()
        bottom = top
        x = pdf.l_margin
        for share, text in zip(columns, cells, strict=True):
            pdf.set_xy(x, top)
            pdf.multi_cell(width * share, 6, pdf_text(text), align="L")
            bottom = max(bottom, pdf.get_y())
            x += width * share
        pdf.set_xy(pdf.l_margin, bottom)
        if c["advisor"]:
            pdf.set_font(MAIN_FONT[0], "I", 9)
            pdf.multi_cell(
                width,
                5,
                pdf_text(_("Gesproken met %(advisor)s", advisor=c["advisor"])),
                new_x=XPos.LMARGIN,
                new_y=YPos.NEXT,
            )
            pdf.set_font(MAIN_FONT[0], "", 10)
        pdf.ln(1)
    line(view["total"], 10, "B")

    heading(_("Vervolgafspraken"))
    if not view["follow_ups"]:
        line(_("Geen vervolgafspraken."), 10)
    for f in view["follow_ups"]:
        who = f["advisor"] or _("een adviseur")
        line(
            _(
                "%(date)s om %(time)s (%(minutes)s min.): %(mode)s met %(who)s van %(booth)s. "
                "%(status)s.",
                date=f["date"],
                time=f["time"],
                minutes=f["minutes"],
                mode=f["mode"],
                who=who,
                booth=f["booth"],
                status=f["status"],
            ),
            10,
        )

    heading(_("Controlecode"))
    line(format_code(code), 18, "B", 10)
    line(
        _(
            "Uitgegeven op %(issued)s. De organisatie van het evenement kan met deze code "
            "nagaan dat dit bewijs klopt.",
            issued=view["issued"],
        ),
        10,
    )
    line(_("Alle tijden in tijdzone %(zone)s.", zone=view["timezone"]), 9)
    return bytes(pdf.output())
