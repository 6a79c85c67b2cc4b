"""Announcements to the hall or to the advisors."""

from __future__ import annotations

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
