"""Administration through the real forms of a real server process on a real SQLite file:
the CSV export read back in, an import with a wrong row that changes nothing, invitation
links used once and expiring, deactivation that ends a person's sessions, bad settings that
change nothing, and the hall hearing a new booth and its schedule at once."""

from __future__ import annotations

import csv
import html
import io
import re
import sqlite3
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from app.core.errors import MESSAGES
from tests.livekit import Browserless, LiveServer, World

Visitor = Callable[[], Browserless]
# Bookkeeping that moves by itself or counts refusals, not what a refused form could change.
NOT_STATE = {
    "leases",
    "retention_runs",
    "revision",
    "schema_migrations",
    "sessions",
    "login_failures",
}


def state(db_path: Path) -> dict[str, list[tuple[Any, ...]]]:
    connection = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        tables = [
            r[0]
            for r in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {
            t: connection.execute(f'SELECT * FROM "{t}" ORDER BY rowid').fetchall()
            for t in tables
            if t not in NOT_STATE
        }
    finally:
        connection.close()


def value(db_path: Path, sql: str, params: tuple[Any, ...] = ()) -> Any:
    connection = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        row = connection.execute(sql, params).fetchone()
        return None if row is None else row[0]
    finally:
        connection.close()


def says(response: httpx.Response, code: str) -> bool:
    return MESSAGES[code].split("%(")[0] in html.unescape(response.text)


async def moderator(new_visitor: Visitor) -> Browserless:
    visitor = new_visitor()
    await visitor.log_in("mod@test.example")
    return visitor


async def post(who: Browserless, path: str, form: dict[str, str], **extra: Any) -> httpx.Response:
    token = await who.csrf("/inloggen")
    return await who.http.post(path, data={"csrf": token, **form}, **extra)


def read_csv(raw: bytes) -> list[list[str]]:
    assert raw.startswith(b"\xef\xbb\xbf"), raw[:10]
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


async def test_csv_export_read_back_in_updates_and_adds_booths(
    server: LiveServer, world: World, new_visitor: Visitor, world_db: tuple[Path, World]
) -> None:
    mod = await moderator(new_visitor)
    exported = await mod.http.get("/beheer/stands.csv")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    rows = read_csv(exported.content)
    assert rows == [
        ["slug", "name", "kind", "sector", "offers", "description", "link"],
        ["zorg-a", "Zorggroep A", "employer", "zorg", "bbl vacature", "", ""],
        ["bouw-b", "Bouwbedrijf B", "employer", "bouw", "omscholing", "", ""],
    ]
    # A spreadsheet changes a name and adds a booth, and the file goes back in.
    rows[2][1] = "Bouwbedrijf B & Zn <b>"
    rows.append(["roc-c", "ROC Cé", "school", "onderwijs", "bol mbo_certificaat", "", ""])
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    hall = await new_visitor().socket()
    try:
        response = await post(
            mod,
            "/beheer/stands/import",
            {},
            files={"file": ("stands.csv", ("\ufeff" + out.getvalue()).encode(), "text/csv")},
        )
        assert response.status_code == 303, response.text
        assert response.headers["location"] == "/beheer/stands?nieuw=1&bijgewerkt=2"
        page = await mod.http.get(response.headers["location"])
        assert "1 nieuwe stands, 2 bijgewerkt" in html.unescape(page.text)
        # The hall hears the new booth without asking.
        delta = await hall.next_event(
            "hall.delta", timeout=5, where=lambda d: any(v["slug"] == "roc-c" for v in d["booths"])
        )
        assert any(v["name"] == "ROC Cé" for v in delta["booths"])
    finally:
        await hall.close()
    again = read_csv((await mod.http.get("/beheer/stands.csv")).content)
    assert again == rows
    assert value(world_db[0], "SELECT COUNT(*) FROM audit_log WHERE action = 'booth.import'") == 1


async def test_an_import_with_a_wrong_row_changes_nothing_and_names_it(
    server: LiveServer, world: World, new_visitor: Visitor, world_db: tuple[Path, World]
) -> None:
    mod = await moderator(new_visitor)
    text = (
        "slug,name,kind,sector,link\n"
        "zorg-a,Zorggroep A (nieuw),employer,zorg,\n"
        "nieuw-d,Nieuw D,fabriek,bouw,\n"
        "nieuw-e,Nieuw E,school,onderwijs,http://e.example.nl\n"
    )
    before = state(world_db[0])
    response = await post(
        mod, "/beheer/stands/import", {}, files={"file": ("x.csv", text.encode(), "text/csv")}
    )
    assert response.status_code == 400
    page = html.unescape(response.text)
    assert "Regel 3, kolom ‘kind’" in page
    assert "Regel 4, kolom ‘link’" in page
    assert 'data-testid="error-summary"' in page
    assert state(world_db[0]) == before
    # No file at all, or not a CSV: refused alike.
    for files in ({}, {"file": ("x.csv", b"\x00\x00", "text/csv")}):
        refused = await post(mod, "/beheer/stands/import", {}, files=files or None)
        assert refused.status_code == 400 and says(refused, "csv.unreadable")
    assert state(world_db[0]) == before


async def test_bad_settings_are_shown_on_the_form_and_change_nothing(
    server: LiveServer, world: World, new_visitor: Visitor, world_db: tuple[Path, World]
) -> None:
    mod = await moderator(new_visitor)
    before = state(world_db[0])
    form = {
        "name": "Beurs <script>",
        "timezone": "Mars/Olympus",
        "conversation_minutes": "10",
        "warning_minutes": "2",
        "video_provider": "jitsi",
        "video_base_url": "http://meet.example.test",
        "wait_alert_minutes": "10",
        "overtime_alert_minutes": "3",
    }
    response = await post(mod, "/beheer/evenement", form)
    assert response.status_code == 400
    assert 'href="#field-timezone"' in response.text
    assert 'href="#field-video_base_url"' in response.text
    assert 'value="Beurs &lt;script&gt;"' in response.text  # kept, escaped
    assert says(response, "input.timezone") and says(response, "input.https_url")
    assert state(world_db[0]) == before
    # Removing a day asks first, and says how many schedule blocks go with it.
    today = datetime.now(ZoneInfo("Europe/Amsterdam")).date().isoformat()
    question = await mod.http.get(f"/beheer/evenement/dagen/verwijderen?dag={today}")
    assert question.status_code == 200 and "2 roosterblokken" in question.text
    assert (await mod.http.get("/beheer/evenement/dagen/verwijderen?dag=x")).status_code == 404
    pick = await mod.http.get("/beheer/evenement/dagen/verwijderen")
    assert pick.status_code == 200
    assert f'<option value="{today}">{today}: 2 roosterblokken' in pick.text
    assert state(world_db[0]) == before
    good = await post(
        mod,
        "/beheer/evenement",
        {**form, "timezone": "Europe/London", "video_base_url": "https://meet.example.test"},
    )
    assert good.status_code == 303
    assert value(world_db[0], "SELECT timezone FROM event") == "Europe/London"
    assert value(world_db[0], "SELECT name FROM event") == "Beurs <script>"


async def test_an_invitation_link_sets_a_password_once(
    server: LiveServer, world: World, new_visitor: Visitor, world_db: tuple[Path, World]
) -> None:
    db_path = world_db[0]
    mod = await moderator(new_visitor)
    made = await post(
        mod,
        "/beheer/medewerkers",
        {
            "name": "Iris Nieuw",
            "email": "iris@test.example",
            "role": "advisor",
            "booth_id": str(world.booth_b),
        },
    )
    assert made.status_code == 200, made.text
    link = re.search(r'id="invitation-link" value="([^"]+)"', made.text)
    assert link, made.text
    url = link.group(1)
    assert url.startswith(server.url + "/uitnodiging/")
    path = url[len(server.url) :]
    token = path.rsplit("/", 1)[1]
    # Only its hash is kept; the link is shown once (the staff page no longer holds it).
    assert value(db_path, "SELECT COUNT(*) FROM invitations WHERE token_hash = ?", (token,)) == 0
    listing = await mod.http.get("/beheer/medewerkers")
    assert token not in listing.text and "Uitnodiging open tot" in listing.text
    # The invited person cannot log in yet, with any password.
    nobody = new_visitor()
    csrf = await nobody.csrf("/inloggen")
    refused = await nobody.http.post(
        "/inloggen", data={"csrf": csrf, "email": "iris@test.example", "password": "!invited"}
    )
    assert refused.status_code == 400 and says(refused, "auth.bad_login")

    iris = new_visitor()
    opened = await iris.http.get(path)
    assert opened.status_code == 200 and "Iris Nieuw" in opened.text
    short = await post(iris, path, {"new": "kort", "repeat": "kort"})
    assert short.status_code == 400 and says(short, "input.password_short")
    assert value(db_path, "SELECT used_at FROM invitations") is None
    done = await post(iris, path, {"new": "iris-wachtwoord-1", "repeat": "iris-wachtwoord-1"})
    assert done.status_code == 303 and done.headers["location"] == "/inloggen?wachtwoord=gewijzigd"
    await iris.log_in("iris@test.example", "iris-wachtwoord-1")
    assert (await iris.http.get("/adviseur")).status_code == 200
    # Used once: a second time, by anyone, is refused and changes nothing.
    before = state(db_path)
    for who in (iris, new_visitor()):
        again = await post(who, path, {"new": "ander-wachtwoord-1", "repeat": "ander-wachtwoord-1"})
        assert again.status_code == 409 and says(again, "invitation.used")
        assert (await who.http.get(path)).status_code == 409
    assert state(db_path) == before
    # The invitation link's path never reaches the log.
    assert token not in server.log()


async def test_an_expired_link_is_refused_and_a_new_one_works(
    server: LiveServer, world: World, new_visitor: Visitor, world_db: tuple[Path, World]
) -> None:
    db_path = world_db[0]
    mod = await moderator(new_visitor)
    made = await post(
        mod,
        "/beheer/medewerkers",
        {"name": "Org Twee", "email": "org2@test.example", "role": "moderator"},
    )
    first = re.search(r'/uitnodiging/([A-Za-z0-9_-]+)"', made.text)
    assert first
    staff_id = value(db_path, "SELECT id FROM staff WHERE email = 'org2@test.example'")
    # Time passes: the link's week is over (set in the file, as the clock would).
    connection = sqlite3.connect(db_path)
    with connection:
        connection.execute("UPDATE invitations SET expires_at = ?", (time.time() - 1,))
    connection.close()
    person = new_visitor()
    expired = await person.http.get(f"/uitnodiging/{first.group(1)}")
    assert expired.status_code == 409 and says(expired, "invitation.expired")
    renewed = await post(mod, f"/beheer/medewerkers/{staff_id}/uitnodiging", {})
    assert renewed.status_code == 200
    second = re.search(r'/uitnodiging/([A-Za-z0-9_-]+)"', renewed.text)
    assert second and second.group(1) != first.group(1)
    # Someone signed in as somebody else (a candidate) opens it: the form says so, and
    # setting the password leaves their own session as it was.
    candidate = new_visitor()
    await candidate.sign_in_candidate("Kim", "kim@example.nl")
    page = await candidate.http.get(f"/uitnodiging/{second.group(1)}")
    assert page.status_code == 200 and 'data-testid="invitation-other-person"' in page.text
    done = await post(
        candidate,
        f"/uitnodiging/{second.group(1)}",
        {"new": "org-twee-wachtwoord", "repeat": "org-twee-wachtwoord"},
    )
    assert done.status_code == 303
    assert (await candidate.http.get("/mijn-verzoek")).status_code == 200
    await new_visitor().log_in("org2@test.example", "org-twee-wachtwoord")


async def test_deactivating_an_advisor_ends_their_sessions_at_once(
    server: LiveServer, world: World, new_visitor: Visitor, world_db: tuple[Path, World]
) -> None:
    mod = await moderator(new_visitor)
    advisor = new_visitor()
    await advisor.log_in("b1@test.example")
    socket = await advisor.socket()
    off = await post(mod, f"/beheer/medewerkers/{world.advisor_b1}/actief", {"active": "0"})
    assert off.status_code == 303
    await socket.wait_closed(timeout=5)
    gone = await advisor.http.get("/adviseur")
    assert gone.status_code == 303 and gone.headers["location"].startswith("/inloggen")
    again = new_visitor()
    csrf = await again.csrf("/inloggen")
    refused = await again.http.post(
        "/inloggen",
        data={"csrf": csrf, "email": "b1@test.example", "password": "test-password-123"},
    )
    assert refused.status_code == 400
    on = await post(mod, f"/beheer/medewerkers/{world.advisor_b1}/actief", {"active": "1"})
    assert on.status_code == 303
    await again.log_in("b1@test.example")
    # Moved to another booth, an advisor logs in again there.
    socket = await again.socket()
    moved = await post(
        mod, f"/beheer/medewerkers/{world.advisor_b1}/stand", {"booth_id": str(world.booth_a)}
    )
    assert moved.status_code == 303
    await socket.wait_closed(timeout=5)
    assert (await again.http.get("/adviseur")).status_code == 303
    await again.log_in("b1@test.example")
    console = await again.socket()
    try:
        assert console.state["console"]["advisor"]["booth_id"] == world.booth_a
    finally:
        await console.close()
    # A moderator does not switch themselves off.
    self_off = await post(mod, f"/beheer/medewerkers/{world.moderator}/actief", {"active": "0"})
    assert self_off.status_code == 409 and says(self_off, "staff.self")


async def test_a_new_booth_and_its_schedule_reach_the_hall_live(
    server: LiveServer, world: World, new_visitor: Visitor, world_db: tuple[Path, World]
) -> None:
    mod = await moderator(new_visitor)
    hall = await new_visitor().socket()
    try:
        made = await post(
            mod,
            "/beheer/stands",
            {"name": "Groen & Co", "kind": "employer", "sector": "groen", "offers": "bbl"},
        )
        assert made.status_code == 303
        booth_id = int(made.headers["location"].split("stand=")[1].split("&")[0])
        view = await hall.next_event(
            "hall.delta", timeout=5, where=lambda d: any(v["id"] == booth_id for v in d["booths"])
        )
        [booth] = [v for v in view["booths"] if v["id"] == booth_id]
        assert (booth["name"], booth["slug"], booth["open_now"]) == (
            "Groen & Co",
            "groen-co",
            False,
        )
        today = datetime.now(ZoneInfo("Europe/Amsterdam")).date().isoformat()
        added = await post(
            mod, f"/beheer/rooster/{booth_id}", {"day": today, "starts": "00:00", "ends": "24:00"}
        )
        assert added.status_code == 303, added.text
        opened = await hall.next_event(
            "hall.delta",
            timeout=5,
            where=lambda d: any(v["id"] == booth_id and v["open_now"] for v in d["booths"]),
        )
        assert opened
        # Removing it (nobody waits there, after a question) takes it out of every hall.
        question = await mod.http.get(f"/beheer/stands/{booth_id}/verwijderen")
        assert question.status_code == 200 and "Groen &amp; Co verwijderen?" in question.text
        assert f'action="/beheer/stands/{booth_id}/verwijderen"' in question.text
        assert value(world_db[0], "SELECT removed_at FROM booths WHERE id = ?", (booth_id,)) is None
        removed = await post(mod, f"/beheer/stands/{booth_id}/verwijderen", {})
        assert removed.status_code == 303
        await hall.next_event("hall.delta", timeout=5, where=lambda d: booth_id in d["removed"])
    finally:
        await hall.close()
    page = await (new_visitor()).http.get("/")
    assert "Groen &amp; Co" not in page.text
