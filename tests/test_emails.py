"""E-mail addresses: one check and one normal form for the sign-in, the log-in, invitations
and the command line; a refused address changes nothing and is named in the visitor's words."""

from __future__ import annotations

import html
import time
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape

from app.core import i18n
from app.core.errors import DomainError, ValidationError
from app.domain import accounts, candidates, emails, invitations, moderation
from app.storage.db import Database
from tests.livekit import Browserless, LiveServer, World, db_value
from tests.servicekit import PASSWORD, count

# What the form used to let through.
BAD = ["jan@gmail..com", "jan,piet@x.nl", '"><@x.nl']


@pytest.mark.parametrize(
    ("typed", "hint"),
    [
        ("jan@gmail..com", emails.DOUBLE_DOT),
        ("jan,piet@x.nl", emails.SEPARATORS),
        ("jan@x.nl; piet@x.nl", emails.SEPARATORS),
        ('"><@x.nl', emails.SPECIAL),
        ("jan-at-x.nl", emails.NO_AT),
        ("jan@piet@x.nl", emails.MANY_AT),
        ("@x.nl", emails.NO_LOCAL),
        ("jan.@x.nl", emails.EDGE_DOT),
        ("jan@x", emails.NO_DOMAIN),
        ("jan@test", emails.NO_DOMAIN),
        ("jan@x.invalid", None),  # a reserved name: no mail goes there
        ("jan@localhost", emails.NO_DOMAIN),
        ("a" * 250 + "@x.nl", None),
    ],
)
def test_a_wrong_address_is_refused_with_its_reason(typed: str, hint: str | None) -> None:
    with pytest.raises(emails.EmailError) as caught:
        emails.normalise(typed)
    error = caught.value
    assert (error.code, error.field, error.hint) == ("input.email", "email", hint)
    message = error.message()
    assert message.startswith("Vul een geldig e-mailadres in, zoals naam@voorbeeld.nl.")
    assert hint is None or message.endswith(hint)
    assert not emails.is_valid(typed)


@pytest.mark.parametrize(
    ("typed", "normal"),
    [
        ("jan@bücher.example", "jan@bücher.example"),
        ("jan@BÜCHER.Example", "jan@bücher.example"),
        ("jan@xn--bcher-kva.example", "jan@bücher.example"),  # the same domain, spelled in ASCII
        ("  Jan.de.Vries+beurs@Voorbeeld.NL ", "Jan.de.Vries+beurs@voorbeeld.nl"),
        ("özgür@voorbeeld.nl", "özgür@voorbeeld.nl"),
        ("anna@zorg.test", "anna@zorg.test"),  # .test: rehearsals use made-up addresses
    ],
)
def test_a_good_address_comes_back_in_its_normal_form(typed: str, normal: str) -> None:
    assert emails.normalise(typed) == normal
    assert emails.is_valid(typed)
    assert emails.lookup_form(typed) == normal


def test_nothing_typed_is_a_required_field_and_other_field_names_are_kept() -> None:
    with pytest.raises(DomainError) as caught:
        emails.normalise("   ")
    assert caught.value.code == "input.required" and caught.value.field == "email"
    with pytest.raises(emails.EmailError) as wrong:
        emails.normalise("nee", field="contact")
    assert wrong.value.field == "contact"


def test_the_ascii_form_spells_the_domain_for_servers_without_smtputf8() -> None:
    assert emails.ascii_form("jan@bücher.example") == "jan@xn--bcher-kva.example"
    assert emails.ascii_form("Jan+x@Voorbeeld.nl") == "Jan+x@voorbeeld.nl"
    assert emails.ascii_form("özgür@bücher.example") == "özgür@bücher.example"


def test_the_reason_speaks_the_visitors_language() -> None:
    i18n.set_language("en")
    try:
        message = emails.EmailError("email", emails.DOUBLE_DOT).message()
    finally:
        i18n.set_language("nl")
    assert message == (
        "Enter a valid e-mail address, like name@example.com. There are two full stops in a row."
    )


# --- the services -------------------------------------------------------------------------


@pytest.mark.parametrize("typed", BAD)
async def test_sign_in_with_a_wrong_address_stores_nothing(db: Database, typed: str) -> None:
    with pytest.raises(ValidationError) as caught:
        await candidates.sign_in(db, name="Jan", email=typed, phone="", consent=True, now=1.0)
    assert set(caught.value.errors) == {"email"}
    assert caught.value.errors["email"].code == "input.email"
    assert await count(db, "candidates") == 0


async def test_sign_in_stores_the_normal_form(db: Database) -> None:
    idn = await candidates.sign_in(
        db, name="Jan", email="jan@BÜCHER.example", phone="", consent=True, now=1.0
    )
    plus = await candidates.sign_in(
        db, name="Piet", email=" Piet+beurs@Voorbeeld.NL", phone="", consent=True, now=1.0
    )
    assert (idn.email, plus.email) == ("jan@bücher.example", "Piet+beurs@voorbeeld.nl")
    rows = await db.fetchall("SELECT email FROM candidates ORDER BY id")
    assert [r["email"] for r in rows] == ["jan@bücher.example", "Piet+beurs@voorbeeld.nl"]


async def test_a_blocked_address_is_refused_in_any_spelling(db: Database) -> None:
    async with db.transaction() as tx:
        moderator = await accounts.create_staff(
            tx, email="mod@voorbeeld.nl", name="Mod", role="moderator", password=PASSWORD
        )
    blocked = await candidates.sign_in(
        db, name="Jan", email="Jan@bücher.example", phone="", consent=True, now=1.0
    )
    await moderation.block_candidate(
        db, staff_id=moderator, candidate_id=blocked.id, now=2.0, wrap_up_seconds=0
    )
    for spelling in ("jan@BÜCHER.example", "JAN@xn--bcher-kva.example", " jan@bücher.EXAMPLE "):
        with pytest.raises(ValidationError) as caught:
            await candidates.sign_in(
                db, name="Jan", email=spelling, phone="", consent=True, now=3.0
            )
        assert caught.value.errors["email"].code == "candidate.blocked_email", spelling
    assert await count(db, "candidates") == 1


@pytest.mark.parametrize("typed", BAD)
async def test_an_invitation_for_a_wrong_address_makes_nothing(db: Database, typed: str) -> None:
    form = {"name": "Iris", "email": typed, "role": "moderator"}
    with pytest.raises(ValidationError) as caught:
        await invitations.invite(db, form, actor=None, now=time.time())
    assert set(caught.value.errors) == {"email"}
    assert caught.value.errors["email"].code == "input.email"
    assert await count(db, "staff") == 0
    assert await count(db, "invitations") == 0


async def test_an_invitation_stores_the_normal_form_and_knows_the_account_in_any_case(
    db: Database,
) -> None:
    form = {"name": "Iris", "email": "Iris+hal@BÜCHER.example", "role": "moderator"}
    await invitations.invite(db, form, actor=None, now=time.time())
    assert await db.fetchvalue("SELECT email FROM staff") == "Iris+hal@bücher.example"
    again = {**form, "email": "iris+HAL@xn--bcher-kva.example"}
    with pytest.raises(ValidationError) as caught:
        await invitations.invite(db, again, actor=None, now=time.time())
    assert caught.value.errors["email"].code == "staff.email_taken"
    assert await count(db, "staff") == 1


async def test_staff_accounts_take_only_addresses_and_log_in_in_any_spelling(
    db: Database,
) -> None:
    async with db.transaction() as tx:
        with pytest.raises(ValueError, match="not a valid e-mail address"):
            await accounts.create_staff(
                tx, email="mod@@x.nl", name="Mod", role="moderator", password=PASSWORD
            )
        await accounts.create_staff(
            tx, email=" Mod@BÜCHER.example ", name="Mod", role="moderator", password=PASSWORD
        )
    assert await db.fetchvalue("SELECT email FROM staff") == "Mod@bücher.example"
    for spelling in ("mod@bücher.example", "MOD@xn--bcher-kva.example", "Mod@Bücher.Example"):
        staff = await accounts.authenticate(db, spelling, PASSWORD)
        assert staff.email == "Mod@bücher.example"
    with pytest.raises(DomainError) as wrong:
        await accounts.authenticate(db, "mod@bücher.example", "not-the-password")
    assert wrong.value.code == "auth.bad_login"
    # Text that is no address gets the address message, whatever the password.
    for password in (PASSWORD, "not-the-password"):
        with pytest.raises(ValidationError) as caught:
            await accounts.authenticate(db, "mod@bücher..example", password)
        assert caught.value.errors["email"].code == "input.email"


async def test_an_account_made_before_addresses_were_checked_still_logs_in(
    db: Database,
) -> None:
    async with db.transaction() as tx:
        await accounts.create_staff(
            tx, email="beheer@voorbeeld.nl", name="Beheer", role="moderator", password=PASSWORD
        )
        await tx.execute("UPDATE staff SET email = 'beheer@intranet'")
    staff = await accounts.authenticate(db, "beheer@intranet", PASSWORD)
    assert staff.email == "beheer@intranet"


# --- over HTTP ----------------------------------------------------------------------------


async def _sign_in(visitor: Browserless, email: str) -> Any:
    token = await visitor.csrf("/aanmelden")
    return await visitor.http.post(
        "/aanmelden",
        data={
            "csrf": token,
            "name": "Jan <b>de</b> Vries",
            "email": email,
            "phone": "",
            "consent": "yes",
            "next": "/",
        },
    )


async def test_the_sign_in_form_redisplays_a_wrong_address_escaped_with_its_reason(
    server: LiveServer, new_visitor: Any, world_db: tuple[Path, World]
) -> None:
    db_path = world_db[0]
    before = db_value(db_path, "SELECT COUNT(*) FROM candidates")
    reasons = {
        "jan@gmail..com": emails.DOUBLE_DOT,
        "jan,piet@x.nl": emails.SEPARATORS,
        '"><@x.nl': emails.SPECIAL,
    }
    for typed, hint in reasons.items():
        visitor: Browserless = new_visitor()
        response = await _sign_in(visitor, typed)
        assert response.status_code == 400, typed
        page = response.text
        # The message with its reason, in the summary and at the field.
        assert html.unescape(page).count(hint) == 2, typed
        assert 'href="#field-email"' in page
        # What was typed comes back in the field, escaped: no markup of the visitor's own.
        assert f'value="{escape(typed)}"' in page, typed
        assert "<b>de</b>" not in page and '"><@x.nl' not in page
        assert (await visitor.http.get("/mijn-verzoek")).status_code == 303  # not signed in
    assert db_value(db_path, "SELECT COUNT(*) FROM candidates") == before


async def test_the_sign_in_form_takes_an_idn_domain_and_a_plus_address(
    server: LiveServer, new_visitor: Any, world_db: tuple[Path, World]
) -> None:
    db_path = world_db[0]
    for typed, stored in (
        ("Jan@BÜCHER.example", "Jan@bücher.example"),
        ("piet+beurs@Voorbeeld.NL", "piet+beurs@voorbeeld.nl"),
    ):
        visitor: Browserless = new_visitor()
        response = await _sign_in(visitor, typed)
        assert response.status_code == 303, response.text
        assert (await visitor.http.get("/mijn-verzoek")).status_code == 200
        found = db_value(db_path, "SELECT COUNT(*) FROM candidates WHERE email = ?", (stored,))
        assert found == 1, typed


async def test_the_log_in_form_names_a_malformed_address(
    server: LiveServer, new_visitor: Any, world: World
) -> None:
    visitor: Browserless = new_visitor()
    token = await visitor.csrf("/inloggen")
    response = await visitor.http.post(
        "/inloggen", data={"csrf": token, "email": "a1@test..example", "password": PASSWORD}
    )
    assert response.status_code == 400
    assert emails.DOUBLE_DOT in html.unescape(response.text)
    assert 'value="a1@test..example"' in response.text
    assert (await visitor.http.get("/adviseur")).status_code == 303  # not signed in
    # The same account in other capitals is the same account.
    await visitor.log_in("A1@TEST.example")
    assert (await visitor.http.get("/adviseur")).status_code == 200
