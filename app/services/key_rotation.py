"""Re-encrypt every stored secret under the newest key of `ENCRYPTION_KEYS` (after a rotation)."""

from __future__ import annotations

from app.db.repositories import webhooks
from app.db.repositories.credentials import reencrypt_all
from app.db.session import create_engine, create_sessionmaker
from app.db.url import resolve_database_url
from app.security.crypto import Encryptor
from app.settings import Settings


async def rotate_all(settings: Settings) -> int:
    """Open each secret (credentials, webhook signing secrets) with the key that sealed it; seal it anew."""
    engine = create_engine(resolve_database_url(settings), pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            encryptor = Encryptor(settings.encryption_key_ring())
            return await reencrypt_all(session, encryptor) + await webhooks.reencrypt_all(session, encryptor)
    finally:
        await engine.dispose()
