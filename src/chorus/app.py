"""create_app(): every domain's routers, middleware, error handling and lifecycle."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Router
from litestar.datastructures import CacheControlHeader
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.static_files import create_static_files_router
from redis.asyncio import Redis

from chorus import db, logs, memory, resources
from chorus.accounts import admin_pages as accounts_admin_pages
from chorus.accounts import pages as accounts_pages
from chorus.accounts import routes as accounts_routes
from chorus.authorizations import pages as authorizations_pages
from chorus.authorizations import routes as authorizations_routes
from chorus.cases import pages as cases_pages
from chorus.cases import routes as cases_routes
from chorus.complaints import pages as complaints_pages
from chorus.complaints import routes as complaints_routes
from chorus.evidence import pages as evidence_pages
from chorus.evidence import routes as evidence_routes
from chorus.filings import pages as filings_pages
from chorus.filings import routes as filings_routes
from chorus.freshness import Generation
from chorus.ladder import pages as ladder_pages
from chorus.ladder import routes as ladder_routes
from chorus.merchants import pages as merchants_pages
from chorus.merchants import routes as merchants_routes
from chorus.moderation import pages as moderation_pages
from chorus.moderation import routes as moderation_routes
from chorus.notifications import pages as notifications_pages
from chorus.notifications import routes as notifications_routes
from chorus.notifications.pages import announcements as announcement_pages
from chorus.regulators import pages as regulators_pages
from chorus.regulators import routes as regulators_routes
from chorus.settings import Settings, get_settings
from chorus.web import admin, pages, publiccache, ratelimit
from chorus.web.auth import DEPENDENCIES
from chorus.web.docs import LocalScalarPlugin, LocalSwaggerPlugin
from chorus.web.errorpages import resolve_caller
from chorus.web.health import healthz
from chorus.web.middleware import (
    BodyTypeMiddleware,
    ClientAddressMiddleware,
    DrainUnreadBodyMiddleware,
    IdRangeMiddleware,
    RequestContextMiddleware,
    SessionCSRFMiddleware,
    csrf_config,
    echo_request_id,
    security_headers,
)
from chorus.web.problems import EXCEPTION_HANDLERS, OPENAPI_COMPONENTS
from chorus.web.publiccache import PublicCacheMiddleware

STATIC_DIR = resources.folder("static")


def domain_routers() -> list[Router]:
    """Each domain exposes its own routers; adding a domain adds one line here."""
    return [
        *accounts_routes.routers(),
        *merchants_routes.routers(),
        *cases_routes.routers(),
        *evidence_routes.routers(),
        *regulators_routes.routers(),
        *complaints_routes.routers(),
        *filings_routes.routers(),
        *authorizations_routes.routers(),
        *ladder_routes.routers(),
        *moderation_routes.routers(),
        *notifications_routes.routers(),
    ]


def page_routers() -> list[Router]:
    """Each domain's HTML pages (``<domain>/pages.py``), beside its API routers."""
    return [
        *pages.page_routers(),
        *merchants_pages.page_routers(),
        *accounts_pages.page_routers(),
        *cases_pages.page_routers(),
        *evidence_pages.page_routers(),
        *notifications_pages.page_routers(),
        *complaints_pages.page_routers(),
        *announcement_pages.page_routers(),
        *moderation_pages.page_routers(),
        *regulators_pages.page_routers(),
        *admin.page_routers(),  # the admins' desk (/admin)
        *accounts_admin_pages.page_routers(),  # staff roles (/admin/users)
        *filings_pages.page_routers(),
        *authorizations_pages.page_routers(),
        *ladder_pages.page_routers(),
    ]


_frozen = False


def freeze_startup_objects() -> None:
    """What the first start-up made (modules, routes, templates, pools) lives as long as the
    process: frozen out of the collector's sight, the full collections a large complaint build
    triggers walk only what the build makes; and young collections every 50,000 new containers
    instead of 700 (most are freed by then) keep a 10,000-member build as fast as with the
    collector paused, which a request must not do process-wide. Once per process: an app started
    again in the same process (the tests) must not freeze what its last run left behind."""
    global _frozen
    if _frozen:
        return
    _frozen = True
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    logs.configure(settings)
    memory.map_large_blocks()  # each web process (uvicorn's workers make the app here)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # What holds connections or counts is made here, for this run of the app, and let go at
        # its end: the app object itself holds only routes and configuration.
        redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
        generation = Generation(redis)  # raised by this process's commits; the public cache reads it
        app.state["redis"] = redis
        ratelimit.install(app.state, settings, redis)
        publiccache.install(app.state, redis, generation, settings.public_cache_seconds)
        db.configure(settings)  # this app's database, whatever the environment says
        await db.start(settings)
        generation.watch()
        try:
            await db.check_migrations()
            freeze_startup_objects()
            async with generation.reading():
                yield
        finally:
            generation.unwatch()
            await db.stop(settings)
            if redis is not None:
                await redis.aclose()

    csrf = csrf_config(settings.signing_key(), settings.cookies_secure)
    access = logs.AccessLog(settings)
    trusted = settings.trusted_proxy_networks
    state: dict[str, Any] = {"redis": None, "settings": settings}
    handlers: list[Any] = [healthz, *domain_routers(), *page_routers()]
    if STATIC_DIR.is_dir():
        handlers.append(
            create_static_files_router(
                path="/static",
                directories=[STATIC_DIR],
                include_in_schema=False,
                name="static",
                # our own CSS and JS change with the code: browsers check before using a copy
                cache_control=CacheControlHeader(no_cache=True),
            )
        )
        handlers.append(
            create_static_files_router(
                path="/static/vendor",
                directories=[STATIC_DIR / "vendor"],
                include_in_schema=False,
                name="static/vendor",
                # pinned copies change only with an upgrade (static/vendor/README.md): a week
                cache_control=CacheControlHeader(max_age=7 * 24 * 3600, public=True),
            )
        )
    return Litestar(
        route_handlers=handlers,
        lifespan=[lifespan],
        dependencies={"settings": Provide(lambda: settings, sync_to_thread=False), **DEPENDENCIES},
        exception_handlers=EXCEPTION_HANDLERS,
        after_exception=[resolve_caller],  # an error page knows who is signed in
        before_send=[echo_request_id, security_headers(settings)],
        middleware=[
            DrainUnreadBodyMiddleware,  # outermost: an early answer waits for the body to be read
            lambda app: ClientAddressMiddleware(app, trusted),  # first: every later layer sees it
            lambda app: RequestContextMiddleware(app, access),
            BodyTypeMiddleware,
            lambda app: SessionCSRFMiddleware(app, csrf),
            PublicCacheMiddleware,  # after the CSRF check: a cached page gets the caller's token
            IdRangeMiddleware,  # last, before the guards: they may look the ids up
        ],
        state=state,  # type: ignore[arg-type]
        template_config=pages.template_config(),
        openapi_config=OpenAPIConfig(
            title="Chorus API",
            version="1",
            path="/schema",
            components=OPENAPI_COMPONENTS,  # the bearer scheme; errors are documented per route
            # vendored copies under static/vendor/, no CDN
            render_plugins=[LocalScalarPlugin(path="/"), LocalSwaggerPlugin(path="/swagger")],
        ),
        request_max_body_size=1024 * 1024,  # JSON bodies; uploads stream under their own limit
        logging_config=None,  # chorus.logs configures logging (structured, one format)
        debug=False,
    )
