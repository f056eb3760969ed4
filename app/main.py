"""The ASGI application (`uvicorn app.main:app`): wires settings, database, scheduler and routes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from starlette.middleware.base import RequestResponseEndpoint

from app import console
from app.api.error_handlers import install_error_handlers
from app.api.guards import RejectNulQueryMiddleware
from app.api.openapi import TAGS, operation_id, service_version
from app.api.router import api_router
from app.db.embedded import release_embedded
from app.db.migrate import upgrade_to_head
from app.db.pools import create_engines
from app.db.session import create_sessionmaker
from app.db.url import resolve_database_url
from app.logging import configure_logging
from app.metrics import HTTP_REQUESTS
from app.runtime import Runtime
from app.security.crypto import Encryptor
from app.settings import Settings, get_settings
from app.sync.runner import build_scheduler

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, migrate: bool = True) -> FastAPI:
    """Build the service; the lifespan opens the database and runs the scheduler."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        config = settings or get_settings()
        configure_logging(config.log_level)
        url = await asyncio.to_thread(resolve_database_url, config)
        if migrate:
            await asyncio.to_thread(upgrade_to_head, url)
        engine, sync_engine = create_engines(url, config)
        sessionmaker = create_sessionmaker(engine)
        encryptor = Encryptor(config.encryption_key_ring())
        runtime = Runtime(
            settings=config,
            engine=engine,
            sessionmaker=sessionmaker,
            encryptor=encryptor,
            scheduler=build_scheduler(config, create_sessionmaker(sync_engine), encryptor),
            jwt_secret=config.jwt_secret_value(),
            sync_engine=sync_engine,
        )
        app.state.runtime = runtime
        await runtime.scheduler.start()
        logger.info("classy-sync started", extra={"worker": runtime.scheduler.worker_id})
        try:
            yield
        finally:
            await runtime.scheduler.stop()
            await engine.dispose()
            await sync_engine.dispose()
            if not config.database_url:
                await asyncio.to_thread(release_embedded, config.data_dir)
            logger.info("classy-sync stopped")

    app = FastAPI(
        title="classy-sync",
        version=service_version(),
        description="Connects a CRM to Classy (GoFundMe Pro): lifecycle API, sync status and synced data.",
        openapi_tags=TAGS,
        generate_unique_id_function=operation_id,
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.add_middleware(RejectNulQueryMiddleware)
    app.include_router(api_router)
    app.include_router(console.router)  # the admin console (/console), not in OpenAPI

    @app.middleware("http")
    async def count_requests(request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        HTTP_REQUESTS.labels(request.method, template, str(response.status_code)).inc()
        return response

    return app


app = create_app()
