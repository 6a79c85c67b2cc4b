"""Administration rules on a real SQLite file: event settings and days, booths (create, edit,
remove, reorder, CSV), staff by invitation, and the schedule. Every refused change leaves
the database as it was; every change writes its audit entry."""

from __future__ import annotations

import csv
import io
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.core.errors import DomainError, ValidationError
from app.domain import accounts, audit, booths, invitations, sessions
from app.domain import booth_setup as booth_admin
from app.domain import event_setup as admin
from app.domain import schedule as schedule_admin
from app.domain.event import Event, event_days, load_event
from app.storage.db import Database
from tests.servicekit import (
    ZONE,
    count,
    make_advisor,
    make_booth,
    make_candidate,
    make_request,
    table_rows,
)

NOW = 1_800_000_000.0
SETTINGS = {
    "name": "LeerWerkWeek 2026",
    "timezone": "Europe/Amsterdam",
    "conversation_minutes": "15",
    "warning_minutes": "3",
    "video_provider": "jitsi",
    "video_base_url": "https://meet.example.nl",
    "wait_alert_minutes": "12",
    "overtime_alert_minutes": "4",
}
BOOTH = {"name": "Zorggroep Noord", "kind": "employer", "sector": "zorg", "description": "Hoi"}


async def dump(db: Database) -> dict[str, list[tuple[object, ...]]]:
    return await table_rows(db)


def fields_of(error: pytest.ExceptionInfo[DomainError]) -> dict[str, str]:
    assert isinstance(error.value, ValidationError), error.value
    return {name: err.code for name, err in error.value.errors.items()}


def today() -> date:
    return datetime.now(ZoneInfo(ZONE)).date()


# -- event settings and days ----------------------------------------------------------------


async def test_settings_are_saved_in_minutes_with_an_audit_entry(
    db: Database, event: Event
) -> None:
    changed = await admin.update_settings(db, SETTINGS, staff_id=None, now=NOW)
    saved = await load_event(db)
    assert (saved.name, saved.conversation_seconds, saved.warning_seconds) == (
        "LeerWerkWeek 2026",
        900,
        180,
    )
    assert (saved.wait_alert_seconds, saved.overtime_alert_seconds) == (720, 240)
    assert saved.video_base_url == "https://meet.example.nl"
    assert saved.is_open == event.is_open
    assert set(changed) >= {"name", "conversation_minutes", "video_base_url"}
    [entry] = await audit.entries(db)
    assert (entry.action, entry.subject) == ("event.settings", "event")
    assert admin.Settings.of(saved).conversation_minutes == 15


@pytest.mark.parametrize("provider", ["builtin", "jitsi", "personal"])
async def test_each_video_provider_can_be_chosen(db: Database, event: Event, provider: str) -> None:
    await admin.update_settings(
        db, {**SETTINGS, "video_provider": provider}, staff_id=None, now=NOW
    )
    assert (await load_event(db)).video_provider == provider


async def test_settings_leave_open_or_closed_alone(db: Database, event: Event) -> None:
    async with db.transaction() as tx:
        await tx.execute("UPDATE event SET is_open = 0")
    await admin.update_settings(db, SETTINGS, staff_id=None, now=NOW)
    assert (await load_event(db)).is_open is False


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("name", "", "input.required"),
        ("name", "x" * 101, "input.too_long"),
        ("timezone", "Europe/Utrecht", "input.timezone"),
        ("timezone", "", "input.required"),
        ("conversation_minutes", "0", "input.number_range"),
        ("conversation_minutes", "tien", "input.number_range"),
        ("conversation_minutes", "١٠", "input.number_range"),
        ("warning_minutes", "15", "input.warning_too_long"),
        ("video_provider", "zoom", "input.bad_choice"),
        ("video_base_url", "http://meet.example.nl", "input.https_url"),
        ("video_base_url", "https://", "input.https_url"),
        ("video_base_url", "javascript:alert(1)", "input.https_url"),
        ("wait_alert_minutes", "-1", "input.number_range"),
        ("overtime_alert_minutes", "241", "input.number_range"),
    ],
)
async def test_bad_settings_name_the_field_and_change_nothing(
    db: Database, event: Event, field: str, value: str, code: str
) -> None:
    before = await dump(db)
    with pytest.raises(ValidationError) as error:
        await admin.update_settings(db, {**SETTINGS, field: value}, staff_id=None, now=NOW)
    assert fields_of(error) == {field: code}
    assert await dump(db) == before


async def test_days_are_added_changed_and_checked(db: Database, event: Event) -> None:
    day = {"day": "2026-03-12", "opens": "09:00", "closes": "17:00"}
    _hours, new = await admin.save_day(db, day, staff_id=None, now=NOW)
    assert new
    _hours, new = await admin.save_day(db, {**day, "closes": "24:00"}, staff_id=None, now=NOW)
    assert not new
    assert [(d.day.isoformat(), d.opens, d.closes) for d in await event_days(db)] == [
        ("2026-03-12", "09:00", "24:00")
    ]
    assert [e.action for e in await audit.entries(db)] == ["event.day_changed", "event.day_added"]
    before = await dump(db)
    for bad, expected in (
        ({"opens": "17:00", "closes": "09:00"}, {"closes": "input.time_order"}),
        ({"opens": "9:00"}, {"opens": "input.clock"}),
        ({"opens": "24:00"}, {"opens": "input.clock"}),
        ({"closes": "25:00"}, {"closes": "input.clock"}),
        ({"day": "12-03-2026"}, {"day": "input.date"}),
        ({"day": "2026-02-30"}, {"day": "input.date"}),
        ({"day": ""}, {"day": "input.required"}),
    ):
        with pytest.raises(ValidationError) as error:
            await admin.save_day(db, {**day, **bad}, staff_id=None, now=NOW)
        assert fields_of(error) == expected
    assert await dump(db) == before


async def test_hours_that_leave_blocks_outside_are_refused_and_removing_a_day_takes_its_blocks(
    db: Database, event: Event
) -> None:
    booth_id = await make_booth(db, "a", open_now=False)
    await admin.save_day(
        db, {"day": "2026-03-12", "opens": "09:00", "closes": "17:00"}, staff_id=None, now=NOW
    )
    await schedule_admin.add(
        db, booth_id, {"day": "2026-03-12", "starts": "14:00", "ends": "17:00"}, actor=None, now=NOW
    )
    before = await dump(db)
    with pytest.raises(ValidationError) as error:
        await admin.save_day(
            db, {"day": "2026-03-12", "opens": "09:00", "closes": "16:00"}, staff_id=None, now=NOW
        )
    assert fields_of(error) == {"opens": "day.slots_outside"}
    assert await dump(db) == before
    assert await admin.remove_day(db, "2026-03-12", staff_id=None, now=NOW) == 1
    assert await count(db, "schedule") == 0
    assert await event_days(db) == []
    with pytest.raises(DomainError) as missing:
        await admin.remove_day(db, "2026-03-12", staff_id=None, now=NOW)
    assert missing.value.code == "day.not_found"


# -- booths ---------------------------------------------------------------------------------


async def test_a_booth_is_created_last_with_a_slug_from_its_name(
    db: Database, event: Event
) -> None:
    first = await make_booth(db, "eerste")
    made = await booth_admin.create(
        db, {**BOOTH, "name": "Zorggroep Noord-Oost Ä"}, ["vacature", "bbl"], staff_id=None, now=NOW
    )
    again = await booth_admin.create(
        db, {**BOOTH, "name": "Zorggroep Noord-Oost Ä"}, [], staff_id=None, now=NOW
    )
    order = await booths.list_booths(db)
    assert [b.id for b in order] == [first, made, again]
    assert order[1].slug == "zorggroep-noord-oost-a"
    assert order[2].slug == "zorggroep-noord-oost-a-2"
    assert order[1].offers == ("bbl", "vacature")  # in the order of the offers list
    assert [e.action for e in await audit.entries(db)] == ["booth.create", "booth.create"]


@pytest.mark.parametrize(
    ("change", "offers", "expected"),
    [
        ({"name": " "}, [], {"name": "input.required"}),
        ({"slug": "Zorg Noord"}, [], {"slug": "input.slug"}),
        ({"slug": "zorg--noord"}, [], {"slug": "input.slug"}),
        ({"slug": "bestaat"}, [], {"slug": "booth.slug_taken"}),
        ({"kind": "winkel"}, [], {"kind": "input.bad_choice"}),
        ({"sector": ""}, [], {"sector": "input.required"}),
        ({}, ["bbl", "toverkunst"], {"offers": "input.bad_choice"}),
        ({"link": "http://zorg.example.nl"}, [], {"link": "input.https_url"}),
        ({"link": "https://zorg.example.nl/ a"}, [], {"link": "input.https_url"}),
        ({"description": "x" * 1001}, [], {"description": "input.too_long"}),
    ],
)
async def test_bad_booth_fields_are_named_and_nothing_changes(
    db: Database, event: Event, change: dict[str, str], offers: list[str], expected: dict[str, str]
) -> None:
    await make_booth(db, "bestaat")
    before = await dump(db)
    with pytest.raises(ValidationError) as error:
        await booth_admin.create(db, {**BOOTH, **change}, offers, staff_id=None, now=NOW)
    assert fields_of(error) == expected
    assert await dump(db) == before


async def test_a_booth_is_edited_and_keeps_its_own_slug(db: Database, event: Event) -> None:
    booth_id = await make_booth(db, "zorg-noord")
    other = await make_booth(db, "bouw")
    await booth_admin.update(
        db,
        booth_id,
        {**BOOTH, "slug": "zorg-noord", "link": "https://zorg.example.nl"},
        ["bbl"],
        staff_id=None,
        now=NOW,
    )
    booth = await booths.get_booth(db, booth_id)
    assert booth is not None
    assert (booth.name, booth.link, booth.offers) == (
        "Zorggroep Noord",
        "https://zorg.example.nl",
        ("bbl",),
    )
    with pytest.raises(ValidationError) as error:
        await booth_admin.update(
            db, other, {**BOOTH, "slug": "zorg-noord"}, [], staff_id=None, now=NOW
        )
    assert fields_of(error) == {"slug": "booth.slug_taken"}


async def test_a_booth_with_waiting_candidates_is_not_removed(db: Database, event: Event) -> None:
    booth_id = await make_booth(db, "a")
    await make_advisor(db, booth_id, "a1@example.nl")
    await make_request(db, event, await make_candidate(db), booth_id)
    before = await dump(db)
    with pytest.raises(DomainError) as error:
        await booth_admin.remove(db, booth_id, staff_id=None, now=NOW)
    assert error.value.code == "booth.busy"
    assert await dump(db) == before


async def test_removing_a_booth_takes_it_out_of_the_hall_and_signs_its_advisors_out(
    db: Database, event: Event
) -> None:
    booth_id = await make_booth(db, "a")
    stays = await make_booth(db, "b")
    advisor = await make_advisor(db, booth_id, "a1@example.nl")
    colleague = await make_advisor(db, stays, "b1@example.nl")
    for staff_id in (advisor, colleague):
        await sessions.create(db, staff_id=staff_id, now=time.time())
    assert await booth_admin.remove(db, booth_id, staff_id=None, now=NOW) == [advisor]
    assert [b.id for b in await booths.list_booths(db)] == [stays]
    assert await booths.get_booth(db, booth_id, removed_too=True) is not None
    gone = await accounts.get_staff(db, advisor)
    assert gone is not None and not gone.active and gone.status == "offline"
    assert await count(db, "sessions", "staff_id = ?", (advisor,)) == 0
    assert await count(db, "sessions", "staff_id = ?", (colleague,)) == 1
    [entry] = await audit.entries(db)
    assert (entry.action, entry.subject) == ("booth.remove", f"booth:{booth_id}")
    with pytest.raises(DomainError):
        await booth_admin.update(db, booth_id, BOOTH, [], staff_id=None, now=NOW)


async def test_booths_move_up_and_down_in_the_hall(db: Database, event: Event) -> None:
    a, b, c = [await make_booth(db, slug) for slug in ("a", "b", "c")]
    assert await booth_admin.move(db, c, "up", staff_id=None, now=NOW)
    assert [x.id for x in await booths.list_booths(db)] == [a, c, b]
    assert await booth_admin.move(db, a, "down", staff_id=None, now=NOW)
    assert [x.id for x in await booths.list_booths(db)] == [c, a, b]
    assert not await booth_admin.move(db, c, "up", staff_id=None, now=NOW)
    assert not await booth_admin.move(db, b, "down", staff_id=None, now=NOW)
    with pytest.raises(ValidationError):
        await booth_admin.move(db, b, "sideways", staff_id=None, now=NOW)
    assert [e.action for e in await audit.entries(db)] == ["booth.move", "booth.move"]


# -- CSV ------------------------------------------------------------------------------------


async def test_csv_export_has_a_bom_a_header_and_every_booth_in_hall_order(
    db: Database, event: Event
) -> None:
    await booth_admin.create(db, BOOTH, ["bbl", "vacature"], staff_id=None, now=NOW)
    await booth_admin.create(
        db,
        {**BOOTH, "name": "=SOM(1;2)", "kind": "school", "description": 'Zeg "hoi", ok'},
        [],
        staff_id=None,
        now=NOW,
    )
    raw = booth_admin.export_csv(await booths.list_booths(db))
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == list(booth_admin.CSV_COLUMNS)
    assert rows[1][:5] == ["zorggroep-noord", "Zorggroep Noord", "employer", "zorg", "bbl vacature"]
    assert rows[2][1] == "'=SOM(1;2)"  # never run as a formula
    assert rows[2][5] == 'Zeg "hoi", ok'
    # Read back, it is the same booths (the formula guard is taken off again).
    _header, read = booth_admin.read_csv(raw)
    assert [(b.slug, b.name, b.offers) for _n, b in read] == [
        ("zorggroep-noord", "Zorggroep Noord", ("bbl", "vacature")),
        ("som-1-2", "=SOM(1;2)", ()),
    ]


async def test_csv_import_creates_and_updates_by_slug(db: Database, event: Event) -> None:
    old = await booth_admin.create(db, BOOTH, ["bbl"], staff_id=None, now=NOW)
    await booth_admin.update(
        db, old, {**BOOTH, "link": "https://zorg.example.nl"}, ["bbl"], staff_id=None, now=NOW
    )
    text = (
        "name;slug;kind;sector;offers\n"
        "Zorggroep Noord (nieuw);zorggroep-noord;werkgever;Zorg en welzijn;bbl vacature\n"
        "ROC Midden;;school;onderwijs;bol,mbo_certificaat\n"
        "Techniek Nu;techniek-nu;employer;techniek;\n"
    )
    result = await booth_admin.import_csv(db, text.encode("utf-8"), staff_id=None, now=NOW)
    assert (result.created, result.updated) == (2, 1)
    by_slug = {b.slug: b for b in await booths.list_booths(db)}
    assert set(by_slug) == {"zorggroep-noord", "roc-midden", "techniek-nu"}
    updated = by_slug["zorggroep-noord"]
    assert (updated.id, updated.name, updated.offers) == (
        old,
        "Zorggroep Noord (nieuw)",
        ("bbl", "vacature"),
    )
    assert updated.link == "https://zorg.example.nl"  # no link column: kept
    assert updated.description == "Hoi"
    assert by_slug["roc-midden"].offers == ("bol", "mbo_certificaat")
    assert (await audit.entries(db))[0].parsed_detail == audit.Detail(
        "booths_imported", {"created": 2, "updated": 1}
    )


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        (
            "slug,name,kind,sector\nok,Goed,employer,zorg\nfout,Fout,winkel,zorg\n",
            ["Regel 3", "kind"],
        ),
        (
            "slug,name,kind,sector,link\na,A,employer,zorg,\nb,B,employer,zorg,http://b.nl\n",
            ["Regel 3", "link", "https://"],
        ),
        ("slug,name,kind,sector\nx,X,employer,zorg\nx,Y,school,zorg\n", ["Regel 3", "regel 2"]),
        ("slug,name,kind\nx,X,employer\n", ["sector"]),
        ("slug,name,kind,sector,kleur\nx,X,employer,zorg,rood\n", ["kleur"]),
        ("slug,name,kind,sector\n", ["geen stands"]),
        ("slug,name,kind,sector\nx,X,employer,zorg,te,veel\n", ["Regel 2", "Te veel"]),
        ("slug,name,kind,sector\nbestaat,X,employer,zorg\n", ["Regel 2", "slug"]),
    ],
)
async def test_a_wrong_row_means_nothing_is_imported_and_it_is_named(
    db: Database, event: Event, text: str, needles: list[str]
) -> None:
    removed = await make_booth(db, "bestaat")
    await booth_admin.remove(db, removed, staff_id=None, now=NOW)
    before = await dump(db)
    with pytest.raises(booth_admin.ImportRefused) as refused:
        await booth_admin.import_csv(db, text.encode(), staff_id=None, now=NOW)
    said = " ".join(p.message() for p in refused.value.problems)
    for needle in needles:
        assert needle in said, said
    assert await dump(db) == before


async def test_unreadable_files_are_refused(db: Database, event: Event) -> None:
    for raw in (b"", b"\x00\x01\x02", b"\xff\xfe\x00n\x00a"):
        with pytest.raises(booth_admin.ImportRefused) as refused:
            await booth_admin.import_csv(db, raw, staff_id=None, now=NOW)
        assert refused.value.problems[0].code in ("csv.unreadable", "csv.missing_column")
    assert await count(db, "booths") == 0
    # What a spreadsheet saves on Windows (cp1252) is read too.
    text = "name,kind,sector\nCafé Één,employer,horeca\n".encode("cp1252")
    await booth_admin.import_csv(db, text, staff_id=None, now=NOW)
    assert [b.name for b in await booths.list_booths(db)] == ["Café Één"]


# -- staff by invitation --------------------------------------------------------------------


INVITE = {"name": "Nieuwe Adviseur", "email": "nieuw@example.nl", "role": "advisor"}


async def test_an_invited_account_has_no_password_until_the_link_is_used(
    db: Database, event: Event
) -> None:
    booth_id = await make_booth(db, "a")
    staff_id, token = await invitations.invite(
        db, {**INVITE, "booth_id": str(booth_id)}, actor=None, now=time.time()
    )
    assert len(token) >= 40
    stored = await db.fetchone("SELECT token_hash, expires_at, created_at FROM invitations")
    assert stored is not None
    assert stored["token_hash"] == invitations.token_hash(token) != token
    assert stored["expires_at"] - stored["created_at"] == invitations.INVITATION_DAYS * 86400
    # No password signs in: not an empty one, not the placeholder itself.
    for attempt in (
        "",
        accounts.NO_PASSWORD,
        "whatever-password",
        "not-a-real-password-for-timing",
    ):
        with pytest.raises(DomainError) as refused:
            await accounts.authenticate(db, "nieuw@example.nl", attempt)
        assert refused.value.code == "auth.bad_login"
    [row] = await invitations.list_staff(db, time.time())
    assert row.pending_until is not None and not row.has_password
    assert row.booth_name == "Stand a"
    found = await invitations.find(db, token, time.time())
    assert (found.staff_id, found.name) == (staff_id, "Nieuwe Adviseur")
    with pytest.raises(ValidationError) as short:
        await invitations.accept(db, token, new="kort", repeat="kort", now=time.time())
    assert fields_of(short) == {"new": "input.password_short"}
    with pytest.raises(ValidationError) as differ:
        await invitations.accept(
            db, token, new="lang-genoeg-1", repeat="lang-genoeg-2", now=time.time()
        )
    assert fields_of(differ) == {"repeat": "input.password_mismatch"}
    await invitations.accept(
        db, token, new="lang-genoeg-1", repeat="lang-genoeg-1", now=time.time()
    )
    signed = await accounts.authenticate(db, "nieuw@example.nl", "lang-genoeg-1")
    assert signed.id == staff_id and signed.booth_id == booth_id
    with pytest.raises(DomainError) as again:
        await invitations.accept(
            db, token, new="nog-een-keer-1", repeat="nog-een-keer-1", now=time.time()
        )
    assert again.value.code == "invitation.used"
    actions = [e.action for e in await audit.entries(db)]
    assert actions == ["staff.invitation_used", "staff.invite"]


async def test_links_expire_and_a_new_link_ends_the_older_one(db: Database, event: Event) -> None:
    now = time.time()
    _staff_id, token = await invitations.invite(
        db, {**INVITE, "role": "moderator"}, actor=None, now=now
    )
    later = now + invitations.INVITATION_DAYS * 86400 + 1
    with pytest.raises(DomainError) as expired:
        await invitations.find(db, token, later)
    assert expired.value.code == "invitation.expired"
    newer = await invitations.new_invitation(db, _staff_id, actor=None, now=now + 10)
    with pytest.raises(DomainError) as ended:
        await invitations.find(db, token, now + 20)
    assert ended.value.code == "invitation.expired"
    assert (await invitations.find(db, newer, now + 20)).staff_id == _staff_id
    for unknown in ("", "nope", "x" * 500):
        with pytest.raises(DomainError) as missing:
            await invitations.find(db, unknown, now)
        assert missing.value.code == "invitation.not_found"


async def test_a_new_link_resets_a_password_and_ends_every_session(
    db: Database, event: Event
) -> None:
    booth_id = await make_booth(db, "a")
    advisor = await make_advisor(db, booth_id, "a1@example.nl")
    await sessions.create(db, staff_id=advisor, now=time.time())
    token = await invitations.new_invitation(db, advisor, actor=None, now=time.time())
    await invitations.accept(
        db, token, new="een-nieuw-wachtwoord", repeat="een-nieuw-wachtwoord", now=time.time()
    )
    assert await count(db, "sessions", "staff_id = ?", (advisor,)) == 0
    await accounts.authenticate(db, "a1@example.nl", "een-nieuw-wachtwoord")


async def test_bad_invitations_are_named_and_change_nothing(db: Database, event: Event) -> None:
    booth_id = await make_booth(db, "a")
    removed = await make_booth(db, "weg")
    await booth_admin.remove(db, removed, staff_id=None, now=NOW)
    await make_advisor(db, booth_id, "bestaat@example.nl")
    before = await dump(db)
    for change, expected in (
        ({"email": "geen-adres"}, {"email": "input.email"}),
        ({"email": "BESTAAT@example.nl"}, {"email": "staff.email_taken"}),
        ({"role": "baas"}, {"role": "input.bad_choice"}),
        ({"name": ""}, {"name": "input.required"}),
        ({"booth_id": ""}, {"booth_id": "input.required"}),
        ({"booth_id": str(removed)}, {"booth_id": "booth.not_found"}),
        ({"booth_id": "abc"}, {"booth_id": "booth.not_found"}),
    ):
        with pytest.raises(ValidationError) as error:
            await invitations.invite(
                db, {**INVITE, "booth_id": str(booth_id), **change}, actor=None, now=NOW
            )
        assert fields_of(error) == expected
    assert await dump(db) == before


async def test_deactivating_ends_sessions_and_hands_waiting_requests_to_the_booth(
    db: Database, event: Event
) -> None:
    booth_id = await make_booth(db, "a")
    advisor = await make_advisor(db, booth_id, "a1@example.nl")
    await make_advisor(db, booth_id, "a2@example.nl")
    moderator_id, _token = await invitations.invite(
        db, {**INVITE, "role": "moderator"}, actor=None, now=NOW
    )
    await sessions.create(db, staff_id=advisor, now=time.time())
    request = await make_request(db, event, await make_candidate(db), booth_id, advisor_id=advisor)
    assert await invitations.deactivate(db, advisor, actor=moderator_id, now=NOW) == booth_id
    gone = await accounts.get_staff(db, advisor)
    assert gone is not None and not gone.active and gone.status == "offline"
    assert await count(db, "sessions", "staff_id = ?", (advisor,)) == 0
    waiting = await db.fetchone(
        "SELECT status, advisor_id FROM requests WHERE id = ?", (request.id,)
    )
    assert waiting is not None and (waiting["status"], waiting["advisor_id"]) == ("waiting", None)
    with pytest.raises(DomainError) as self_off:
        await invitations.deactivate(db, moderator_id, actor=moderator_id, now=NOW)
    assert self_off.value.code == "staff.self"
    assert await invitations.reactivate(db, advisor, actor=moderator_id, now=NOW) == booth_id
    back = await accounts.get_staff(db, advisor)
    assert back is not None and back.active
    with pytest.raises(DomainError) as missing:
        await invitations.deactivate(db, 999, actor=moderator_id, now=NOW)
    assert missing.value.code == "staff.not_found"


async def test_an_advisor_in_a_conversation_is_not_deactivated_or_moved(
    db: Database, event: Event
) -> None:
    from app.domain import conversations

    booth_id = await make_booth(db, "a")
    other = await make_booth(db, "b")
    advisor = await make_advisor(db, booth_id, "a1@example.nl")
    request = await make_request(db, event, await make_candidate(db), booth_id)
    await conversations.accept(
        db, event, advisor_id=advisor, request_id=request.id, now=time.time()
    )
    before = await dump(db)
    for attempt in (
        invitations.deactivate(db, advisor, actor=None, now=NOW),
        invitations.assign(db, advisor, str(other), actor=None, now=NOW),
    ):
        with pytest.raises(DomainError) as busy:
            await attempt
        assert busy.value.code == "staff.in_conversation"
    assert await dump(db) == before


async def test_an_advisor_is_assigned_to_another_booth(db: Database, event: Event) -> None:
    a, b = await make_booth(db, "a"), await make_booth(db, "b")
    advisor = await make_advisor(db, a, "a1@example.nl")
    await sessions.create(db, staff_id=advisor, now=time.time())
    assert await invitations.assign(db, advisor, str(b), actor=None, now=NOW) == (a, b)
    moved = await accounts.get_staff(db, advisor)
    assert moved is not None and moved.booth_id == b
    assert await count(db, "sessions", "staff_id = ?", (advisor,)) == 0
    [entry] = await audit.entries(db)
    assert (entry.action, entry.parsed_detail) == (
        "staff.assign",
        audit.Detail("assigned", {"from_booth": a, "to_booth": b, "released": 0}),
    )
    await booth_admin.remove(db, a, staff_id=None, now=NOW)
    with pytest.raises(ValidationError) as gone:
        await invitations.assign(db, advisor, str(a), actor=None, now=NOW)
    assert fields_of(gone) == {"booth_id": "booth.not_found"}
    moderator_id, _token = await invitations.invite(
        db, {**INVITE, "role": "moderator"}, actor=None, now=NOW
    )
    with pytest.raises(DomainError) as not_advisor:
        await invitations.assign(db, moderator_id, str(b), actor=None, now=NOW)
    assert not_advisor.value.code == "staff.not_advisor"


# -- schedule -------------------------------------------------------------------------------


async def test_blocks_lie_within_the_day_and_the_hall_follows_them(
    db: Database, event: Event
) -> None:
    day = today()
    booth_id = await make_booth(db, "a", open_now=False)
    other = await make_booth(db, "b", open_now=False)
    advisor = await make_advisor(db, booth_id, "a1@example.nl")
    stranger = await make_advisor(db, other, "b1@example.nl")
    await admin.save_day(
        db, {"day": day.isoformat(), "opens": "08:00", "closes": "18:00"}, staff_id=None, now=NOW
    )
    block = {"day": day.isoformat(), "starts": "09:00", "ends": "12:00"}
    before = await dump(db)
    for change, expected in (
        ({"starts": "07:00"}, {"starts": "slot.outside_day"}),
        ({"ends": "19:00"}, {"starts": "slot.outside_day"}),
        ({"ends": "08:30"}, {"ends": "input.time_order"}),
        ({"day": (day + timedelta(days=1)).isoformat()}, {"day": "day.not_found"}),
        ({"staff_id": str(stranger)}, {"staff_id": "advisor.not_found"}),
        ({"staff_id": "x"}, {"staff_id": "advisor.not_found"}),
    ):
        with pytest.raises(ValidationError) as error:
            await schedule_admin.add(db, booth_id, {**block, **change}, actor=None, now=NOW)
        assert fields_of(error) == expected, change
    assert await dump(db) == before
    slot_id = await schedule_admin.add(
        db, booth_id, {**block, "staff_id": str(advisor)}, actor=None, now=NOW
    )
    with pytest.raises(ValidationError) as overlap:
        await schedule_admin.add(
            db,
            booth_id,
            {**block, "starts": "11:00", "ends": "13:00", "staff_id": str(advisor)},
            actor=None,
            now=NOW,
        )
    assert fields_of(overlap) == {"staff_id": "slot.overlap"}
    [shown] = await schedule_admin.blocks_of(db, booth_id)
    assert (shown.id, shown.staff_name, shown.starts, shown.ends) == (
        slot_id,
        "A1",
        "09:00",
        "12:00",
    )
    slots = await booths.slots_from(db, day, booth_id)
    at = datetime.combine(day, datetime.min.time(), ZoneInfo(ZONE))
    assert booths.opening(slots, at.replace(hour=10)).open_now
    later = booths.opening(slots, at.replace(hour=8))
    assert (later.open_now, later.next_time) == (False, "09:00")
    assert await schedule_admin.remove(db, slot_id, actor=None, now=NOW) == booth_id
    assert not booths.opening(
        await booths.slots_from(db, day, booth_id), at.replace(hour=10)
    ).open_now
    with pytest.raises(DomainError) as missing:
        await schedule_admin.remove(db, slot_id, actor=None, now=NOW)
    assert missing.value.code == "slot.not_found"
    assert [e.action for e in await audit.entries(db)][:2] == ["schedule.remove", "schedule.add"]
