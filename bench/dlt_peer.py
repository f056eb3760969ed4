"""The peer: dlt's ``rest_api`` source, merging into Postgres, reading the same sandbox.

Configured as a user would from dlt's documentation: OAuth2 client credentials, the page-number
paginator driven by Classy's ``last_page``, records under ``data``, merge on ``id``. Run as
``python -m bench.dlt_peer <json-config>`` in a subprocess (its own CPU and RSS); prints one JSON line.
"""

from __future__ import annotations

import json
import os
import re
import resource
import sys
import tempfile
import time
from typing import Any


def run(cfg: dict[str, Any]) -> dict[str, Any]:
    import dlt
    from dlt.sources.helpers.rest_client.auth import OAuth2ClientCredentials
    from dlt.sources.rest_api import rest_api_source

    org = cfg["organization_id"]

    def resource_cfg(name: str, path: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        return {
            "name": name,
            "primary_key": "id",
            "write_disposition": "merge",
            "endpoint": {
                "path": f"organizations/{org}/{path}",
                "params": {"per_page": 100, "sort": "id:asc", **(extra or {})},
                "data_selector": "data",
                "paginator": {
                    "type": "page_number",
                    "base_page": 1,
                    "page_param": "page",
                    "total_path": "last_page",
                },
            },
        }

    source = rest_api_source(
        {
            "client": {
                "base_url": cfg["api_url"] + "/",
                "auth": OAuth2ClientCredentials(
                    access_token_url=cfg["token_url"],
                    client_id=cfg["client_id"],
                    client_secret=cfg["client_secret"],
                ),
            },
            "resources": [
                resource_cfg("campaigns", "campaigns"),
                resource_cfg("supporters", "supporters"),
                resource_cfg("recurring_donation_plans", "recurring-donation-plans"),
                resource_cfg("transactions", "transactions", {"with": "items"}),
                resource_cfg("registrations", "registrations"),
            ],
        }
    )
    pipeline = dlt.pipeline(
        pipeline_name="classy_bench",
        destination=dlt.destinations.postgres(credentials=cfg["dsn"]),
        dataset_name="classy",
        pipelines_dir=cfg["pipelines_dir"],
    )
    started = time.perf_counter()
    info = pipeline.run(source)
    seconds = time.perf_counter() - started
    rows: dict[str, int] = {}
    with pipeline.sql_client() as client:
        for table in ("campaigns", "supporters", "recurring_donation_plans", "transactions", "registrations"):
            rows[table] = int(client.execute_sql(f"SELECT count(*) FROM {table}")[0][0])
    return {
        "seconds": seconds,
        "rows": rows,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "loads": len(info.loads_ids),
        "dlt_version": dlt.__version__,
    }


def main() -> None:
    cfg = json.loads(sys.argv[1])
    with tempfile.TemporaryDirectory(prefix="bench-dlt-") as tmp:
        cfg["pipelines_dir"] = tmp
        os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")
        os.environ.setdefault("DLT_DATA_DIR", tmp)
        os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
        # dlt insists on a password; a trust-authenticated local server ignores it.
        cfg["dsn"] = re.sub(r"^postgresql://([^:@/]+)@", r"postgresql://\1:bench@", cfg["dsn"])
        result = run(cfg)
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
