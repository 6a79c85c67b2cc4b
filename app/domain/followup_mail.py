"""The e-mails about a follow-up appointment, queued in the outbox of the change's own
transaction.

To the candidate, with the calendar file attached: "booked" (confirmation), "changed" (new
time, place or way of meeting), "cancelled", and "reminder" (before the appointment, see
``app.domain.mail_delivery``). To the advisor of the appointment, or every advisor of the booth when
it was booked with the booth: "reschedule_requested", with the candidate's message.

Everything is read from the tables (follow_ups, booths, staff, candidates, event). The mails
are written in the hall's language (Dutch): the hall does not know which language a
candidate reads best outside the page they were on. A candidate who erased their data gets
no mail, and no mail about them is written.
"""

from __future__ import annotations

from contextvars import copy_context
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from app.core.i18n import DEFAULT_LANGUAGE, format_clock, format_day, set_language
from app.core.i18n import gettext as _
from app.domain.calendar_file import build_ics, description, file_name, how_to_join, load_follow_up
from app.storage import outbox as mail
from app.storage.db import Transaction

CANDIDATE_KINDS = ("booked", "changed", "cancelled", "reminder")
ADVISOR_KINDS = ("reschedule_requested",)
KINDS = CANDIDATE_KINDS + ADVISOR_KINDS
CALENDAR_TYPE = "text/calendar"


@dataclass(frozen=True)
class Composed:
    subject: str
    body: str


def _when(follow_up: dict[str, Any]) -> str:
    moment = datetime.fromtimestamp(follow_up["starts_at"], ZoneInfo(follow_up["timezone"]))
    return _(
        "%(day)s om %(time)s (%(minutes)s minuten)",
        day=format_day(moment.date()),
        time=format_clock(moment),
        minutes=follow_up["minutes"],
    )


def _details(follow_up: dict[str, Any]) -> list[str]:
    lines = [
        _("Wanneer: %(when)s", when=_when(follow_up)),
        _("Met wie: %(booth)s", booth=follow_up["booth"]),
    ]
    lines += description(follow_up).split("\n")
    return lines


def _compose(kind: str, follow_up: dict[str, Any], recipient: str) -> Composed:
    set_language(DEFAULT_LANGUAGE)
    booth = follow_up["booth"]
    greeting = _("Beste %(name)s,", name=recipient)
    footer = [
        "",
        _(
            "Op de pagina Mijn afspraken van %(event)s kun je de afspraak afzeggen of om een "
            "ander tijdstip vragen. De agendabijlage zet de afspraak in je agenda.",
            event=follow_up["event"],
        ),
    ]
    if kind == "booked":
        subject = _(
            "Afspraak bevestigd met %(booth)s op %(when)s", booth=booth, when=_when(follow_up)
        )
        intro = _("Je hebt een vervolgafspraak met %(booth)s.", booth=booth)
        body = [greeting, "", intro, "", *_details(follow_up), *footer]
    elif kind == "changed":
        subject = _(
            "Afspraak gewijzigd met %(booth)s, nu op %(when)s", booth=booth, when=_when(follow_up)
        )
        intro = _(
            "Je vervolgafspraak met %(booth)s is gewijzigd. Zo ziet hij er nu uit:", booth=booth
        )
        body = [greeting, "", intro, "", *_details(follow_up), *footer]
    elif kind == "cancelled":
        subject = _(
            "Afspraak afgezegd met %(booth)s op %(when)s", booth=booth, when=_when(follow_up)
        )
        intro = _(
            "Je vervolgafspraak met %(booth)s op %(when)s gaat niet door.",
            booth=booth,
            when=_when(follow_up),
        )
        body = [
            greeting,
            "",
            intro,
            _("Met de bijlage haal je hem ook uit je agenda."),
        ]
    elif kind == "reminder":
        subject = _(
            "Herinnering aan je afspraak met %(booth)s op %(when)s",
            booth=booth,
            when=_when(follow_up),
        )
        intro = _("Een herinnering aan je vervolgafspraak met %(booth)s.", booth=booth)
        body = [greeting, "", intro, "", *_details(follow_up), *footer]
    else:  # reschedule_requested, to an advisor
        subject = _(
            "%(candidate)s vraagt een ander tijdstip voor %(when)s",
            candidate=follow_up["candidate"],
            when=_when(follow_up),
        )
        body = [
            greeting,
            "",
            _(
                "%(candidate)s (%(email)s) vraagt om een ander tijdstip voor de "
                "vervolgafspraak met %(booth)s op %(when)s.",
                candidate=follow_up["candidate"],
                email=follow_up["candidate_email"],
                booth=booth,
                when=_when(follow_up),
            ),
            "",
            _("Bericht van de kandidaat:"),
            follow_up["candidate_message"] or _("(geen bericht)"),
            "",
            how_to_join(follow_up),
            "",
            _("Spreek een nieuw tijdstip af op je console en wijzig de afspraak daar."),
        ]
    return Composed(subject=subject, body="\n".join(body) + "\n")


def compose(kind: str, follow_up: dict[str, Any], recipient: str) -> Composed:
    """One mail of ``kind`` about a loaded follow-up, addressed to ``recipient`` (a name)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind of follow-up mail: {kind!r}")
    return copy_context().run(_compose, kind, follow_up, recipient)


async def queue_follow_up_mail(tx: Transaction, follow_up_id: int, kind: str, now: float) -> None:
    """Queue the mail(s) of ``kind`` about a follow-up in the caller's transaction.

    Unknown kind: ValueError. A candidate who was erased (or has no usable address) gets
    none, and no advisor gets one about them. The advisor mail goes to the appointment's
    advisor, or to every active advisor of its booth when none is set.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind of follow-up mail: {kind!r}")
    follow_up = await load_follow_up(tx, follow_up_id)
    if follow_up["candidate_erased_at"] is not None:
        return
    if kind in CANDIDATE_KINDS:
        address = follow_up["candidate_email"]
        if not mail.valid_address(address):
            return
        composed = compose(kind, follow_up, follow_up["candidate"])
        await mail.enqueue(
            tx,
            kind=kind,
            to_address=address,
            subject=composed.subject,
            body=composed.body,
            now=now,
            attachment=mail.Attachment(
                file_name(follow_up_id), CALENDAR_TYPE, build_ics(follow_up)
            ),
            candidate_id=follow_up["candidate_id"],
            follow_up_id=follow_up_id,
        )
        return
    if follow_up["advisor_id"] is not None:
        recipients = await tx.fetchall(
            "SELECT name, email FROM staff WHERE id = ?", (follow_up["advisor_id"],)
        )
    else:
        recipients = await tx.fetchall(
            "SELECT name, email FROM staff WHERE booth_id = ? AND role = 'advisor' "
            "AND active = 1 ORDER BY id",
            (follow_up["booth_id"],),
        )
    for person in recipients:
        if not mail.valid_address(person["email"]):
            continue
        composed = compose(kind, follow_up, person["name"])
        await mail.enqueue(
            tx,
            kind=kind,
            to_address=person["email"],
            subject=composed.subject,
            body=composed.body,
            now=now,
            candidate_id=follow_up["candidate_id"],
            follow_up_id=follow_up_id,
        )
