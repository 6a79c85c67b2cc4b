"""The ASGI application: routes, middleware and the lifespan that owns all resources."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import Mount, WebSocketRoute
from starlette.types import ASGIApp

from app.core.config import Settings, load_settings
from app.domain.event import ensure_event, load_event
from app.domain.mail_delivery import LEASE as MAIL_LEASE
from app.domain.mail_delivery import MailDelivery, SmtpServer
from app.domain.presence import Presence
from app.domain.privacy import RetentionJob
from app.live.deadlines import LEASE, Deadlines
from app.live.hall_feed import HallFeed
from app.live.hub import Hub, MemoryHub
from app.live.metrics import Metrics
from app.live.publish import DEADLINES_WAKE, Live
from app.live.resources import Resources
from app.storage.db import Database
from app.storage.leases import Lease
from app.web.assets import HashedStaticFiles, Manifest
from app.web.health import Health
from app.web.metrics_endpoint import routes as metrics_routes
from app.web.middleware import AllowedHosts, BodyLimit, CsrfGuard, Language, SecurityHeaders
from app.web.pages import routes as web_routes
from app.web.pages.errors import exception_handlers, form_token_refused, too_large
from app.web.socket import hall_socket
from app.web.templating import make_templates

log = logging.getLogger("inzoomen")

SESSION_COOKIE = "inzoomen_session"
SESSION_MAX_AGE = 12 * 60 * 60


# Below this a compressed answer saves less than its own headers cost. Level 6 is gzip's
# usual balance: pages are made per request, so level 9's last percent is not worth its CPU.
COMPRESS_FROM_BYTES = 500
COMPRESS_LEVEL = 6


class Hall(Starlette):
    """The app, with security headers outside everything, so that the page of an unexpected
    exception (``server_error``, run by Starlette's outermost middleware) carries them too."""

    # The inline scripts every page may run (the import map), by their SHA-256.
    script_hashes: tuple[str, ...] = ()

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack(), self.script_hashes)


def create_app(settings: Settings, clock: Callable[[], float] = time.time) -> Starlette:
    settings.check()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        db = await Database.open(settings.database)
        await ensure_event(db)
        event = await load_event(db)
        hub: Hub
        lease: Lease | None = None
        if settings.redis_url:
            from app.live.redis_hub import RedisHub

            hub = redis_hub = RedisHub(settings.redis_url, settings.redis_prefix)
            lease = Lease(db, LEASE, clock)
        else:
            hub = MemoryHub()
        metrics = Metrics()
        feed = HallFeed(hub.local, observe=metrics.observe_broadcast, clock=clock)
        live = Live(db, hub, clock, settings.hall_push_seconds, feed)
        deadlines = Deadlines(db, live, clock, lease, settings.grace_seconds)
        presence = Presence(db, clock, settings.grace_seconds, on_change=live.deadlines_moved)
        hub.listen(DEADLINES_WAKE, lambda _event, _data: deadlines.wake())
        if settings.redis_url:

            async def resync() -> None:
                await live.refresh_hall()
                hub.local.end_all()

            redis_hub.set_on_gap(resync)
        await hub.start()
        await live.refresh_hall()
        await presence.start()
        app.state.resources = Resources(
            settings, db, hub, live, deadlines, clock, metrics, presence
        )
        app.state.health = Health(db, hub, redis_configured=settings.redis_url is not None)
        app.state.templates = make_templates(settings.templates_dir, event.timezone, manifest)
        app.state.templates.env.globals["retention_days"] = settings.retention_days
        retention = RetentionJob(
            db,
            live,
            clock,
            days=settings.retention_days,
            wrap_up_seconds=settings.wrap_up_seconds,
        )
        mail_delivery = MailDelivery(
            db,
            clock,
            SmtpServer.from_settings(settings),
            settings.mail_from,
            Lease(db, MAIL_LEASE, clock) if settings.redis_url else None,
        )
        tasks = [
            asyncio.create_task(deadlines.run(), name="deadlines"),
            asyncio.create_task(mail_delivery.run(), name="mail"),
            asyncio.create_task(live.run(), name="live"),
            asyncio.create_task(feed.run(), name="hall-feed"),
            asyncio.create_task(presence.run(), name="presence"),
            asyncio.create_task(retention.run(), name="retention"),
        ]
        log.info("hall ready: %s", event.name)
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await hub.close()
            await db.close()

    # Read before the first request: a page and the static files it names share one manifest.
    manifest = Manifest.of(settings.static_dir)
    routes = [
        *web_routes,
        *metrics_routes,
        WebSocketRoute("/ws", hall_socket),
        Mount(
            "/static",
            HashedStaticFiles(directory=settings.static_dir, manifest=manifest),
            name="static",
        ),
    ]
    middleware = [
        # Before anything reads the Host header: only the hall's own names are answered.
        Middleware(AllowedHosts, hosts=settings.hosts),
        # Text answers (pages, style sheets, scripts, JSON) travel compressed; what is
        # compressed already (the PDF, images) is left alone. WebSockets never pass here.
        Middleware(
            GZipMiddleware,
            minimum_size=COMPRESS_FROM_BYTES,
            compresslevel=COMPRESS_LEVEL,
            exclude_content_types=(*DEFAULT_EXCLUDED_CONTENT_TYPES, "application/pdf"),
        ),
        Middleware(Language),
        Middleware(
            SessionMiddleware,
            secret_key=settings.secret_key,
            session_cookie=SESSION_COOKIE,
            max_age=SESSION_MAX_AGE,
            same_site="lax",
            https_only=settings.https_only_cookies,
        ),
        # Inside the session and the language: the 413 page speaks to the visitor.
        Middleware(BodyLimit, max_bytes=settings.max_body_bytes, refuse=too_large),
        # Inside the body limit (the body it reads is bounded) and the session (whose token
        # it compares): no form reaches a page without this browser's token.
        Middleware(CsrfGuard, routes=routes, refuse=form_token_refused),
    ]
    hall = Hall(
        routes=routes,
        middleware=middleware,
        lifespan=lifespan,
        # Pages for 404, 405 and 500 in the visitor's language (app/web/pages/errors.py).
        exception_handlers=exception_handlers,
    )
    hall.script_hashes = (manifest.import_map_hash(),)
    return hall


def app_from_environment() -> Starlette:
    """The app of one worker process, configured from the environment."""
    return create_app(load_settings())
