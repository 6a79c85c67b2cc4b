"""The moderator steps in: open and close, move, end, block; the audit log."""

from __future__ import annotations

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
