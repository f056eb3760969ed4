"""Re-encrypt every stored secret under the newest key of `ENCRYPTION_KEYS` (after a rotation)."""

from __future__ import annotations

from app.db.repositories.credentials import reencrypt_all
from app.db.session import create_engine, create_sessionmaker
from app.db.url import resolve_database_url
from app.security.crypto import Encryptor
from app.settings import Settings


async def rotate_all(settings: Settings) -> int:
    """Open each credential with whichever key sealed it and seal it again with the first key."""
    engine = create_engine(resolve_database_url(settings), pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            return await reencrypt_all(session, Encryptor(settings.encryption_key_ring()))
    finally:
        await engine.dispose()
