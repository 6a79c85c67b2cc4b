"""Translation and formatting of everything a person sees or hears.

Source strings are written in Dutch, the default language of the hall. The catalogues are
gettext PO files in ``app/locale/<lang>/LC_MESSAGES/messages.po`` (Babel), read once per
process. The language of a request or connection is kept in a context variable, set by the
language middleware from the visitor's choice (a cookie), so every ``gettext`` call in that
request or connection speaks the visitor's language.
"""

from __future__ import annotations

import gettext as _gettext
import io
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
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
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
