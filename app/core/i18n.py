"""Translation and formatting of everything a person sees or hears.

Source strings are written in Dutch, the default language of the hall. The catalogues are
gettext PO files in ``app/locale/<lang>/LC_MESSAGES/messages.po`` (Babel), read once per
process. The language of a request or connection is kept in a context variable, set by the
language middleware, so every ``gettext`` call in that request or connection speaks the
visitor's language: the one they picked (a cookie), else the best of the hall's languages
that their browser asks for (``Accept-Language``), else Dutch.
"""

from __future__ import annotations

import gettext as _gettext
import io
import re
from contextvars import ContextVar
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

DEFAULT_LANGUAGE = "nl"
LANGUAGES = ("nl", "en")
LANGUAGE_NAMES = {"nl": "Nederlands", "en": "English"}
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "messages"

_current_language: ContextVar[str] = ContextVar("language", default=DEFAULT_LANGUAGE)


def catalogue_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(language: str) -> _gettext.NullTranslations:
    path = catalogue_path(language)
    if not path.exists():
        return _gettext.NullTranslations()
    with path.open("rb") as po:
        catalogue = read_po(po, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalogue)
    buffer.seek(0)
    return _gettext.GNUTranslations(buffer)


def pick_language(choice: str | None) -> str:
    return choice if choice in LANGUAGES else DEFAULT_LANGUAGE


# A header longer than this is cut: nobody prefers forty languages, and a request should not
# make the server parse a megabyte to pick one of two.
ACCEPT_LANGUAGE_MAX = 1000


def negotiate(accept_language: str | None) -> str:
    """The hall's language that an ``Accept-Language`` header (RFC 9110) prefers most.

    A range matches a language by its primary subtag (``en-GB`` asks for English, ``nl-BE``
    for Dutch); ``*`` stands for every language no range names. Quality values decide
    (``q=0``: not wanted); on a tie the range written first wins, and ``*`` gives Dutch
    before English. Malformed ranges are skipped. Dutch when nothing matches.
    """
    if not accept_language:
        return DEFAULT_LANGUAGE
    named: dict[str, tuple[float, int]] = {}  # language: (best quality, position)
    star: tuple[float, int] | None = None
    for position, item in enumerate(accept_language[:ACCEPT_LANGUAGE_MAX].split(",")):
        tag, *params = (part.strip() for part in item.split(";"))
        quality = _quality(params)
        if quality is None or not tag:
            continue
        if tag == "*":
            star = star or (quality, position)
            continue
        primary = tag.split("-", 1)[0].lower()
        if primary in LANGUAGES and (primary not in named or quality > named[primary][0]):
            named[primary] = (quality, position)
    ranked = []
    for order, language in enumerate(LANGUAGES):
        found = named.get(language, star)
        if found is not None and found[0] > 0:
            ranked.append((-found[0], found[1], order, language))
    return min(ranked)[3] if ranked else DEFAULT_LANGUAGE


def _quality(params: list[str]) -> float | None:
    """The q parameter of one range: 1 when absent, None when malformed."""
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() != "q":
            continue
        value = value.strip()
        # RFC 9110: "0" or "1" with at most three decimals, never above 1.
        if not re.fullmatch(r"0(\.[0-9]{0,3})?|1(\.0{0,3})?", value):
            return None
        return float(value)
    return 1.0


def set_language(language: str) -> None:
    _current_language.set(pick_language(language))


def current_language() -> str:
    return _current_language.get()


def gettext(message: str, **params: Any) -> str:
    text = translations(current_language()).gettext(message)
    return text % params if params else text


def ngettext(singular: str, plural: str, n: int, **params: Any) -> str:
    text = translations(current_language()).ngettext(singular, plural, n)
    return text % {"num": n, **params}


_ = gettext


def N_(message: str) -> str:
    """Mark a string for translation where it is defined; translate it where it is shown."""
    return message


def _locale() -> Locale:
    return Locale.parse(current_language())


def format_day(day: date) -> str:
    """A day as people say it, e.g. "donderdag 26 november" or "Thursday 26 November"."""
    return format_date(day, "EEEE d MMMM", locale=_locale())


def format_clock(moment: datetime) -> str:
    """A time of day on the 24-hour clock, as both languages use it in the Netherlands."""
    return format_time(moment, "HH:mm", locale=_locale())


def format_number(value: int | float) -> str:
    return format_decimal(value, locale=_locale())
