"""The documentation tells the truth: every action, event and error code the server knows
is in docs/protocol.md; every option of the ``inzoomen`` command and every environment
variable the app reads is in docs/operations.md; the README stays short and every relative
link in the docs leads to a file that exists."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from app.cli import parser
from app.commands.actions import REGISTRY
from app.core.errors import MESSAGES

ROOT = Path(__file__).resolve().parent.parent
PROTOCOL = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
OPERATIONS = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")
# Read by the server or set for it by the platform, outside the INZOOMEN_ prefix.
PLATFORM_VARIABLES = ("WEB_CONCURRENCY", "PORT")


def _documented(name: str) -> bool:
    return f"`{name}`" in PROTOCOL


def test_every_action_is_documented() -> None:
    missing = [name for name in REGISTRY if not _documented(name)]
    assert not missing, f"actions missing from docs/protocol.md: {missing}"


def test_every_pushed_event_is_documented() -> None:
    sources = "\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "app").rglob("*.py")))
    pushed = r'(?:publish\([^,]+,\s*|encode\(|conversation_signal\(\s*)"([a-z_]+\.[a-z_]+)"'
    events = set(re.findall(pushed, sources))
    assert events, "found no event names in app/"
    missing = sorted(e for e in events if not _documented(e))
    assert not missing, f"events missing from docs/protocol.md: {missing}"


def test_every_error_code_is_documented() -> None:
    missing = [code for code in MESSAGES if not _documented(code)]
    assert not missing, f"error codes missing from docs/protocol.md: {missing}"


def _code_spans(markdown: str) -> list[str]:
    """The text of every inline `code` span (fenced blocks are left out)."""
    prose = re.sub(r"^```.*?^```", "", markdown, flags=re.MULTILINE | re.DOTALL)
    return re.findall(r"`([^`\n]+)`", prose)


def _has_token(span: str, token: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(token)}(?![\w-])", span) is not None


def _options(p: argparse.ArgumentParser) -> list[str]:
    return [
        option
        for action in p._actions
        for option in action.option_strings
        if option not in ("-h", "--help")
    ]


def _subcommands(p: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def test_every_command_option_is_in_operations() -> None:
    top = parser()
    commands = _subcommands(top)
    assert {"serve", "migrate", "create-user", "backup", "retention"} <= set(commands)
    spans = _code_spans(OPERATIONS)
    missing = []
    for option in _options(top):
        if not any(_has_token(s, option) for s in spans if s.startswith("inzoomen ")):
            missing.append(f"inzoomen {option}")
    for name, sub in commands.items():
        # Each command's synopsis, `inzoomen NAME [...]`, names every option it takes.
        synopses = [s for s in spans if _has_token(s, f"inzoomen {name}")]
        if not synopses:
            missing.append(f"inzoomen {name}")
        missing += [
            f"inzoomen {name} {option}"
            for option in _options(sub)
            if not any(_has_token(s, option) for s in synopses)
        ]
    assert not missing, f"missing from docs/operations.md: {missing}"


def test_every_environment_variable_is_in_operations() -> None:
    sources = "\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "app").rglob("*.py")))
    variables = set(re.findall(r"INZOOMEN_[A-Z_]+", sources)) | set(PLATFORM_VARIABLES)
    assert "INZOOMEN_SECRET_KEY" in variables
    spans = set(_code_spans(OPERATIONS))
    missing = sorted(v for v in variables if v not in spans)
    assert not missing, f"environment variables missing from docs/operations.md: {missing}"


def test_readme_is_short_and_names_the_two_commands() -> None:
    lines = README.splitlines()
    assert len(lines) <= 160, f"README.md has {len(lines)} lines; the guides in docs/ hold more"
    assert "scripts/demo" in README
    assert "scripts/test" in README


def _relative_links(markdown: str) -> list[str]:
    prose = re.sub(r"^```.*?^```", "", markdown, flags=re.MULTILINE | re.DOTALL)
    prose = re.sub(r"`[^`\n]*`", "", prose)
    targets = re.findall(r"\]\(([^)\s]+)\)", prose)
    return [t for t in targets if not re.match(r"[a-z][a-z0-9+.-]*:", t)]


def _anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives the headings: lower case, punctuation dropped, spaces as
    hyphens, a repeated one numbered."""
    prose = re.sub(r"^```.*?^```", "", markdown, flags=re.MULTILINE | re.DOTALL)
    seen: dict[str, int] = {}
    anchors = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*$", prose, flags=re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def test_every_relative_link_leads_to_a_file() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    assert len(pages) > 5
    broken = []
    for page in pages:
        for target in _relative_links(page.read_text(encoding="utf-8")):
            name, _, anchor = target.partition("#")
            path = (page.parent / name).resolve() if name else page
            if not path.is_file():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
            elif (
                anchor
                and path.suffix == ".md"
                and anchor not in _anchors(path.read_text(encoding="utf-8"))
            ):
                broken.append(f"{page.relative_to(ROOT)} -> {target} (no such heading)")
    assert not broken, f"links that lead nowhere: {broken}"
