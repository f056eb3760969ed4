"""The built-in admin console under `/console`: a server-rendered shell plus one small static script.

The console holds no state of its own and talks to the service only through the public JSON API
(API.md §3) with the bearer token the admin gives it; its routes stay out of the OpenAPI schema.
"""

from app.console.routes import router

__all__ = ["router"]
