"""CLI: ``python -m sandbox [options]`` generates data, prints how to connect, then serves.

Example: ``python -m sandbox --port 8900 --organizations 2 --supporters 5000 --churn-interval 5``.
"""

from __future__ import annotations

import argparse
import time

import uvicorn

from sandbox.app import create_sandbox_app
from sandbox.generate import Sizes
from sandbox.store import SandboxConfig, SandboxStore


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m sandbox", description="Classy API sandbox server")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8900)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--organizations", type=int, default=2)
    p.add_argument("--supporters", type=int, default=500, help="per organization")
    p.add_argument("--transactions", type=int, default=1500, help="per organization")
    p.add_argument("--registrations", type=int, default=200, help="per organization")
    p.add_argument("--campaigns", type=int, default=8, help="per organization")
    p.add_argument("--plans", type=int, default=60, help="recurring donation plans per organization")
    p.add_argument("--client-id", default="sandbox-client")
    p.add_argument("--client-secret", default="sandbox-secret")
    p.add_argument(
        "--redirect-uri",
        action="append",
        default=[],
        help="registered redirect URI (repeatable; none registered = any accepted)",
    )
    p.add_argument("--rate-limit", type=int, default=1800, help="requests per minute per app, 0 = unlimited")
    p.add_argument("--token-lifetime", type=int, default=3600, help="seconds")
    p.add_argument(
        "--churn-interval",
        type=float,
        default=None,
        help="seconds between background rounds of random updates/inserts (demo)",
    )
    p.add_argument("--quiet", action="store_true", help="only print the connection summary")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    config = SandboxConfig(
        seed=args.seed,
        organizations=args.organizations,
        sizes=Sizes(args.supporters, args.transactions, args.registrations, args.campaigns, args.plans),
        client_id=args.client_id,
        client_secret=args.client_secret,
        redirect_uris=args.redirect_uri,
        rate_limit=args.rate_limit,
        token_lifetime=args.token_lifetime,
        churn_interval=args.churn_interval,
    )
    started = time.monotonic()
    store = SandboxStore(config)
    base = f"http://{args.host}:{args.port}"
    print(f"Classy sandbox: generated in {time.monotonic() - started:.1f} s (seed {args.seed})")
    for org in store.summary()["organizations"]:
        print(f"  organization {org['id']} {org['name']!r}: {org['counts']}")
    print(f"  client_id={args.client_id} client_secret={args.client_secret}")
    print(f"  member username={config.member_username} password={config.member_password}")
    print(f"  api base      {base}/2.0")
    print(f"  token url     {base}/oauth2/auth")
    print(f"  authorize url {base}/authorize")
    print(f"  control       {base}/_sandbox (docs: {base}/_sandbox/docs)", flush=True)
    uvicorn.run(
        create_sandbox_app(store),
        host=args.host,
        port=args.port,
        log_level="warning" if args.quiet else "info",
        access_log=not args.quiet,
    )


if __name__ == "__main__":
    main()
