# classy-sync production image (API.md §1, §3 Operations).
#
# Two stages: `build` installs exactly the dependencies pinned in uv.lock into a virtualenv; the runtime
# stage carries only that virtualenv, the `app` package, the migrations and alembic.ini: no sandbox,
# tests, bench, uv or caches, and no embedded Postgres (an extra left out here: production always sets
# DATABASE_URL and refuses to start without it). Runs as a non-root user.
#
# Migrations run once per start, in the service's lifespan (MIGRATE_ON_START=true, the default here);
# the command does not run them again. With several replicas, set MIGRATE_ON_START=false and run
# `alembic upgrade head` once per release instead (README, "Running in production").
#
#   docker build --build-arg BUILD_COMMIT=$(git rev-parse --short HEAD) -t classy-sync .
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_PROJECT_ENVIRONMENT=/opt/venv UV_NO_CACHE=1 UV_PYTHON_DOWNLOADS=never
WORKDIR /src
COPY pyproject.toml uv.lock README.md ./
COPY app ./app
# Exactly the versions in uv.lock, no extras (no dev tools, no embedded Postgres). The project is
# installed for its metadata (version); the runtime stage imports its source from /srv/classy-sync
# (PYTHONPATH), beside migrations/ and alembic.ini, where the lifespan's migration runner finds them.
RUN pip install --no-compile "uv==0.13.9" \
 && uv sync --frozen --no-editable

FROM ${PYTHON_IMAGE} AS runtime
ARG BUILD_COMMIT=unknown
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH PYTHONPATH=/srv/classy-sync \
    APP_ENV=production MIGRATE_ON_START=true BUILD_COMMIT=${BUILD_COMMIT}
RUN useradd --create-home --uid 10001 classy
WORKDIR /srv/classy-sync
COPY --from=build /opt/venv /opt/venv
COPY app ./app
COPY migrations ./migrations
COPY alembic.ini ./

USER classy
EXPOSE 8000
# Liveness only (the process answers); /readyz (database and scheduler) is for the orchestrator's
# readiness probe, so a database outage does not get every replica restarted.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"]
# DATABASE_URL, JWT_SECRET (32+ bytes) and ENCRYPTION_KEYS come from the environment (.env.example).
# SIGTERM: uvicorn finishes open requests for up to 3 s, then the scheduler lets running syncs reach
# a checkpoint for up to SHUTDOWN_GRACE_SECONDS (5 s): the whole stop fits Docker's default 10 s.
STOPSIGNAL SIGTERM
CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000", "--proxy-headers", "--timeout-graceful-shutdown", "3"]
