"""Markup and script in every free-text field come back as text on every page.

A hall on a real SQLite file and a real server process holds the payloads below in every
field a person (or the organiser, through the database) can fill in: the event's name,
booths' names, descriptions and sectors, advisors' names, candidates' names, e-mail
addresses and questions, decline messages and advisor notes. Every GET route of the app
(taken from the authorisation matrix, so new pages are included) is rendered as each role,
and every page is checked: the payload is shown (unescaped it reads as typed), its raw
markup never appears in the source, and no element, attribute or handler was injected.
"""

from __future__ import annotations

import html
import itertools
import re
from dataclasses import dataclass, field
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.domain import accounts, booths, emails
from app.storage.db import Database
from tests.livekit import PASSWORD, Browserless, LiveServer, World, csrf_from, seed_world
from tests.test_authz import HTTP_RULES

# Each sets ``window.__xss`` if it ever runs, so the browser test can tell.
PAYLOADS = [
    "<script>window.__xss=1</script>",
    '"><img src=x onerror="window.__xss=2">',
    "'\"><svg onload=window.__xss=3>",
    "javascript:window.__xss=4",
    "{{7*7}}{% print 1 %}",
    "</textarea><script>window.__xss=5</script>",
    "&lt;b&gt;vet&lt;/b&gt;",
    "\u202eRTL\u200b<b>zw</b>\u2066",
    "<a href=javascript:window.__xss=6>klik</a>",
    "<iframe srcdoc='<script>parent.__xss=7</script>'>",
    "${window.__xss=8}`<style>*{}</style>",
    "<!--<img src=x onerror=window.__xss=9>-->",
]
MARKUP = set("<>&\"'")


def tagged(field: str, i: int) -> str:
    """The payload ``i`` as it is put in ``field``: a tag says where it came from."""
    return f"{field}{i}~{PAYLOADS[i]}"


def as_email(field: str, i: int) -> str | None:
    """The payload as an e-mail address, when the hall's check lets it pass as one."""
    local = tagged(field, i).replace(" ", "/")
    if "@" in local or any(c.isspace() for c in local):
        return None
    address = f"{local}@x.nl"
    return emails.normalise(address) if emails.is_valid(address) else None


@dataclass
class XssHall:
    server: LiveServer
    world: World
    db_path: Path
    booth_ids: list[int] = field(default_factory=list)
    conversations: list[int] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)  # the call page tokens of those
    viewers: dict[str, Browserless] = field(default_factory=dict)
    fields: dict[str, list[str]] = field(default_factory=dict)  # field -> values put in


async def seed_payloads(path: Path) -> tuple[World, list[int]]:
    """The test hall, plus one booth per payload (name, description, sector) with one
    advisor named by it, and the event named by all of them (no admin form exists yet)."""
    # Built-in video: each conversation has a call page, which shows names too.
    world = await seed_world(path, video_provider="builtin")
    today = datetime.now(ZoneInfo("Europe/Amsterdam")).date()
    db = await Database.open(path)
    booth_ids = []
    try:
        async with db.transaction() as tx:
            await tx.execute(
                "UPDATE event SET name = ?",
                (" ".join(tagged("E", i) for i in range(len(PAYLOADS))),),
            )
            for i in range(len(PAYLOADS)):
                booth_id = await booths.create_booth(
                    tx,
                    slug=f"xss-{i}",
                    name=tagged("B", i),
                    kind="school",
                    sector="zorg",
                    offers=("bbl",),
                    description=tagged("D", i),
                    position=10 + i,
                )
                await tx.execute(
                    "UPDATE booths SET sector = ? WHERE id = ?", (tagged("S", i), booth_id)
                )
                await booths.add_slot(tx, booth_id, today, "00:00", "24:00")
                await accounts.create_staff(
                    tx,
                    email=f"xss{i}@test.example",
                    name=tagged("A", i),
                    role="advisor",
                    password=PASSWORD,
                    booth_id=booth_id,
                )
                booth_ids.append(booth_id)
    finally:
        await db.close()
    return world, booth_ids


_serial = itertools.count()


async def post(who: Browserless, path: str, form: dict[str, Any]) -> None:
    token = csrf_from((await who.http.get("/inloggen")).text)
    response = await who.http.post(path, data={"csrf": token, **form})
    assert response.status_code == 303, (path, response.status_code, response.text[-2000:])


async def candidate(server: LiveServer, i: int, kind: str) -> Browserless:
    """A candidate whose name, e-mail and (later) question carry payload ``i``."""
    visitor = Browserless(server)
    email = as_email(f"M{kind}", i) or f"plain{next(_serial)}@example.nl"
    token = await visitor.csrf("/aanmelden")
    response = await visitor.http.post(
        "/aanmelden",
        data={"csrf": token, "name": tagged(f"N{kind}", i), "email": email, "consent": "yes"},
    )
    assert response.status_code == 303, response.text[-2000:]
    return visitor


@pytest.fixture
async def xss_hall(tmp_path: Path) -> Any:
    path = tmp_path / "xss.db"
    world, booth_ids = await seed_payloads(path)
    server = LiveServer(path, tmp_path / "server.log")
    server.start()
    hall = XssHall(server, world, path, booth_ids)
    clients: list[Browserless] = []
    try:
        n = len(PAYLOADS)
        a1, a2, mod = Browserless(server), Browserless(server), Browserless(server)
        clients += [a1, a2, mod]
        await a1.log_in("a1@test.example")
        await a2.log_in("a2@test.example")
        await mod.log_in("mod@test.example")
        # w: waiting at booth A; d: declined with a message; c: talked to A2, with notes.
        waiting = [await candidate(server, i, "w") for i in range(n)]
        declined = [await candidate(server, i, "d") for i in range(n)]
        talked = [await candidate(server, i, "c") for i in range(n)]
        clients += waiting + declined + talked
        booth_a = world.booth_a
        for i, who in enumerate(declined):
            await post(
                who, f"/inzoomen/{booth_a}", {"question": tagged("Qd", i), "client_key": "d"}
            )
            request_id = _value(path, "SELECT MAX(id) FROM requests")
            await post(
                a1, "/adviseur/afwijzen", {"request_id": request_id, "message": tagged("R", i)}
            )
        for i, who in enumerate(talked):
            await post(
                who,
                f"/inzoomen/{booth_a}",
                {"question": tagged("Qc", i), "client_key": "c", "advisor_id": world.advisor_a2},
            )
            request_id = _value(path, "SELECT MAX(id) FROM requests")
            await post(a2, "/adviseur/accepteren", {"request_id": request_id})
            conversation = _value(path, "SELECT MAX(id) FROM conversations")
            await post(a2, f"/gesprekken/{conversation}/notities", {"notes": tagged("T", i)})
            if i < n - 1:  # the last one keeps running: it shows on the console and overview
                await post(a2, "/adviseur/beeindigen", {"conversation_id": conversation})
            hall.conversations.append(conversation)
            hall.calls.append(
                _value(path, f"SELECT call_token FROM conversations WHERE id = {int(conversation)}")
            )
        for i, who in enumerate(waiting):
            await post(
                who, f"/inzoomen/{booth_a}", {"question": tagged("Qw", i), "client_key": "w"}
            )
        hall.viewers = {
            "anonymous": Browserless(server),
            "candidate waiting": waiting[0],
            **{f"candidate declined {i}": who for i, who in enumerate(declined)},
            "candidate talking": talked[-1],
            "advisor": a1,
            "advisor talking": a2,
            "moderator": mod,
        }
        clients.append(hall.viewers["anonymous"])
        yield hall
    finally:
        for client in clients:
            await client.aclose()
        server.stop()


def _value(path: Path, sql: str) -> Any:
    import sqlite3

    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return connection.execute(sql).fetchone()[0]
    finally:
        connection.close()


class Injected(HTMLParser):
    """Whatever in a page could only have come from a payload: elements and attributes that
    the templates never write."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        values = dict(attrs)
        # The server's charts (app/domain/charts.py) are inline SVG with classes of their own.
        chart = tag == "svg" and (values.get("class") or "").startswith("chart-")
        if tag in ("svg", "iframe", "style", "b") and not chart:
            self.found.append(f"<{tag}>")
        if tag == "img" and values.get("src") == "x":
            self.found.append("<img src=x>")
        # Data blocks and the import map are the hall's own; the policy allows no other
        # inline script (the import map by its hash: tests/test_assets.py).
        ours = values.get("type") in ("application/json", "importmap")
        if tag == "script" and "src" not in names and not ours:
            self.found.append("inline <script>")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"{tag}[{name}]")
            if name in ("href", "src", "action", "formaction") and (
                value or ""
            ).strip().lower().startswith("javascript:"):
                self.found.append(f"{tag}[{name}=javascript:]")
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and "__xss" in data:
            self.found.append("script with a payload")

    def handle_comment(self, data: str) -> None:
        if "__xss" in data:
            self.found.append("comment from a payload")


def gets() -> list[str]:
    """Every page (GET route) of the authorisation matrix, static files and sockets aside."""
    return [p.path for p in HTTP_RULES if p.method == "GET" and not p.path.startswith("/static")]


def pages_of(hall: XssHall) -> list[str]:
    paths = []
    for path in gets():
        if "{booth}" in path:
            paths += [path.format(booth=b) for b in (hall.world.booth_a, *hall.booth_ids)]
        elif "{conversation}" in path:
            paths += [path.format(conversation=c) for c in hall.conversations]
        elif "{call}" in path:
            paths += [path.format(call=token) for token in hall.calls]
        else:
            paths.append(path)
    return paths


FIELDS = {
    "E": "event name",
    "B": "booth name",
    "D": "booth description",
    "S": "booth sector",
    "A": "advisor name",
    "Nw": "candidate name",
    "Nd": "candidate name",
    "Nc": "candidate name",
    "Mw": "candidate e-mail",
    "Md": "candidate e-mail",
    "Mc": "candidate e-mail",
    "Qw": "question",
    "Qd": "question",
    "Qc": "question",
    "R": "decline message",
    "T": "advisor notes",
}


async def test_payloads_come_back_escaped_on_every_page(xss_hall: XssHall) -> None:
    outputs: set[tuple[str, int, str]] = set()  # (field, payload, page) shown as text
    unescaped: list[str] = []
    injected: list[str] = []
    pages = 0
    for role, who in xss_hall.viewers.items():
        for path in pages_of(xss_hall):
            response = await who.http.get(path)
            if response.status_code != 200:
                continue
            kind = response.headers.get("content-type", "")
            if not kind.startswith("text/html"):
                # Data (the JSON download, health, metrics): never read as a page.
                if response.headers.get("x-content-type-options") != "nosniff":
                    injected.append(f"{path} as {role}: {kind} without nosniff")
                continue
            pages += 1
            source = response.text
            text = html.unescape(source)
            parser = Injected()
            parser.feed(source)
            injected += [f"{path} as {role}: {what}" for what in parser.found]
            for tag, name in FIELDS.items():
                for i, payload in enumerate(PAYLOADS):
                    value = tagged(tag, i)
                    if tag.startswith("M"):
                        value = as_email(tag, i) or ""
                        if not value:
                            continue
                    if value in text or value in source:
                        outputs.add((name, i, path.split("?")[0]))
                    if MARKUP & set(payload) and value in source:
                        unescaped.append(f"{path} as {role}: {name} {payload!r} raw in the source")
                    # A template never evaluates what it shows.
                    if "{{7*7}}" in payload and value.replace("{{7*7}}", "49") in text:
                        unescaped.append(f"{path} as {role}: {name} evaluated as a template")
    fields_seen = {name for name, _, _ in outputs}
    print(
        f"\nXSS over HTTP: {len(PAYLOADS)} payloads x {len(set(FIELDS.values()))} fields, "
        f"{pages} pages rendered as {len(xss_hall.viewers)} roles; {len(outputs)} "
        f"(field, payload, page) outputs shown as text; unescaped outputs: {len(unescaped)}; "
        f"injected elements: {len(injected)}"
    )
    assert not unescaped, "\n".join(unescaped[:40])
    assert not injected, "\n".join(sorted(set(injected))[:40])
    # Every field was seen on some page, with every payload: the check looked where they are.
    assert fields_seen == set(FIELDS.values()), set(FIELDS.values()) - fields_seen
    for name in fields_seen:
        shown = {i for n, i, _ in outputs if n == name}
        expected = {
            i for i in range(len(PAYLOADS)) if name != "candidate e-mail" or as_email("Mw", i)
        }
        assert shown == expected, (name, expected - shown)


def test_scripts_never_write_markup() -> None:
    """No script turns data into markup: text goes in as textContent, links through
    safeUrl."""
    sinks = re.compile(
        r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function"
    )
    found = []
    root = Path(__file__).resolve().parent.parent / "static" / "js"
    for script in sorted(root.glob("*.js")):
        for number, line in enumerate(script.read_text().splitlines(), 1):
            if sinks.search(line):
                found.append(f"{script.name}:{number}: {line.strip()}")
    assert not found, "\n".join(found)


def test_the_page_check_sees_an_injection() -> None:
    """The structural check finds every markup payload when it is put in a page raw, and
    nothing when it is escaped as the templates do."""
    for payload in PAYLOADS:
        if not ({"<"} & set(payload)) or payload.startswith("&"):
            continue
        raw, escaped = Injected(), Injected()
        raw.feed(f'<p title="x">{payload}</p><textarea>t</textarea>')
        escaped.feed(f'<p title="x">{html.escape(payload)}</p>')
        assert raw.found, payload
        assert not escaped.found, payload


async def test_typed_input_sent_back_in_a_form_stays_text(
    server: LiveServer, world: World, new_visitor: Any
) -> None:
    """What a form shows again after refusing it (the typed name, e-mail, question, notes,
    the page to go back to) and what a page takes from its address (filters, ``next``,
    the chosen advisor): payloads there come back escaped, never as markup."""
    candidate_: Browserless = new_visitor()
    await candidate_.sign_in_candidate("Kandidaat", "k@example.nl")
    advisor: Browserless = new_visitor()
    await advisor.log_in("a1@test.example")
    anonymous: Browserless = new_visitor()
    await post(candidate_, f"/inzoomen/{world.booth_a}", {"question": "Hoi", "client_key": "k"})
    request_id = _value(server_db(server), "SELECT MAX(id) FROM requests")
    await post(advisor, "/adviseur/accepteren", {"request_id": request_id})
    conversation = _value(server_db(server), "SELECT MAX(id) FROM conversations")

    responses: list[tuple[str, str, Any]] = []
    long = "x" * 5001
    for payload in PAYLOADS:
        token = csrf_from((await anonymous.http.get("/aanmelden")).text)
        sign_in = {"name": payload, "email": payload, "phone": payload, "next": "/" + payload}
        responses.append(
            (
                payload,
                "sign-in form",
                await anonymous.http.post("/aanmelden", data={"csrf": token, **sign_in}),
            )
        )
        token = csrf_from((await anonymous.http.get("/inloggen")).text)
        login = {"csrf": token, "email": payload, "password": payload}
        responses.append(
            (payload, "log-in form", await anonymous.http.post("/inloggen", data=login))
        )
        token = csrf_from((await candidate_.http.get("/inloggen")).text)
        zoom = {"csrf": token, "question": payload + long, "client_key": payload[:64]}
        responses.append(
            (
                payload,
                "zoom-in form",
                await candidate_.http.post(f"/inzoomen/{world.booth_b}", data=zoom),
            )
        )
        token = csrf_from((await advisor.http.get("/inloggen")).text)
        notes = {"csrf": token, "notes": payload + long}
        responses.append(
            (
                payload,
                "notes form",
                await advisor.http.post(f"/gesprekken/{conversation}/notities", data=notes),
            )
        )
        decline = {"csrf": token, "request_id": payload, "message": payload + long}
        responses.append(
            (payload, "decline form", await advisor.http.post("/adviseur/afwijzen", data=decline))
        )
        query = {k: payload for k in ("sector", "offer", "open", "adviseur", "wachtwoord", "q")} | {
            "next": "/" + payload
        }
        for path in gets():
            path = path.format(booth=world.booth_a, conversation=conversation, call="verzonnen")
            for who in (anonymous, candidate_, advisor):
                responses.append((payload, path, await who.http.get(path, params=query)))

    shown = 0
    problems = []
    for payload, where, response in responses:
        if not response.headers.get("content-type", "").startswith("text/html"):
            continue
        parser = Injected()
        parser.feed(response.text)
        problems += [f"{where} with {payload!r}: {what}" for what in parser.found]
        if MARKUP & set(payload) and payload in response.text:
            problems.append(f"{where} with {payload!r}: raw in the source")
        if "form" in where and payload in html.unescape(response.text):
            shown += 1
    print(
        f"\nXSS reflected: {len(PAYLOADS)} payloads, {len(responses)} responses "
        f"(5 refused forms and {len(gets())} pages with payloads in the address); "
        f"forms showing the payload again as text: {shown}; unescaped or injected: {len(problems)}"
    )
    assert not problems, "\n".join(problems[:40])
    assert shown >= 3 * len(PAYLOADS), shown  # sign-in, log-in and zoom-in show it again


def server_db(server: LiveServer) -> Path:
    return server.db_path
