"""Inzoomen: a live virtual event hall for short career conversations."""

from __future__ import annotations


def version() -> str:
    """The installed version of the "inzoomen" distribution, so ``inzoomen --version`` and
    the logs say which release runs; a source tree that was never installed reads it from
    pyproject.toml, and anything else says "unknown" rather than failing to start."""
    from importlib import metadata

    try:
        return metadata.version("inzoomen")
    except metadata.PackageNotFoundError:
        pass
    import tomllib
    from pathlib import Path

    try:
        with (Path(__file__).resolve().parent.parent / "pyproject.toml").open("rb") as file:
            project = tomllib.load(file).get("project", {})
    except (OSError, tomllib.TOMLDecodeError):
        return "unknown"
    found = project.get("version")
    return found if isinstance(found, str) else "unknown"
