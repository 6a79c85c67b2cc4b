"""A checker for the HTML the server sends, built on Python's ``html.parser``.

Browsers repair broken markup silently, and axe only sees the repaired page: an unclosed
element, a ``<div>`` inside a ``<p>``, a ``<meta>`` in the body or a ``<figcaption>`` in
the middle of its figure all render, yet the document the screen reader or the next
browser gets is not the one the template meant. There is no Java here for validator.nu,
so this module checks the rules of the HTML standard that such mistakes break:

- every non-void element is closed, in order; void elements have no end tag;
- ``<!doctype html>``, ``lang`` on ``<html>``, exactly one ``<main>``;
- ``<meta>``, ``<link>``, ``<title>``, ``<base>``, ``<style>`` only in the head, and a
  ``<noscript>`` in the head holds only those;
- ``id`` unique (each ``<template>`` is a document fragment of its own), and the ids that
  ``label for``, ``aria-labelledby`` and ``aria-describedby`` name exist;
- ``<figcaption>`` the first or last child of its ``<figure>``, ``<caption>`` the first child
  of its ``<table>``;
- content models: no flow content in phrasing-only elements (``<div>`` in ``<p>``), no
  interactive content in ``<a>`` or ``<button>``, no nested forms, ``<li>`` in lists,
  ``<tr>`` in table sections, cells in rows, no text where only elements may be;
- one value per attribute.

``check_html(text)`` returns the problems found, each with its line and column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


VOID = _names("area base br col embed hr img input link meta source track wbr")
# Elements that belong in the head only (``<meta itemprop>`` may also be in the body). The
# standard lets a style sheet's <link> be in the body too; here it belongs in the head, where
# it applies before the body is drawn (base.html's ``head`` block).
HEAD_ONLY = _names("base link meta style title")
# Phrasing content: what a paragraph, a heading or a button may hold.
PHRASING = _names("""
    a abbr area audio b bdi bdo br button canvas cite code data datalist del dfn em embed i
    iframe img input ins kbd label link map mark math meta meter noscript object output picture
    progress q ruby s samp script select slot small span strong sub sup svg template textarea
    time u var video wbr
""")
# Elements whose content model is phrasing content only.
PHRASING_ONLY = _names("""
    p h1 h2 h3 h4 h5 h6 pre span em strong small b i u s q cite code kbd samp var sub sup abbr
    dfn mark time data bdi bdo label button output legend summary
""")
# Interactive content: never inside ``<a>`` or ``<button>``.
INTERACTIVE = _names("a button details embed iframe label select textarea")
# Where a content model of its own begins: the checks of the ancestors stop there.
CONTEXT_ROOTS = _names("template svg math select datalist object")
LABELABLE = _names("button input meter output progress select textarea")
# Elements in which text other than white space has no place.
NO_TEXT = _names("html head table thead tbody tfoot tr colgroup ul ol menu dl select optgroup")
# The parents each element may have (a ``<template>`` may hold anything).
PARENTS: dict[str, frozenset[str]] = {
    "li": frozenset({"ul", "ol", "menu"}),
    "dt": frozenset({"dl", "div"}),
    "dd": frozenset({"dl", "div"}),
    "tr": frozenset({"thead", "tbody", "tfoot"}),
    "td": frozenset({"tr"}),
    "th": frozenset({"tr"}),
    "thead": frozenset({"table"}),
    "tbody": frozenset({"table"}),
    "tfoot": frozenset({"table"}),
    "caption": frozenset({"table"}),
    "colgroup": frozenset({"table"}),
    "col": frozenset({"colgroup"}),
    "figcaption": frozenset({"figure"}),
    "legend": frozenset({"fieldset"}),
    "summary": frozenset({"details"}),
    "option": frozenset({"select", "datalist", "optgroup"}),
    "optgroup": frozenset({"select"}),
    "head": frozenset({"html"}),
    "body": frozenset({"html"}),
}
# What the head may hold.
METADATA = _names("base link meta noscript script style template title")
IDREF_ATTRIBUTES = ("aria-labelledby", "aria-describedby")


@dataclass(frozen=True)
class Problem:
    line: int
    column: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.line}:{self.column} [{self.rule}] {self.message}"


@dataclass
class _Open:
    tag: str
    attrs: dict[str, str]
    line: int
    column: int
    foreign: bool  # inside <svg> or <math>: XML rules, none of HTML's content models
    children: list[str] = field(default_factory=list)  # element names, "#text" for text


@dataclass
class _Scope:
    """The document, or the fragment of one ``<template>``: ids live in one of these."""

    ids: dict[str, tuple[int, int]] = field(default_factory=dict)
    references: list[tuple[int, int, str, str, str]] = field(default_factory=list)
    labelable: set[str] = field(default_factory=set)


class HtmlChecker(HTMLParser):
    def __init__(self, *, document: bool = True) -> None:
        super().__init__(convert_charrefs=True)
        self.document = document
        self.problems: list[Problem] = []
        self.stack: list[_Open] = []
        self.scopes: list[_Scope] = [_Scope()]
        self.closed_scopes: list[_Scope] = []
        self.doctype = False
        self.mains = 0
        self.seen_element = False

    # -- reporting ---------------------------------------------------------------------------

    def report(self, rule: str, message: str, where: tuple[int, int] | None = None) -> None:
        line, column = where or self.getpos()
        self.problems.append(Problem(line, column + 1, rule, message))

    # -- the parser's events -----------------------------------------------------------------

    def handle_decl(self, decl: str) -> None:
        if self.seen_element:
            self.report("doctype", "the doctype comes before every element")
        if decl.strip().lower() != "doctype html":
            self.report("doctype", f"the doctype is <!{decl}>, not <!doctype html>")
        self.doctype = True

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        foreign = self._foreign() or tag in ("svg", "math")
        if not foreign and tag not in VOID:
            # In HTML the slash means nothing: <div/> opens a div that never closes.
            self.report(
                "self-closing", f"<{tag}/> is not closed by its slash; write <{tag}></{tag}>"
            )
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.handle_endtag(tag)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.document and not self.doctype and not self.seen_element:
            self.report("doctype", "the document does not start with <!doctype html>")
        self.seen_element = True
        values = self._attributes(tag, attrs)
        foreign = self._foreign() or tag in ("svg", "math")
        parent = self.stack[-1] if self.stack else None
        if parent is not None:
            parent.children.append(tag)
        if not foreign:
            self._check_element(tag, values, parent)
        self._note_ids(tag, values)
        if tag == "template":
            self.scopes.append(_Scope())
        if tag not in VOID:
            line, column = self.getpos()
            self.stack.append(_Open(tag, values, line, column, foreign))

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID and not self._foreign():
            self.report("void-end-tag", f"</{tag}>: <{tag}> is a void element, it has no end tag")
            return
        if not any(open_.tag == tag for open_ in self.stack):
            self.report("stray-end-tag", f"</{tag}> closes nothing: no <{tag}> is open")
            return
        while self.stack:
            open_ = self.stack.pop()
            if open_.tag == tag:
                self._closed(open_)
                return
            self.report(
                "unclosed",
                f"<{open_.tag}> (line {open_.line}) is not closed before </{tag}>",
                (open_.line, open_.column),
            )
            self._closed(open_)

    def handle_data(self, data: str) -> None:
        if not data.strip() or not self.stack:
            if data.strip() and not self.stack and self.document:
                self.report("stray-text", f"text outside <html>: {data.strip()[:40]!r}")
            return
        top = self.stack[-1]
        top.children.append("#text")
        if top.tag in NO_TEXT and not top.foreign:
            self.report("text-in-structure", f"text in <{top.tag}>: {data.strip()[:40]!r}")

    def close(self) -> None:
        super().close()
        for open_ in reversed(self.stack):
            self.report(
                "unclosed",
                f"<{open_.tag}> (line {open_.line}) is never closed",
                (open_.line, open_.column),
            )
        self.stack.clear()
        while len(self.scopes) > 1:
            self.closed_scopes.append(self.scopes.pop())
        self.closed_scopes.append(self.scopes.pop())
        for scope in self.closed_scopes:
            self._resolve(scope)
        self.problems.sort(key=lambda p: (p.line, p.column))

    # -- the rules ---------------------------------------------------------------------------

    def _foreign(self) -> bool:
        return bool(self.stack) and (
            self.stack[-1].foreign or self.stack[-1].tag in ("svg", "math")
        )

    def _attributes(self, tag: str, attrs: list[tuple[str, str | None]]) -> dict[str, str]:
        values: dict[str, str] = {}
        for name, value in attrs:
            if name in values:
                self.report("duplicate-attribute", f"<{tag}> has the attribute {name} twice")
            values[name] = value if value is not None else ""
        return values

    def _ancestors(self) -> list[_Open]:
        """The open elements up to the nearest place where a content model starts afresh."""
        found: list[_Open] = []
        for open_ in reversed(self.stack):
            if open_.tag in CONTEXT_ROOTS:
                break
            found.append(open_)
        return found

    def _check_element(self, tag: str, attrs: dict[str, str], parent: _Open | None) -> None:
        if tag == "html":
            if parent is not None:
                self.report("structure", "<html> inside another element")
            if not attrs.get("lang", "").strip():
                self.report("html-lang", "<html> has no lang")
        elif parent is None and self.document:
            self.report("structure", f"<{tag}> outside <html>")
        in_template = parent is not None and parent.tag == "template"
        in_head = any(open_.tag == "head" for open_ in self.stack)
        if tag in HEAD_ONLY and not in_head and not (tag == "meta" and "itemprop" in attrs):
            self.report("head-only", f"<{tag}> belongs in the head, not in the body")
        if parent is not None and parent.tag == "head" and tag not in METADATA:
            self.report("head-content", f"<{tag}> in the head: only metadata belongs there")
        in_noscript = any(open_.tag == "noscript" for open_ in self.stack)
        if in_head and in_noscript and tag not in ("link", "meta", "style"):
            self.report("head-content", f"<{tag}> in a <noscript> in the head")
        allowed = PARENTS.get(tag)
        if allowed and parent is not None and not in_template and parent.tag not in allowed:
            where = " or ".join(f"<{p}>" for p in sorted(allowed))
            self.report("parent", f"<{tag}> inside <{parent.tag}>: it belongs in {where}")
        if tag == "main":
            self.mains += 1
            if any(o.tag in ("article", "aside", "footer", "header", "nav") for o in self.stack):
                self.report("main", "<main> inside a sectioning or header/footer element")
        if tag == "form" and any(open_.tag == "form" for open_ in self.stack):
            self.report("nested-form", "a <form> inside another <form>")
        if tag == "img" and "alt" not in attrs:
            self.report("img-alt", "<img> without alt")
        if (
            tag == "caption"
            and parent is not None
            and parent.tag == "table"
            and parent.children[:-1]
        ):
            self.report("caption-first", "<caption> is not the first child of its <table>")
        ancestors = self._ancestors()
        if tag not in PHRASING:
            for open_ in ancestors:
                if open_.tag in PHRASING_ONLY and not (
                    open_.tag in ("summary", "legend")
                    and tag in ("h1", "h2", "h3", "h4", "h5", "h6")
                    and open_ is parent
                ):
                    self.report(
                        "phrasing-only",
                        f"<{tag}> inside <{open_.tag}>, which holds phrasing content only",
                    )
                    break
        interactive = (
            tag in INTERACTIVE
            or (tag == "input" and attrs.get("type", "").lower() != "hidden")
            or "tabindex" in attrs
            or (tag in ("audio", "video") and "controls" in attrs)
        )
        if interactive:
            for open_ in ancestors:
                if open_.tag in ("a", "button"):
                    self.report(
                        "interactive-in-interactive",
                        f"<{tag}> inside <{open_.tag}>: interactive content cannot nest",
                    )
                    break

    def _closed(self, open_: _Open) -> None:
        if open_.tag == "template":
            self.closed_scopes.append(self.scopes.pop())
        if open_.foreign:
            return
        children = open_.children
        if open_.tag == "figure" and "figcaption" in children:
            where = (open_.line, open_.column)
            if children.count("figcaption") > 1:
                self.report("figcaption", "a <figure> with more than one <figcaption>", where)
            position = children.index("figcaption")
            if position not in (0, len(children) - 1):
                self.report(
                    "figcaption",
                    "<figcaption> must be the first or last child of its <figure>",
                    where,
                )

    def _note_ids(self, tag: str, attrs: dict[str, str]) -> None:
        scope = self.scopes[-1]
        where = self.getpos()
        if "id" in attrs:
            value = attrs["id"]
            if not value or re.search(r"\s", value):
                self.report("id", f"<{tag} id={value!r}>: an id is not empty and has no spaces")
            elif value in scope.ids:
                first = scope.ids[value][0]
                self.report("duplicate-id", f"id {value!r} is used twice (first on line {first})")
            else:
                scope.ids[value] = where
            if tag in LABELABLE and not (tag == "input" and attrs.get("type") == "hidden"):
                scope.labelable.add(value)
        if tag == "label" and "for" in attrs:
            scope.references.append((*where, "label for", attrs["for"], tag))
        for name in IDREF_ATTRIBUTES:
            for ref in attrs.get(name, "").split() if name in attrs else []:
                scope.references.append((*where, name, ref, tag))
            if name in attrs and not attrs[name].split():
                self.report("idref", f"<{tag} {name}> is empty")

    def _resolve(self, scope: _Scope) -> None:
        for line, column, name, ref, tag in scope.references:
            if ref not in scope.ids:
                self.report(
                    "idref", f"<{tag} {name}={ref!r}>: no element has that id", (line, column)
                )
            elif name == "label for" and ref not in scope.labelable:
                self.report(
                    "idref",
                    f"<label for={ref!r}> points at an element that cannot be labelled",
                    (line, column),
                )


def check_html(text: str, *, document: bool = True) -> list[Problem]:
    """The problems of an HTML text: a whole page, or (``document=False``) a fragment."""
    checker = HtmlChecker(document=document)
    checker.feed(text)
    checker.close()
    problems = checker.problems
    if document and checker.mains != 1:
        problems.append(Problem(1, 1, "main", f"{checker.mains} <main> elements, not one"))
    return problems


def format_problems(problems: list[Problem], where: str = "") -> str:
    lines = [f"{len(problems)} HTML problem(s){f' in {where}' if where else ''}:"]
    lines += [f"- {p}" for p in problems]
    return "\n".join(lines)


def assert_valid_html(text: str, where: str = "") -> None:
    problems = check_html(text)
    assert not problems, format_problems(problems, where)
