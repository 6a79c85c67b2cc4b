"""HTTP pages and forms. Every page renders on first paint without scripts; scripts then
keep it live over the WebSocket. Forms are thin adapters over ``actions.perform``.
One module per audience; ``routes`` is every page route of the hall.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from app.web.pages import (
    admin,
    announcements,
    attendance,
    call,
    candidate,
    conversation,
    dashboard,
    followups,
    hall,
    info,
    moderator,
    outbox,
    privacy,
    reports,
    staff,
)

routes: list[BaseRoute] = [
    *hall.routes,
    *candidate.routes,
    # Before the console's forms (/adviseur/{form}), which would take its posts.
    *followups.routes,
    *staff.routes,
    *conversation.routes,
    *info.routes,
    *privacy.routes,
    *dashboard.routes,
    *moderator.routes,
    *announcements.routes,
    *admin.routes,
    *reports.routes,
    *outbox.routes,
    *attendance.routes,
    *call.routes,
]
