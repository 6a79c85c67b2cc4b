"""Every page the hall serves is valid HTML, for every principal and in every state of a
request: fetched over HTTP from a real server on a real SQLite file, and checked with
tests/htmlkit.py. The checker itself is tested first: each rule catches a small wrong page.

The routes, principals and scenes are those of the authorisation matrix (tests/test_authz.py),
so a new page is validated as soon as it has its line there. The browser tests validate the
HTML of every page they load as well (``CheckedBrowser`` in tests/a11ykit.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.a11ykit import CheckedBrowser
from tests.browserkit import chromium
from tests.htmlkit import Problem, check_html, format_problems
from tests.livekit import LiveServer
from tests.test_authz import HTTP_RULES, PRINCIPALS, Hall, Scene

# -- the checker --------------------------------------------------------------------------

HEAD = '<meta charset="utf-8"><title>T</title><link rel="stylesheet" href="/s.css">'


def page(body: str, head: str = HEAD, lang: str = ' lang="nl"') -> str:
    return (
        f"<!doctype html>\n<html{lang}><head>{head}</head><body><main>{body}</main></body></html>"
    )


GOOD = page(
    '<figure><figcaption id="c">Grafiek</figcaption><img src="x" alt="x"></figure>'
    "<figure><video></video><figcaption>Jij</figcaption></figure>"
    "<table><caption>Stands</caption><thead><tr><th>a</th></tr></thead>"
    "<tbody><tr><td>1</td></tr></tbody></table>"
    '<form><label for="f">Naam</label><input id="f" aria-describedby="h c"><p id="h">Hint</p>'
    '<select><option>a</option></select><button type="submit">OK</button></form>'
    '<p>Een <a href="/">link</a> en <strong>nadruk</strong><br></p>'
    "<ul><li><div>blok</div></li></ul><dl><div><dt>a</dt><dd>b</dd></div></dl>"
    "<details><summary><h2>Kop</h2></summary><p>meer</p></details>"
    '<svg viewBox="0 0 1 1"><title>svg-titel</title><path d="M0 0"/><rect></rect></svg>'
    '<template id="t"><li id="f">in een sjabloon</li><tr><td>rij</td></tr></template>'
    '<script type="application/json">{"a": "</p><div>"}</script>',
    head=HEAD + '<noscript><meta http-equiv="refresh" content="30"></noscript>',
)

# (the rule, a page that breaks it)
BAD: list[tuple[str, str]] = [
    ("doctype", GOOD.replace("<!doctype html>\n", "")),
    ("html-lang", page("<p>x</p>", lang="")),
    ("unclosed", page("<div><span>x</div>")),
    (
        "unclosed",
        page("<section><p>x</p>").replace("</main></body></html>", "</main></body></html>"),
    ),
    ("stray-end-tag", page("<p>x</p></div>")),
    ("void-end-tag", page('<input id="a"></input><label for="a">a</label>')),
    ("self-closing", page("<div/><p>x</p>")),
    ("duplicate-id", page('<p id="a">x</p><p id="a">y</p>')),
    ("id", page('<p id="a b">x</p>')),
    ("duplicate-attribute", page('<p class="a" class="b">x</p>')),
    ("head-only", page('<meta name="x" content="y"><p>x</p>')),
    ("head-only", page('<noscript><meta http-equiv="refresh" content="1"></noscript>')),
    ("head-only", page('<link rel="stylesheet" href="/x.css">')),
    ("head-only", page("<title>x</title>")),
    ("head-content", page("<p>x</p>", head=HEAD + "<div>x</div>")),
    ("head-content", page("<p>x</p>", head=HEAD + "<noscript><p>x</p></noscript>")),
    (
        "figcaption",
        page("<figure><img src=x alt=x><figcaption>c</figcaption><button>b</button></figure>"),
    ),
    (
        "figcaption",
        page(
            "<figure><figcaption>a</figcaption><img src=x alt=x><figcaption>b</figcaption></figure>"
        ),
    ),
    ("parent", page("<div><figcaption>c</figcaption></div>")),
    (
        "caption-first",
        page("<table><thead><tr><th>a</th></tr></thead><caption>c</caption></table>"),
    ),
    ("parent", page("<div><caption>c</caption></div>")),
    ("idref", page('<label for="nowhere">Naam</label><input id="f">')),
    ("idref", page('<label for="p">Naam</label><p id="p">x</p>')),
    ("idref", page('<input id="f" aria-describedby="hint"><label for="f">x</label>')),
    ("idref", page('<section aria-labelledby="title"><h2 id="titel">x</h2></section>')),
    ("idref", page('<template><label for="f">x</label></template><input id="f">')),
    ("main", page("<p>x</p>").replace("<main>", "").replace("</main>", "")),
    ("main", page("<main><p>x</p></main>").replace("<main><main>", "<main></main><main>", 1)),
    ("phrasing-only", page("<p><div>blok</div></p>")),
    ("phrasing-only", page("<p><ul><li>x</li></ul></p>")),
    ("phrasing-only", page("<button><div>x</div></button>")),
    ("phrasing-only", page("<h2><p>x</p></h2>")),
    (
        "phrasing-only",
        page('<a href="/"><span><table><tbody><tr><td>x</td></tr></tbody></table></span></a>'),
    ),
    ("interactive-in-interactive", page('<a href="/"><button>x</button></a>')),
    ("interactive-in-interactive", page('<button><a href="/">x</a></button>')),
    ("interactive-in-interactive", page('<a href="/">x <a href="/y">y</a></a>')),
    ("interactive-in-interactive", page('<a href="/"><span tabindex="0">x</span></a>')),
    ("parent", page("<div><li>x</li></div>")),
    ("parent", page("<table><tr><td>x</td></tr></table>")),
    ("parent", page("<table><tbody><td>x</td></tbody></table>")),
    ("parent", page("<p><dt>x</dt></p>")),
    ("parent", page("<div><option>x</option></div>")),
    ("nested-form", page("<form><div><form><button>x</button></form></div></form>")),
    ("text-in-structure", page("<ul>tekst<li>x</li></ul>")),
    ("text-in-structure", page("<table><tbody><tr>tekst<td>x</td></tr></tbody></table>")),
    ("img-alt", page('<img src="x">')),
]


def rules(problems: list[Problem]) -> set[str]:
    return {problem.rule for problem in problems}


def test_a_valid_page_has_no_problems() -> None:
    problems = check_html(GOOD)
    assert not problems, format_problems(problems)


@pytest.mark.parametrize(("rule", "html"), BAD, ids=[f"{r}-{i}" for i, (r, _) in enumerate(BAD)])
def test_each_rule_finds_its_problem(rule: str, html: str) -> None:
    problems = check_html(html)
    assert rule in rules(problems), format_problems(problems, f"a page that breaks {rule}")
    # The problem is placed: its line points into the page.
    assert all(1 <= p.line <= html.count("\n") + 1 for p in problems)


def test_the_checker_reports_where() -> None:
    problems = check_html(page("<p>x</p>\n<p>\n<div>y</div></p>"))
    found = [p for p in problems if p.rule == "phrasing-only"]
    assert found and (found[0].line, found[0].column) == (4, 1), problems


def test_fragments_are_checked_without_the_document_rules() -> None:
    assert check_html('<div><p id="a">x</p></div>', document=False) == []
    assert "unclosed" in rules(check_html("<div><p>x</p>", document=False))


# -- every page of the hall -----------------------------------------------------------------

# Each GET of the authorisation matrix is fetched in each of these states of a request.
SCENES = ("fresh", "request", "conversation", "call", "ended")
# Served as parts of a page (the dashboard fetches its charts), not as documents.
FRAGMENTS = ("/moderator/grafieken",)


@pytest.fixture
async def hall(server: LiveServer, world_db: Any) -> Any:
    db_path, world = world_db
    running = Hall(server, world, db_path)
    await running.start()
    yield running
    await running.close()


def validate(label: str, path: str, response: Any, found: dict[str, str]) -> bool:
    if "text/html" not in response.headers.get("content-type", ""):
        return False
    problems = check_html(response.text, document=path not in FRAGMENTS)
    if problems:
        found[label] = format_problems(problems, label)
    return True


def filled(path: str, scene: Scene) -> str | None:
    try:
        return path.format_map(scene.values)
    except KeyError:  # a page about a thing this scene does not have
        return None


async def test_every_page_is_valid_html_for_every_principal_and_state(hall: Hall) -> None:
    found: dict[str, str] = {}
    checked: set[str] = set()
    gets = [p for p in HTTP_RULES if p.method == "GET"]
    for kind in SCENES:
        scene = await hall.scene(kind)
        for probe in gets:
            path = filled(probe.path, scene)
            if path is None:
                continue
            for principal in PRINCIPALS:
                who = scene.people[principal]
                response = await who.http.get(path)
                label = f"GET {path} as {principal} ({kind})"
                if validate(label, probe.path, response, found):
                    checked.add(probe.path)
    # Pages drawn again with the answer to a form: its errors, or what it did.
    for probe in (p for p in HTTP_RULES if p.method == "POST"):
        scene = await hall.scene(probe.scene)
        for principal, expected in zip(PRINCIPALS, probe.expect, strict=True):
            if expected.startswith("3") or probe.renews:
                continue
            who = scene.people[principal]
            form = {k: scene.fill(v) for k, v in probe.form.items()}
            path = probe.path.format_map(scene.values)
            response = await hall.post(who, path, form)
            if validate(f"POST {path} as {principal}", probe.path, response, found):
                checked.add(probe.target)
    # A page that is not there.
    response = await hall.staff["anonymous"].http.get("/bestaat-niet")
    assert validate("GET /bestaat-niet", "/bestaat-niet", response, found)
    print(f"\nHTML validated: {len(checked)} routes; problems on {len(found)} page views")
    expected_pages = {
        p.path for p in gets if "200" in p.expect and not p.path.endswith((".csv", ".pdf", ".ics"))
    }
    assert expected_pages - {"/healthz", "/readyz", "/metrics", "/static/js/live.js"} <= checked
    assert not found, "\n\n".join(found.values())


# -- the browser tests validate what they load -----------------------------------------------


async def test_checked_browsers_validate_the_html_of_each_page_they_load() -> None:
    """A checked context fails on a page whose HTML is wrong, even where the browser repairs
    it so well that axe finds nothing."""
    broken = page('<p>Tekst <div>blok</div></p><meta name="x" content="y">')
    async with chromium() as browser:
        checked = CheckedBrowser(browser)
        context = await checked.new_context(java_script_enabled=False)
        tab = await context.new_page()

        async def serve(route: Any) -> None:
            body = GOOD if route.request.url.endswith("/good") else broken
            await route.fulfill(body=body, content_type="text/html; charset=utf-8")

        # Addresses on loopback, where the hall runs; a page elsewhere is not checked.
        await tab.route("http://127.0.0.1:9/**", serve)
        await tab.route("http://elsewhere.test/**", serve)
        await tab.goto("http://127.0.0.1:9/good")
        await tab.goto("http://127.0.0.1:9/broken")
        await tab.goto("http://elsewhere.test/broken-too")
        with pytest.raises(AssertionError) as failed:
            await checked.assert_clean()
        report = str(failed.value)
        assert "HTML problem(s) in the page the server sent for /broken" in report, report
        assert "phrasing-only" in report and "head-only" in report, report
        assert "/good" not in checked.html_found
        assert sorted(checked.html_checked) == ["/broken", "/good"]
