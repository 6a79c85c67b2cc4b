"""The architecture as rules a change cannot break unnoticed.

- Layers: a module under ``app/`` imports only from its own layer or the layers below it
  (docs/architecture.md draws them). Read from the source with ``ast``, so an import inside
  a function or under ``TYPE_CHECKING`` counts too.
- Roles: every route that changes something (any method but GET and HEAD) declares who may
  use it (``app.web.pages.guards.requires_role`` or ``anyone``), so no form can be added without
  saying so.
- Topics: hub topic strings are built in the live layer only.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from starlette.routing import Mount, Route

from app.web.pages import routes as page_routes
from app.web.pages.guards import roles_of

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app"
# Bottom to top. The command line (app/*.py) stands above them all.
LAYERS = ("core", "storage", "domain", "live", "commands", "web")
TOP = len(LAYERS)


def layer_of(module: str) -> int:
    parts = module.split(".")
    if parts[0] != "app":
        raise ValueError(module)
    if len(parts) > 1 and parts[1] in LAYERS:
        return LAYERS.index(parts[1])
    return TOP


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import of the hall's own modules in this file."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "app":
                found += [(node.lineno, f"app.{alias.name}") for alias in node.names]
            elif node.module.startswith("app."):
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("app.")]
    return found


def upward_imports(root: Path) -> list[str]:
    wrong = []
    for path in sorted(root.rglob("*.py")):
        here = module_name(path)
        for line, imported in imports_of(path):
            if layer_of(imported) > layer_of(here):
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {imported}")
    return wrong


def test_every_module_sits_in_a_layer() -> None:
    loose = sorted(p.name for p in APP.glob("*.py"))
    assert loose == ["__init__.py", "__main__.py", "cli.py", "demo.py", "preflight.py"]
    folders = sorted(p.name for p in APP.iterdir() if p.is_dir() and p.name != "__pycache__")
    assert set(LAYERS) <= set(folders)
    assert set(folders) - set(LAYERS) == {"fonts", "locale"}  # data, not code


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    wrong = upward_imports(APP)
    assert not wrong, "imports from a higher layer:\n  " + "\n  ".join(wrong)


def test_the_layer_rule_finds_an_upward_import(tmp_path: Path) -> None:
    """The rule above is not vacuous: a domain module that reaches for the web is caught."""
    domain = tmp_path / "app" / "domain"
    domain.mkdir(parents=True)
    (domain / "bad.py").write_text("from app.web.auth import csrf_token\n", encoding="utf-8")
    (domain / "good.py").write_text("from app.storage.db import Database\n", encoding="utf-8")
    found = []
    for path in sorted(domain.glob("*.py")):
        here = ".".join(path.relative_to(tmp_path).with_suffix("").parts)
        found += [m for _, m in imports_of(path) if layer_of(m) > layer_of(here)]
    assert found == ["app.web.auth"]


def _routes() -> list[Route]:
    flat: list[Route] = []
    for route in page_routes:
        if isinstance(route, Route):
            flat.append(route)
        elif isinstance(route, Mount):
            flat += [r for r in route.routes if isinstance(r, Route)]
    return flat


def test_every_route_that_changes_something_declares_its_roles() -> None:
    changing = [r for r in _routes() if (r.methods or set()) - {"GET", "HEAD"}]
    assert len(changing) >= 40
    undeclared = [
        f"{sorted(r.methods or ())} {r.path}" for r in changing if not roles_of(r.endpoint)
    ]
    assert not undeclared, "routes without declared roles:\n  " + "\n  ".join(undeclared)


@pytest.mark.parametrize(
    ("path", "roles"),
    [
        ("/beheer/stands", {"moderator"}),
        ("/adviseur/accepteren", {"advisor"}),
        ("/mijn-verzoek/annuleren", {"candidate"}),
        ("/inloggen", {"anonymous", "candidate", "advisor", "moderator"}),
    ],
)
def test_declared_roles_are_what_the_pages_allow(path: str, roles: set[str]) -> None:
    found = [r for r in _routes() if r.path == path and "POST" in (r.methods or ())]
    assert len(found) == 1 and roles_of(found[0].endpoint) == roles


TOPIC = re.compile(r"""f["'](candidate|staff|booth):\{""")


def test_hub_topics_are_built_in_the_live_layer_only() -> None:
    """Topic names (``app.live.topics``) and publishing to the hub belong to the live
    layer: elsewhere ``booth:{id}`` is an audit subject, never a hub topic."""
    outside = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in sorted(APP.rglob("*.py"))
        if path.relative_to(APP).parts[0] != "live"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if (TOPIC.search(line) and re.search(r"hub|topic|publish", line, re.I))
        or re.search(r"\bhub\.publish\(|def \w*topic", line)
    ]
    assert not outside, "hub topics outside app/live:\n  " + "\n  ".join(outside)
