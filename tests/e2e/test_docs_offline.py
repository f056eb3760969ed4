"""/docs renders in headless Chromium with no network beyond the service (every other request blocked)."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import LiveService, headless_chromium


def test_docs_render_with_no_network(chromium_executable: str, live_service: LiveService) -> None:
    from playwright.sync_api import expect

    with headless_chromium(chromium_executable) as browser:
        context = browser.new_context(base_url=live_service.base_url)
        blocked: list[str] = []
        console: list[str] = []

        def only_the_service(route: Any) -> None:
            url = route.request.url
            if url.startswith(live_service.base_url):
                route.continue_()
            else:
                blocked.append(url)
                route.abort()

        context.route("**/*", only_the_service)
        page = context.new_page()
        page.on("console", lambda message: console.append(message.text))
        try:
            page.goto("/docs")
            expect(page.locator(".swagger-ui .info .title")).to_contain_text("classy-sync", timeout=20_000)
            expect(page.get_by_text("/api/v1/apps/classy/credentials").first).to_be_visible()
        finally:
            context.close()
        assert blocked == [], f"/docs tried to load {blocked}"
        assert not [line for line in console if "Content Security Policy" in line], console
