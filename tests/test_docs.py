"""The documentation tells the truth about the protocol: every action, event and error
code the server knows is in docs/protocol.md."""

from __future__ import annotations

import re
from pathlib import Path

from app.actions import REGISTRY
from app.errors import MESSAGES

ROOT = Path(__file__).resolve().parent.parent
PROTOCOL = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")


def _documented(name: str) -> bool:
    return f"`{name}`" in PROTOCOL


def test_every_action_is_documented() -> None:
    missing = [name for name in REGISTRY if not _documented(name)]
    assert not missing, f"actions missing from docs/protocol.md: {missing}"


def test_every_pushed_event_is_documented() -> None:
    sources = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "app").glob("*.py"))
    pushed = r'(?:publish\([^,]+,\s*|encode\(|conversation_signal\(\s*)"([a-z_]+\.[a-z_]+)"'
    events = set(re.findall(pushed, sources))
    assert events, "found no event names in app/"
    missing = sorted(e for e in events if not _documented(e))
    assert not missing, f"events missing from docs/protocol.md: {missing}"


def test_every_error_code_is_documented() -> None:
    missing = [code for code in MESSAGES if not _documented(code)]
    assert not missing, f"error codes missing from docs/protocol.md: {missing}"
