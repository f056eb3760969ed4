"""Classy sandbox: a real HTTP server that behaves like the Classy (GoFundMe Pro) API 2.0.

Independent of the rest of ``app`` (stdlib, FastAPI/Starlette, uvicorn, pydantic, orjson only).
Entry points: ``create_sandbox_app(store)``, ``SandboxStore(SandboxConfig(...))``, the helpers in
``sandbox.server`` and the CLI ``python -m sandbox``.
"""

from sandbox.app import create_sandbox_app
from sandbox.generate import Sizes
from sandbox.store import SandboxConfig, SandboxStore

__all__ = ["SandboxConfig", "SandboxStore", "Sizes", "create_sandbox_app"]
