"""Command line: `python -m app token …` prints a bearer token; `migrate`; `rotate-keys`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import timedelta

from app.settings import get_settings


def _token(args: argparse.Namespace) -> int:
    from app.security.tokens import issue_token

    settings = get_settings()
    token = issue_token(
        settings.jwt_secret_value(),
        sub=args.user,
        account=args.account,
        role=args.role,
        name=args.name,
        ttl=timedelta(hours=args.hours),
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
    )
    print(token)
    return 0


def _migrate(_: argparse.Namespace) -> int:
    from app.db.migrate import upgrade_to_head
    from app.db.url import resolve_database_url

    upgrade_to_head(resolve_database_url(get_settings()))
    print("database is at the newest schema")
    return 0


def _rotate_keys(_: argparse.Namespace) -> int:
    from app.services.key_rotation import rotate_all

    count = asyncio.run(rotate_all(get_settings()))
    print(f"re-encrypted {count} credential row(s) under the newest key")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app", description="classy-sync commands")
    commands = parser.add_subparsers(dest="command", required=True)
    token = commands.add_parser("token", help="print a bearer token for scripting")
    token.add_argument("--account", required=True, help="CRM account (tenant) the token acts for")
    token.add_argument("--user", required=True, help="user id, recorded as the actor (sub)")
    token.add_argument("--role", choices=["admin", "member"], default="admin")
    token.add_argument("--name", default=None, help="display name")
    token.add_argument("--hours", type=float, default=12.0, help="lifetime in hours")
    token.set_defaults(handler=_token)
    commands.add_parser("migrate", help="apply database migrations").set_defaults(handler=_migrate)
    commands.add_parser("rotate-keys", help="re-encrypt stored secrets under the first key").set_defaults(
        handler=_rotate_keys
    )
    args = parser.parse_args(argv)
    handler = args.handler
    result: int = handler(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
