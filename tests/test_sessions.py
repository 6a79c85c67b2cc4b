"""Server-side sessions: made at every sign-in, ended by logout and password change, and an
old cookie replayed afterwards is worth nothing, over HTTP and on the WebSocket. Domain
tests on a real SQLite file; behaviour against real server processes on loopback."""

from __future__ import annotations

import re
import sqlite3

import httpx
import pytest
from playwright.async_api import expect
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from app.core.errors import ValidationError
from app.domain import accounts, sessions
from app.domain.principals import identify
from app.storage.db import Database
from app.web.auth import sign_in_staff, sign_out
from tests.a11ykit import CheckedBrowser
from tests.browserkit import log_in
from tests.livekit import PASSWORD, Browserless, LiveServer, Peer, World, csrf_from
from tests.servicekit import make_booth

NEW_PASSWORD = "een-nieuw-wachtwoord-42"


# -- the domain, on a real SQLite file -------------------------------------------------------


async def _advisor(db: Database) -> int:
    booth = await make_booth(db, "stand-s")
    async with db.transaction() as tx:
        return await accounts.create_staff(
            tx,
            email="sessie@test.example",
            name="Sessie",
            role="advisor",
            password=PASSWORD,
            booth_id=booth,
        )


async def test_a_session_counts_until_it_ends_or_expires(db: Database) -> None:
    staff_id = await _advisor(db)
    token, made = await sessions.create(db, staff_id=staff_id, now=1000.0, lifetime=100)
    stored = await db.fetchvalue("SELECT token_hash FROM sessions WHERE id = ?", (made.id,))
    assert stored == sessions.token_hash(token) and token not in stored
    found = await sessions.find(db, token, 1050.0)
    assert found is not None and found.staff_id == staff_id
    assert await sessions.find(db, token, 1100.0) is None  # expired
    assert await sessions.find(db, "not-a-token", 1050.0) is None
    ended = await sessions.end(db, token)
    assert ended is not None and ended.id == made.id
    assert await sessions.find(db, token, 1050.0) is None
    assert await sessions.end(db, token) is None


async def test_last_seen_is_written_now_and_then_not_on_every_request(db: Database) -> None:
    staff_id = await _advisor(db)
    token, made = await sessions.create(db, staff_id=staff_id, now=1000.0)
    await sessions.find(db, token, 1000.0 + sessions.TOUCH_SECONDS - 1)
    seen = await db.fetchvalue("SELECT last_seen FROM sessions WHERE id = ?", (made.id,))
    assert seen == 1000.0
    later = 1000.0 + sessions.TOUCH_SECONDS + 1
    await sessions.find(db, token, later)
    seen = await db.fetchvalue("SELECT last_seen FROM sessions WHERE id = ?", (made.id,))
    assert seen == later


async def test_every_sign_in_makes_a_new_session_and_sign_out_ends_it(db: Database) -> None:
    staff_id = await _advisor(db)
    first: dict[str, object] = {"csrf": "from-before"}
    second: dict[str, object] = {}
    await sign_in_staff(db, first, staff_id, 1000.0)
    await sign_in_staff(db, second, staff_id, 1000.0)
    assert first["sid"] != second["sid"]
    assert first["csrf"] != "from-before"
    assert (await identify(db, first, 1001.0)).principal.id == staff_id
    replay = dict(first)
    ended = await sign_out(db, first)
    assert ended is not None and first == {}
    assert (await identify(db, replay, 1001.0)).principal.role == "anonymous"
    assert (await identify(db, second, 1001.0)).principal.role == "advisor"


async def test_password_change_checks_and_ends_every_session(db: Database) -> None:
    staff_id = await _advisor(db)
    tokens = [(await sessions.create(db, staff_id=staff_id, now=1000.0))[0] for _ in range(3)]
    bad = [
        ("wrong-password", NEW_PASSWORD, NEW_PASSWORD, "current"),
        (PASSWORD, "kort", "kort", "new"),
        (PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "x", "repeat"),
    ]
    for current, new, repeat, field in bad:
        with pytest.raises(ValidationError) as caught:
            await accounts.change_password(db, staff_id, current=current, new=new, repeat=repeat)
        assert field in caught.value.errors
        assert await sessions.count_of_staff(db, staff_id, 1001.0) == 3
        await accounts.authenticate(db, "sessie@test.example", PASSWORD)  # unchanged
    ended = await accounts.change_password(
        db, staff_id, current=PASSWORD, new=NEW_PASSWORD, repeat=NEW_PASSWORD
    )
    assert ended == 3
    for token in tokens:
        assert await sessions.find(db, token, 1001.0) is None
    await accounts.authenticate(db, "sessie@test.example", NEW_PASSWORD)


# -- real servers ------------------------------------------------------------------------------


def replay(server: LiveServer, cookie: str) -> httpx.AsyncClient:
    """A client that knows nothing but a captured cookie header."""
    return httpx.AsyncClient(
        base_url=server.url, headers={"Cookie": cookie}, follow_redirects=False, timeout=10
    )


async def socket_with(server: LiveServer, cookie: str) -> Peer:
    connection = await connect(
        server.ws_url,
        origin=server.url,  # type: ignore[arg-type]
        additional_headers={"Cookie": cookie},
        compression=None,
    )
    peer = Peer(connection)
    peer.welcome = await peer.next_event("session.welcome")
    peer.state = await peer.next_event("session.state")
    return peer


async def closed_code(peer: Peer) -> tuple[int, str]:
    error = await peer.wait_closed(timeout=5)
    assert isinstance(error, ConnectionClosed), error
    assert error.rcvd is not None
    return error.rcvd.code, error.rcvd.reason


async def log_out(visitor: Browserless, page: str) -> None:
    token = csrf_from((await visitor.http.get(page)).text)
    response = await visitor.http.post("/uitloggen", data={"csrf": token})
    assert response.status_code == 303


async def test_candidate_cookie_replayed_after_logout_is_refused(
    server: LiveServer, new_visitor, world: World
) -> None:
    visitor: Browserless = new_visitor()
    await visitor.sign_in_candidate("Replay Kandidaat", "replay@example.nl")
    cookie = visitor.cookie_header()
    socket = await visitor.socket()
    assert socket.welcome["role"] == "candidate"
    await log_out(visitor, "/mijn-verzoek")
    assert await closed_code(socket) == (4001, "session.ended: logout")

    async with replay(server, cookie) as old:
        page = await old.get("/mijn-verzoek")
        assert page.status_code == 303 and page.headers["location"].startswith("/aanmelden")
        token = csrf_from((await old.get("/aanmelden")).text)
        made = await old.post(
            f"/inzoomen/{world.booth_a}", data={"csrf": token, "client_key": "na-uitloggen"}
        )
        assert made.status_code in (303, 403) and "mijn-verzoek" not in made.headers.get(
            "location", ""
        )
    again = await socket_with(server, cookie)
    assert again.welcome["role"] == "anonymous" and "me" not in again.state
    refused = await again.send("request.create", {"booth_id": world.booth_a, "client_key": "x"})
    assert refused["error"]["code"] == "auth.sign_in_required"
    await again.close()
    with sqlite3.connect(server.db_path) as raw:
        assert raw.execute("SELECT COUNT(*) FROM requests").fetchone()[0] == 0
        assert raw.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0


async def test_staff_logout_ends_that_session_only(
    server: LiveServer, new_visitor, world: World
) -> None:
    laptop: Browserless = new_visitor()
    phone: Browserless = new_visitor()
    await laptop.log_in("a1@test.example")
    await phone.log_in("a1@test.example")
    cookie = laptop.cookie_header()
    on_laptop, on_phone = await laptop.socket(), await phone.socket()
    await log_out(laptop, "/adviseur")
    assert (await closed_code(on_laptop))[0] == 4001
    assert (await on_phone.send("clock.sync"))["ok"]  # the other session lives on
    assert (await phone.http.get("/adviseur")).status_code == 200
    async with replay(server, cookie) as old:
        assert (await old.get("/adviseur")).status_code == 303
        assert (await old.get("/wachtwoord")).status_code == 303
    stale = await socket_with(server, cookie)
    assert stale.welcome["role"] == "anonymous" and "console" not in stale.state
    await stale.close()
    await on_phone.close()


async def test_cookie_from_before_login_is_not_signed_in_after(
    server: LiveServer, new_visitor, world: World
) -> None:
    visitor: Browserless = new_visitor()
    await visitor.http.get("/inloggen")
    before = visitor.cookie_header()
    await visitor.log_in("mod@test.example")
    assert visitor.cookie_header() != before
    async with replay(server, before) as fixed:
        assert (await fixed.get("/moderator")).status_code == 303


async def test_password_change_page_refuses_bad_input_then_ends_every_session(
    server: LiveServer, new_visitor, world: World
) -> None:
    laptop: Browserless = new_visitor()
    phone: Browserless = new_visitor()
    await laptop.log_in("a2@test.example")
    await phone.log_in("a2@test.example")
    cookies = [laptop.cookie_header(), phone.cookie_header()]
    sockets = [await laptop.socket(), await phone.socket()]

    page = await laptop.http.get("/wachtwoord")
    assert page.status_code == 200 and 'name="current"' in page.text
    token = csrf_from(page.text)
    for form, field in (
        ({"current": "fout-wachtwoord", "new": NEW_PASSWORD, "repeat": NEW_PASSWORD}, "current"),
        ({"current": PASSWORD, "new": "kort", "repeat": "kort"}, "new"),
        ({"current": PASSWORD, "new": NEW_PASSWORD, "repeat": "iets-anders-12"}, "repeat"),
    ):
        refused = await laptop.http.post("/wachtwoord", data={"csrf": token, **form})
        assert refused.status_code == 400
        assert f'href="#field-{field}"' in refused.text
        assert f'data-testid="field-error-{field}"' in refused.text
    assert (await sockets[0].send("clock.sync"))["ok"]  # nothing changed, still signed in
    assert (await phone.http.get("/adviseur")).status_code == 200

    done = await laptop.http.post(
        "/wachtwoord",
        data={"csrf": token, "current": PASSWORD, "new": NEW_PASSWORD, "repeat": NEW_PASSWORD},
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/inloggen?wachtwoord=gewijzigd"
    for socket in sockets:
        assert await closed_code(socket) == (4001, "session.ended: password_changed")
    for cookie in cookies:
        async with replay(server, cookie) as old:
            assert (await old.get("/adviseur")).status_code == 303
        stale = await socket_with(server, cookie)
        assert stale.welcome["role"] == "anonymous"
        await stale.close()
    notice = await laptop.http.get(done.headers["location"])
    assert 'data-testid="password-changed"' in notice.text

    fresh: Browserless = new_visitor()
    token = await fresh.csrf("/inloggen")
    old_password = await fresh.http.post(
        "/inloggen", data={"csrf": token, "email": "a2@test.example", "password": PASSWORD}
    )
    assert old_password.status_code == 400
    await fresh.log_in("a2@test.example", NEW_PASSWORD)


async def test_password_page_is_for_staff_only(new_visitor, world: World) -> None:
    anonymous: Browserless = new_visitor()
    assert (await anonymous.http.get("/wachtwoord")).status_code == 303
    candidate: Browserless = new_visitor()
    await candidate.sign_in_candidate()
    assert (await candidate.http.get("/wachtwoord")).status_code == 403
    token = csrf_from((await candidate.http.get("/")).text)
    posted = await candidate.http.post(
        "/wachtwoord",
        data={"csrf": token, "current": PASSWORD, "new": NEW_PASSWORD, "repeat": NEW_PASSWORD},
    )
    assert posted.status_code == 403


async def test_logout_on_one_worker_closes_sockets_on_the_other(
    two_workers: tuple[LiveServer, LiveServer], world: World, people: list[Browserless]
) -> None:
    a, b = two_workers
    people.append(Browserless(a))
    advisor = people[0]
    await advisor.log_in("b1@test.example")
    cookie = advisor.cookie_header()
    on_a = await advisor.socket()
    on_b = [await socket_with(b, cookie) for _ in range(2)]
    await log_out(advisor, "/adviseur")
    for socket in (on_a, *on_b):
        assert await closed_code(socket) == (4001, "session.ended: logout")
    stale = await socket_with(b, cookie)
    assert stale.welcome["role"] == "anonymous"
    await stale.close()


@pytest.mark.browser
async def test_a_page_whose_session_ends_goes_to_sign_in_instead_of_reconnecting(
    server: LiveServer, world: World, checked_browser: CheckedBrowser
) -> None:
    """Two tabs of one advisor; logging out in one sends the other to the login page. Then
    the password page, used with the keyboard, ends the session of another browser too."""
    context = await checked_browser.new_context()
    console = await context.new_page()
    await log_in(console, server, "a1@test.example")
    await expect(console).to_have_url(re.compile("/adviseur$"))
    await expect(console.get_by_test_id("live-status")).to_have_attribute("data-state", "connected")
    other_tab = await context.new_page()
    await other_tab.goto(f"{server.url}/adviseur")
    await other_tab.get_by_test_id("logout").click()
    await expect(other_tab).to_have_url(f"{server.url}/")
    await expect(console).to_have_url(re.compile("/inloggen$"))

    laptop = await (await checked_browser.new_context()).new_page()
    phone = await (await checked_browser.new_context()).new_page()
    for page in (laptop, phone):
        await log_in(page, server, "mod@test.example")
        await expect(page).to_have_url(re.compile("/moderator$"))
    await expect(phone.get_by_test_id("live-status")).to_have_attribute("data-state", "connected")
    await laptop.get_by_test_id("nav-password").click()
    await expect(laptop).to_have_url(re.compile("/wachtwoord$"))
    await laptop.get_by_label("Huidig wachtwoord").fill("fout-wachtwoord")
    await laptop.get_by_label("Nieuw wachtwoord", exact=True).fill(NEW_PASSWORD)
    await laptop.get_by_label("Nieuw wachtwoord nog een keer").fill(NEW_PASSWORD)
    await laptop.get_by_label("Nieuw wachtwoord nog een keer").press("Enter")
    await expect(laptop.get_by_test_id("error-summary")).to_be_visible()
    await expect(laptop.get_by_test_id("field-error-current")).to_be_visible()
    await laptop.get_by_label("Huidig wachtwoord").fill(PASSWORD)
    await laptop.get_by_label("Nieuw wachtwoord", exact=True).fill(NEW_PASSWORD)
    await laptop.get_by_label("Nieuw wachtwoord nog een keer").fill(NEW_PASSWORD)
    await laptop.get_by_test_id("password-submit").click()
    await expect(laptop.get_by_test_id("password-changed")).to_be_visible()
    await expect(phone).to_have_url(re.compile("/inloggen$"))
    await log_in(phone, server, "mod@test.example", NEW_PASSWORD)
    await expect(phone).to_have_url(re.compile("/moderator$"))
