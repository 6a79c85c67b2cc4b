"""Reports: CSV exports and the printable post-event report."""

from __future__ import annotations

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
