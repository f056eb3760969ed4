"""/openapi.json reads well in a generated client: ids, tags, examples, errors, version from one place."""

from __future__ import annotations

import re
from importlib import metadata
from typing import Any

import pytest

from app.main import create_app

EXPECTED_IDS = {
    "apps_list",
    "apps_get_classy",
    "apps_connect_classy",
    "apps_save_classy_credentials",
    "apps_pause_classy",
    "apps_resume_classy",
    "apps_disconnect_classy",
    "apps_reconnect_classy",
    "apps_sync_classy",
    "apps_list_classy_sync_runs",
    "apps_list_classy_events",
    "contacts_list",
    "contacts_get",
    "donations_list",
    "donations_get",
    "campaigns_list",
    "campaigns_get",
    "recurring_plans_list",
    "recurring_plans_get",
    "registrations_list",
    "registrations_get",
    "oauth_classy_callback",
    "operations_healthz",
    "operations_readyz",
    "operations_metrics",
    "apps_get_classy_webhook",
    "apps_save_classy_webhook",
    "apps_remove_classy_webhook",
    "webhooks_deliver_classy_event",
    "changes_list",
}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return create_app().openapi()


def _operations(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [op for path in spec["paths"].values() for op in path.values()]


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def test_operation_ids_are_tag_then_action(spec: dict[str, Any]) -> None:
    ids = [op["operationId"] for op in _operations(spec)]
    assert len(ids) == len(set(ids)), "operation ids must be unique"
    for op in _operations(spec):
        assert re.fullmatch(r"[a-z]+(_[a-z0-9]+)+", op["operationId"]), op["operationId"]
        assert len(op["tags"]) == 1, f"{op['operationId']}: one tag per route (the resource it serves)"
    assert EXPECTED_IDS <= set(ids), EXPECTED_IDS - set(ids)


def test_every_tag_is_described(spec: dict[str, Any]) -> None:
    described = {tag["name"]: tag.get("description") for tag in spec["tags"]}
    used = {tag for op in _operations(spec) for tag in op.get("tags", [])}
    missing = used - {name for name, text in described.items() if text}
    assert not missing, f"tags without a description in app/api/openapi.py TAGS: {missing}"


def test_every_request_body_has_an_example(spec: dict[str, Any]) -> None:
    bodies = [op for op in _operations(spec) if "requestBody" in op]
    assert bodies
    for op in bodies:
        media = op["requestBody"]["content"]["application/json"]
        examples = (
            media.get("examples") or media.get("example") or _resolve(spec, media["schema"]).get("examples")
        )
        assert examples, op["operationId"]


def test_every_error_response_has_a_schema(spec: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in spec["components"]["schemas"]  # ours replaces FastAPI's default
    for op in _operations(spec):
        for status, response in op["responses"].items():
            if status[0] in "45":
                schema = response.get("content", {}).get("application/json", {}).get("schema")
                assert schema is not None, (op["operationId"], status)
                assert {"detail", "code"} <= set(_resolve(spec, schema)["properties"]), (
                    op["operationId"],
                    status,
                )


def test_version_comes_from_the_package(spec: dict[str, Any]) -> None:
    assert spec["info"]["version"] == metadata.version("classy-sync")
