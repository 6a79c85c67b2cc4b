from __future__ import annotations

import pytest

from app.core.errors import ValidationError
from app.domain import candidates
from tests.servicekit import count

VALID = {"name": "Sanne de Vries", "email": "sanne@voorbeeld.nl", "phone": "", "consent": True}


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("name", "", "input.required"),
        ("name", "   ", "input.required"),
        ("name", "x" * 101, "input.too_long"),
        ("email", "", "input.required"),
        ("email", "sanne-at-voorbeeld.nl", "input.email"),
        ("email", "sanne@voorbeeld", "input.email"),
        ("email", "sanne de vries@voorbeeld.nl", "input.email"),
        ("phone", "bel me maar", "input.phone"),
        ("phone", "12", "input.phone"),
        ("consent", False, "input.consent"),
    ],
)
async def test_bad_sign_in_names_the_field_and_stores_nothing(db, field, value, code):
    data = {**VALID, field: value}

    with pytest.raises(ValidationError) as caught:
        await candidates.sign_in(db, now=1000.0, **data)

    assert set(caught.value.errors) == {field}
    assert caught.value.errors[field].code == code
    assert caught.value.errors[field].field == field
    assert caught.value.field_messages()[field]
    assert await count(db, "candidates") == 0


async def test_every_wrong_field_is_reported_at_once(db):
    with pytest.raises(ValidationError) as caught:
        await candidates.sign_in(db, name="", email="nee", phone="abc", consent=False, now=1.0)

    assert set(caught.value.errors) == {"name", "email", "phone", "consent"}
    assert await count(db, "candidates") == 0


async def test_valid_sign_in_is_stored(db):
    candidate = await candidates.sign_in(
        db,
        name="  Sanne de Vries ",
        email=" sanne@voorbeeld.nl ",
        phone="+31 (0)6-12345678",
        consent=True,
        now=1000.0,
    )

    assert candidate.name == "Sanne de Vries"
    assert candidate.email == "sanne@voorbeeld.nl"
    assert candidate.phone == "+31 (0)6-12345678"
    assert await count(db, "candidates") == 1
    row = await db.fetchone("SELECT * FROM candidates WHERE id = ?", (candidate.id,))
    assert dict(row) == {
        "id": candidate.id,
        "name": "Sanne de Vries",
        "email": "sanne@voorbeeld.nl",
        "phone": "+31 (0)6-12345678",
        "consent_at": 1000.0,
        "created_at": 1000.0,
        "erased_at": None,
        "blocked_at": None,
        "blocked_by": None,
        "online_until": None,
    }
    assert await candidates.get_candidate(db, candidate.id) == candidate


async def test_phone_is_optional(db):
    candidate = await candidates.sign_in(
        db, name="Kees", email="kees@voorbeeld.nl", phone="", consent=True, now=5.0
    )

    assert candidate.phone == ""
    assert await count(db, "candidates") == 1
