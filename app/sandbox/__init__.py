"""Classy sandbox: a real HTTP server that behaves like the Classy (GoFundMe Pro) API 2.0.

Independent of the rest of ``app`` (stdlib, FastAPI/Starlette, uvicorn, pydantic, orjson only).
Entry points: ``create_sandbox_app(store)``, ``SandboxStore(SandboxConfig(...))``, the helpers in
``app.sandbox.server`` and the CLI ``python -m app.sandbox``.
"""

from app.sandbox.app import create_sandbox_app
from app.sandbox.generate import Sizes
from app.sandbox.store import SandboxConfig, SandboxStore

__all__ = ["SandboxConfig", "SandboxStore", "Sizes", "create_sandbox_app"]
