"""The audit log: who did what, when, for every moderator action.

An entry is written in the same transaction as the change it records, so the log never
claims a change that was rolled back and never misses one that was committed.

How a step was done is kept as data, never as words: a ``Detail`` is a kind and its values
(numbers, codes, ids, a name or text someone typed), stored as a small JSON object. The
audit page puts it into the reader's language through the catalogues (``app.domain.audit_text``),
so a Dutch moderator and an English one read the same entry each in their own language.

Entries written before details were kept as data hold a short English phrase. They stay as
they were written: an audit log is evidence, and rewriting its rows after the fact (in a
migration) would change what it says happened. ``read_detail`` reads those phrases back
into the same kinds instead; there is a fixed, known set of them (one per writer, never
changed while they were written), each with a test.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from app.storage.db import Database, Transaction

# Longest text value kept in a detail (an announcement's text, a booth's name); a longer one
# is cut off.
DETAIL_MAX = 300

Value = str | int | float | bool | None | list[str]


@dataclass(frozen=True)
class Detail:
    """How a step was done: a kind (what the values mean) and the values themselves."""

    kind: str
    values: dict[str, Value] = field(default_factory=dict)

    def stored(self) -> str:
        values = {k: _cut(v) for k, v in self.values.items()}
        return json.dumps({"kind": self.kind, "values": values}, ensure_ascii=False)


def _cut(value: Value) -> Value:
    if isinstance(value, str) and len(value) > DETAIL_MAX:
        return value[: DETAIL_MAX - 1] + "…"
    return value


@dataclass(frozen=True)
class Entry:
    id: int
    at: float
    staff_id: int | None
    staff_name: str
    action: str
    subject: str
    detail: str  # as stored: a Detail as JSON, an old English phrase, or empty

    @property
    def parsed_detail(self) -> Detail | None:
        return read_detail(self.action, self.detail)


async def record(
    tx: Transaction,
    *,
    staff_id: int | None,
    action: str,
    subject: str = "",
    detail: Detail | None = None,
    at: float,
) -> int:
    """Write one entry, inside the transaction that makes the change."""
    return await tx.insert(
        "INSERT INTO audit_log (at, staff_id, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
        (at, staff_id, action, subject, "" if detail is None else detail.stored()),
    )


async def entries(db: Database, *, limit: int = 100, before_id: int | None = None) -> list[Entry]:
    """The newest entries first; ``before_id`` pages back through older ones."""
    sql = (
        "SELECT a.id, a.at, a.staff_id, COALESCE(s.name, '') AS staff_name, a.action, "
        "a.subject, a.detail FROM audit_log a LEFT JOIN staff s ON s.id = a.staff_id"
    )
    params: tuple[object, ...] = ()
    if before_id is not None:
        sql += " WHERE a.id < ?"
        params = (before_id,)
    rows = await db.fetchall(sql + " ORDER BY a.id DESC LIMIT ?", (*params, limit))
    return [Entry(**dict(r)) for r in rows]


# -- reading a stored detail -----------------------------------------------------------------


def read_detail(action: str, stored: str) -> Detail | None:
    """The detail of an entry, whichever way it was stored; None when there is none.

    A phrase that is neither JSON nor one of the old phrases of its action (it cannot come
    from this code) is kept as it is, as kind ``text``.
    """
    if stored == "":
        return None
    if stored.startswith("{"):
        found = _from_json(stored)
        if found is not None:
            return found
    for pattern, make in _OLD_PHRASES.get(action, ()):
        matched = pattern.fullmatch(stored)
        if matched is not None:
            return make(matched)
    return Detail("text", {"text": stored})


def _from_json(stored: str) -> Detail | None:
    try:
        data = json.loads(stored)
    except ValueError:
        return None
    if not isinstance(data, dict) or set(data) != {"kind", "values"}:
        return None
    kind, values = data["kind"], data["values"]
    if not isinstance(kind, str) or not isinstance(values, dict):
        return None
    return Detail(kind, values)


def _int(text: str | None) -> int | None:
    return None if text is None else int(text)


Maker = Callable[[re.Match[str]], Detail]


def _phrases(*pairs: tuple[str, Maker]) -> tuple[tuple[re.Pattern[str], Maker], ...]:
    return tuple((re.compile(p, re.DOTALL), make) for p, make in pairs)


def _fields(m: re.Match[str]) -> Detail:
    text = m.group(0)
    return Detail("settings_changed", {"fields": [] if text == "-" else text.split(", ")})


def _readiness(m: re.Match[str]) -> Detail:
    values: dict[str, Value] = {}
    for part in m.group(0).split(", "):
        key, _sep, value = part.partition("=")
        values[key] = int(value) if value.isdigit() else value
    return Detail("readiness_settings", values)


_ENDED = r"waiting requests ended: (\d+)"
_RELEASED = r"(\d+) waiting requests now for the booth"
_SLOT = r"(\d{4}-\d\d-\d\d) (\d\d:\d\d)-(\d\d:\d\d)"

# The English phrases written before details were kept as data, by action: what each one
# said, read back into the kind written now.
_OLD_PHRASES: dict[str, tuple[tuple[re.Pattern[str], Maker], ...]] = {
    "event.close": _phrases(
        (_ENDED, lambda m: Detail("requests_ended", {"count": int(m[1])})),
    ),
    "booth.close": _phrases(
        (_ENDED, lambda m: Detail("requests_ended", {"count": int(m[1])})),
    ),
    "request.move": _phrases(
        (
            r"from booth:(\d+)(?: advisor:(\d+))? to booth:(\d+)(?: advisor:(\d+))?",
            lambda m: Detail(
                "request_moved",
                {
                    "from_booth": int(m[1]),
                    "from_advisor": _int(m[2]),
                    "to_booth": int(m[3]),
                    "to_advisor": _int(m[4]),
                },
            ),
        ),
    ),
    "conversation.stop": _phrases(
        (r"booth:(\d+)", lambda m: Detail("at_booth", {"booth": int(m[1])})),
    ),
    "candidate.block": _phrases(
        (
            r"requests ended: (\d+), conversations ended: (\d+), sessions ended: (\d+)",
            lambda m: Detail(
                "candidate_blocked",
                {"requests": int(m[1]), "conversations": int(m[2]), "sessions": int(m[3])},
            ),
        ),
    ),
    "announcement.create": _phrases(
        (
            r"(all|advisors): (.*)",
            lambda m: Detail("announcement", {"audience": m[1], "text": m[2]}),
        ),
    ),
    "event.settings": _phrases((r"-|[a-z_]+(?:, [a-z_]+)*", _fields)),
    "event.extension": _phrases((r"-|[a-z_]+(?:, [a-z_]+)*", _fields)),
    "event.readiness": _phrases((r"[a-z_]+=[^,]*(?:, [a-z_]+=[^,]*)*", _readiness)),
    "event.day_added": _phrases(
        (r"(\d\d:\d\d)-(\d\d:\d\d)", lambda m: Detail("hours", {"opens": m[1], "closes": m[2]})),
    ),
    "event.day_changed": _phrases(
        (r"(\d\d:\d\d)-(\d\d:\d\d)", lambda m: Detail("hours", {"opens": m[1], "closes": m[2]})),
    ),
    "event.day_removed": _phrases(
        (
            r"(\d+) schedule blocks removed",
            lambda m: Detail("blocks_removed", {"count": int(m[1])}),
        ),
    ),
    "booth.create": _phrases((r".+", lambda m: Detail("booth_name", {"name": m[0]}))),
    "booth.update": _phrases((r".+", lambda m: Detail("booth_name", {"name": m[0]}))),
    "booth.remove": _phrases(
        (
            r"(.*); (\d+) advisors deactivated",
            lambda m: Detail("booth_removed", {"name": m[1], "advisors": int(m[2])}),
        ),
    ),
    "booth.move": _phrases(
        (
            r"(up|down) to (\d+)",
            lambda m: Detail("booth_moved", {"direction": m[1], "position": int(m[2])}),
        ),
    ),
    "booth.import": _phrases(
        (
            r"(\d+) created, (\d+) updated",
            lambda m: Detail("booths_imported", {"created": int(m[1]), "updated": int(m[2])}),
        ),
    ),
    "schedule.add": _phrases(
        (
            _SLOT + r"(?: staff:(\d+))?",
            lambda m: Detail(
                "slot", {"day": m[1], "starts": m[2], "ends": m[3], "advisor": _int(m[4])}
            ),
        ),
    ),
    "schedule.remove": _phrases(
        (
            _SLOT,
            lambda m: Detail("slot", {"day": m[1], "starts": m[2], "ends": m[3], "advisor": None}),
        ),
    ),
    "staff.invite": _phrases(
        (
            r"([a-z]+)(?: booth:(\d+))?",
            lambda m: Detail("invited", {"role": m[1], "booth": _int(m[2])}),
        ),
    ),
    "staff.deactivate": _phrases(
        (_RELEASED, lambda m: Detail("deactivated", {"released": int(m[1])})),
    ),
    "staff.assign": _phrases(
        (
            r"booth:(\d+) -> booth:(\d+)(?:; " + _RELEASED + ")?",
            lambda m: Detail(
                "assigned",
                {"from_booth": int(m[1]), "to_booth": int(m[2]), "released": int(m[3] or 0)},
            ),
        ),
    ),
    "conversation.allow_extension": _phrases(
        (
            r"booth (\d+), advisor (\d+)",
            lambda m: Detail("with_advisor", {"booth": int(m[1]), "advisor": int(m[2])}),
        ),
    ),
    "follow_up.book": _phrases(
        (
            r"(\d{4}-\d\d-\d\dT\d\d:\d\d) (\d+) min (video|phone|on_site)",
            lambda m: Detail("follow_up", {"local": m[1], "minutes": int(m[2]), "mode": m[3]}),
        ),
    ),
    "follow_up.reschedule": _phrases(
        (
            r"(\d{4}-\d\d-\d\dT\d\d:\d\d) (\d+) min",
            lambda m: Detail("follow_up", {"local": m[1], "minutes": int(m[2]), "mode": None}),
        ),
    ),
}
