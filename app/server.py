"""The ASGI application: routes, middleware and the lifespan that owns all resources."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import Mount, WebSocketRoute
from starlette.staticfiles import StaticFiles

from app.config import Settings
from app.db import Database
from app.deadlines import Deadlines
from app.event import ensure_event, load_event
from app.hub import MemoryHub
from app.live import Live
from app.middleware import Language, SecurityHeaders
from app.resources import Resources
from app.templating import make_templates
from app.web import routes as web_routes
from app.ws import hall_socket

log = logging.getLogger("inzoomen")

SESSION_COOKIE = "inzoomen_session"
SESSION_MAX_AGE = 12 * 60 * 60


def create_app(settings: Settings, clock: Callable[[], float] = time.time) -> Starlette:
    settings.check()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        db = await Database.open(settings.database_path)
        await ensure_event(db)
        event = await load_event(db)
        hub = MemoryHub()
        live = Live(db, hub, clock)
        deadlines = Deadlines(db, live, clock)
        app.state.resources = Resources(settings, db, hub, live, deadlines, clock)
        app.state.templates = make_templates(settings.templates_dir, event.timezone)
        timers = asyncio.create_task(deadlines.run(), name="deadlines")
        log.info("hall ready: %s", event.name)
        try:
            yield
        finally:
            timers.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timers
            await db.close()

    routes = [
        *web_routes,
        WebSocketRoute("/ws", hall_socket),
        Mount("/static", StaticFiles(directory=settings.static_dir), name="static"),
    ]
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(Language),
        Middleware(
            SessionMiddleware,
            secret_key=settings.secret_key,
            session_cookie=SESSION_COOKIE,
            max_age=SESSION_MAX_AGE,
            same_site="lax",
            https_only=settings.https_only_cookies,
        ),
    ]
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
