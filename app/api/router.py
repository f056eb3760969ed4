"""All routes of the API (the admin console, a sibling of the API, is mounted beside it in `app.main`)."""

from __future__ import annotations

from fastapi import APIRouter

from app.api import apps, changes, data, docs, health, lists, oauth, webhooks

api_router = APIRouter()
api_router.include_router(health.router)
api_router.include_router(apps.router)
api_router.include_router(oauth.router)
api_router.include_router(data.router)
api_router.include_router(lists.router)
api_router.include_router(docs.router)  # /docs from local assets, not in OpenAPI
api_router.include_router(webhooks.settings_router)
api_router.include_router(webhooks.delivery_router)
api_router.include_router(changes.router)
