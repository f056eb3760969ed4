# classy-sync: runs migrations, then the API and its in-process scheduler, as a non-root user.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 APP_ENV=production \
    UV_PROJECT_ENVIRONMENT=/srv/classy-sync/.venv UV_PYTHON_DOWNLOADS=never PATH=/srv/classy-sync/.venv/bin:$PATH
WORKDIR /srv/classy-sync

RUN useradd --create-home --uid 10001 classy
COPY pyproject.toml uv.lock README.md ./
COPY app ./app
COPY migrations ./migrations
COPY alembic.ini ./
# Exactly the versions in uv.lock, without the dev tools and the embedded Postgres (extras left out).
RUN pip install --no-compile "uv==0.13.9" \
    && uv sync --frozen --no-editable --no-cache \
    && pip uninstall --yes uv && chown -R classy:classy /srv/classy-sync

USER classy
EXPOSE 8000
# DATABASE_URL, JWT_SECRET and ENCRYPTION_KEYS come from the environment (see .env.example).
CMD ["sh", "-c", "alembic upgrade head && exec uvicorn app.main:app --host 0.0.0.0 --port 8000 --proxy-headers"]
