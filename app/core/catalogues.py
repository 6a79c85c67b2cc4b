"""The translation catalogues: extract every marked string from the code and templates,
bring the PO files up to date, and tell what is missing.

Dutch is the source language, so the Dutch catalogue repeats each text; other languages
need a translation of every text. ``scripts/translations`` runs ``update``; the tests run
``check`` and fail on anything missing or stale.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from app.core.i18n import DEFAULT_LANGUAGE, DOMAIN, LANGUAGES, catalogue_path

ROOT = Path(__file__).resolve().parent.parent.parent
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
SOURCES = [
    (ROOT / "app", [("**.py", "python")], {}),
    (
        ROOT / "templates",
        [("**.html", "jinja2.ext:babel_extract")],
        {"**.html": {"extensions": "jinja2.ext.i18n", "newstyle_gettext": "true"}},
    ),
]


def extract() -> dict[str | tuple[str, str], list[tuple[str, int]]]:
    """Every translatable text in app/ and templates/, with where it stands."""
    found: dict[str | tuple[str, str], list[tuple[str, int]]] = {}
    for directory, method_map, options_map in SOURCES:
        for filename, lineno, message, _comments, _context in extract_from_dir(
            directory, method_map, options_map, keywords=KEYWORDS
        ):
            relative = str((directory / filename).relative_to(ROOT))
            key = message if isinstance(message, str) else (message[0], message[1])
            found.setdefault(key, []).append((relative, lineno))
    return found


def _read(language: str) -> Catalog:
    path = catalogue_path(language)
    if not path.exists():
        return Catalog(locale=language, domain=DOMAIN)
    with path.open("rb") as po:
        return read_po(po, locale=language)


def update() -> dict[str, int]:
    """Rewrite every catalogue from the code: new texts added, gone texts dropped.

    Returns, per language, how many texts still lack a translation.
    """
    messages = extract()
    missing: dict[str, int] = {}
    for language in LANGUAGES:
        old = _read(language)
        new = Catalog(
            locale=language,
            domain=DOMAIN,
            project="Inzoomen",
            version="1",
            copyright_holder="Inzoomen",
            charset="utf-8",
            fuzzy=False,
            creation_date=old.creation_date,
            revision_date=old.creation_date,
            last_translator="Inzoomen",
            language_team=f"Inzoomen {language}",
        )
        for key, locations in sorted(messages.items(), key=lambda kv: str(kv[0])):
            previous = old.get(key)
            if language == DEFAULT_LANGUAGE:
                string: str | tuple[str, ...] = key
            elif previous is not None and previous.string:
                kept = previous.string
                string = kept if isinstance(kept, str) else tuple(kept)
            else:
                string = "" if isinstance(key, str) else ("", "")
            new.add(key, string, locations=locations, flags=_flags(key))
        path = catalogue_path(language)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as po:
            write_po(po, new, width=100, omit_header=False, sort_output=True)
        missing[language] = len(untranslated(new))
    return missing


def _flags(key: str | tuple[str, str]) -> tuple[str, ...]:
    text = key if isinstance(key, str) else key[0]
    return ("python-format",) if "%(" in text else ()


def untranslated(catalogue: Catalog) -> list[str]:
    empty = []
    for message in catalogue:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(strings):
            empty.append(str(message.id))
    return empty


@dataclass
class Report:
    """What ``check`` found, per language."""

    not_in_catalogue: dict[str, list[str]] = field(default_factory=dict)
    stale: dict[str, list[str]] = field(default_factory=dict)
    untranslated: dict[str, list[str]] = field(default_factory=dict)
    translated: dict[str, int] = field(default_factory=dict)
    placeholders: dict[str, list[str]] = field(default_factory=dict)

    def problems(self) -> Iterator[str]:
        for name in ("not_in_catalogue", "stale", "untranslated", "placeholders"):
            for language, items in getattr(self, name).items():
                if items:
                    yield f"{language}: {len(items)} {name.replace('_', ' ')}: {items[:5]}"


def _placeholders(text: str) -> set[str]:
    return set(re.findall(r"%\((\w+)\)s", text))


def check() -> Report:
    messages = extract()
    report = Report()
    for language in LANGUAGES:
        catalogue = _read(language)
        ids = {m.id if isinstance(m.id, str) else tuple(m.id) for m in catalogue if m.id}
        report.not_in_catalogue[language] = sorted(str(k) for k in messages if k not in ids)
        report.stale[language] = sorted(str(k) for k in ids if k not in messages)
        report.untranslated[language] = untranslated(catalogue)
        report.translated[language] = len(ids) - len(report.untranslated[language])
        wrong = []
        for message in catalogue:
            if not message.id or not message.string:
                continue
            source = message.id if isinstance(message.id, str) else message.id[0]
            target = message.string if isinstance(message.string, str) else message.string[0]
            if _placeholders(source) != _placeholders(target):
                wrong.append(str(message.id))
        report.placeholders[language] = wrong
    return report
