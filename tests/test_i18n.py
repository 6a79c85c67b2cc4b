"""Languages: Dutch by default, English complete and one click away.

Every text a person sees comes from the gettext catalogues; these tests fail when a catalogue
misses a text or a translation, when a template or script holds a text outside the
catalogues, and when the chosen language does not reach a page, a form error, a WebSocket
reply or a date.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from babel.dates import format_date
from babel.messages.pofile import read_po
from websockets.asyncio.client import connect

from app.core import catalogues, i18n
from app.core.i18n import LANGUAGES
from app.domain import booths, queue
from app.storage.db import Database
from app.web import templating
from app.web.middleware import LANGUAGE_COOKIE
from app.web.pages.call import call_texts
from tests.livekit import Browserless, LiveServer, Peer, World, csrf_from

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
SCRIPTS = ROOT / "static" / "js"

LETTER = re.compile(r"[^\W\d_]")


@pytest.fixture(autouse=True)
def _dutch_again() -> object:
    """Tests that switch the language of this process leave it Dutch."""
    yield
    i18n.set_language(i18n.DEFAULT_LANGUAGE)


# -- the catalogues --------------------------------------------------------------------------


def test_catalogues_are_complete_and_current() -> None:
    report = catalogues.check()
    problems = list(report.problems())
    assert not problems, (
        "the translation catalogues are not up to date; run scripts/translations and "
        "translate every empty msgstr in app/locale/en/LC_MESSAGES/messages.po:\n  "
        + "\n  ".join(problems)
    )
    texts = len(catalogues.extract())
    assert texts > 0
    for language in LANGUAGES:
        assert report.translated[language] == texts, (
            f"{language}: {report.translated[language]} of {texts} texts translated"
        )


def test_percent_signs_are_only_placeholders() -> None:
    """Jinja formats every translated text with %, so a lone % would break a page."""
    bad = []
    for language in LANGUAGES:
        with catalogues.catalogue_path(language).open("rb") as po:
            catalogue = read_po(po, locale=language)
        for message in catalogue:
            if not message.id:
                continue
            ids = message.id if isinstance(message.id, tuple) else (message.id,)
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            for text in (*ids, *strings):
                if re.sub(r"%\(\w+\)s|%%", "", text).count("%"):
                    bad.append(f"{language}: {text!r}")
    assert not bad, "a % that is not a %(name)s placeholder:\n  " + "\n  ".join(bad)


def test_formats_follow_the_language() -> None:
    thursday = date(2026, 11, 26)
    afternoon = datetime(2026, 11, 26, 14, 0, tzinfo=ZoneInfo("Europe/Amsterdam"))
    i18n.set_language("nl")
    assert i18n.format_day(thursday) == "donderdag 26 november"
    assert templating.day_label("2026-11-26") == "donderdag 26 november"
    assert i18n.format_clock(afternoon) == "14:00"
    assert i18n.format_number(1234.5) == "1.234,5"
    assert i18n.gettext("Welkom in de hal") == "Welkom in de hal"
    i18n.set_language("en")
    assert i18n.format_day(thursday) == "Thursday 26 November"
    assert templating.day_label(thursday) == "Thursday 26 November"
    assert i18n.format_clock(afternoon) == "14:00"
    assert i18n.format_number(1234.5) == "1,234.5"
    assert i18n.gettext("Welkom in de hal") == "Welcome to the hall"
    assert i18n.gettext("Opent %(day)s om %(time)s", day="x", time="y") == "Opens x at y"
    i18n.set_language("xx")
    assert i18n.current_language() == "nl"


# -- the browser's language ------------------------------------------------------------------

ACCEPT_LANGUAGE = {
    None: "nl",
    "": "nl",
    "en": "en",
    "EN-gb": "en",
    "en-US,en;q=0.9": "en",
    "nl-BE": "nl",
    "fr": "nl",
    "fr, en;q=0.1": "en",
    "en;q=0.8, nl;q=0.9": "nl",
    "en;q=0.8, nl;q=0.8": "en",  # a tie: the one written first
    "nl;q=0.8, en;q=0.8": "nl",
    "*": "nl",
    "nl;q=0.5, *": "en",  # every language but Dutch, at full quality
    "en;q=0, *": "nl",
    "en;q=0, nl;q=0": "nl",  # nothing acceptable: Dutch all the same
    "en;q=0.001": "en",
    "en;q=1.5": "nl",  # malformed ranges are skipped
    "en;q=abc, nl;q=0.1": "nl",
    ", ;q=1, en": "en",
    "x" * 5000 + ",en": "nl",  # a giant header is cut, not parsed to its end
}


@pytest.mark.parametrize(("header", "language"), list(ACCEPT_LANGUAGE.items()))
def test_accept_language_picks_one_of_the_halls_languages(
    header: str | None, language: str
) -> None:
    assert i18n.negotiate(header) == language


async def test_pages_speak_the_browsers_language_until_one_is_chosen(
    new_visitor, world: World
) -> None:
    visitor: Browserless = new_visitor()
    english = await visitor.http.get("/", headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert '<html lang="en">' in english.text and "Welcome to the hall" in english.text
    assert {"accept-language", "cookie"} <= {
        name.strip().lower() for name in english.headers["vary"].split(",")
    }
    await visitor.http.get("/taal/nl")
    chosen = await visitor.http.get("/", headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert '<html lang="nl">' in chosen.text and "Welkom in de hal" in chosen.text


async def test_the_websocket_speaks_the_browsers_language_until_one_is_chosen(
    server: LiveServer, world: World
) -> None:
    async def message(headers: dict[str, str]) -> str:
        connection = await connect(
            server.ws_url, origin=server.url, additional_headers=headers, compression=None
        )
        peer = Peer(connection)
        await peer.next_event("session.welcome")
        reply = await peer.send("no.such_action")
        await peer.close()
        return str(reply["error"]["message"])

    assert await message({}) == "Deze actie bestaat niet."
    assert await message({"Accept-Language": "en-US,en;q=0.9"}) == "This action does not exist."
    chosen = {"Accept-Language": "en", "Cookie": f"{LANGUAGE_COOKIE}=nl"}
    assert await message(chosen) == "Deze actie bestaat niet."
    odd_cookie = {"Accept-Language": "en", "Cookie": f"{LANGUAGE_COOKIE}=xx"}
    assert await message(odd_cookie) == "This action does not exist."


# -- no text outside the catalogues: templates -----------------------------------------------

JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
TEXT_ATTRIBUTES = {"alt", "title", "placeholder", "aria-label", "aria-description", "label"}
BUTTON_INPUT_TYPES = {"submit", "button", "reset"}


MACRO = re.compile(r"\{%-?\s*macro\b.*?%\}(.*?)\{%-?\s*endmacro", re.DOTALL)
TOKEN = re.compile(r"(?<![\w-])[a-z][a-z0-9_]*(?![\w-])")
ATTRIBUTE = re.compile(r"([\w:-]+)=\"([^\"]*)\"")


def _without_jinja(source: str) -> str:
    """The template with every Jinja construct blanked out, keeping offsets and lines.

    A macro without any markup yields a code word or attribute fragment for its caller
    (like a state name for a data- attribute), not a text: its bare lowercase words go too.
    """
    blank = JINJA.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), source)
    for macro in MACRO.finditer(source):
        start, end = macro.span(1)
        body = blank[start:end]
        if "<" not in body:
            pieces = re.split(r"([\w:-]+=\"[^\"]*\")", body)  # attributes stay as they are
            body = "".join(
                piece if i % 2 else TOKEN.sub(lambda m: " " * len(m.group(0)), piece)
                for i, piece in enumerate(pieces)
            )
            blank = blank[:start] + body + blank[end:]
    return blank


class _TextFinder(HTMLParser):
    """Collects text nodes and text attributes that still hold letters."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str]] = []
        self._raw: list[str] = []  # open <script>/<style> elements

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        line = self.getpos()[0]
        values = {name: value or "" for name, value in attrs}
        for name, value in values.items():
            text_attribute = name in TEXT_ATTRIBUTES or (
                name == "value"
                and (
                    tag == "button"
                    or (tag == "input" and values.get("type", "").lower() in BUTTON_INPUT_TYPES)
                )
            )
            if text_attribute and LETTER.search(value):
                self.found.append((line, f'<{tag} {name}="{value.strip()}">'))
        if tag in ("script", "style"):
            self._raw.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._raw and self._raw[-1] == tag:
            self._raw.pop()

    def handle_data(self, data: str) -> None:
        if self._raw or not LETTER.search(data):
            return
        line = self.getpos()[0]
        for offset, text in enumerate(data.split("\n")):
            # Attributes a macro writes into its caller's tag: check them as attributes.
            for name, value in ATTRIBUTE.findall(text):
                if name in TEXT_ATTRIBUTES and LETTER.search(value):
                    self.found.append((line + offset, f'{name}="{value.strip()}"'))
            text = ATTRIBUTE.sub(" ", text)
            if LETTER.search(text):
                self.found.append((line + offset, text.strip()))


def untranslated_template_texts(directory: Path = TEMPLATES) -> list[str]:
    found = []
    for path in sorted(directory.glob("*.html")):
        finder = _TextFinder()
        finder.feed(_without_jinja(path.read_text(encoding="utf-8")))
        finder.close()
        relative = path.relative_to(directory.parent)
        found += [f"{relative}:{line}: {text}" for line, text in finder.found]
    return found


def test_the_template_check_sees_a_bare_text(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text(
        '{% extends "base.html" %}\n<h1>{{ _("Goed") }}</h1>\n<p>Fout hier</p>\n'
        '<img alt="Een foto" src="x.png"><button value="go" aria-label="{{ _(\'Goed\') }}">'
        "{# Geen tekst #}</button>\n<script>const a = 'Geen probleem';</script>\n"
        '<input type="submit" value="Verstuur"><input type="text" value="abc">\n'
        "{% macro state() %}{% if x %}waiting{% else %}none{% endif %}{% endmacro %}\n"
        '{% macro attrs() %} aria-invalid="true" title="uitleg"{% endmacro %}\n'
        "{% macro card() %}<p>{% if x %}gesloten{% endif %}</p>{% endmacro %}\n",
        encoding="utf-8",
    )
    found = [line.split(":", 1)[1] for line in untranslated_template_texts(tmp_path)]
    assert found == [
        "3: Fout hier",
        '4: <img alt="Een foto">',
        '4: <button value="go">',
        '6: <input value="Verstuur">',
        '8: title="uitleg"',
        "9: gesloten",
    ]


def test_templates_hold_no_text_outside_the_catalogues() -> None:
    found = untranslated_template_texts()
    assert not found, (
        'user-visible text in templates outside _(): wrap each in {{ _("...") }}\n  '
        + "\n  ".join(found)
    )


# -- no text outside the catalogues: scripts -------------------------------------------------

# Two or more words of letters, separated by a space: a sentence or a label someone reads.
WORDS = re.compile(r"[^\W\d_]{2,}(?: +[^\W\d_]+)+")
# What may stand right before a string literal that is not shown to a person.
NOT_SHOWN_BEFORE = re.compile(
    r"(?:querySelector(?:All)?|closest|matches|getElementById|getAttribute|setAttribute|"
    r"removeAttribute|hasAttribute|toggleAttribute|classList\.\w+|console\.\w+|import|"
    r"addEventListener|removeEventListener|dispatchEvent|postMessage|Error|send|request|"
    r"new\s+Intl\.\w+)\s*\(\s*(?:[^()]*,\s*)?$"
    r"|(?:className|dataset\.\w+|\.href|\.id|\.name|\.type)\s*=\s*$"
    r"|\bfrom\s*$|\bclass\s*:\s*$|\btestid\w*\s*[:=]\s*$",
    re.IGNORECASE,
)
# A CSS selector: tag names, #ids, .classes, [attributes] and combinators only.
SELECTOR = re.compile(
    r"^\s*(?:[a-z][a-z0-9-]*|[#.][\w-]+|\[[^\]]*\]|:{1,2}[\w-]+(?:\([^)]*\))?|[>+~,*]|\s+)+\s*$"
)


def _js_strings(source: str) -> list[tuple[int, int, str]]:
    """(line, start offset, text) of every string literal; ${...} in template literals
    are left out of the text. Comments and regular expression literals are skipped."""
    found: list[tuple[int, int, str]] = []
    i, n = 0, len(source)
    last = ""  # the last significant character before i
    while i < n:
        ch = source[i]
        if source.startswith("//", i):
            i = source.find("\n", i)
            i = n if i < 0 else i
            continue
        if source.startswith("/*", i):
            end = source.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        if ch == "/" and (
            last == "" or last in "(,=:[!&|?{};+-*%<>~^" or _after_keyword(source, i)
        ):
            i += 1  # a regular expression literal
            in_class = False
            while i < n and (in_class or source[i] != "/"):
                if source[i] == "\\":
                    i += 1
                elif source[i] == "[":
                    in_class = True
                elif source[i] == "]":
                    in_class = False
                i += 1
            i += 1
            last = "/"
            continue
        if ch in "'\"`":
            start, i, text = i, i + 1, []
            while i < n and source[i] != ch:
                if source[i] == "\\":
                    text.append(source[i : i + 2])
                    i += 2
                    continue
                if ch == "`" and source.startswith("${", i):
                    depth, i = 1, i + 2
                    while i < n and depth:
                        depth += {"{": 1, "}": -1}.get(source[i], 0)
                        i += 1
                    text.append(" ")
                    continue
                text.append(source[i])
                i += 1
            found.append((source.count("\n", 0, start) + 1, start, "".join(text)))
            i += 1
            last = ch
            continue
        if not ch.isspace():
            last = ch
        i += 1
    return found


def _after_keyword(source: str, i: int) -> bool:
    return re.search(r"\b(?:return|typeof|case|in|of|yield|await)\s*$", source[:i]) is not None


def untranslated_script_texts(directory: Path = SCRIPTS) -> list[str]:
    found = []
    for path in sorted(directory.rglob("*.js")):
        source = path.read_text(encoding="utf-8")
        for line, start, text in _js_strings(source):
            if not WORDS.search(text):
                continue
            before = source[max(0, start - 200) : start]
            before = before[before.rfind(";") + 1 :]
            if NOT_SHOWN_BEFORE.search(before) or SELECTOR.match(text):
                continue
            if re.fullmatch(r"[\w\s-]*", text) and text == text.lower() and "-" in text:
                continue  # a list of class names or tokens, such as "button button-small"
            found.append(f"{path.relative_to(directory.parent.parent)}:{line}: {text.strip()}")
    return found


def test_the_script_check_sees_a_bare_text(tmp_path: Path) -> None:
    (tmp_path / "page.js").write_text(
        'import { t } from "./live.js";\n'
        "// 'Een commentaar met woorden'\n"
        'const box = document.querySelector("#booths .booth span");\n'
        'box.textContent = "Er ging iets mis";\n'
        "box.title = `Nog ${n} minuten over`;\n"
        'console.warn("socket closed early");\n'
        'box.className = "button button-small";\n'
        'const re = /["a b"]/g; box.dataset.testid = "my thing";\n'
        'box.textContent = t("queue_empty");\n',
        encoding="utf-8",
    )
    found = [line.split(":", 1)[1] for line in untranslated_script_texts(tmp_path)]
    assert found == ["4: Er ging iets mis", "5: Nog   minuten over"]


def test_scripts_hold_no_text_outside_the_catalogues() -> None:
    found = untranslated_script_texts()
    assert not found, (
        "user-visible text in scripts outside t(): add it to client_texts() in "
        "app/web/pages/common.py (or page_texts in templates/base.html) and use t(key)\n  "
        + "\n  ".join(found)
    )


# -- the chosen language over HTTP and the WebSocket -----------------------------------------


def _texts_of(page: str) -> dict[str, str]:
    texts: dict[str, str] = {}
    for element_id in ("client-texts-extra", "client-texts"):
        match = re.search(
            rf'<script type="application/json" id="{element_id}">(.*?)</script>', page
        )
        assert match, f"no #{element_id} on the page"
        texts.update(json.loads(match.group(1)))
    return texts


async def test_choosing_english_is_remembered_and_can_be_undone(new_visitor, world: World) -> None:
    visitor: Browserless = new_visitor()
    dutch = (await visitor.http.get("/")).text
    assert '<html lang="nl">' in dutch
    assert "Welkom in de hal" in dutch
    assert 'href="/taal/en?next=/"' in dutch or 'href="/taal/en?next=%2F"' in dutch

    switch = await visitor.http.get("/taal/en", params={"next": "/"})
    assert switch.status_code == 303
    assert switch.headers["location"] == "/"
    cookie = switch.headers["set-cookie"]
    assert cookie.startswith(f"{LANGUAGE_COOKIE}=en;")
    assert "httponly" in cookie.lower()

    for _ in range(2):  # remembered, not a one-off
        english = (await visitor.http.get("/")).text
        assert '<html lang="en">' in english
        assert "Welcome to the hall" in english
        assert "Welkom in de hal" not in english
        assert "Choose a booth and zoom in. A conversation takes 10 minutes." in english
        assert "Filter the booths" in english
        assert 'data-testid="language-nl"' in english and ">Nederlands<" in english

    back = await visitor.http.get("/taal/nl", params={"next": "/aanmelden"})
    assert back.status_code == 303
    assert back.headers["location"] == "/aanmelden"
    page = (await visitor.http.get("/aanmelden")).text
    assert '<html lang="nl">' in page
    assert "Vul je naam en e-mailadres in." in page


async def test_unknown_language_and_foreign_next_are_refused(new_visitor, world: World) -> None:
    visitor: Browserless = new_visitor()
    unknown = await visitor.http.get("/taal/xx", params={"next": "/"})
    assert unknown.status_code == 404
    assert LANGUAGE_COOKIE not in unknown.headers.get("set-cookie", "")
    for target in ("//evil.example", "https://evil.example/", "/\\evil.example", "evil.example"):
        response = await visitor.http.get("/taal/en", params={"next": target})
        assert response.status_code == 303
        location = response.headers["location"]
        assert location.startswith("/") and not location.startswith(("//", "/\\")), target
        assert not httpx.URL(location).host, target  # a path on this site, nowhere else


async def test_every_script_text_is_translated(new_visitor, world: World) -> None:
    visitor: Browserless = new_visitor()
    dutch = _texts_of((await visitor.http.get("/")).text)
    await visitor.http.get("/taal/en")
    english = _texts_of((await visitor.http.get("/")).text)
    assert dutch.keys() == english.keys()
    used = set()
    for path in SCRIPTS.rglob("*.js"):
        used |= set(re.findall(r"\bt\(\s*[\"'](\w+)[\"']", path.read_text(encoding="utf-8")))
    # The call page carries texts of its own besides the shared ones (app.web.pages.call).
    i18n.set_language("en")
    english.update(call_texts())
    assert english["state.connected"] == "Connected"
    missing = sorted(key for key in used if key not in english)
    assert not missing, f"scripts ask t() for texts the page does not carry: {missing}"
    assert english["accepted"] == "Your conversation starts now. Open the video link."
    assert dutch["accepted"] == "Je gesprek begint nu. Open de videolink."
    assert english["status.available"] == "Available"
    assert english["offer.bbl"] == "BBL (learn while you work)"


async def test_form_errors_speak_the_chosen_language(new_visitor, world: World) -> None:
    visitor: Browserless = new_visitor()
    await visitor.http.get("/taal/en")
    form = (await visitor.http.get("/aanmelden")).text
    assert "Enter your name and e-mail address." in form
    response = await visitor.http.post(
        "/aanmelden",
        data={"csrf": csrf_from(form), "name": "", "email": "nope", "phone": "x", "next": "/"},
    )
    assert response.status_code == 400
    page = response.text
    assert '<html lang="en">' in page
    assert "Something went wrong" in page
    assert "Please fill in this field." in page
    assert "Enter a valid e-mail address, like name@example.com." in page
    assert "Enter a valid phone number, or leave it empty." in page
    assert "Give permission to use your details for this conversation." in page
    assert "Name: Please fill in this field." in page  # the summary names the field
    assert "Vul dit veld in." not in page

    login = (await visitor.http.get("/inloggen")).text
    refused = await visitor.http.post(
        "/inloggen",
        data={"csrf": csrf_from(login), "email": "a1@test.example", "password": "wrong-one"},
    )
    assert "This e-mail address and password do not match." in refused.text


async def test_websocket_errors_speak_the_chosen_language(new_visitor, world: World) -> None:
    dutch = new_visitor()
    peer = await dutch.socket()
    reply = await peer.send("no.such_action")
    assert reply["ok"] is False
    assert reply["error"]["message"] == "Deze actie bestaat niet."
    await peer.close()

    english: Browserless = new_visitor()
    await english.http.get("/taal/en")
    peer = await english.socket()
    reply = await peer.send("no.such_action")
    assert reply["error"]["code"] == "protocol.unknown_action"
    assert reply["error"]["message"] == "This action does not exist."
    await peer.close()

    await english.sign_in_candidate("Sam Jones", "sam@example.com")
    peer = await english.socket()
    too_long = "x" * (queue.QUESTION_MAX + 1)
    reply = await peer.send("request.create", {"booth_id": world.booth_a, "question": too_long})
    assert reply["ok"] is False
    assert reply["error"]["message"] == "This input is not right."
    assert reply["error"]["fields"] == {
        "question": f"This is too long: {queue.QUESTION_MAX} characters at most.",
        "client_key": "Please fill in this field.",
    }
    await peer.close()


async def test_closed_booth_shows_the_day_in_the_chosen_language(
    new_visitor, world: World, world_db: tuple[Path, World]
) -> None:
    later = datetime.now(ZoneInfo("Europe/Amsterdam")).date() + timedelta(days=3)
    db = await Database.open(world_db[0])
    try:
        async with db.transaction() as tx:
            await tx.execute("DELETE FROM schedule WHERE booth_id = ?", (world.booth_b,))
            await booths.add_slot(tx, world.booth_b, later, "09:00", "17:00")
    finally:
        await db.close()

    visitor: Browserless = new_visitor()
    dutch = (await visitor.http.get("/")).text
    day_nl = format_date(later, "EEEE d MMMM", locale="nl")
    assert f"Opent {day_nl} om 09:00" in dutch, day_nl
    await visitor.http.get("/taal/en")
    english = (await visitor.http.get("/")).text
    day_en = format_date(later, "EEEE d MMMM", locale="en")
    assert f"Opens {day_en} at 09:00" in english, day_en
    assert day_en.split()[0] in {
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    }


# -- the statements: both languages, linked from every page ----------------------------------


@pytest.mark.parametrize(
    ("path", "dutch", "english"),
    [
        ("/toegankelijkheid", "Toegankelijkheidsverklaring", "Accessibility statement"),
        ("/privacy", "Privacyverklaring", "Privacy statement"),
    ],
)
async def test_statements_exist_in_both_languages(
    new_visitor, world: World, path: str, dutch: str, english: str
) -> None:
    visitor: Browserless = new_visitor()
    page = await visitor.http.get(path)
    assert page.status_code == 200
    assert f"<h1>{dutch}</h1>" in page.text
    assert "25 november 2026" in page.text or path == "/privacy"
    await visitor.http.get("/taal/en")
    page = await visitor.http.get(path)
    assert page.status_code == 200
    assert '<html lang="en">' in page.text
    assert f"<h1>{english}</h1>" in page.text
    assert dutch not in page.text


async def test_accessibility_statement_says_what_it_must(new_visitor, world: World) -> None:
    page = (await new_visitor().http.get("/toegankelijkheid")).text
    for needed in (
        "WCAG 2.1",
        "AA",
        "EN 301 549",
        "axe-core",
        "toetsenbord",
        "360 pixels",
        "zonder JavaScript",
        "schermlezer",
        "organisator",
        "25 november 2026",
    ):
        assert needed in page, needed


async def test_privacy_statement_says_what_it_must(new_visitor, world: World) -> None:
    page = (await new_visitor().http.get("/privacy")).text
    for needed in (
        "naam",
        "e-mailadres",
        "telefoonnummer",
        "wachtrij",
        "Andere kandidaten",
        "logbestanden",
        "verkopen",
        "sessiecookie",
        "taalcookie",
        "AVG",
        "Autoriteit Persoonsgegevens",
    ):
        assert needed in page, needed


@pytest.mark.parametrize("path", ["/", "/aanmelden", "/inloggen", "/toegankelijkheid", "/privacy"])
async def test_statements_are_linked_from_every_page(new_visitor, world: World, path: str) -> None:
    visitor: Browserless = new_visitor()
    for language, labels in (
        ("nl", ("Toegankelijkheid", "Privacy")),
        ("en", ("Accessibility", "Privacy")),
    ):
        await visitor.http.get(f"/taal/{language}")
        page = await visitor.http.get(path)
        assert page.status_code == 200
        footer = page.text[page.text.index("<footer") :]
        assert re.search(rf'<a href="/toegankelijkheid"[^>]*>{labels[0]}</a>', footer), language
        assert re.search(rf'<a href="/privacy"[^>]*>{labels[1]}</a>', footer), language
