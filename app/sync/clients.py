"""Classy clients for syncs: built from the stored (decrypted) credentials, keeping renewed tokens."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.classy import ClassyClient
from app.classy.ratelimit import limiter_for
from app.classy.tokens import Token
from app.db.repositories.credentials import load_credentials, store_tokens
from app.sync.context import SyncContext


def make_client(
    ctx: SyncContext, integration_id: int, client_id: str, client_secret: str, token: Token | None
) -> ClassyClient:
    """A Classy client whose renewed tokens are stored (encrypted) for the next run."""

    async def keep_token(new: Token) -> None:
        async with ctx.sessionmaker() as session, session.begin():
            await store_tokens(
                session,
                ctx.encryptor,
                integration_id=integration_id,
                access_token=new.access_token,
                refresh_token=new.refresh_token,
                token_expires_at=new.expires_at,
            )

    settings = ctx.settings
    return ClassyClient(
        client_id=client_id,
        client_secret=client_secret,
        api_url=settings.classy_api_url,
        token_url=settings.classy_token_url,
        token=token,
        on_token=keep_token,
        limiter=limiter_for(client_id, settings.classy_rate_limit_per_minute),
    )


async def load_client(ctx: SyncContext, integration_id: int, session: AsyncSession) -> ClassyClient | None:
    """The integration's client, from credentials read in `session`; None when it has none."""
    credentials = await load_credentials(session, ctx.encryptor, integration_id)
    if credentials is None:
        return None
    token = None
    if credentials.access_token:
        token = Token(
            access_token=credentials.access_token,
            expires_at=credentials.token_expires_at,
            refresh_token=credentials.refresh_token,
        )
    return make_client(ctx, integration_id, credentials.client_id, credentials.client_secret, token)
