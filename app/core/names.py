"""The order of people's names as a Dutch reader expects it in a list.

Byte order puts "van der Berg" under v, "Ébé" after "Zwart" and "de Vries" after "Visser".
A Dutch list instead

- ignores the surname prefixes (voorvoegsels: van, de, van der, ter, in 't, op de, …), so
  "van der Berg" stands under B and "Jan de Vries" after "Jan Dekker";
- sorts a letter with an accent with that letter ("Ébé" beside "Ebe", "Özgür" under O) and
  "ĳ" as i + j, the way "IJsselmeer" is written;
- pays no attention to capitals.

``sort_key`` gives that order in Python; ``collate`` is the same order as an SQLite collation,
registered as ``DUTCH_NAME`` on every connection of the application (app/storage/db.py), so a query
says ``ORDER BY name COLLATE DUTCH_NAME``. The ``sqlite3`` command line does not know that
collation, which is why no view, index or trigger in app/storage/migrations/ may use it.

Names that the rules above make equal ("Ebe" and "Ébé") are still told apart, first by
accents and capitals and last by the exact text, so the order is the same every time.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from typing import Any, Protocol, TypeVar

COLLATION = "DUTCH_NAME"

# The words of Dutch surname prefixes (Basisregistratie Personen, table 36, the Dutch ones):
# "van der", "in 't", "op de" are runs of these words. A word counts as a prefix only when a
# word that is no prefix follows it, so "Thi Le" or a surname "Van" on its own stays a name.
PREFIXES = frozenset(
    {
        "'s",
        "'t",
        "aan",
        "bij",
        "d'",
        "de",
        "den",
        "der",
        "het",
        "in",
        "onder",
        "op",
        "over",
        "t",
        "te",
        "ten",
        "ter",
        "toe",
        "tot",
        "uijt",
        "uit",
        "van",
        "ver",
        "voor",
        "von",
    }
)

# Letters that Unicode does not decompose into a base letter and a mark.
_LETTERS = str.maketrans(
    {"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"}
)
# Apostrophes as people type them (’ ‘ ` ´): one apostrophe, so "in ’t Veld" is "in 't Veld".
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'", "ʼ": "'"})


def _plain(text: str) -> str:
    """Case folded, without accents: NFKD splits "é" into "e" and a combining mark, and "ĳ"
    into "ij"; the marks are dropped."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return bare.casefold().translate(_LETTERS)


def _words(plain: str) -> list[str]:
    """The words of a name; hyphens and other punctuation separate words, an apostrophe
    belongs to its word ('t, d')."""
    cleaned = "".join(c if c.isalnum() or c == "'" else " " for c in plain)
    return cleaned.split()


def _without_prefixes(words: list[str]) -> list[str]:
    kept: list[str] = []
    for index, word in enumerate(words):
        if word in PREFIXES and any(w not in PREFIXES for w in words[index + 1 :]):
            continue
        kept.append(word.strip("'") or word)
    return kept


def primary(name: str) -> str:
    """What decides a name's place: its words without prefixes, accents or capitals."""
    return " ".join(_without_prefixes(_words(_plain(name))))


# SQLite calls the collation at every comparison of a sort, so the same few hundred names
# are keyed again and again within one query; a bounded cache keys each once. It holds names
# only in this process's memory, never on disk, and the oldest drop out first.
@lru_cache(maxsize=4096)
def sort_key(name: str) -> tuple[str, str, str]:
    """The key to sort names by in Python: ``sorted(people, key=lambda p: sort_key(p.name))``."""
    return (primary(name), name.casefold(), name)


class _Keyed(Protocol):
    def __getitem__(self, key: str, /) -> Any: ...


R = TypeVar("R", bound=_Keyed)


def sorted_by_name(rows: Iterable[R]) -> list[R]:
    """Rows with a ``name`` and an ``id`` in a Dutch reader's order (ties by id): what the
    SQL ``ORDER BY name COLLATE DUTCH_NAME, id`` gives on SQLite, on any database."""
    return sorted(rows, key=lambda row: (sort_key(row["name"]), row["id"]))


def collate(left: str, right: str) -> int:
    """``sort_key`` as an SQLite collation: negative, zero or positive."""
    a, b = sort_key(left), sort_key(right)
    return (a > b) - (a < b)
