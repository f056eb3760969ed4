"""One TLS context for every Classy client of the process.

Building a context loads the CA bundle: ≈20 ms of CPU, and every sync run builds two clients (the API's
and the token endpoint's). For thousands of small organizations kept current that was a third of a
quiet run's CPU. An `ssl.SSLContext` is made to be shared by any number of connections; its settings
(verification on, certifi's bundle: httpx's defaults) never change after it is built.
"""

from __future__ import annotations

import ssl
from functools import cache

import httpx


@cache
def shared_ssl_context() -> ssl.SSLContext:
    """httpx's default verifying context, built once."""
    return httpx.create_ssl_context()


def warm_up() -> None:
    """Build at start-up what the first sync would otherwise build on the event loop while the API is
    answering: the TLS context and httpcore, which httpx imports on its first client (together ≈150 ms
    of CPU on the bench machine, a stall for every request in flight when an import starts)."""
    import httpcore  # noqa: F401

    shared_ssl_context()
