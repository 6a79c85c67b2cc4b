"""Extending a conversation at the end of its time, as domain rules on a real SQLite file
with an explicit clock: when it is allowed and refused (people waiting, the moderator's
permission, too early, the limit), what it changes (the end, the warning told again) and
that every refusal changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from app.core.errors import DomainError, ValidationError
from app.domain import audit, conversations, extension
from app.domain.event import Event
from app.live import snapshots
from app.live.deadlines import moments_passed
from app.storage.db import Database
from tests.servicekit import make_advisor, make_booth, make_candidate, make_request, table_rows

T0 = 1_900_000_000.0  # the moment the conversation starts (600 s, warning 120 s)
WARNING = T0 + 480  # the warning time of the first end
TABLES = ("event", "requests", "conversations", "staff", "audit_log")


async def everything(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    return await table_rows(db, TABLES)


async def refused(db: Database, code: str, step: Any) -> DomainError:
    """The step is refused with this code and nothing in the database changed."""
    before = await everything(db)
    with pytest.raises(DomainError) as caught:
        await step
    assert caught.value.code == code, caught.value.code
    assert await everything(db) == before
    return caught.value


@pytest.fixture
async def hall(db: Database, event: Event) -> dict[str, int]:
    ids = {"a": await make_booth(db, "a"), "b": await make_booth(db, "b")}
    ids["a1"] = await make_advisor(db, ids["a"], "a1@voorbeeld.nl")
    ids["a2"] = await make_advisor(db, ids["a"], "a2@voorbeeld.nl")
    ids["b1"] = await make_advisor(db, ids["b"], "b1@voorbeeld.nl")
    ids["mod"] = await moderator(db)
    sanne = await make_candidate(db, "Sanne")
    request = await make_request(db, event, sanne, ids["a"], now=T0 - 60)
    conversation, _ = await conversations.accept(
        db, event, advisor_id=ids["a1"], request_id=request.id, now=T0
    )
    ids["sanne"] = sanne
    ids["conversation"] = conversation.id
    return ids


async def moderator(db: Database) -> int:
    from app.domain import accounts

    async with db.transaction() as tx:
        return await accounts.create_staff(
            tx,
            email="mod@voorbeeld.nl",
            name="Moderator",
            role="moderator",
            password="test-password-123",
        )


async def set_settings(db: Database, minutes: str, most: str, when_waiting: bool) -> None:
    data = {"extension_minutes": minutes, "extension_max_minutes": most}
    if when_waiting:
        data["extension_when_waiting"] = "yes"
    await extension.update_settings(db, data, staff_id=None, now=T0)


def extend(db: Database, event: Event, hall: dict[str, int], now: float, **kw: Any) -> Any:
    return extension.extend(
        db,
        event,
        advisor_id=kw.get("advisor_id", hall["a1"]),
        conversation_id=kw.get("conversation_id", hall["conversation"]),
        now=now,
    )


async def test_defaults_are_five_minutes_at_a_time_and_ten_in_all(db: Database) -> None:
    settings = await extension.load_settings(db)
    assert settings == extension.Settings(5, 10, False)


async def test_an_advisor_extends_from_the_warning_on_until_the_limit(
    db: Database, event: Event, hall: dict[str, int]
) -> None:
    # Too early: more than the warning time is left.
    error = await refused(
        db, "conversation.extension_too_early", extend(db, event, hall, WARNING - 1)
    )
    assert "vanaf de waarschuwing" in error.message()

    first = await extend(db, event, hall, WARNING + 10)
    assert first.ends_at == T0 + 600 + 300 and first.added_seconds == 300
    assert first.extended_seconds == 300 and first.candidate_id == hall["sanne"]
    stored = await conversations.get_conversation(db, hall["conversation"])
    assert stored is not None and stored.ends_at == T0 + 900

    # Within the warning of the new end, again: 5 more minutes make the ten.
    second = await extend(db, event, hall, T0 + 900 - 100)
    assert second.ends_at == T0 + 1200 and second.extended_seconds == 600
    # The limit is reached: refused, nothing changes (also in overtime).
    error = await refused(db, "conversation.extension_limit", extend(db, event, hall, T0 + 1300))
    assert "10 minuten" in error.message()


async def test_the_last_step_is_cut_to_the_limit(
    db: Database, event: Event, hall: dict[str, int]
) -> None:
    await set_settings(db, "4", "6", False)
    first = await extend(db, event, hall, WARNING)
    assert first.added_seconds == 240
    second = await extend(db, event, hall, first.ends_at - 60)
    assert second.added_seconds == 120 and second.extended_seconds == 360
    await refused(db, "conversation.extension_limit", extend(db, event, hall, second.ends_at))


async def test_overtime_may_be_extended_counted_from_the_old_end(
    db: Database, event: Event, hall: dict[str, int]
) -> None:
    done = await extend(db, event, hall, T0 + 600 + 90)
    assert done.ends_at == T0 + 900


async def test_only_the_advisor_of_a_running_conversation_extends_it(
    db: Database, event: Event, hall: dict[str, int]
) -> None:
    await refused(
        db, "conversation.not_found", extend(db, event, hall, WARNING, advisor_id=hall["a2"])
    )
    await refused(
        db, "conversation.not_found", extend(db, event, hall, WARNING, conversation_id=99999)
    )
    await conversations.end(
        db,
        advisor_id=hall["a1"],
        conversation_id=hall["conversation"],
        now=WARNING,
        wrap_up_seconds=0,
    )
    await refused(db, "conversation.ended", extend(db, event, hall, WARNING + 1))


async def test_a_maximum_of_zero_turns_extending_off(
    db: Database, event: Event, hall: dict[str, int]
) -> None:
    await set_settings(db, "5", "0", True)
    await refused(db, "conversation.extension_off", extend(db, event, hall, WARNING))


async def test_people_waiting_for_the_advisor_refuse_it_unless_the_moderator_allows(
    db: Database, event: Event, hall: dict[str, int]
) -> None:
    # Someone waiting for another advisor of the booth, or at another booth: no matter.
    kees = await make_candidate(db, "Kees")
    await make_request(db, event, kees, hall["a"], advisor_id=hall["a2"], now=T0 + 10)
    lars = await make_candidate(db, "Lars")
    await make_request(db, event, lars, hall["b"], now=T0 + 10)
    assert await extension.waiting_for(db, hall["a"], hall["a1"]) == 0
    await extend(db, event, hall, WARNING)

    # Two waiting whom this advisor could take (one for anyone, one for them).
    eva = await make_candidate(db, "Eva")
    await make_request(db, event, eva, hall["a"], now=T0 + 20)
    piet = await make_candidate(db, "Piet")
    await make_request(db, event, piet, hall["a"], advisor_id=hall["a1"], now=T0 + 30)
    error = await refused(
        db, "conversation.extension_not_allowed", extend(db, event, hall, T0 + 900 - 60)
    )
    assert error.params == {"waiting": 2} and "wachtenden: 2" in error.message()

    # The moderator allows it for this conversation: in the audit log, in the same step.
    allowed = await extension.allow(
        db, staff_id=hall["mod"], conversation_id=hall["conversation"], now=T0 + 850
    )
    assert allowed.advisor_id == hall["a1"] and allowed.booth_id == hall["a"]
    entries = await audit.entries(db)
    assert entries[0].action == "conversation.allow_extension"
    assert entries[0].subject == f"conversation:{hall['conversation']}"
    assert entries[0].staff_id == hall["mod"]
    # Twice changes nothing; an unknown or ended conversation is refused.
    await refused(
        db,
        "moderation.no_change",
        extension.allow(db, staff_id=hall["mod"], conversation_id=hall["conversation"], now=1),
    )
    await refused(
        db,
        "conversation.not_found",
        extension.allow(db, staff_id=hall["mod"], conversation_id=99999, now=1),
    )
    done = await extend(db, event, hall, T0 + 900 - 60)
    assert done.ends_at == T0 + 1200
    row = await db.fetchone(
        "SELECT extended_seconds, extension_allowed_by, extension_allowed_at FROM conversations "
        "WHERE id = ?",
        (hall["conversation"],),
    )
    assert tuple(row) == (600, hall["mod"], T0 + 850)


async def test_the_event_setting_allows_it_while_people_wait(
    db: Database, event: Event, hall: dict[str, int]
) -> None:
    eva = await make_candidate(db, "Eva")
    await make_request(db, event, eva, hall["a"], now=T0 + 20)
    await refused(db, "conversation.extension_not_allowed", extend(db, event, hall, WARNING))
    await set_settings(db, "5", "10", True)
    done = await extend(db, event, hall, WARNING)
    assert done.ends_at == T0 + 900


async def test_the_warning_and_the_time_up_are_told_again_before_the_new_end(
    db: Database, event: Event, hall: dict[str, int]
) -> None:
    # The warning is due and told; the conversation runs into overtime.
    assert [c.id for c in await conversations.warn_due(db, event, WARNING)] == [
        hall["conversation"]
    ]
    assert [c.id for c in await conversations.time_up_due(db, T0 + 600)] == [hall["conversation"]]
    assert await moments_passed(db, "advisor", hall["a1"]) == [
        ("conversation.time_up", {"id": hall["conversation"], "ends_at": T0 + 600})
    ]
    await extend(db, event, hall, T0 + 620)
    stored = await conversations.get_conversation(db, hall["conversation"])
    assert stored is not None
    assert (stored.ends_at, stored.warned_at, stored.time_up_at) == (T0 + 900, None, None)
    # After a restart nothing is told for the old end; the next timer is the new warning.
    assert await moments_passed(db, "candidate", hall["sanne"]) == []
    assert await conversations.next_timer(db, event) == T0 + 900 - 120
    assert await conversations.warn_due(db, event, T0 + 700) == []
    warned = await conversations.warn_due(db, event, T0 + 780)
    assert [(c.id, c.ends_at) for c in warned] == [(hall["conversation"], T0 + 900)]
    assert await conversations.time_up_due(db, T0 + 899) == []
    assert [c.id for c in await conversations.time_up_due(db, T0 + 900)] == [hall["conversation"]]


async def test_an_extension_within_the_new_warning_keeps_the_warning_told(
    db: Database, event: Event, hall: dict[str, int]
) -> None:
    await extension.update_settings(
        db, {"extension_minutes": "1", "extension_max_minutes": "10"}, staff_id=None, now=T0
    )
    await conversations.warn_due(db, event, WARNING)
    done = await extend(db, event, hall, WARNING + 90)
    stored = await conversations.get_conversation(db, hall["conversation"])
    assert stored is not None and done.ends_at == T0 + 660
    # 90 s are left, within the warning: it is not told again, but the new end is known.
    assert stored.warned_at == WARNING
    assert await moments_passed(db, "advisor", hall["a1"]) == [
        ("conversation.warning", {"id": hall["conversation"], "ends_at": T0 + 660})
    ]


async def test_the_console_offers_the_choices_with_what_one_click_adds(
    db: Database, event: Event, hall: dict[str, int]
) -> None:
    console = await snapshots.console_state(db, event, hall["a1"], WARNING)
    choices = console["conversation"]["extension"]
    assert choices == {
        "minutes": 5,
        "extended_seconds": 0,
        "max_minutes": 10,
        "waiting": 0,
        "allowed_when_waiting": False,
        "follow_up_url": f"/adviseur/vervolgafspraak?gesprek={hall['conversation']}",
    }
    await extend(db, event, hall, WARNING)
    await extend(db, event, hall, T0 + 900 - 60)
    console = await snapshots.console_state(db, event, hall["a1"], T0 + 1100)
    assert console["conversation"]["extension"]["minutes"] == 0
    assert console["conversation"]["ends_at"] == T0 + 1200
    # The candidate sees the new end too, and nothing of the choices.
    me = await snapshots.candidate_state(db, event, hall["sanne"], T0 + 1100)
    assert me["conversation"]["ends_at"] == T0 + 1200
    assert "extension" not in me["conversation"]


@pytest.mark.parametrize(
    ("data", "wrong"),
    [
        ({"extension_minutes": "0", "extension_max_minutes": "10"}, {"extension_minutes"}),
        ({"extension_minutes": "16", "extension_max_minutes": "10"}, {"extension_minutes"}),
        ({"extension_minutes": "5", "extension_max_minutes": "31"}, {"extension_max_minutes"}),
        (
            {"extension_minutes": "", "extension_max_minutes": "-1"},
            {"extension_minutes", "extension_max_minutes"},
        ),
        (
            {
                "extension_minutes": "5",
                "extension_max_minutes": "10",
                "extension_when_waiting": "ja",
            },
            {"extension_when_waiting"},
        ),
    ],
)
async def test_bad_settings_are_refused_field_by_field_and_change_nothing(
    db: Database, event: Event, data: dict[str, str], wrong: set[str]
) -> None:
    before = await everything(db)
    with pytest.raises(ValidationError) as caught:
        await extension.update_settings(db, data, staff_id=None, now=T0)
    assert set(caught.value.errors) == wrong
    assert await everything(db) == before


async def test_settings_are_saved_with_an_audit_entry(db: Database, event: Event) -> None:
    changed = await extension.update_settings(
        db,
        {"extension_minutes": "3", "extension_max_minutes": "30", "extension_when_waiting": "yes"},
        staff_id=None,
        now=T0,
    )
    assert changed == ["extension_minutes", "extension_max_minutes", "extension_when_waiting"]
    assert await extension.load_settings(db) == extension.Settings(3, 30, True)
    entry = (await audit.entries(db))[0]
    assert entry.action == "event.extension" and "extension_minutes" in entry.detail
    assert extension.form_values(await extension.load_settings(db)) == {
        "extension_minutes": "3",
        "extension_max_minutes": "30",
        "extension_when_waiting": "yes",
    }
