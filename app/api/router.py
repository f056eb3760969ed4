"""All routes of the service."""

from __future__ import annotations

from fastapi import APIRouter

from app import console
from app.api import apps, data, health, oauth

api_router = APIRouter()
api_router.include_router(health.router)
api_router.include_router(apps.router)
api_router.include_router(oauth.router)
api_router.include_router(data.router)
api_router.include_router(console.router)  # the admin console (/console), not in OpenAPI
