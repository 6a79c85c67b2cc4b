"""Administration: the event, booths, staff and schedule, through forms."""

from __future__ import annotations

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
