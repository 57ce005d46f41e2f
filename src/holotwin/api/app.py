"""The FastAPI application: routes, problem+json errors, auth, and the change-feed wiring."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, FastAPI
from starlette.responses import JSONResponse

from holotwin import __version__
from holotwin.api.deps import ApiSettings, authorize
from holotwin.api.problems import install_problem_handlers
from holotwin.api.routes import (
    alerts,
    behaviors,
    events,
    ingest,
    kpis,
    models,
    optimizations,
    query,
    relationships,
    scenarios,
    telemetry,
    twins,
)
from holotwin.ingest.notify import AlertNotifier
from holotwin.service import ApiKeys, TwinService
from holotwin.service.analytics import AnalyticsEngine
from holotwin.service.kpi_reports import KpiReports
from holotwin.service.tracker import BehaviorTracker, LogFollower

if TYPE_CHECKING:
    from holotwin.ingest import Ingestion

__all__ = ["create_app"]


def create_app(service: TwinService, settings: ApiSettings | None = None,
               ingestion: Ingestion | None = None, *, track_behaviors: bool = True,
               analytics: bool = True) -> FastAPI:
    """Build the ASGI app around a service. The caller owns the service (and closes it).

    ``ingestion`` (connectors and their pipeline) is started with the app and stopped when it
    shuts down, before the service is closed by its owner. With ``track_behaviors`` a
    :class:`~holotwin.service.tracker.BehaviorTracker` keeps the estimates of twins with a
    behavior binding in step with their telemetry while the app runs. With ``analytics`` an
    :class:`~holotwin.service.analytics.AnalyticsEngine` runs the anomaly detectors and rules
    and an :class:`~holotwin.ingest.notify.AlertNotifier` delivers alerts to the alert sinks,
    each while this server holds its lease in the store (one server per store does; the
    others stand by). ``GET /health`` shows these workers' status.
    """
    tracker = BehaviorTracker(service) if track_behaviors else None
    followers: list[LogFollower] = [f for f in (tracker,) if f is not None]
    if analytics:
        followers += [AnalyticsEngine(service), AlertNotifier(service)]
    kpi_reports = KpiReports(service)  # kept fresh for dashboards (?maxAge=)
    followers.append(kpi_reports)
    settings = settings or ApiSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        broadcaster = events.FeedBroadcaster(asyncio.get_running_loop())
        app.state.broadcaster = broadcaster
        service.add_listener(broadcaster.notify)
        try:
            for follower in followers:
                await asyncio.to_thread(follower.start)
            if ingestion is not None:
                # paho connects in its own thread; starting only spawns it
                await asyncio.to_thread(ingestion.start)
            yield
        finally:
            if ingestion is not None:
                await asyncio.to_thread(ingestion.stop)
            for follower in followers:
                await asyncio.to_thread(follower.stop)
            service.remove_listener(broadcaster.notify)

    app = FastAPI(
        title="holotwin",
        version=__version__,
        description="Live digital twins: an Azure Digital Twins compatible data plane, plus "
        "telemetry history, twin history and a change feed.",
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.ingestion = ingestion
    app.state.tracker = tracker
    app.state.followers = followers
    app.state.kpi_reports = kpi_reports
    app.state.settings = settings
    app.state.keys = ApiKeys(service.store, service.clock)
    app.state.key_cache = {}
    install_problem_handlers(app)

    api = APIRouter(dependencies=[Depends(authorize)])
    for module in (models, behaviors, alerts, scenarios, optimizations, twins, relationships, telemetry,
                   query, events, ingest, kpis):
        api.include_router(module.router)
    app.include_router(api)

    from holotwin.web import install_dashboard  # the edge above the API, not below it

    install_dashboard(app)

    @app.get("/health", include_in_schema=False)
    async def health() -> JSONResponse:
        # the background workers as they last saw themselves (no store access): rounds, the
        # last error, and for analytics and alerts whether this server holds their lease
        workers = {f.task.removeprefix("holotwin-"): f.status() for f in followers}
        return JSONResponse({"status": "ok", "version": __version__, "workers": workers})

    return app
