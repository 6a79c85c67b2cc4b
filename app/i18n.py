"""Translation of every user-visible string.

Source strings are written in Dutch, the default language of the hall. Catalogues for other
languages live in ``app/locale/<lang>/LC_MESSAGES/messages.mo``; a language without a
catalogue shows the Dutch source text.
"""

from __future__ import annotations

import gettext as _gettext
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Any

DEFAULT_LANGUAGE = "nl"
LANGUAGES = ("nl",)
LOCALE_DIR = Path(__file__).resolve().parent / "locale"

_current_language: ContextVar[str] = ContextVar("language", default=DEFAULT_LANGUAGE)


@cache
def translations(language: str) -> _gettext.NullTranslations:
    return _gettext.translation("messages", LOCALE_DIR, languages=[language], fallback=True)


def set_language(language: str) -> None:
    _current_language.set(language if language in LANGUAGES else DEFAULT_LANGUAGE)


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
