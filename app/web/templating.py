"""Jinja2 set-up: autoescape always on, translations, and formatting in the event's zone."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2
import markupsafe
from starlette.templating import Jinja2Templates

from app.core import i18n
from app.domain.advisors import STATUSES
from app.domain.booths import BOOTH_KINDS, OFFERS, SECTORS
from app.web.assets import Manifest


def _label(table: dict[str, str]) -> object:
    def label(code: str) -> str:
        return i18n.gettext(table[code]) if code in table else code

    return label


def day_label(value: date | str) -> str:
    day = date.fromisoformat(value) if isinstance(value, str) else value
    return i18n.format_day(day)


def make_templates(
    directory: Path, timezone: str = "Europe/Amsterdam", manifest: Manifest | None = None
) -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        autoescape=True,  # always, whatever the file name
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda s: i18n.gettext(s), lambda s, p, n: i18n.ngettext(s, p, n), newstyle=True
    )
    zone = ZoneInfo(timezone)

    def clock(ts: float | None) -> str:
        if ts is None:
            return ""
        return i18n.format_clock(datetime.fromtimestamp(ts, zone))

    env.filters["clock"] = clock
    env.filters["day_label"] = day_label
    env.filters["status_label"] = _label(STATUSES)
    env.filters["offer_label"] = _label(OFFERS)
    env.filters["sector_label"] = _label(SECTORS)
    env.filters["kind_label"] = _label(BOOTH_KINDS)
    env.globals["STATUSES"] = STATUSES
    env.globals["OFFERS"] = OFFERS
    env.globals["SECTORS"] = SECTORS
    env.globals["BOOTH_KINDS"] = BOOTH_KINDS
    env.globals["LANGUAGE_NAMES"] = i18n.LANGUAGE_NAMES
    # Templates name static files by their plain path; the URL carries the file's hash.
    assets = manifest if manifest is not None else Manifest({})
    env.globals["static_url"] = assets.url
    # Made of file names under static/ only, never of anything a user typed.
    env.globals["import_map"] = lambda: markupsafe.Markup(assets.import_map())
    return Jinja2Templates(env=env)
