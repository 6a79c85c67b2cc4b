"""The report page and the CSV exports over HTTP, on a real server process whose database
holds the scripted event of tests/test_reports.py."""

from __future__ import annotations

import asyncio
import csv
import html
import io
import re
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from app.domain import reports
from app.storage.db import Database
from tests.livekit import Browserless, LiveServer
from tests.test_reports import DAY1, Script, seed_scripted_event

EXPORTS = {
    "/rapport/aanvragen.csv": reports.REQUEST_HEADER,
    "/rapport/gesprekken.csv": reports.CONVERSATION_HEADER,
    "/rapport/vervolgafspraken.csv": reports.FOLLOW_UP_HEADER,
    "/rapport/feedback.csv": reports.FEEDBACK_HEADER,
}


async def _seed(path: Path) -> Script:
    db = await Database.open(path)
    try:
        script = await seed_scripted_event(db)
        # Everyone in the script joined their call: the server must not take the running
        # one (started long ago) for a no-show.
        async with db.transaction() as tx:
            await tx.execute("UPDATE conversations SET joined_at = started_at")
        return script
    finally:
        await db.close()


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Script]]:
    """One server for the module: the tests only read. Retention is set far off, so the
    scripted event (in the past) is not anonymised while the tests look at it."""
    directory = tmp_path_factory.mktemp("reports")
    script = asyncio.run(_seed(directory / "report.db"))
    live = LiveServer(
        directory / "report.db",
        directory / "server.log",
        env={"INZOOMEN_RETENTION_DAYS": "3650"},
    )
    live.start()
    try:
        yield live, script
    finally:
        live.stop()


@pytest.fixture
async def moderator(hall: tuple[LiveServer, Script]) -> AsyncIterator[Browserless]:
    visitor = Browserless(hall[0])
    await visitor.log_in("mod@test.example")
    yield visitor
    await visitor.aclose()


def field(page: str, testid: str) -> str:
    match = re.search(rf'data-testid="{re.escape(testid)}"[^>]*>(.*?)</', page, re.S)
    assert match, testid
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", match.group(1))).split())


def booth_row(page: str, booth_id: int) -> dict[str, str]:
    row = re.search(rf'data-testid="booth-row-{booth_id}">(.*?)</tr>', page, re.S)
    assert row, booth_id
    return {
        name: html.unescape(value).strip()
        for name, value in re.findall(r'data-field="([a-z-]+)">([^<]*)<', row.group(1))
    }


def rows_of(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


async def test_the_report_of_one_day_shows_its_figures(
    moderator: Browserless, hall: tuple[LiveServer, Script]
) -> None:
    _server, s = hall
    response = await moderator.http.get("/rapport", params={"dag": DAY1.isoformat()})
    assert response.status_code == 200
    page = response.text
    assert "Cijfers van donderdag 12 maart." in field(page, "report-scope")
    expected = {
        "total-candidates": "6",
        "total-requests": "7",
        "total-served": "4",
        "total-cancelled": "1",
        "total-declined": "1",
        "total-expired": "1",
        "total-conversations": "4",
        "total-median-wait": "3 min.",
        "total-median-length": "8 min.",
        "total-follow-ups": "2",
        "total-follow-up-share": "50% (2 van 4)",
        "total-rating": "4,0 (3 beoordelingen)",
    }
    assert {key: field(page, key) for key in expected} == expected
    assert 'data-testid="total-waiting"' not in page  # nobody was left waiting that day
    assert booth_row(page, s.zorg) == {
        "requests": "4",
        "served": "2",
        "not-served": "2",
        "conversations": "2",
        "follow-ups": "1",
        "follow-up-share": "50%",
        "rating": "4,5",
        "median-wait": "2 min. 15 s",
    }
    assert booth_row(page, s.oud)["conversations"] == "1"
    assert "(verwijderd)" in page
    assert f'data-testid="booth-row-{s.weg}"' not in page
    # the export links carry the day
    assert 'href="/rapport/aanvragen.csv?dag=2026-03-12"' in page
    assert '<option value="2026-03-12" selected>' in page

    # a day outside the event, asked for by its address: zeros, and the list shows that day
    other = (await moderator.http.get("/rapport", params={"dag": "2026-04-01"})).text
    assert field(other, "total-requests") == "0"
    assert '<option value="2026-04-01" selected>' in other


async def test_the_whole_event_and_its_charts(
    moderator: Browserless, hall: tuple[LiveServer, Script]
) -> None:
    response = await moderator.http.get("/rapport")
    assert response.status_code == 200
    page = response.text
    assert field(page, "report-scope").startswith("Cijfers van het hele evenement.")
    # counts the server cannot change (it may have let the last request lapse since)
    assert field(page, "total-candidates") == "8"
    assert field(page, "total-requests") == "9"
    assert field(page, "total-served") == "5"
    assert field(page, "total-follow-up-share") == "40% (2 van 5)"
    assert field(page, "total-conversations") == "5 (waarvan 1 nog bezig)"
    assert field(page, "day-row-2026-03-13").startswith("vrijdag 13 maart")
    # charts: per booth, per hour of each day, and the two distributions; each an image
    # with a title and a description, and its data as a table
    assert page.count('<svg class="chart-svg"') == 5
    assert page.count('role="img"') == 5
    assert page.count('<details class="chart-data"') == 5
    assert "Aanvragen en gesprekken per uur, donderdag 12 maart" in page
    assert "Wachttijd tot het gesprek" in page and "Lengte van de gesprekken" in page
    waits = re.search(r"<caption>Wachttijd tot het gesprek</caption>.*?</table>", page, re.S)
    assert waits
    cells = re.findall(r"<t[hd][^>]*>([^<]*)</t[hd]>", waits.group(0))
    assert cells[2:8] == ["0–1 min.", "2", "1–2 min.", "0", "2–5 min.", "2"]
    assert 'href="/rapport/aanvragen.csv"' in page
    assert " style=" not in page and "<style" not in page


async def test_a_bad_day_is_said_at_the_field_and_changes_nothing(
    moderator: Browserless,
) -> None:
    response = await moderator.http.get("/rapport", params={"dag": "12-03-2026"})
    assert response.status_code == 400
    page = response.text
    assert 'data-testid="error-summary"' in page
    assert re.search(r'data-testid="field-error-dag">.{0,120}Kies een dag uit de lijst', page, re.S)
    assert 'aria-invalid="true"' in page
    assert field(page, "total-requests") == "9"  # the whole event, as without a filter

    for path in EXPORTS:
        refused = await moderator.http.get(path, params={"dag": "gisteren"})
        assert refused.status_code == 400
        assert "Kies een dag uit de lijst" in refused.text
        assert not refused.headers.get("content-disposition")


@pytest.mark.parametrize("path", list(EXPORTS))
async def test_every_export_downloads_as_a_csv_file(
    moderator: Browserless, hall: tuple[LiveServer, Script], path: str
) -> None:
    response = await moderator.http.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    name = path.rsplit("/", 1)[1]
    assert response.headers["content-disposition"] == f'attachment; filename="{name}"'
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    rows = rows_of(response.content)
    assert tuple(rows[0]) == EXPORTS[path]
    counts = {"aanvragen": 9, "gesprekken": 5, "vervolgafspraken": 3, "feedback": 3}
    assert len(rows) - 1 == counts[name.removesuffix(".csv")]
    assert "geheim.nl" not in response.text and "Geheime" not in response.text

    one_day = await moderator.http.get(path, params={"dag": "2026-03-13"})
    assert one_day.headers["content-disposition"] == (
        f'attachment; filename="{name.removesuffix(".csv")}-2026-03-13.csv"'
    )
    day_counts = {"aanvragen": 2, "gesprekken": 1, "vervolgafspraken": 0, "feedback": 0}
    assert len(rows_of(one_day.content)) - 1 == day_counts[name.removesuffix(".csv")]


async def test_others_are_refused_on_every_report_route(hall: tuple[LiveServer, Script]) -> None:
    server, _s = hall
    advisor = Browserless(server)
    candidate = Browserless(server)
    try:
        await advisor.log_in("a1@test.example")
        await candidate.sign_in_candidate("Iemand Anders", "iemand@example.nl")
        for path in ["/rapport", *EXPORTS]:
            async with httpx.AsyncClient(base_url=server.url) as anonymous:
                away = await anonymous.get(path)
            assert away.status_code == 303 and away.headers["location"].startswith("/inloggen")
            for who in (advisor, candidate):
                refused = await who.http.get(path)
                assert refused.status_code == 403, path
                assert "content-disposition" not in refused.headers
                assert "Dat mag je niet doen met deze rol." in refused.text
    finally:
        await advisor.aclose()
        await candidate.aclose()


async def test_a_hall_without_activity_has_a_report_of_zeros_in_either_language(
    server: LiveServer, new_visitor: Callable[[], Browserless]
) -> None:
    moderator = new_visitor()
    await moderator.log_in("mod@test.example")
    response = await moderator.http.get("/rapport")
    assert response.status_code == 200
    page = response.text
    assert field(page, "total-requests") == "0"
    assert field(page, "total-follow-up-share") == "–"
    assert field(page, "total-rating") == "–"
    assert field(page, "total-median-wait") == "–"
    assert 'data-testid="report-no-days"' in page
    # the charts still draw: axes, zero bars, and tables of zeros
    assert page.count('role="img"') == 3
    for path in EXPORTS:
        rows = rows_of((await moderator.http.get(path)).content)
        assert rows == [list(EXPORTS[path])]

    await moderator.http.get("/taal/en", params={"next": "/rapport"})
    english = (await moderator.http.get("/rapport")).text
    assert "Figures of the whole event." in english
    assert "Show the data as a table" in english
    assert "Cijfers" not in english
