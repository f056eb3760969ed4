"""The ASGI application (`uvicorn app.main:app`): wires settings, database, scheduler and routes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import console
from app.api.auth_gate import AuthGateMiddleware
from app.api.body_limit import BodyLimitMiddleware
from app.api.error_handlers import install_error_handlers
from app.api.guards import RejectNulQueryMiddleware
from app.api.observability import ObservedFastAPI
from app.api.openapi import TAGS, operation_id, service_version
from app.api.router import api_router
from app.classy.tls import warm_up
from app.db.embedded import release_embedded
from app.db.migrate import upgrade_to_head
from app.db.pools import create_engines
from app.db.session import create_sessionmaker
from app.db.url import resolve_database_url
from app.gc_tuning import freeze_startup_objects
from app.logging import configure_logging
from app.malloc_arenas import use_one_malloc_arena
from app.metrics import record_build_info
from app.runtime import Runtime
from app.security.crypto import Encryptor
from app.settings import ConfigurationError, Settings, get_settings
from app.sync.runner import build_scheduler

logger = logging.getLogger(__name__)


def _load_settings(settings: Settings | None) -> tuple[Settings, list[tuple[str, bytes]]]:
    """The settings and key ring, or a refusal to start logged as its one sentence (API.md §3)."""
    try:
        config = settings or get_settings()
        return config, config.encryption_key_ring()
    except ConfigurationError as exc:
        configure_logging()
        logger.critical("classy-sync refuses to start: %s", exc)
        raise


def create_app(settings: Settings | None = None, *, migrate: bool = True) -> FastAPI:
    """Build the service; the lifespan opens the database and runs the scheduler.

    Migrations run at start-up when `migrate` and `MIGRATE_ON_START` are both true (the image runs
    them once per start, not also in its command).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        config, key_ring = _load_settings(settings)
        configure_logging(config.log_level)
        record_build_info()
        if config.is_dev:
            logger.warning(
                "APP_ENV=%s: development mode (generated secrets, embedded Postgres allowed); "
                "set APP_ENV=production for a real deployment",
                config.app_env,
            )
        url = await asyncio.to_thread(resolve_database_url, config)
        if migrate and config.migrate_on_start:
            await asyncio.to_thread(upgrade_to_head, url)
        await asyncio.to_thread(warm_up)
        engine, sync_engine = create_engines(url, config)
        sessionmaker = create_sessionmaker(engine)
        encryptor = Encryptor(key_ring)
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
        # The sync's pool is used, and so closed, on the scheduler's loop.
        runtime.scheduler.on_shutdown(sync_engine.dispose)
        if config.sync_own_thread:
            use_one_malloc_arena()  # before the scheduler's thread allocates anything
        await runtime.scheduler.start()
        freeze_startup_objects()
        logger.info("classy-sync started", extra={"worker": runtime.scheduler.worker_id})
        try:
            yield
        finally:
            await runtime.scheduler.stop(config.shutdown_grace_seconds)
            await engine.dispose()
            await sync_engine.dispose()
            if not config.database_url:
                await asyncio.to_thread(release_embedded, config.data_dir)
            logger.info("classy-sync stopped")

    app = ObservedFastAPI(
        title="classy-sync",
        version=service_version(),
        description="Connects a CRM to Classy (GoFundMe Pro): lifecycle API, sync status and synced data.",
        openapi_tags=TAGS,
        generate_unique_id_function=operation_id,
        lifespan=lifespan,
        docs_url=None,  # served from local assets by app.api.docs
    )
    install_error_handlers(app)
    app.add_middleware(RejectNulQueryMiddleware)
    app.add_middleware(AuthGateMiddleware)  # 401/403 before the query guard and the body parser
    app.add_middleware(BodyLimitMiddleware)  # 1 MB, refused while reading, before any parsing
    app.include_router(api_router)
    app.include_router(console.router)  # the admin console (/console), not in OpenAPI
    return app


app = create_app()
