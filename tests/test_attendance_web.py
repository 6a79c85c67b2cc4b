"""Proof of attendance against a real server on loopback: the candidate's page and PDF (a
real PDF, read back), only their own; the moderator checks codes through the form; everyone
else is refused and nothing changes for a wrong code."""

from __future__ import annotations

import html
import re
import sqlite3
from pathlib import Path
from typing import Any

from app.core.errors import MESSAGES
from tests.livekit import Browserless, Peer, World
from tests.pdfkit import pdf_texts

CODE = re.compile(r'data-testid="proof-code">([A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4})<')
ZOE = "Zoë Çelik-Öztürk"


def rows(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


async def talk(
    new_visitor: Any, console: Peer, booth_id: int, name: str, email: str, key: str
) -> tuple[Browserless, int]:
    """A candidate signs in, asks at the booth, the advisor accepts and ends: one held
    conversation."""
    visitor: Browserless = new_visitor()
    await visitor.sign_in_candidate(name, email)
    return visitor, await talk_again(visitor, console, booth_id, key)


async def talk_again(visitor: Browserless, console: Peer, booth_id: int, key: str) -> int:
    peer = await visitor.socket()
    try:
        made = await peer.send("request.create", {"booth_id": booth_id, "client_key": key})
        assert made["ok"], made
        started = await console.send("request.accept", {"request_id": made["data"]["request_id"]})
        assert started["ok"], started
        conversation_id: int = started["data"]["conversation_id"]
        ended = await console.send("conversation.end", {"conversation_id": conversation_id})
        assert ended["ok"], ended
        # Back to available for the next conversation.
        back = await console.send("advisor.status", {"status": "available"})
        assert back["ok"], back
    finally:
        await peer.close()
    return conversation_id


async def staff(new_visitor: Any, email: str) -> tuple[Browserless, Peer]:
    visitor: Browserless = new_visitor()
    await visitor.log_in(email)
    return visitor, await visitor.socket()


def code_on(page: str) -> str:
    match = CODE.search(page)
    assert match, "no verification code on the page"
    return match.group(1)


async def check(moderator: Browserless, code: str) -> Any:
    token = await moderator.csrf("/inloggen")
    return await moderator.http.post(
        "/moderator/bewijs-controleren", data={"csrf": token, "code": code}
    )


async def test_the_candidate_gets_their_own_proof_as_page_and_pdf(
    new_visitor: Any, world: World, world_db: tuple[Path, World]
) -> None:
    db_path = world_db[0]
    _a1, console_a = await staff(new_visitor, "a1@test.example")
    _b1, console_b = await staff(new_visitor, "b1@test.example")
    zoe, _ = await talk(new_visitor, console_a, world.booth_a, ZOE, "zoe@example.nl", "z1")
    other, _ = await talk(new_visitor, console_b, world.booth_b, "Ander Persoon", "a@x.nl", "o1")

    page = await zoe.http.get("/mijn-bewijs")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert ZOE in text and "Zorggroep A" in text and "Adviseur A1" in text and "Testbeurs" in text
    assert "Ander Persoon" not in text and "Bouwbedrijf B" not in text
    # A conversation of seconds is said to be shorter than a minute, never "1 minuut".
    assert "Totaal: korter dan een minuut" in text and "Totaal: 1 minuut" not in text
    assert text.count("korter dan een minuut") == 2  # the row and the total
    code = code_on(page.text)
    assert 'href="/mijn-bewijs.pdf"' in page.text and "data-print" in page.text
    # The proof's own style sheet, under its content-hashed name.
    assert re.search(r'<link rel="stylesheet" href="/static/css/proof\.[0-9a-f]+\.css">', page.text)
    # Asking again while nothing changed: the same code, nothing new stored.
    assert code_on((await zoe.http.get("/mijn-bewijs")).text) == code
    assert len(rows(db_path, "SELECT code FROM attendance_proofs")) == 1

    pdf = await zoe.http.get("/mijn-bewijs.pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"] == (
        f'attachment; filename="bewijs-van-deelname-{code}.pdf"'
    )
    assert pdf.content.startswith(b"%PDF-")
    shown = "\n".join(pdf_texts(pdf.content))
    assert code in shown and f"Naam: {ZOE}" in shown and "Zorggroep A" in shown
    assert "Totaal: korter dan een minuut" in shown and "1 minuut" not in shown
    assert "Ander Persoon" not in shown
    assert len(rows(db_path, "SELECT code FROM attendance_proofs")) == 1

    # The other candidate sees only their own proof, under another code.
    theirs = await other.http.get("/mijn-bewijs")
    assert ZOE not in html.unescape(theirs.text) and "Bouwbedrijf B" in theirs.text
    assert code_on(theirs.text) != code
    their_pdf = "\n".join(pdf_texts((await other.http.get("/mijn-bewijs.pdf")).content))
    assert ZOE not in their_pdf and code not in their_pdf

    # The candidate's page links to it once the conversation has ended.
    assert 'href="/mijn-bewijs"' in (await zoe.http.get("/mijn-verzoek")).text

    # No conversation yet: a clear message, no proof, no code.
    fresh: Browserless = new_visitor()
    await fresh.sign_in_candidate("Nog Niemand", "nog@example.nl")
    none = await fresh.http.get("/mijn-bewijs")
    assert none.status_code == 200 and 'data-testid="proof-none"' in none.text
    assert CODE.search(none.text) is None
    no_pdf = await fresh.http.get("/mijn-bewijs.pdf")
    assert no_pdf.status_code == 303 and no_pdf.headers["location"] == "/mijn-bewijs"
    assert len(rows(db_path, "SELECT code FROM attendance_proofs")) == 2

    # Nobody else gets a proof: sign in first, or refused.
    anonymous: Browserless = new_visitor()
    for path in ("/mijn-bewijs", "/mijn-bewijs.pdf"):
        refused = await anonymous.http.get(path)
        assert refused.status_code == 303
        assert refused.headers["location"] == "/aanmelden?next=%2Fmijn-bewijs"
    moderator: Browserless = new_visitor()
    await moderator.log_in("mod@test.example")
    for who in (_a1, moderator):
        for path in ("/mijn-bewijs", "/mijn-bewijs.pdf"):
            refused = await who.http.get(path)
            assert refused.status_code == 403
            assert MESSAGES["auth.forbidden"] in html.unescape(refused.text)
    await console_a.close()
    await console_b.close()


async def test_the_moderator_checks_a_code_through_the_form(
    new_visitor: Any, world: World, world_db: tuple[Path, World]
) -> None:
    db_path = world_db[0]
    a1, console_a = await staff(new_visitor, "a1@test.example")
    zoe, _ = await talk(new_visitor, console_a, world.booth_a, ZOE, "zoe@example.nl", "z1")
    code = code_on((await zoe.http.get("/mijn-bewijs")).text)
    moderator: Browserless = new_visitor()
    await moderator.log_in("mod@test.example")

    form = await moderator.http.get("/moderator/bewijs-controleren")
    assert form.status_code == 200 and 'name="code"' in form.text
    assert 'href="/moderator/bewijs-controleren"' in form.text  # in the navigation

    valid = await check(moderator, f"  {code.lower().replace('-', ' ')} ")
    assert valid.status_code == 200
    assert 'data-testid="proof-valid"' in valid.text and 'data-current="yes"' in valid.text
    text = html.unescape(valid.text)
    assert ZOE in text and "Zorggroep A" in text and code in text
    assert "Totaal: korter dan een minuut" in text and "Totaal: 1 minuut" not in text

    # An unknown code says so, and nothing else; nothing is stored.
    before = rows(db_path, "SELECT * FROM attendance_proofs")
    unknown = await check(moderator, "ABCD-EFGH-JKLM" if code != "ABCDEFGHJKLM" else "MMMMMMMMMMMM")
    assert unknown.status_code == 200 and 'data-testid="proof-unknown"' in unknown.text
    assert ZOE not in html.unescape(unknown.text) and "Zorggroep A" not in unknown.text
    nonsense = await check(moderator, "<script>alert(1)</script>")
    assert 'data-testid="proof-unknown"' in nonsense.text
    assert "<script>alert(1)</script>" not in nonsense.text
    assert rows(db_path, "SELECT * FROM attendance_proofs") == before

    # Others may not check codes; without the form's token nobody may.
    candidate_refused = await zoe.http.get("/moderator/bewijs-controleren")
    assert candidate_refused.status_code == 403
    anonymous: Browserless = new_visitor()
    sent_away = await anonymous.http.get("/moderator/bewijs-controleren")
    assert sent_away.status_code == 303 and sent_away.headers["location"] == "/inloggen"
    for who, message in (
        (zoe, "auth.forbidden"),
        (a1, "auth.forbidden"),
        (anonymous, "auth.sign_in_required"),
    ):
        refused = await check(who, code)
        assert refused.status_code == 403, refused.text
        assert MESSAGES[message] in html.unescape(refused.text)
        assert "proof-body" not in refused.text and "Zorggroep A" not in refused.text
    no_token = await moderator.http.post("/moderator/bewijs-controleren", data={"code": code})
    assert no_token.status_code == 403 and ZOE not in html.unescape(no_token.text)

    # The record changes: the old code still says what it said, and that it is outdated.
    await talk_again(zoe, console_a, world.booth_a, "z2")
    outdated = await check(moderator, code)
    assert 'data-current="no"' in outdated.text and 'data-testid="proof-outdated"' in outdated.text
    assert html.unescape(outdated.text).count("Zorggroep A") == 1  # one conversation then
    new_code = code_on((await zoe.http.get("/mijn-bewijs")).text)
    assert new_code != code
    assert 'data-current="yes"' in (await check(moderator, new_code)).text

    # The candidate erases their data: checking says so, and shows nothing of it.
    token = await zoe.csrf("/mijn-gegevens/wissen")
    erased = await zoe.http.post("/mijn-gegevens/wissen", data={"csrf": token, "confirm": "yes"})
    assert erased.status_code == 303, erased.text
    for each in (code, new_code):
        gone = await check(moderator, each)
        assert 'data-testid="proof-erased"' in gone.text
        assert ZOE not in html.unescape(gone.text) and "Zorggroep A" not in gone.text
    assert rows(db_path, "SELECT DISTINCT content FROM attendance_proofs") == [("",)]

    # Many wrong codes in a row: the form stops looking codes up for a while.
    answers = [(await check(moderator, f"ZZZZ-ZZZZ-ZZ{n:02d}")).status_code for n in range(12)]
    assert answers[:8] == [200] * 8 and answers[-1] == 429
    limited = await check(moderator, new_code)
    assert limited.status_code == 429 and 'data-testid="proof-limited"' in limited.text
    await console_a.close()
