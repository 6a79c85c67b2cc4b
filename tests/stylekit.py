"""Which page needs which style sheet: every page loads ``static/css/base.css``; an area's
own sheet (the call, the console, the moderator's pages, the proof) only on the pages that
link it. A rule of an area sheet that matches an element of a page that does not load the
sheet leaves that element unstyled, which nothing else would notice. ``area_selectors``
lists every selector of the area sheets, ready for ``document.querySelector``; the checked
browser (tests/a11ykit.py) asks each page it loads whether any of them matches there.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

CSS = Path(__file__).resolve().parent.parent / "static" / "css"
BASE = "base.css"
# States a page is not in when it is checked; the element that would be in them is what
# counts, so they are left out of the selector.
_STATES = re.compile(
    r"::?(?:before|after|marker|placeholder|-webkit-[\w-]+|first-letter|first-line)"
    r"|:(?:focus-visible|focus-within|focus|hover|active|visited|checked)"
)


def selectors_of(css: str) -> list[str]:
    """The selectors of every style rule (inside @media too), states left out."""
    text = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    found: list[str] = []
    for prelude in re.findall(r"([^{}]+)\{", text):
        prelude = prelude.strip()
        if prelude.startswith("@"):
            continue
        for selector in prelude.split(","):
            cleaned = _STATES.sub("", selector).strip()
            if cleaned and cleaned not in found:
                found.append(cleaned)
    return found


@cache
def area_selectors() -> list[tuple[str, str]]:
    """(sheet stem, selector) for every area sheet: all sheets but the base."""
    return [
        (sheet.stem, selector)
        for sheet in sorted(CSS.glob("*.css"))
        if sheet.name != BASE
        for selector in selectors_of(sheet.read_text("utf-8"))
    ]
