"""What a booth card says about the booth's state agrees with what the booth does.

A booth takes requests when it is open by its schedule or an advisor is there before or
after its hours (``app.domain.queue.booth_is_accepting``). The hall card says "Nu open" exactly
then, and the opening hours ("Opent vandaag om 09:00") only when it does not: a card that
says it opens later next to "Direct aan de beurt" and a zoom-in button contradicts itself.

Service tests on a real SQLite file (the view, the card rendered from it, and the rule
that decides whether a request is taken, for the same moments), and real Chromium on a
real server: the card before opening time while the advisor becomes available and goes on
a pause again, live and after a reload.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Page, expect

from app.core.errors import DomainError
from app.domain import accounts, advisors, booths, moderation, queue
from app.domain.event import Event, load_event
from app.live import snapshots
from app.storage.db import Database
from app.web.templating import make_templates
from tests.a11ykit import CheckedBrowser
from tests.browserkit import log_in
from tests.livekit import PASSWORD, Browserless, LiveServer, World, csrf_from, seed_world
from tests.servicekit import make_advisor, make_booth, make_candidate, make_request

ZONE = ZoneInfo("Europe/Amsterdam")
# A fair day, half an hour before the booth opens at nine.
DAY = date(2026, 11, 26)
EARLY = datetime(2026, 11, 26, 8, 30, tzinfo=ZONE).timestamp()
DURING = datetime(2026, 11, 26, 10, 0, tzinfo=ZONE).timestamp()
LATE = datetime(2026, 11, 26, 18, 0, tzinfo=ZONE).timestamp()

CARD = make_templates(Path(__file__).resolve().parent.parent / "templates").env


def opening_line(view: dict[str, Any], today: str = DAY.isoformat()) -> str:
    """The opening line of the card the server renders from ``view``."""
    html = CARD.get_template("_booth.html").render(booth={**view, "visible": True}, today=today)
    found = re.search(r'data-field="opening"[^>]*>(.*?)</p>', html, re.S)
    assert found, html
    return found.group(1).strip()


@pytest.fixture
async def desk(db: Database, event: Event) -> dict[str, int]:
    """The Leerwerkloket, open 09:00-17:00 on the day, with one advisor (Sanne), not there."""
    booth = await make_booth(db, "leerwerkloket", name="Leerwerkloket", kind="advice_desk",
                             sector="advies", open_now=False)  # fmt: skip
    async with db.transaction() as tx:
        await booths.add_slot(tx, booth, DAY, "09:00", "17:00")
    sanne = await make_advisor(db, booth, "sanne@leerwerkloket.test", "offline", "Sanne")
    moderator = await make_staff_moderator(db)
    return {"booth": booth, "sanne": sanne, "moderator": moderator}


async def make_staff_moderator(db: Database) -> int:
    async with db.transaction() as tx:
        return await accounts.create_staff(
            tx, email="mod@leerwerkloket.test", name="Moderator", role="moderator",
            password=PASSWORD,
        )  # fmt: skip


async def view_of(db: Database, booth_id: int, now: float) -> dict[str, Any]:
    event = await load_event(db)
    [view] = await snapshots.booth_views(db, event, now, booth_id)
    return view


async def accepting(db: Database, booth_id: int, now: float) -> bool:
    event = await load_event(db)
    async with db.transaction() as tx:
        return await queue.booth_is_accepting(tx, event, booth_id, now)


async def test_an_advisor_there_before_opening_time_makes_the_card_say_open(
    db: Database, desk: dict[str, int]
) -> None:
    booth = desk["booth"]
    view = await view_of(db, booth, EARLY)
    assert (view["open_now"], view["present"]) == (False, False)
    assert opening_line(view) == "Opent vandaag om 09:00"

    await advisors.set_status(db, desk["sanne"], "available", EARLY)
    view = await view_of(db, booth, EARLY)
    assert view["present"] is True and view["wait_minutes"] == 0
    assert view["open_now"] is True
    # Open without a known closing time: the schedule's 17:00 is not the advisor's.
    assert view["closes"] is None
    assert opening_line(view) == "Nu open"
    assert await accepting(db, booth, EARLY)

    # A pause before opening time: not taking requests, so the hours are shown again.
    await advisors.set_status(db, desk["sanne"], "paused", EARLY)
    view = await view_of(db, booth, EARLY)
    assert view["open_now"] is False
    assert opening_line(view) == "Opent vandaag om 09:00"
    assert not await accepting(db, booth, EARLY)


async def test_in_hours_the_card_says_until_when_and_after_hours_an_advisor_keeps_it_open(
    db: Database, desk: dict[str, int]
) -> None:
    booth = desk["booth"]
    view = await view_of(db, booth, DURING)
    assert view["open_now"] is True and opening_line(view) == "Nu open tot 17:00"

    assert opening_line(await view_of(db, booth, LATE)) == "Vandaag gesloten"
    await advisors.set_status(db, desk["sanne"], "available", LATE)
    assert opening_line(await view_of(db, booth, LATE)) == "Nu open"


async def test_a_booth_or_event_closed_by_the_moderator_is_not_open_whoever_is_there(
    db: Database, desk: dict[str, int]
) -> None:
    booth = desk["booth"]
    await advisors.set_status(db, desk["sanne"], "available", EARLY)
    await moderation.set_booth_closed(
        db, staff_id=desk["moderator"], booth_id=booth, closed=True, now=EARLY
    )
    view = await view_of(db, booth, EARLY)
    assert (view["open_now"], view["closed"]) == (False, True)
    assert opening_line(view) == "Gesloten door de organisatie"
    await moderation.set_booth_closed(
        db, staff_id=desk["moderator"], booth_id=booth, closed=False, now=EARLY
    )
    await moderation.set_event_open(db, staff_id=desk["moderator"], is_open=False, now=EARLY)
    view = await view_of(db, booth, DURING)
    assert (view["open_now"], view["event_closed"]) == (False, True)
    assert opening_line(view) == "Het evenement is gesloten"


@pytest.mark.parametrize("status", ["offline", "paused", "available", "wrapping_up"])
@pytest.mark.parametrize("moment", [EARLY, DURING, LATE])
async def test_the_card_says_open_exactly_when_a_request_is_taken(
    db: Database, desk: dict[str, int], status: str, moment: float
) -> None:
    """Every combination of schedule and advisor: the card's "open" is the booth's rule,
    and a candidate who zooms in is taken exactly when the card says so."""
    booth = desk["booth"]
    async with db.transaction() as tx:
        await tx.execute("UPDATE staff SET status = ? WHERE id = ?", (status, desk["sanne"]))
    view = await view_of(db, booth, moment)
    takes = await accepting(db, booth, moment)
    assert view["open_now"] is takes
    line = opening_line(view)
    assert line.startswith("Nu open") is takes, line
    assert not (takes and line.startswith("Opent"))

    event = await load_event(db)
    candidate = await make_candidate(db, "Kees")
    if takes:
        request = await make_request(db, event, candidate, booth, now=moment)
        assert request.status == "waiting"
    else:
        with pytest.raises(DomainError) as refused:
            await make_request(db, event, candidate, booth, now=moment)
        assert refused.value.code == "booth.closed"


# -- in the browser ----------------------------------------------------------------------------


@dataclass
class Desk:
    booth: int
    opens: str
    # The card's words before opening time: "Opent vandaag om 21:00" (or another day's,
    # when the test runs late in the evening).
    closed_words: re.Pattern[str]


def later_slot(now: datetime) -> tuple[date, str, str, re.Pattern[str]]:
    """A slot that starts later than ``now`` (local): later today when the day has room,
    else tomorrow at nine."""
    starts = (now + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    if starts.date() == now.date():
        clock = starts.strftime("%H:%M")
        return now.date(), clock, "24:00", re.compile(rf"^Opent vandaag om {clock}$")
    return now.date() + timedelta(days=1), "09:00", "17:00", re.compile(r"^Opent .+ om 09:00$")


async def _seed(path: Path) -> tuple[World, Desk]:
    world = await seed_world(path)
    day, starts, ends, words = later_slot(datetime.now(ZONE))
    db = await Database.open(path)
    try:
        async with db.transaction() as tx:
            booth = await booths.create_booth(
                tx, slug="leerwerkloket", name="Leerwerkloket", kind="advice_desk",
                sector="advies", offers=("loopbaanadvies",), position=2,
            )  # fmt: skip
            await booths.add_slot(tx, booth, day, starts, ends)
            await accounts.create_staff(
                tx, email="sanne@leerwerkloket.test", name="Sanne", role="advisor",
                password=PASSWORD, booth_id=booth,
            )  # fmt: skip
    finally:
        await db.close()
    return world, Desk(booth, starts, words)


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Desk]]:
    """One server for the module."""
    directory = tmp_path_factory.mktemp("booth-words")
    _world, desk_ = asyncio.run(_seed(directory / "hall.db"))
    with LiveServer(directory / "hall.db", directory / "server.log") as live:
        yield live, desk_


@pytest.fixture
async def candidate(hall: tuple[LiveServer, Desk]) -> AsyncIterator[Browserless]:
    visitor = Browserless(hall[0])
    await visitor.sign_in_candidate("Kees Jansen", "kees@example.nl")
    yield visitor
    await visitor.aclose()


async def zoom_in(visitor: Browserless, booth_id: int) -> int:
    """A candidate asks for a conversation through the form; the status of the answer."""
    form = (await visitor.http.get(f"/inzoomen/{booth_id}")).text
    key = re.search(r'name="client_key" value="([^"]+)"', form)
    assert key
    data = {"csrf": csrf_from(form), "client_key": key.group(1), "question": "", "advisor_id": ""}
    return (await visitor.http.post(f"/inzoomen/{booth_id}", data=data)).status_code


async def card_says(
    page: Page, booth_id: int, opening: str | re.Pattern[str], wait: str | None = None
) -> None:
    card = page.get_by_test_id(f"booth-{booth_id}")
    await expect(card.get_by_test_id(f"opening-{booth_id}")).to_have_text(opening)
    if wait is not None:
        await expect(card.get_by_test_id(f"wait-{booth_id}")).to_have_text(wait)
    await expect(card.get_by_role("link", name="Inzoomen bij Leerwerkloket")).to_be_visible()


@pytest.mark.browser
async def test_the_card_before_opening_time_follows_the_advisor_live_and_after_a_reload(
    hall: tuple[LiveServer, Desk], checked_browser: CheckedBrowser, candidate: Browserless
) -> None:
    server, desk_ = hall
    visitor = await checked_browser.new_page(viewport={"width": 360, "height": 740})
    await visitor.goto(f"{server.url}/")
    await expect(visitor.locator("#live-status")).to_have_attribute("data-state", "connected")
    await card_says(visitor, desk_.booth, desk_.closed_words, "Geen adviseur aanwezig")
    opening = visitor.get_by_test_id(f"opening-{desk_.booth}")
    await expect(opening).not_to_have_class(re.compile(r"\bis-open\b"))
    await visitor.evaluate("window.notReloaded = true")

    # Sanne logs in before opening time and makes herself available.
    sanne = await checked_browser.new_page()
    await log_in(sanne, server, "sanne@leerwerkloket.test")
    await expect(sanne).to_have_url(re.compile("/adviseur"))
    await sanne.get_by_role("button", name="Beschikbaar", exact=True).click()
    await expect(sanne.get_by_test_id("my-status")).to_have_text("Beschikbaar")

    # The open hall changes its words without a reload, and says the same after one.
    await card_says(visitor, desk_.booth, "Nu open", "Direct aan de beurt")
    await expect(opening).to_have_class(re.compile(r"\bis-open\b"))
    assert await visitor.evaluate("window.notReloaded === true")
    await visitor.reload()
    await card_says(visitor, desk_.booth, "Nu open", "Direct aan de beurt")
    await checked_browser.check(visitor, "the hall before opening time, an advisor there")
    # And it is true: a candidate who zooms in now is taken.
    assert await zoom_in(candidate, desk_.booth) == 303
    await card_says(visitor, desk_.booth, "Nu open")
    await expect(visitor.get_by_test_id(f"queue-{desk_.booth}")).to_have_text("1 persoon wacht")
    mine = (await candidate.http.get("/mijn-verzoek")).text
    request_id = re.findall(r'name="request_id" value="(\d+)"', mine)[0]
    cancelled = await candidate.http.post(
        "/mijn-verzoek/annuleren", data={"csrf": csrf_from(mine), "request_id": request_id}
    )
    assert cancelled.status_code == 303

    # A pause before opening time: the booth takes no requests, and the card says when it
    # opens again, live and after a reload.
    await sanne.get_by_role("button", name="Pauze", exact=True).click()
    await card_says(visitor, desk_.booth, desk_.closed_words, "Geen adviseur aanwezig")
    await expect(opening).not_to_have_class(re.compile(r"\bis-open\b"))
    await visitor.reload()
    await card_says(visitor, desk_.booth, desk_.closed_words, "Geen adviseur aanwezig")
    assert await zoom_in(candidate, desk_.booth) == 409
