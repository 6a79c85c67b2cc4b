"""What an audit entry says, in the reader's language.

The log keeps codes and data (``app.domain.audit``): the action ("booth.close"), the subject
("booth:3") and a detail (a kind and its values). Here they become words through the
catalogues, with the names of the booths, people and announcements they concern, so every
word a moderator reads on the audit page is Dutch in the Dutch interface and English in the
English one. Names, texts someone typed and numbers are plain strings here: the page
escapes them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from app.core.i18n import N_, format_clock, format_day, format_number, gettext, ngettext
from app.domain.announcements import short_name
from app.domain.audit import Detail, Entry, Value
from app.storage.db import Database

# What the audit log calls each step; an action without a label here is shown by its code.
ACTION_LABELS: dict[str, str] = {
    "event.open": N_("Evenement geopend"),
    "event.close": N_("Evenement gesloten"),
    "booth.open": N_("Stand geopend"),
    "booth.close": N_("Stand gesloten"),
    "request.move": N_("Verzoek verplaatst"),
    "conversation.stop": N_("Gesprek beëindigd"),
    "candidate.block": N_("Kandidaat geblokkeerd"),
    "candidate.unblock": N_("Kandidaat gedeblokkeerd"),
    "announcement.create": N_("Mededeling geplaatst"),
    "announcement.end": N_("Mededeling beëindigd"),
    "event.settings": N_("Instellingen van het evenement gewijzigd"),
    "event.day_added": N_("Dag toegevoegd"),
    "event.day_changed": N_("Openingstijden van een dag gewijzigd"),
    "event.day_removed": N_("Dag verwijderd"),
    "booth.create": N_("Stand toegevoegd"),
    "booth.update": N_("Stand gewijzigd"),
    "booth.remove": N_("Stand verwijderd"),
    "booth.move": N_("Volgorde van de stands gewijzigd"),
    "booth.import": N_("Stands geïmporteerd"),
    "schedule.add": N_("Roosterblok toegevoegd"),
    "schedule.remove": N_("Roosterblok verwijderd"),
    "staff.invite": N_("Medewerker uitgenodigd"),
    "staff.new_link": N_("Nieuwe uitnodigingslink gemaakt"),
    "staff.invitation_used": N_("Uitnodiging gebruikt"),
    "staff.assign": N_("Adviseur aan een stand gekoppeld"),
    "staff.deactivate": N_("Medewerker uitgezet"),
    "staff.reactivate": N_("Medewerker weer aangezet"),
    "conversation.allow_extension": N_("Verlengen van een gesprek toegestaan"),
    "event.extension": N_("Instellingen voor verlengen gewijzigd"),
    "event.readiness": N_("Instellingen voor klaarstaan gewijzigd"),
    "follow_up.book": N_("Vervolgafspraak geboekt"),
    "follow_up.reschedule": N_("Vervolgafspraak verzet"),
    "follow_up.cancel": N_("Vervolgafspraak geannuleerd"),
}

# The settings of the event, as the event page labels them: the fields a settings change
# names, and the readiness values it records.
SETTING_LABELS: dict[str, str] = {
    "name": N_("Naam van het evenement"),
    "timezone": N_("Tijdzone"),
    "conversation_minutes": N_("Lengte van een gesprek (minuten)"),
    "warning_minutes": N_("Waarschuwing voor het einde (minuten)"),
    "video_provider": N_("Video"),
    "video_base_url": N_("Webadres van de videodienst"),
    "wait_alert_minutes": N_("Melding bij wachten langer dan (minuten)"),
    "overtime_alert_minutes": N_("Melding bij uitloop langer dan (minuten)"),
    "extension_minutes": N_("Verlengen met (minuten)"),
    "extension_max_minutes": N_("Hoogstens verlengen in totaal (minuten)"),
    "extension_when_waiting": N_("Ook verlengen als er mensen wachten"),
    "ready_seconds": N_("Tijd om te laten weten dat je klaar bent (seconden)"),
    "ready_step_back": N_("Plaatsen terug na geen reactie"),
    "join_seconds": N_("Tijd om het gesprek te openen na aannemen (seconden)"),
}

AUDIENCE_LABELS = {"all": N_("Iedereen in de hal"), "advisors": N_("Alleen de adviseurs")}
ROLE_LABELS = {"advisor": N_("Adviseur"), "moderator": N_("Organisator")}
MODE_LABELS = {"video": N_("Video"), "phone": N_("Telefoon"), "on_site": N_("Op locatie")}

SUBJECT_LABELS = {
    "event": N_("Evenement"),
    "booth": N_("Stand"),
    "booths": N_("Stands"),
    "request": N_("Verzoek"),
    "conversation": N_("Gesprek"),
    "candidate": N_("Kandidaat"),
    "announcement": N_("Mededeling"),
    "day": N_("Dag"),
    "staff": N_("Medewerker"),
    "follow_up": N_("Vervolgafspraak"),
}


@dataclass(frozen=True)
class Names:
    """What the ids in the log stand for: booths and staff by name, announcements by the
    start of their text (``announcements.short_name``)."""

    booths: Mapping[int, str] = field(default_factory=dict)
    staff: Mapping[int, str] = field(default_factory=dict)
    announcements: Mapping[int, str] = field(default_factory=dict)


def action_text(action: str) -> str:
    return gettext(ACTION_LABELS[action]) if action in ACTION_LABELS else action


def subject_text(subject: str, names: Names) -> str:
    kind, _sep, ident = subject.partition(":")
    number = int(ident) if ident.isascii() and ident.isdigit() else None
    if kind == "announcement" and number is not None and number in names.announcements:
        return gettext("Mededeling “%(name)s”", name=names.announcements[number])
    if kind == "day" and _is_day(ident):
        return format_day(date.fromisoformat(ident))
    label = gettext(SUBJECT_LABELS[kind]) if kind in SUBJECT_LABELS else kind
    table = {"booth": names.booths, "staff": names.staff}.get(kind, {})
    if number is not None and number in table:
        return f"{label} {table[number]}"
    return f"{label} {ident}".strip()


def detail_text(detail: Detail | None, names: Names) -> str:
    """The detail in words; empty when there is none."""
    if detail is None:
        return ""
    words = _KINDS.get(detail.kind)
    if words is None:
        # A kind this version does not know (written by a newer one): its values, plainly.
        return ", ".join(f"{k}: {_plain(v)}" for k, v in detail.values.items())
    return words(detail.values, names)


# -- the kinds -------------------------------------------------------------------------------

Values = Mapping[str, Value]


def _plain(value: Value) -> str:
    if isinstance(value, list):
        return ", ".join(value)
    return "" if value is None else str(value)


def _count(values: Values, key: str) -> int:
    value = values.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _booth(value: Value, names: Names) -> str:
    if isinstance(value, int) and value in names.booths:
        return names.booths[value]
    return gettext("Stand %(id)s", id=_plain(value))


def _person(value: Value, names: Names) -> str:
    if isinstance(value, int) and value in names.staff:
        return names.staff[value]
    return gettext("Medewerker %(id)s", id=_plain(value))


def _place(booth: Value, advisor: Value, names: Names) -> str:
    """Where a request waits: a booth, and maybe one of its advisors."""
    if advisor is None:
        return gettext("%(booth)s: de eerste die vrij is", booth=_booth(booth, names))
    return gettext(
        "%(booth)s, bij %(advisor)s", booth=_booth(booth, names), advisor=_person(advisor, names)
    )


def _label(table: Mapping[str, str], value: Value) -> str:
    return gettext(table[value]) if isinstance(value, str) and value in table else _plain(value)


def _is_day(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10


def _requests_ended(values: Values, names: Names) -> str:
    n = _count(values, "count")
    if n == 0:
        return gettext("Er wachtte niemand.")
    return ngettext(
        "%(num)s wachtend verzoek beëindigd", "%(num)s wachtende verzoeken beëindigd", n
    )


def _request_moved(values: Values, names: Names) -> str:
    return gettext(
        "Van %(from)s naar %(to)s",
        **{
            "from": _place(values.get("from_booth"), values.get("from_advisor"), names),
            "to": _place(values.get("to_booth"), values.get("to_advisor"), names),
        },
    )


def _at_booth(values: Values, names: Names) -> str:
    return gettext("Bij %(booth)s", booth=_booth(values.get("booth"), names))


def _candidate_blocked(values: Values, names: Names) -> str:
    return ", ".join(
        (
            ngettext(
                "%(num)s wachtend verzoek beëindigd",
                "%(num)s wachtende verzoeken beëindigd",
                _count(values, "requests"),
            ),
            ngettext(
                "%(num)s gesprek beëindigd",
                "%(num)s gesprekken beëindigd",
                _count(values, "conversations"),
            ),
            ngettext(
                "afgemeld in %(num)s browser",
                "afgemeld in %(num)s browsers",
                _count(values, "sessions"),
            ),
        )
    )


def _announcement(values: Values, names: Names) -> str:
    return gettext(
        "%(audience)s: “%(text)s”",
        audience=_label(AUDIENCE_LABELS, values.get("audience")),
        text=_plain(values.get("text")),
    )


def _settings_changed(values: Values, names: Names) -> str:
    fields = values.get("fields")
    if not isinstance(fields, list) or not fields:
        return gettext("Niets gewijzigd.")
    return gettext(
        "Gewijzigd: %(fields)s", fields="; ".join(_label(SETTING_LABELS, f) for f in fields)
    )


def _readiness_settings(values: Values, names: Names) -> str:
    return "; ".join(
        f"{_label(SETTING_LABELS, key)}: "
        + (format_number(value) if isinstance(value, int) else _plain(value))
        for key, value in values.items()
    )


def _hours(values: Values, names: Names) -> str:
    return gettext(
        "Open van %(opens)s tot %(closes)s",
        opens=_plain(values.get("opens")),
        closes=_plain(values.get("closes")),
    )


def _blocks_removed(values: Values, names: Names) -> str:
    return ngettext(
        "%(num)s roosterblok verwijderd",
        "%(num)s roosterblokken verwijderd",
        _count(values, "count"),
    )


def _booth_name(values: Values, names: Names) -> str:
    return gettext("Naam: %(name)s", name=_plain(values.get("name")))


def _booth_removed(values: Values, names: Names) -> str:
    advisors = ngettext(
        "%(num)s adviseur uitgezet", "%(num)s adviseurs uitgezet", _count(values, "advisors")
    )
    return f"{_booth_name(values, names)}, {advisors}"


def _booth_moved(values: Values, names: Names) -> str:
    position = _count(values, "position")
    if values.get("direction") == "up":
        return gettext("Eén plek omhoog, nu op plek %(position)s", position=position)
    return gettext("Eén plek omlaag, nu op plek %(position)s", position=position)


def _booths_imported(values: Values, names: Names) -> str:
    return gettext(
        "%(created)s toegevoegd, %(updated)s gewijzigd",
        created=_count(values, "created"),
        updated=_count(values, "updated"),
    )


def _slot(values: Values, names: Names) -> str:
    day = _plain(values.get("day"))
    when = gettext(
        "%(day)s van %(starts)s tot %(ends)s",
        day=format_day(date.fromisoformat(day)) if _is_day(day) else day,
        starts=_plain(values.get("starts")),
        ends=_plain(values.get("ends")),
    )
    advisor = values.get("advisor")
    if advisor is None:
        return when
    return f"{when}, {_person(advisor, names)}"


def _invited(values: Values, names: Names) -> str:
    role = _label(ROLE_LABELS, values.get("role"))
    booth = values.get("booth")
    if booth is None:
        return role
    return gettext("%(role)s bij %(booth)s", role=role, booth=_booth(booth, names))


def _released(n: int) -> str:
    return ngettext(
        "%(num)s wachtend verzoek is nu voor de eerste die vrij is",
        "%(num)s wachtende verzoeken zijn nu voor de eerste die vrij is",
        n,
    )


def _deactivated(values: Values, names: Names) -> str:
    return _released(_count(values, "released"))


def _assigned(values: Values, names: Names) -> str:
    moved = gettext(
        "Van %(from)s naar %(to)s",
        **{
            "from": _booth(values.get("from_booth"), names),
            "to": _booth(values.get("to_booth"), names),
        },
    )
    released = _count(values, "released")
    return f"{moved}, {_released(released)}" if released else moved


def _with_advisor(values: Values, names: Names) -> str:
    return gettext(
        "%(advisor)s bij %(booth)s",
        advisor=_person(values.get("advisor"), names),
        booth=_booth(values.get("booth"), names),
    )


def _follow_up(values: Values, names: Names) -> str:
    local = _plain(values.get("local"))
    try:
        moment = datetime.fromisoformat(local)
    except ValueError:
        when = local
    else:
        when = f"{format_day(moment.date())} {format_clock(moment)}"
    minutes = ngettext("%(num)s minuut", "%(num)s minuten", _count(values, "minutes"))
    parts = [when, minutes]
    if values.get("mode") is not None:
        parts.append(_label(MODE_LABELS, values.get("mode")))
    return ", ".join(parts)


def _text(values: Values, names: Names) -> str:
    return _plain(values.get("text"))


_KINDS: dict[str, Callable[[Values, Names], str]] = {
    "requests_ended": _requests_ended,
    "request_moved": _request_moved,
    "at_booth": _at_booth,
    "candidate_blocked": _candidate_blocked,
    "announcement": _announcement,
    "settings_changed": _settings_changed,
    "readiness_settings": _readiness_settings,
    "hours": _hours,
    "blocks_removed": _blocks_removed,
    "booth_name": _booth_name,
    "booth_removed": _booth_removed,
    "booth_moved": _booth_moved,
    "booths_imported": _booths_imported,
    "slot": _slot,
    "invited": _invited,
    "deactivated": _deactivated,
    "assigned": _assigned,
    "with_advisor": _with_advisor,
    "follow_up": _follow_up,
    "text": _text,
}


async def names_for(db: Database, found: list[Entry]) -> Names:
    """The names the entries on this page need: every booth and staff member (few), and
    the announcements they mention (by the start of their text)."""
    booths = {row["id"]: row["name"] for row in await db.fetchall("SELECT id, name FROM booths")}
    staff = {row["id"]: row["name"] for row in await db.fetchall("SELECT id, name FROM staff")}
    wanted = sorted(
        {
            int(ident)
            for kind, _sep, ident in (e.subject.partition(":") for e in found)
            if kind == "announcement" and ident.isascii() and ident.isdigit() and len(ident) < 16
        }
    )
    said: dict[int, str] = {}
    if wanted:
        marks = ", ".join("?" for _ in wanted)
        rows = await db.fetchall(
            f"SELECT id, text FROM announcements WHERE id IN ({marks})", tuple(wanted)
        )
        said = {row["id"]: short_name(row["text"]) for row in rows}
    # An announcement no longer in its table is still named by the text its entry kept.
    for entry in found:
        kind, _sep, ident = entry.subject.partition(":")
        detail = entry.parsed_detail
        if kind == "announcement" and ident.isdigit() and detail and detail.kind == "announcement":
            text = detail.values.get("text")
            if isinstance(text, str) and text:
                said.setdefault(int(ident), short_name(text))
    return Names(booths=booths, staff=staff, announcements=said)
