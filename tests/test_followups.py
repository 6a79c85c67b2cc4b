"""Follow-up appointments and advisors' availability: the rules of app/domain/followups.py on a real
SQLite file, with an explicit ``now``."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from app.core.errors import DomainError, ValidationError
from app.domain import conversations, followups, notes
from app.domain.event import Event
from app.domain.followups import Booking, Staffer
from app.storage.db import Database
from tests.servicekit import count, make_advisor, make_booth, make_candidate, make_request

# A fixed moment well in the future of the machine's clock is not needed: every rule takes
# ``now`` from the test. Noon of a known day in the event's zone (Europe/Amsterdam).
DAY = "2031-03-12"


def at(event: Event, local: str) -> float:
    """Unix seconds of a local 'YYYY-MM-DDTHH:MM' in the event's zone."""
    return datetime.fromisoformat(local).replace(tzinfo=event.zone).timestamp()


@dataclass
class Hall:
    db: Database
    event: Event
    zorg: int
    bouw: int
    anna: Staffer
    bram: Staffer
    olaf: Staffer
    moderator: Staffer
    sanne: int
    other: int
    conversation: int
    now: float


@pytest.fixture
async def hall(db: Database, event: Event) -> Hall:
    zorg = await make_booth(db, "zorg")
    bouw = await make_booth(db, "bouw")
    anna = await make_advisor(db, zorg, "anna@zorg.nl")
    bram = await make_advisor(db, zorg, "bram@zorg.nl")
    olaf = await make_advisor(db, bouw, "olaf@bouw.nl")
    async with db.transaction() as tx:
        moderator = await tx.insert(
            "INSERT INTO staff (email, name, role, password_hash, status, status_since) "
            "VALUES ('mod@x.nl', 'Mod', 'moderator', 'x', 'offline', 0)"
        )
    sanne = await make_candidate(db, "Sanne")
    other = await make_candidate(db, "Piet")
    t = time.time()
    request = await make_request(db, event, sanne, zorg, now=t)
    conversation, _ = await conversations.accept(
        db, event, advisor_id=anna, request_id=request.id, now=t + 1
    )
    await notes.save_notes(
        db,
        advisor_id=anna,
        booth_id=zorg,
        conversation_id=conversation.id,
        text="Wil BBL zorg",
        now=t + 2,
    )
    return Hall(
        db,
        event,
        zorg,
        bouw,
        Staffer(anna, "advisor", zorg),
        Staffer(bram, "advisor", zorg),
        Staffer(olaf, "advisor", bouw),
        Staffer(moderator, "moderator", None),
        sanne,
        other,
        conversation.id,
        at(event, f"{DAY}T12:00"),
    )


def booking(hall: Hall, **changes: Any) -> Booking:
    values: dict[str, Any] = {
        "conversation_id": hall.conversation,
        "starts": f"{DAY}T14:00",
        "minutes": 30,
        "mode": "video",
        "location": "",
        "holder": "me",
        "message": "Neem je cv mee.",
    }
    values.update(changes)
    return Booking(**values)


async def book(hall: Hall, who: Staffer | None = None, **changes: Any) -> followups.FollowUp:
    return await followups.book(
        hall.db, hall.event, who or hall.anna, booking(hall, **changes), now=hall.now
    )


async def test_an_advisor_books_a_follow_up_of_their_conversation(hall: Hall) -> None:
    booked = await book(hall)
    assert booked.advisor_id == hall.anna.id
    assert booked.booth_id == hall.zorg
    assert booked.candidate_id == hall.sanne
    assert booked.starts_at == at(hall.event, f"{DAY}T14:00")
    assert booked.minutes == 30
    assert booked.status == "booked"
    assert booked.sequence == 0
    assert booked.updated_at == hall.now
    # No link typed: one from the event's video provider, like a conversation's.
    assert booked.location.startswith("https://meet.jit.si/inzoomen-")
    assert booked.message == "Neem je cv mee."
    entry = await hall.db.fetchone("SELECT staff_id, action, subject FROM audit_log")
    assert entry is not None
    assert tuple(entry) == (hall.anna.id, "follow_up.book", f"follow_up:{booked.id}")
    # The confirmation mail was queued in the same transaction, with its calendar file.
    mails = await hall.db.fetchall("SELECT kind, to_address, attachment_name FROM outbox")
    assert [(m["kind"], m["to_address"]) for m in mails] == [("booked", "sanne@voorbeeld.nl")]
    assert mails[0]["attachment_name"].endswith(".ics")


async def test_the_local_time_is_read_in_the_event_zone(hall: Hall) -> None:
    booked = await book(hall, starts=f"{DAY} 15:15")
    assert hall.event.local(booked.starts_at).strftime("%H:%M") == "15:15"
    # 12 March 2031 is winter time in Amsterdam: UTC+1.
    assert datetime.fromtimestamp(booked.starts_at, UTC).strftime("%H:%M") == "14:15"


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"starts": f"{DAY}T11:59"}, "starts", "follow_up.in_past"),
        ({"starts": "morgen"}, "starts", "input.datetime"),
        ({"starts": "2031-02-30T10:00"}, "starts", "input.datetime"),
        ({"starts": "2040-01-01T10:00"}, "starts", "follow_up.too_far"),
        ({"minutes": 25}, "minutes", "follow_up.bad_length"),
        ({"mode": "fax"}, "mode", "input.bad_choice"),
        ({"mode": "on_site", "location": "  "}, "location", "follow_up.address_required"),
        ({"mode": "video", "location": "http://meet.example/x"}, "location", "input.https_url"),
        ({"mode": "phone", "location": "bel mij"}, "location", "input.phone"),
        ({"message": "x" * 1001}, "message", "input.too_long"),
        ({"location": "x" * 301, "mode": "on_site"}, "location", "input.too_long"),
        ({"holder": "iemand"}, "holder", "input.bad_choice"),
    ],
)
async def test_bad_input_is_refused_per_field_and_changes_nothing(
    hall: Hall, changes: dict[str, Any], field: str, code: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        await book(hall, **changes)
    assert refused.value.errors[field].code == code
    assert refused.value.field_messages()[field]
    assert await count(hall.db, "follow_ups") == 0
    assert await count(hall.db, "audit_log") == 0
    assert await count(hall.db, "outbox") == 0


async def test_phone_takes_the_candidates_number_or_one_typed(hall: Hall) -> None:
    with pytest.raises(DomainError) as refused:
        await book(hall, mode="phone")
    assert refused.value.code == "follow_up.phone_required"
    assert await count(hall.db, "follow_ups") == 0
    typed = await book(hall, mode="phone", location="06 1234 5678")
    assert typed.location == "06 1234 5678"
    async with hall.db.transaction() as tx:
        await tx.execute("UPDATE candidates SET phone = '0201234567' WHERE id = ?", (hall.sanne,))
    own = await book(hall, mode="phone", starts=f"{DAY}T16:00")
    assert own.location == "0201234567"


async def test_on_site_keeps_the_address_and_video_a_typed_link(hall: Hall) -> None:
    site = await book(hall, mode="on_site", location="Stationsplein 1, Utrecht")
    assert site.location == "Stationsplein 1, Utrecht"
    video = await book(
        hall, mode="video", location="https://meet.example/kamer", starts=f"{DAY}T15:00"
    )
    assert video.location == "https://meet.example/kamer"


async def test_an_overlapping_follow_up_of_the_same_advisor_is_refused(hall: Hall) -> None:
    await book(hall, starts=f"{DAY}T14:00", minutes=30)
    for starts, minutes in ((f"{DAY}T14:15", 15), (f"{DAY}T13:45", 20), (f"{DAY}T13:30", 60)):
        with pytest.raises(DomainError) as refused:
            await book(hall, starts=starts, minutes=minutes)
        assert refused.value.code == "follow_up.overlap"
        assert "14:00" in refused.value.message()
    assert await count(hall.db, "follow_ups") == 1
    # Back to back is fine, and so is another advisor at the same time.
    await book(hall, starts=f"{DAY}T14:30", minutes=15)
    await book(hall, starts=f"{DAY}T13:30", minutes=30)
    await book(hall, holder=f"advisor:{hall.bram.id}", starts=f"{DAY}T14:00")
    # A cancelled one frees its time.
    first = await hall.db.fetchvalue(
        "SELECT id FROM follow_ups WHERE advisor_id = ? ORDER BY id", (hall.anna.id,)
    )
    await followups.cancel(hall.db, hall.anna, follow_up_id=first, now=hall.now)
    await book(hall, starts=f"{DAY}T14:00", minutes=30)


async def test_with_a_colleague_or_another_booth(hall: Hall) -> None:
    colleague = await book(hall, holder=f"advisor:{hall.bram.id}")
    assert (colleague.advisor_id, colleague.booth_id) == (hall.bram.id, hall.zorg)
    booth = await book(hall, holder=f"booth:{hall.bouw}")
    assert (booth.advisor_id, booth.booth_id) == (None, hall.bouw)
    # An advisor of another booth is not "another advisor of the booth".
    with pytest.raises(DomainError) as refused:
        await book(hall, holder=f"advisor:{hall.olaf.id}")
    assert refused.value.code == "advisor.not_found"
    with pytest.raises(DomainError) as refused:
        await book(hall, holder="booth:999")
    assert refused.value.code == "booth.not_found"
    assert await count(hall.db, "follow_ups") == 2


async def test_only_the_booth_and_the_moderator_book(hall: Hall) -> None:
    with pytest.raises(DomainError) as refused:
        await book(hall, hall.olaf)
    assert refused.value.code == "conversation.not_found"
    with pytest.raises(DomainError) as refused:
        await book(hall, conversation_id=999)
    assert refused.value.code == "conversation.not_found"
    colleague = await book(hall, hall.bram)
    assert colleague.advisor_id == hall.bram.id
    by_moderator = await book(hall, hall.moderator, starts=f"{DAY}T16:00")
    assert (by_moderator.advisor_id, by_moderator.booth_id) == (None, hall.zorg)
    assert by_moderator.created_by == hall.moderator.id


async def test_the_candidate_cancels_and_asks_to_reschedule_their_own(hall: Hall) -> None:
    booked = await book(hall)
    later = hall.now + 60
    with pytest.raises(ValidationError) as refused:
        await followups.ask_reschedule(
            hall.db, candidate_id=hall.sanne, follow_up_id=booked.id, message=" ", now=later
        )
    assert refused.value.errors["message"].code == "input.required"
    asked = await followups.ask_reschedule(
        hall.db,
        candidate_id=hall.sanne,
        follow_up_id=booked.id,
        message="Kan het een uur later?",
        now=later,
    )
    assert asked.status == "reschedule_requested"
    assert asked.candidate_message == "Kan het een uur later?"
    assert (asked.sequence, asked.updated_at) == (1, later)
    cancelled = await followups.cancel_mine(
        hall.db, candidate_id=hall.sanne, follow_up_id=booked.id, now=later + 1
    )
    assert (cancelled.status, cancelled.sequence, cancelled.updated_at) == (
        "cancelled",
        2,
        later + 1,
    )
    for attempt in (
        followups.cancel_mine(hall.db, candidate_id=hall.sanne, follow_up_id=booked.id, now=later),
        followups.ask_reschedule(
            hall.db, candidate_id=hall.sanne, follow_up_id=booked.id, message="Toch", now=later
        ),
    ):
        with pytest.raises(DomainError) as again:
            await attempt
        assert again.value.code == "follow_up.cancelled"
    assert (await followups.get(hall.db, booked.id)).sequence == 2  # type: ignore[union-attr]
    kinds = [r[0] for r in await hall.db.fetchall("SELECT kind FROM outbox ORDER BY id")]
    assert kinds == ["booked", "reschedule_requested", "cancelled"]


async def test_someone_elses_follow_up_is_refused_as_unknown(hall: Hall) -> None:
    booked = await book(hall)
    before = await hall.db.fetchall("SELECT * FROM follow_ups")
    for attempt in (
        followups.cancel_mine(
            hall.db, candidate_id=hall.other, follow_up_id=booked.id, now=hall.now
        ),
        followups.ask_reschedule(
            hall.db, candidate_id=hall.other, follow_up_id=booked.id, message="Ik", now=hall.now
        ),
        followups.of_candidate(hall.db, hall.other, booked.id),
        followups.cancel(hall.db, hall.olaf, follow_up_id=booked.id, now=hall.now),
        followups.reschedule(
            hall.db,
            hall.event,
            hall.olaf,
            follow_up_id=booked.id,
            starts=f"{DAY}T16:00",
            minutes=None,
            now=hall.now,
        ),
        followups.for_staff(hall.db, hall.olaf, booked.id),
    ):
        with pytest.raises(DomainError) as refused:
            await attempt
        assert refused.value.code == "follow_up.not_found"
    assert [tuple(r) for r in await hall.db.fetchall("SELECT * FROM follow_ups")] == [
        tuple(r) for r in before
    ]
    assert await followups.for_candidate(hall.db, hall.other) == []


async def test_a_passed_appointment_cannot_change(hall: Hall) -> None:
    booked = await book(hall, starts=f"{DAY}T14:00", minutes=30)
    after = at(hall.event, f"{DAY}T14:30")
    with pytest.raises(DomainError) as refused:
        await followups.cancel_mine(
            hall.db, candidate_id=hall.sanne, follow_up_id=booked.id, now=after
        )
    assert refused.value.code == "follow_up.passed"


async def test_the_advisor_moves_a_follow_up_back_to_booked(hall: Hall) -> None:
    booked = await book(hall)
    await book(hall, starts=f"{DAY}T16:00")
    await followups.ask_reschedule(
        hall.db, candidate_id=hall.sanne, follow_up_id=booked.id, message="Later?", now=hall.now
    )
    with pytest.raises(DomainError) as refused:
        await followups.reschedule(
            hall.db,
            hall.event,
            hall.anna,
            follow_up_id=booked.id,
            starts=f"{DAY}T16:15",
            minutes=None,
            now=hall.now + 5,
        )
    assert refused.value.code == "follow_up.overlap"
    with pytest.raises(ValidationError):
        await followups.reschedule(
            hall.db,
            hall.event,
            hall.anna,
            follow_up_id=booked.id,
            starts=f"{DAY}T11:00",
            minutes=None,
            now=hall.now + 5,
        )
    # Moving onto its own old time overlaps nothing but itself.
    moved = await followups.reschedule(
        hall.db,
        hall.event,
        hall.anna,
        follow_up_id=booked.id,
        starts=f"{DAY}T14:15",
        minutes=45,
        now=hall.now + 10,
    )
    assert moved.starts_at == at(hall.event, f"{DAY}T14:15")
    assert (moved.minutes, moved.status, moved.sequence, moved.updated_at) == (
        45,
        "booked",
        2,
        hall.now + 10,
    )
    # The moderator and a colleague of the booth may change it; the moderator cancels.
    cancelled = await followups.cancel(
        hall.db, hall.moderator, follow_up_id=booked.id, now=hall.now + 20
    )
    assert (cancelled.status, cancelled.sequence) == ("cancelled", 3)
    actions = [r[0] for r in await hall.db.fetchall("SELECT action FROM audit_log ORDER BY id")]
    assert actions == [
        "follow_up.book",
        "follow_up.book",
        "follow_up.reschedule",
        "follow_up.cancel",
    ]


async def test_the_holders_see_the_notes_and_the_candidate_does_not(hall: Hall) -> None:
    booked = await book(hall, holder=f"booth:{hall.bouw}")
    seen = await followups.for_staff(hall.db, hall.olaf, booked.id)
    assert seen["notes"] == "Wil BBL zorg"
    assert (await followups.for_staff(hall.db, hall.anna, booked.id))["notes"] == "Wil BBL zorg"
    assert (await followups.for_staff(hall.db, hall.moderator, booked.id))["notes"]
    mine = await followups.for_candidate(hall.db, hall.sanne)
    assert [f.id for f in mine] == [booked.id]
    assert "notes" not in mine[0].__dataclass_fields__
    # The booth that holds it lists it on its console; the booking booth's advisor does not
    # (it is not theirs), an unassigned one shows for everyone at the holding booth.
    olaf_list = await followups.console_list(hall.db, hall.event, hall.olaf.id, hall.bouw, hall.now)
    assert [f["id"] for f in olaf_list] == [booked.id]
    assert (
        await followups.console_list(hall.db, hall.event, hall.anna.id, hall.zorg, hall.now) == []
    )


async def test_console_list_is_the_advisors_own_and_the_booths_unassigned(hall: Hall) -> None:
    mine = await book(hall, starts=f"{DAY}T13:00")
    bram = await book(hall, holder=f"advisor:{hall.bram.id}")
    booth = await book(hall, hall.moderator, starts=f"{DAY}T15:00")
    listed = await followups.console_list(hall.db, hall.event, hall.anna.id, hall.zorg, hall.now)
    assert [f["id"] for f in listed] == [mine.id, booth.id]
    assert bram.id not in [f["id"] for f in listed]
    # Once over, it leaves the list.
    later = at(hall.event, f"{DAY}T13:31")
    assert [
        f["id"]
        for f in await followups.console_list(hall.db, hall.event, hall.anna.id, hall.zorg, later)
    ] == [booth.id]


async def test_availability_offers_free_start_times(hall: Hall) -> None:
    anna = hall.anna.id
    period = await followups.add_period(
        hall.db,
        hall.event,
        staff_id=anna,
        starts=f"{DAY}T13:00",
        ends=f"{DAY}T14:30",
        now=hall.now,
    )
    assert period.ends_at - period.starts_at == 90 * 60
    offers = await followups.free_starts(hall.db, anna, 30, hall.now)
    times = [hall.event.local(t).strftime("%H:%M") for t in offers]
    assert times == ["13:00", "13:15", "13:30", "13:45", "14:00"]
    await book(hall, starts=f"{DAY}T13:30", minutes=30)
    offers = await followups.free_starts(hall.db, anna, 30, hall.now)
    assert [hall.event.local(t).strftime("%H:%M") for t in offers] == ["13:00", "14:00"]
    # During the period, only times still ahead are offered.
    during = at(hall.event, f"{DAY}T13:05")
    offers = await followups.free_starts(hall.db, anna, 15, during)
    assert [hall.event.local(t).strftime("%H:%M") for t in offers] == ["13:15", "14:00", "14:15"]
    # Another advisor's availability is theirs alone.
    assert await followups.free_starts(hall.db, hall.bram.id, 30, hall.now) == []
    choices = followups.offer_choices(hall.event, offers)
    assert choices[0] == {"value": f"{DAY}T13:15", "day": DAY, "time": "13:15"}


async def test_availability_periods_are_checked_and_removed_by_their_owner(hall: Hall) -> None:
    anna = hall.anna.id

    async def add(starts: str, ends: str) -> followups.Period:
        return await followups.add_period(
            hall.db, hall.event, staff_id=anna, starts=starts, ends=ends, now=hall.now
        )

    for starts, ends, field, code in (
        (f"{DAY}T15:00", f"{DAY}T14:00", "ends", "input.time_order"),
        (f"{DAY}T10:00", f"{DAY}T11:00", "ends", "follow_up.in_past"),
        (f"{DAY}T08:00", f"{DAY}T21:00", "ends", "availability.too_long"),
        ("nu", f"{DAY}T21:00", "starts", "input.datetime"),
    ):
        with pytest.raises(ValidationError) as refused:
            await add(starts, ends)
        assert refused.value.errors[field].code == code
    assert await count(hall.db, "advisor_availability") == 0
    kept = await add(f"{DAY}T13:00", f"{DAY}T15:00")
    with pytest.raises(DomainError) as refused:
        await add(f"{DAY}T14:00", f"{DAY}T16:00")
    assert refused.value.code == "availability.overlap"
    with pytest.raises(DomainError) as refused:
        await followups.remove_period(hall.db, staff_id=hall.bram.id, period_id=kept.id)
    assert refused.value.code == "availability.not_found"
    await followups.remove_period(hall.db, staff_id=anna, period_id=kept.id)
    assert await count(hall.db, "advisor_availability") == 0
