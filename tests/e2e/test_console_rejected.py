"""The console's sync history lists the records a run set aside (stream, Classy id, reason)."""

from __future__ import annotations

import httpx

from app.sync.rejects import BAD_UPDATED_AT, NO_ID
from tests.e2e.conftest import LiveService, headless_chromium
from tests.e2e.test_console import DESKTOP, TIMEOUT_MS, wait_for_sync


def test_sync_history_shows_records_set_aside(chromium_executable: str, live_service: LiveService) -> None:
    from playwright.sync_api import expect

    sandbox = live_service.sandbox
    org = sandbox.organization_ids[0]
    store = sandbox.store
    assert store is not None
    supporter = store.dump(org, "supporters")[2]["id"]
    transaction = store.dump(org, "transactions")[3]["id"]
    control = httpx.Client(base_url=sandbox.control_url)
    control.post(f"/organizations/{org}/supporters/{supporter}/render", json={"unset": ["id"]})
    control.post(
        f"/organizations/{org}/transactions/{transaction}/render", json={"set": {"updated_at": "soon"}}
    )
    admin = {"Authorization": f"Bearer {live_service.admin_token()}"}
    api = httpx.Client(base_url=live_service.base_url, headers=admin, timeout=10)
    api.post("/api/v1/apps/classy/connect").raise_for_status()
    body = {"client_id": sandbox.client_id, "client_secret": sandbox.client_secret, "organization_id": org}
    api.put("/api/v1/apps/classy/credentials", json=body).raise_for_status()
    run = wait_for_sync(live_service)
    assert run["status"] == "succeeded", run

    expect.set_options(timeout=TIMEOUT_MS)
    with headless_chromium(chromium_executable) as browser:
        context = browser.new_context(viewport=DESKTOP, base_url=live_service.base_url, locale="en-US")
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            page.goto(f"/console/apps/classy#token={live_service.admin_token()}")
            row = page.locator("#runs-body tr").first
            expect(row).to_have_attribute("data-status", "succeeded")
            folded = row.locator("details.run-rejected")
            expect(folded.locator("summary")).to_have_text("2 records set aside")
            folded.locator("summary").click()
            items = folded.locator("li")
            expect(items).to_have_count(2)
            expect(folded).to_contain_text(f"Supporters (no id): {NO_ID}")
            expect(folded).to_contain_text(f"Transactions #{transaction}: {BAD_UPDATED_AT}")
            assert errors == [], errors
        finally:
            context.close()
