"""Lists of people in the order a Dutch reader expects: prefixes ignored, accents with their
letter, no regard to capitals; the same order in Python and in SQLite (DUTCH_NAME)."""

from __future__ import annotations

import random
import sqlite3
import time

import pytest

from app.core import names
from app.domain import accounts, dashboard, invitations
from app.storage.db import SQLITE, Database
from tests.servicekit import PASSWORD, make_booth

# A list as a Dutch reader expects it.
EXPECTED = [
    "Aalders",
    "Ahmed el Amrani",
    "Ank van den Akker",  # Ank, then (van den) Akker
    "Ank Bos",
    "van der Berg",  # B
    "Van den Bergh",
    "de Boer",
    "Ebe",
    "Ébé",  # with Ebe, after it only because of the accent
    "Eva",
    "ter Horst",
    "IJsbrand",  # ij as i + j
    "ĳzerman",  # the one-letter ĳ sorts like IJ
    "Ilse",
    "Jan Dekker",
    "Jan in 't Veld",  # Jan Veld
    "Jan de Vries",  # Jan Vries, like the next: the full text decides between them
    "Jan op de Vries",
    "Jan Vrijman",
    "Okke",
    "Özgür",  # O
    "Peters",
    "Thi Le",  # a prefix word at the end is part of the name
    "Van",  # a surname on its own is a name
    "Zwart",
]


def test_the_key_gives_the_dutch_order() -> None:
    shuffled = EXPECTED[:]
    random.Random(7).shuffle(shuffled)
    assert sorted(shuffled, key=names.sort_key) == EXPECTED


@pytest.mark.parametrize(
    ("name", "primary"),
    [
        ("van der Berg", "berg"),
        ("Van Der Berg", "berg"),
        ("Jan in ’t Veld", "jan veld"),  # a typographic apostrophe
        ("Maria op de Beek-van Dam", "maria beek dam"),
        ("Özgür Çelik", "ozgur celik"),
        ("ĲSSELSTEIN", "ijsselstein"),
        ("Søren Ærø", "soren aero"),
        ("'s-Gravesande", "gravesande"),
        ("de", "de"),
        ("", ""),
    ],
)
def test_the_primary_key_of_a_name(name: str, primary: str) -> None:
    assert names.primary(name) == primary


def test_names_equal_but_for_accents_or_capitals_keep_one_order() -> None:
    variants = ["ebe", "Ebe", "ÉBÉ", "Ébé", "ébé"]
    once = sorted(variants, key=names.sort_key)
    assert sorted(reversed(variants), key=names.sort_key) == once
    assert names.collate("Ebe", "Ebe") == 0
    assert names.collate("Ebe", "Ébé") < 0 < names.collate("Ébé", "Ebe")


def test_the_collation_orders_like_the_key() -> None:
    connection = sqlite3.connect(":memory:")
    try:
        connection.create_collation(names.COLLATION, names.collate)
        connection.execute("CREATE TABLE people (name TEXT)")
        connection.executemany("INSERT INTO people VALUES (?)", [(n,) for n in EXPECTED[::-1]])
        rows = connection.execute("SELECT name FROM people ORDER BY name COLLATE DUTCH_NAME")
        assert [r[0] for r in rows] == EXPECTED
    finally:
        connection.close()


PEOPLE = ["Zwart", "Özgür", "van der Berg", "ter Horst", "Ébé", "Aalders", "de Boer", "Ebe"]
IN_ORDER = ["Aalders", "van der Berg", "de Boer", "Ebe", "Ébé", "ter Horst", "Özgür", "Zwart"]


async def test_people_lists_come_from_the_database_in_dutch_order(db: Database) -> None:
    booth = await make_booth(db, "a")
    async with db.transaction() as tx:
        for number, name in enumerate(PEOPLE):
            await accounts.create_staff(
                tx,
                email=f"adviseur{number}@voorbeeld.nl",
                name=name,
                role="advisor",
                password=PASSWORD,
                booth_id=booth,
            )
    # The reader connection and the writer connection both know the collation.
    assert [s.name for s in await accounts.staff_of_booths(db)] == IN_ORDER
    assert [a["name"] for a in await dashboard._advisors(db)] == IN_ORDER
    listed = await invitations.list_staff(db, time.time())
    assert [s.name for s in listed] == IN_ORDER
    if db.dialect == SQLITE:
        # SQLite's writer connection knows the order as a collation too.
        async with db.transaction() as tx:
            rows = await tx.fetchall("SELECT name FROM staff ORDER BY name COLLATE DUTCH_NAME")
        assert [r["name"] for r in rows] == IN_ORDER
