"""Administration of the booths: create, edit, remove (softly) and reorder them, and move
them in and out as CSV.

A removed booth leaves the hall but stays in the database for the reports. Removing a booth
is refused while candidates wait there or a conversation runs at it (the moderator closes it
first, which tells the waiting candidates); its advisors are deactivated and signed out with
it (they can be assigned to another booth and reactivated).

CSV: comma-separated, UTF-8 with a byte order mark (so Excel reads the accents), a header
row; offers are codes separated by spaces. An import creates booths with new slugs and
updates the booths whose slug it names; every row is checked first and one wrong row means
nothing is imported.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from app.core.errors import DomainError, ValidationError
from app.core.i18n import gettext as _
from app.domain import audit, booths
from app.domain.accounts import deactivate_staff
from app.domain.booths import BOOTH_KINDS, OFFERS, SECTORS, Booth
from app.domain.event_setup import Fields
from app.storage.db import Database, Transaction

NAME_MAX = 80
SLUG_MAX = 60
DESCRIPTION_MAX = 1000
_SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def slugify(name: str) -> str:
    """A slug from a name: accents dropped, lower case, words joined by hyphens."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")
    return slug[:SLUG_MAX].rstrip("-") or "stand"


@dataclass(frozen=True)
class BoothInput:
    name: str
    slug: str  # empty: made from the name
    kind: str
    sector: str
    offers: tuple[str, ...]
    description: str
    link: str


def check_booth(data: Mapping[str, str], offers: Sequence[str]) -> BoothInput:
    f = Fields(data)
    name = f.text("name", max_len=NAME_MAX)
    slug = f.raw("slug").lower()
    if slug and (len(slug) > SLUG_MAX or not _SLUG.match(slug)):
        f.fail("slug", "input.slug")
    kind = f.choice("kind", BOOTH_KINDS)
    sector = f.choice("sector", SECTORS)
    chosen = tuple(dict.fromkeys(o.strip() for o in offers if o.strip()))
    if any(o not in OFFERS for o in chosen):
        f.fail("offers", "input.bad_choice")
    description = f.text("description", max_len=DESCRIPTION_MAX, required=False)
    link = f.https_url("link", required=False)
    f.done()
    ordered = tuple(o for o in OFFERS if o in chosen)
    return BoothInput(name, slug, kind, sector, ordered, description, link)


async def _free_slug(tx: Transaction, wanted: str, own_id: int | None) -> str | None:
    """``wanted`` when no other booth (removed ones too) has it, else None."""
    row = await tx.fetchone("SELECT id FROM booths WHERE slug = ?", (wanted,))
    return wanted if row is None or row["id"] == own_id else None


async def _slug_for(tx: Transaction, given: BoothInput, own_id: int | None) -> str:
    if given.slug:
        if await _free_slug(tx, given.slug, own_id) is None:
            raise ValidationError({"slug": DomainError("booth.slug_taken", field="slug")})
        return given.slug
    base = slugify(given.name)
    for n in range(1, 1000):
        candidate = base if n == 1 else f"{base[: SLUG_MAX - 4]}-{n}"
        if await _free_slug(tx, candidate, own_id) is not None:
            return candidate
    raise ValidationError({"slug": DomainError("booth.slug_taken", field="slug")})


async def _insert(tx: Transaction, given: BoothInput, slug: str) -> int:
    position = await tx.fetchone("SELECT COALESCE(MAX(position), -1) + 1 AS p FROM booths")
    assert position is not None
    return await tx.insert(
        "INSERT INTO booths (slug, name, kind, sector, offers, description, link, position) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            slug,
            given.name,
            given.kind,
            given.sector,
            ",".join(given.offers),
            given.description,
            given.link,
            int(position["p"]),
        ),
    )


async def _update(tx: Transaction, booth_id: int, given: BoothInput, slug: str) -> None:
    await tx.execute(
        "UPDATE booths SET slug = ?, name = ?, kind = ?, sector = ?, offers = ?, "
        "description = ?, link = ? WHERE id = ? AND removed_at IS NULL",
        (
            slug,
            given.name,
            given.kind,
            given.sector,
            ",".join(given.offers),
            given.description,
            given.link,
            booth_id,
        ),
    )


async def create(
    db: Database,
    data: Mapping[str, str],
    offers: Sequence[str],
    *,
    staff_id: int | None,
    now: float,
) -> int:
    """A new booth, last in the hall."""
    given = check_booth(data, offers)
    async with db.transaction() as tx:
        slug = await _slug_for(tx, given, None)
        booth_id = await _insert(tx, given, slug)
        await audit.record(
            tx,
            staff_id=staff_id,
            action="booth.create",
            subject=f"booth:{booth_id}",
            detail=audit.Detail("booth_name", {"name": given.name}),
            at=now,
        )
    return booth_id


async def update(
    db: Database,
    booth_id: int,
    data: Mapping[str, str],
    offers: Sequence[str],
    *,
    staff_id: int | None,
    now: float,
) -> None:
    given = check_booth(data, offers)
    async with db.transaction() as tx:
        if await booths.get_booth(tx, booth_id) is None:
            raise DomainError("booth.not_found")
        slug = await _slug_for(tx, given, booth_id)
        await _update(tx, booth_id, given, slug)
        await audit.record(
            tx,
            staff_id=staff_id,
            action="booth.update",
            subject=f"booth:{booth_id}",
            detail=audit.Detail("booth_name", {"name": given.name}),
            at=now,
        )


async def remove(db: Database, booth_id: int, *, staff_id: int | None, now: float) -> list[int]:
    """Remove a booth from the hall; returns the advisors deactivated with it."""
    async with db.transaction() as tx:
        booth = await booths.get_booth(tx, booth_id)
        if booth is None:
            raise DomainError("booth.not_found")
        busy = await tx.fetchone(
            "SELECT (SELECT COUNT(*) FROM requests WHERE booth_id = ? AND status = 'waiting') "
            "+ (SELECT COUNT(*) FROM conversations WHERE booth_id = ? AND ended_at IS NULL) "
            "AS n",
            (booth_id, booth_id),
        )
        if busy is not None and busy["n"]:
            raise DomainError("booth.busy")
        advisors = [
            int(r["id"])
            for r in await tx.fetchall(
                "SELECT id FROM staff WHERE booth_id = ? AND role = 'advisor' AND active = 1",
                (booth_id,),
            )
        ]
        await tx.execute("UPDATE booths SET removed_at = ? WHERE id = ?", (now, booth_id))
        await deactivate_staff(tx, advisors, now)
        await audit.record(
            tx,
            staff_id=staff_id,
            action="booth.remove",
            subject=f"booth:{booth_id}",
            detail=audit.Detail("booth_removed", {"name": booth.name, "advisors": len(advisors)}),
            at=now,
        )
    return advisors


async def move(
    db: Database, booth_id: int, direction: str, *, staff_id: int | None, now: float
) -> bool:
    """Move a booth one place up or down in the hall; False when it is already at that end."""
    if direction not in ("up", "down"):
        raise ValidationError({"direction": DomainError("input.bad_choice", field="direction")})
    async with db.transaction() as tx:
        order = [b.id for b in await booths.list_booths(tx)]
        if booth_id not in order:
            raise DomainError("booth.not_found")
        i = order.index(booth_id)
        j = i - 1 if direction == "up" else i + 1
        if not 0 <= j < len(order):
            return False
        order[i], order[j] = order[j], order[i]
        for position, each in enumerate(order):
            await tx.execute("UPDATE booths SET position = ? WHERE id = ?", (position, each))
        await audit.record(
            tx,
            staff_id=staff_id,
            action="booth.move",
            subject=f"booth:{booth_id}",
            detail=audit.Detail("booth_moved", {"direction": direction, "position": j + 1}),
            at=now,
        )
    return True


# -- CSV ------------------------------------------------------------------------------------

CSV_COLUMNS = ("slug", "name", "kind", "sector", "offers", "description", "link")
CSV_REQUIRED = ("name", "kind", "sector")
CSV_MAX_ROWS = 500
CSV_MAX_BYTES = 1_000_000
# A cell starting with one of these is a formula to a spreadsheet.
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def export_csv(all_booths: Sequence[Booth]) -> bytes:
    """The booths in hall order, as CSV for a spreadsheet (UTF-8 with a byte order mark)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for b in all_booths:
        row = (b.slug, b.name, b.kind, b.sector, " ".join(b.offers), b.description, b.link)
        # A cell a spreadsheet would run as a formula is written as text.
        writer.writerow(["'" + v if v[:1] in _FORMULA else v for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int


class ImportRefused(DomainError):
    """The file was not imported; ``problems`` says why, row by row."""

    def __init__(self, problems: list[DomainError]) -> None:
        super().__init__("input.invalid")
        self.problems = problems


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return raw.decode("cp1252")  # what a spreadsheet saves as "CSV" on Windows
        except UnicodeDecodeError:
            raise ImportRefused([DomainError("csv.unreadable")]) from None


def _labels(codes: Mapping[str, str]) -> dict[str, str]:
    """Codes and their labels (Dutch and in the current language), lower-cased, to codes."""
    found = {code.lower(): code for code in codes}
    for code, label in codes.items():
        found.setdefault(label.lower(), code)
        found.setdefault(_(label).lower(), code)
    return found


def _unformula(value: str) -> str:
    return value[1:] if value[:1] == "'" and value[1:2] in _FORMULA else value


def read_csv(raw: bytes) -> tuple[list[str], list[tuple[int, BoothInput]]]:
    """Every row checked: the header and (line number, booth) per row, or ImportRefused
    naming each wrong row and column."""
    if len(raw) > CSV_MAX_BYTES:
        raise ImportRefused([DomainError("csv.too_large", max=CSV_MAX_ROWS)])
    text = _decode(raw)
    if "\x00" in text:
        raise ImportRefused([DomainError("csv.unreadable")])
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error:
        raise ImportRefused([DomainError("csv.unreadable")]) from None
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise ImportRefused([DomainError("csv.unreadable")])
    header = [cell.strip().lower() for cell in rows[0]]
    problems: list[DomainError] = []
    for column in header:
        if column not in CSV_COLUMNS:
            problems.append(DomainError("csv.unknown_column", column=column))
    for column in CSV_REQUIRED:
        if column not in header:
            problems.append(DomainError("csv.missing_column", column=column))
    if problems:
        raise ImportRefused(problems)
    body = [(n, row) for n, row in enumerate(rows[1:], start=2) if any(c.strip() for c in row)]
    if not body:
        raise ImportRefused([DomainError("csv.empty")])
    if len(body) > CSV_MAX_ROWS:
        raise ImportRefused([DomainError("csv.too_large", max=CSV_MAX_ROWS)])
    kinds, sectors, offers = _labels(BOOTH_KINDS), _labels(SECTORS), _labels(OFFERS)
    checked: list[tuple[int, BoothInput]] = []
    seen: dict[str, int] = {}
    for line, row in body:
        if len(row) > len(header):
            problems.append(
                DomainError("csv.row", row=line, column="-", problem=_("Te veel kolommen."))
            )
            continue
        values = {
            h: _unformula(row[i].strip()) if i < len(row) else "" for i, h in enumerate(header)
        }
        values["kind"] = kinds.get(values["kind"].lower(), values["kind"])
        values["sector"] = sectors.get(values["sector"].lower(), values["sector"])
        codes = [offers.get(o.lower(), o) for o in re.split(r"[\s,;|]+", values.get("offers", ""))]
        try:
            booth = check_booth(values, codes)
        except ValidationError as error:
            for column, err in error.errors.items():
                problems.append(
                    DomainError("csv.row", row=line, column=column, problem=err.message())
                )
            continue
        if booth.slug and booth.slug in seen:
            problem = DomainError("csv.duplicate", other=seen[booth.slug]).message()
            problems.append(DomainError("csv.row", row=line, column="slug", problem=problem))
            continue
        if booth.slug:
            seen[booth.slug] = line
        checked.append((line, booth))
    if problems:
        raise ImportRefused(problems)
    return header, checked


async def import_csv(db: Database, raw: bytes, *, staff_id: int | None, now: float) -> ImportResult:
    """Create and update booths from a CSV file: all rows or none. A column left out of the
    file leaves that field of an updated booth as it was."""
    header, rows = read_csv(raw)
    explicit = {given.slug for _line, given in rows if given.slug}
    created = updated = 0
    async with db.transaction() as tx:
        problems: list[DomainError] = []
        plans: list[tuple[BoothInput, int | None, str]] = []
        taken = set(explicit)
        for line, given in rows:
            if given.slug:
                existing = await tx.fetchone(
                    "SELECT id, removed_at FROM booths WHERE slug = ?", (given.slug,)
                )
                if existing is not None and existing["removed_at"] is not None:
                    problem = DomainError("booth.slug_taken").message()
                    problems.append(
                        DomainError("csv.row", row=line, column="slug", problem=problem)
                    )
                    continue
                own = None if existing is None else int(existing["id"])
                if own is not None:
                    given = await _kept(tx, own, given, header)
                plans.append((given, own, given.slug))
                continue
            base = slugify(given.name)
            for n in range(1, 10_000):
                slug = base if n == 1 else f"{base[: SLUG_MAX - 5]}-{n}"
                if slug not in taken and await _free_slug(tx, slug, None) is not None:
                    break
            taken.add(slug)
            plans.append((given, None, slug))
        if problems:
            raise ImportRefused(problems)
        for given, own, slug in plans:
            if own is None:
                await _insert(tx, given, slug)
                created += 1
            else:
                await _update(tx, own, given, slug)
                updated += 1
        await audit.record(
            tx,
            staff_id=staff_id,
            action="booth.import",
            subject="booths",
            detail=audit.Detail("booths_imported", {"created": created, "updated": updated}),
            at=now,
        )
    return ImportResult(created, updated)


async def _kept(
    tx: Transaction, booth_id: int, given: BoothInput, header: Sequence[str]
) -> BoothInput:
    """The fields of an updated booth that the file has no column for keep their value."""
    old = await booths.get_booth(tx, booth_id)
    assert old is not None
    return replace(
        given,
        offers=given.offers if "offers" in header else old.offers,
        description=given.description if "description" in header else old.description,
        link=given.link if "link" in header else old.link,
    )
