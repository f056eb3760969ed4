"""The admin console in real headless Chromium: the whole connection lifecycle as an admin clicks it.

Walks Connect → copy the redirect URI → a wrong secret shows Classy's rejection → the right credentials →
the green Connected banner → the webhook (URL, signing secret, a run an event started) → Pause → the
Paused badge → Resume → Disconnect → Reconnect, and saves a screenshot of every screen to
docs/screenshots/ (CONSOLE_SCREENSHOT_DIR overrides).
"""

from __future__ import annotations

import base64
import csv
import io
import re
import time
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.conftest import SCREENSHOTS, LiveService, headless_chromium

TIMEOUT_MS = 15_000
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True, animations="disabled")


def api_get(service: LiveService, path: str) -> Any:
    response = httpx.get(
        service.base_url + path, headers={"Authorization": f"Bearer {service.admin_token()}"}, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()


def wait_for_sync(service: LiveService, *, newer_than: int = 0, timeout: float = 30.0) -> dict[str, Any]:
    """The newest sync run once it finished (and is newer than `newer_than`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = api_get(service, "/api/v1/apps/classy/sync-runs?limit=1")["items"]
        if items and items[0]["id"] > newer_than and items[0]["status"] != "running":
            run: dict[str, Any] = items[0]
            return run
        time.sleep(0.2)
    raise AssertionError(f"no sync run finished within {timeout} s")


def fill_credentials(page: Any, client_id: str, secret: str, organization_id: int) -> None:
    page.get_by_label("Client ID").fill(client_id)
    page.get_by_label("Client Secret").fill(secret)
    page.get_by_label("Organization ID").fill(str(organization_id))


def test_console_lifecycle(chromium_executable: str, live_service: LiveService) -> None:
    with headless_chromium(chromium_executable) as browser:
        walk_console(browser, live_service)


def walk_console(browser: Any, live_service: LiveService) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    base = live_service.base_url
    sandbox = live_service.sandbox
    organization_id = sandbox.organization_ids[0]
    context = browser.new_context(viewport=DESKTOP, base_url=base, locale="en-US", timezone_id="UTC")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # the Disconnect confirmation
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        # Without a token: the paste-your-token form.
        page.goto("/console")
        expect(page.get_by_label("Bearer token")).to_be_visible()
        shot(page, "00-sign-in")

        # The token arrives in the fragment, is kept in sessionStorage and leaves the address bar.
        page.goto(f"/console#token={live_service.admin_token()}")
        card = page.locator("#card-classy")
        expect(card.get_by_role("heading", name="Classy")).to_be_visible()
        assert "token" not in page.url
        expect(page.locator("#who-text")).to_contain_text("Alice Admin")
        expect(card.locator(".badge")).to_be_hidden()
        shot(page, "01-app-directory")

        # Connect → the Classy App Settings page, waiting for credentials.
        card.get_by_role("button", name="Connect Classy").click()
        page.wait_for_url(re.compile(r"/console/apps/classy$"))
        expect(page.locator("#status-banner")).to_contain_text("Finish connecting")
        redirect_uri = f"{base}/oauth/classy/callback"
        expect(page.get_by_label("OAuth2 Redirect URI")).to_have_value(redirect_uri)
        expect(page.get_by_role("button", name="Pause")).to_be_hidden()

        # Copy the redirect URI.
        page.get_by_role("button", name="Copy").click()
        expect(page.locator("#copy-status")).to_have_text("Copied the redirect URI to the clipboard.")
        assert page.evaluate("navigator.clipboard.readText()") == redirect_uri
        shot(page, "02-authorize-copy-redirect-uri")

        # A wrong secret: Classy's rejection, in the API's own sentence; nothing is connected.
        fill_credentials(page, sandbox.client_id, "not-the-secret", organization_id)
        page.get_by_role("button", name="Save").click()
        error = page.locator("#form-error")
        expect(error).to_be_visible()
        expect(error).to_have_text("Classy rejected the Client ID or Client Secret.")
        expect(page.get_by_label("Client Secret")).to_have_value("")
        expect(page.locator("#status-banner")).to_contain_text("Finish connecting")
        shot(page, "03-rejected-credentials")

        # The right credentials: the green Connected banner and the first sync.
        page.get_by_label("Client Secret").fill(sandbox.client_secret)
        page.get_by_role("button", name="Save").click()
        banner = page.locator("#status-banner")
        expect(banner).to_have_attribute("data-status", "connected")
        expect(page.locator("#banner-title")).to_have_text("Connected")
        expect(page.locator("#classy-badge")).to_have_text("Connected")
        expect(page.locator("#credentials-form")).to_be_hidden()
        assert sandbox.client_secret not in page.content()
        first = wait_for_sync(live_service)
        assert first["status"] == "succeeded", first
        expect(page.locator("#runs-body tr").first).to_have_attribute("data-status", "succeeded")
        expect(page.locator("#facts")).to_contain_text("Alice Admin (alice)")
        expect(page.locator("#events-body")).to_contain_text("Credentials rejected")
        shot(page, "04-connected")

        # Webhook: the URL to paste into Classy, its signing secret, and a run that an event started.
        webhook_url = page.get_by_label("Webhook URL")
        expect(webhook_url).to_have_value(re.compile(rf"^{re.escape(base)}/webhooks/classy/\S+$"))
        expect(page.locator("#webhook-status")).to_contain_text("Not active yet")
        signing_secret = "whsec_" + base64.b64encode(b"e2e-webhook-signing-key-0123").decode()
        page.get_by_label("Signing secret").fill(signing_secret)
        page.get_by_role("button", name="Save signing secret").click()
        expect(page.locator("#webhook-status")).to_contain_text("No event received yet")
        expect(page.get_by_label("Signing secret")).to_have_value("")
        assert signing_secret not in page.content()
        assert sandbox.store is not None
        sandbox.store.webhooks.register(webhook_url.input_value(), signing_secret)
        sandbox.store.create(organization_id, "transactions", {})
        hooked = wait_for_sync(live_service, newer_than=first["id"])
        assert hooked["trigger"] == "webhook" and hooked["status"] == "succeeded", hooked
        page.reload()
        expect(page.locator("#runs-body tr").first).to_contain_text("Webhook")
        expect(page.locator("#webhook-status")).to_contain_text("Last event received")
        expect(page.locator("#events-body tr").first).to_contain_text("Webhook secret saved")
        shot(page, "04b-webhook")
        first = hooked

        # Pause → "Connection Paused", and the Paused badge (here and in the App Directory).
        page.get_by_role("button", name="Pause").click()
        expect(page.locator("#banner-title")).to_have_text("Connection Paused")
        expect(page.locator("#classy-badge")).to_have_text("Paused")
        expect(page.get_by_role("button", name="Pause")).to_be_hidden()
        expect(page.get_by_role("button", name="Resume Sync")).to_be_visible()
        shot(page, "05-paused")
        page.goto("/console")
        expect(card.locator(".badge")).to_have_text("Paused")
        expect(card.get_by_role("button", name="Connect Classy")).to_be_hidden()
        shot(page, "06-app-directory-paused")

        # Resume → connected again, and a sync of what changed meanwhile.
        card.get_by_role("link", name="Learn more about Classy").click()
        page.wait_for_url(re.compile(r"/console/apps/classy$"))
        page.get_by_role("button", name="Resume Sync").click()
        expect(page.locator("#banner-title")).to_have_text("Connected")
        expect(page.get_by_role("button", name="Resume Sync")).to_be_hidden()
        resumed = wait_for_sync(live_service, newer_than=first["id"])
        assert resumed["trigger"] == "resume" and resumed["status"] == "succeeded", resumed
        expect(page.locator("#runs-body tr").first).to_contain_text("Resume")
        shot(page, "07-resumed")

        # Disconnect → disconnected by/at; only the Reconnect form applies.
        page.get_by_role("button", name="Disconnect").click()
        expect(page.locator("#banner-title")).to_have_text("Disconnected")
        expect(page.locator("#banner-text")).to_contain_text("Disconnected by Alice Admin (alice)")
        expect(page.locator("#classy-badge")).to_have_text("Disconnected")
        for gone in ("Pause", "Resume Sync", "Disconnect", "Sync now"):
            expect(page.get_by_role("button", name=gone, exact=True)).to_be_hidden()
        expect(page.get_by_label("Client ID")).to_have_value(sandbox.client_id)
        expect(page.get_by_label("Client Secret")).to_have_value("")
        shot(page, "08-disconnected")

        # Reconnect with the same organization.
        page.get_by_label("Client Secret").fill(sandbox.client_secret)
        page.get_by_role("button", name="Reconnect").click()
        expect(page.locator("#banner-title")).to_have_text("Connected")
        expect(page.locator("#classy-badge")).to_have_text("Connected")
        reconnected = wait_for_sync(live_service, newer_than=resumed["id"])
        assert reconnected["trigger"] == "reconnect" and reconnected["status"] == "succeeded", reconnected
        expect(page.locator("#runs-body tr").first).to_contain_text("Reconnect")
        expect(page.locator("#events-body tr").first).to_contain_text("Reconnected")
        shot(page, "09-reconnected")

        # The OAuth callback's error redirect lands here with a sentence.
        page.goto("/console/apps/classy?error=expired_state")
        expect(page.locator("#flash")).to_contain_text("took longer than 10 minutes")
        assert "error=" not in page.url

        # Contacts & donations: search by email, a contact's donations, paging.
        contact = api_get(live_service, "/api/v1/contacts?limit=1")["items"][0]
        page.goto("/console/data")
        expect(page.locator("#contacts-body tr")).to_have_count(25)
        expect(page.get_by_role("button", name="Next").first).to_be_enabled()
        page.locator("#contacts-next").click()
        expect(page.locator("#contacts-page")).to_have_text("Page 2")
        page.get_by_label("Search by email").fill(contact["email"].upper())
        page.get_by_role("button", name="Search").click()
        expect(page.locator("#contacts-body tr")).to_have_count(1)
        expect(page.locator("#contacts-body")).to_contain_text(contact["email"])
        page.locator("#contacts-body tr").first.get_by_role("button").click()
        expect(page.locator("#donations-title")).to_contain_text("Donations of")
        shot(page, "10-contacts-and-donations")

        # Phone width: the settings page still works.
        page.set_viewport_size(PHONE)
        page.goto("/console/apps/classy")
        expect(page.locator("#banner-title")).to_have_text("Connected")
        expect(page.get_by_role("button", name="Pause")).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the page scrolls sideways at phone width ({width} px)"
        shot(page, "11-phone-settings")
        assert errors == [], errors
    finally:
        context.close()


# ---------------------------------------------------------------- issue #11: records and CSV downloads


def _connect_by_api(service: LiveService) -> None:
    headers = {"Authorization": f"Bearer {service.admin_token()}"}
    sandbox = service.sandbox
    with httpx.Client(base_url=service.base_url, headers=headers, timeout=30) as http:
        assert http.post("/api/v1/apps/classy/connect").status_code == 200
        body = {
            "client_id": sandbox.client_id,
            "client_secret": sandbox.client_secret,
            "organization_id": sandbox.organization_ids[0],
        }
        response = http.put("/api/v1/apps/classy/credentials", json=body)
        assert response.status_code == 200, response.text


def _all_items(service: LiveService, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = api_get(service, f"{path}{'&' if '?' in path else '?'}limit=500&cursor={cursor}")
        items += page["items"]
        if not page["next_cursor"]:
            return items
        cursor = page["next_cursor"]


def _download_rows(page: Any, button: Any) -> list[list[str]]:
    with page.expect_download() as info:
        button.click()
    text = Path(info.value.path()).read_text(encoding="utf-8")
    return list(csv.reader(io.StringIO(text, newline="")))


def test_console_records_pages_and_csv(chromium_executable: str, live_service: LiveService) -> None:
    _connect_by_api(live_service)
    assert wait_for_sync(live_service)["status"] == "succeeded"
    with headless_chromium(chromium_executable) as browser:
        walk_records(browser, live_service)


def walk_records(browser: Any, service: LiveService) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    plans = _all_items(service, "/api/v1/recurring-plans")
    registrations = _all_items(service, "/api/v1/registrations")
    donations = _all_items(service, "/api/v1/donations")
    campaigns = _all_items(service, "/api/v1/campaigns")
    # Someone with a plan, preferably also registered for an event.
    with_registrations = {r["contact_id"] for r in registrations}
    person = sorted(plans, key=lambda p: p["contact_id"] not in with_registrations)[0]["contact_id"]
    gift = next(d for d in donations if d["dedication"] and d["fundraising_page_title"])
    context = browser.new_context(
        viewport=DESKTOP, base_url=service.base_url, locale="en-US", timezone_id="UTC"
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        # The contact page: the person, their donations, recurring plans and registrations.
        contact = api_get(service, f"/api/v1/contacts/{person}")
        page.goto(f"/console/contacts/{person}#token={service.admin_token()}")
        expect(page.locator("#contact-facts")).to_contain_text(contact["email"])
        expect(page.locator("#contact-facts")).to_contain_text("SMS opt-in")
        own_plans = [p for p in plans if p["contact_id"] == person]
        expect(page.locator("#contact-plans-body tr")).to_have_count(len(own_plans))
        own_regs = [r for r in registrations if r["contact_id"] == person]
        expect(page.locator("#contact-registrations-body tr")).to_have_count(len(own_regs))
        own_gifts = [d for d in donations if d["contact_id"] == person]
        expect(page.locator("#contact-donations-body tr")).to_have_count(min(10, len(own_gifts)))
        rows = _download_rows(page, page.locator("#contact-donations-csv"))
        assert len(rows) == 1 + len(own_gifts) and "kind" in rows[0]
        shot(page, "13-contact")

        # A donation's detail: fund, page and team, payment, dedication.
        page.goto(f"/console/donations/{gift['id']}")
        expect(page.locator("#fund-facts")).to_contain_text(gift["designation_name"])
        expect(page.locator("#fund-facts")).to_contain_text(gift["fundraising_page_title"])
        expect(page.locator("#dedication-facts")).to_contain_text(gift["dedication"]["honoree_name"])
        expect(page.locator("#payment-facts")).to_contain_text(gift["payment_type"] or "—")
        expect(page.locator("#gift-facts")).to_contain_text(gift["kind"].replace("_", " ").capitalize())
        shot(page, "14-donation-detail")

        # Campaigns, with a CSV of every campaign.
        page.goto("/console/campaigns")
        expect(page.locator("#campaigns-body tr")).to_have_count(len(campaigns))
        rows = _download_rows(page, page.get_by_role("button", name="Download CSV"))
        assert len(rows) == 1 + len(campaigns) and rows[0][:2] == ["id", "classy_campaign_id"]
        shot(page, "15-campaigns")

        # Recurring plans, filtered by status; the CSV follows the filter.
        page.goto("/console/recurring-plans")
        expect(page.locator("#plans-body tr")).to_have_count(min(25, len(plans)))
        page.get_by_label("Status").select_option("active")
        active = [p for p in plans if p["status"] == "active"]
        expect(page.locator("#plans-body tr")).to_have_count(min(25, len(active)))
        rows = _download_rows(page, page.get_by_role("button", name="Download CSV"))
        assert len(rows) == 1 + len(active)
        assert {r[rows[0].index("status")] for r in rows[1:]} == {"active"}
        shot(page, "16-recurring-plans")

        # Contacts & donations: CSV buttons, and each row leads to its detail page.
        page.goto("/console/data")
        rows = _download_rows(page, page.locator("#donations-csv"))
        assert len(rows) == 1 + len(donations)
        page.locator("#donations-body tr").first.get_by_role("link", name=re.compile("Details")).click()
        page.wait_for_url(re.compile(r"/console/donations/\d+$"))
        expect(page.locator("#payment-facts")).to_be_visible()
        assert errors == [], errors
    finally:
        context.close()
