"""The share page in a real browser: headless Chromium (Debian's, driven by Playwright)
loads a shared recap from a live server; the visible numbers are the summary's, the
Open Graph tags point at the card, the share button falls back to copying the link, and
at phone and desktop widths nothing overflows or is clipped."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django.test.utils import override_settings

from events.models import EndUser, Metric
from tests.conftest import CHROMIUM
from tests.wrapped.reference import load_reference
from wrapped.recap import recap_of

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
WIDTHS = {"phone": (360, 740), "narrow": (320, 640), "desktop": (1440, 900)}
LONG_NAME = "Maximilian Alexander Bartholomew von Hohenzollern-Sigmaringen"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's own database
    # work happens in between its calls, never concurrently with them.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
            yield chromium
            chromium.close()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def shared(live_server, owner) -> dict[str, Any]:
    api = owner.client()
    load_reference(api, owner.tenant)
    EndUser.objects.filter(tenant=owner.tenant, external_id="ann").update(
        name="Ann Lee", email="ann.private@example.com"
    )
    with override_settings(SHARE_BASE_URL=live_server.url):
        link = api.post("/v1/users/ann/wrapped/share?year=2025").json()
    activity = api.get("/v1/users/ann/wrapped", {"year": 2025}).json()["activity"]
    return {
        "link": link,
        "activity": activity,
        "recap": recap_of(activity, year=2025, name="Ann Lee"),
    }


def layout_problems(page: Any) -> list[str]:
    """What overflows the viewport or is clipped inside its box, measured in the page."""
    return page.evaluate(
        """() => {
        const problems = [];
        const width = document.documentElement.clientWidth;
        if (document.documentElement.scrollWidth > width + 1)
            problems.push(`page scrolls sideways: ${document.documentElement.scrollWidth} > ${width}`);
        for (const el of document.querySelectorAll('body *')) {
            const box = el.getBoundingClientRect();
            if (!box.width && !box.height) continue;
            if (box.right > width + 1 || box.left < -1)
                problems.push(`${el.tagName}.${el.className} outside: ${box.left}..${box.right}`);
            const style = getComputedStyle(el);
            if (style.overflow !== 'visible' && el.scrollWidth > el.clientWidth + 1)
                problems.push(`${el.tagName}.${el.className} clipped`);
        }
        return problems;
    }"""
    )


@pytest.mark.parametrize("viewport", sorted(WIDTHS))
def test_the_page_shows_the_summarys_numbers_without_overflow(browser, shared, viewport):
    width, height = WIDTHS[viewport]
    page = browser.new_page(viewport={"width": width, "height": height})
    try:
        response = page.goto(shared["link"]["url"])
        assert response.status == 200
        recap, activity = shared["recap"], shared["activity"]

        assert page.get_by_test_id("hero-value").inner_text() == recap.hero.value
        assert page.get_by_test_id("hero-label").inner_text() == recap.hero.label
        stats = page.get_by_test_id("active").inner_text()
        assert str(activity["daysActive"]) in stats and str(activity["weeksActive"]) in stats
        metrics = page.get_by_test_id("metrics").inner_text()
        words = activity["entireYear"]["metrics"]["words"]
        assert "Words written" in metrics and f"{words['changeThisPeriod']:,}" in metrics
        assert "ann.private@example.com" not in page.content()

        # The card image has its box before it loads (no layout shift) and loads.
        image = page.locator("img.card-image")
        assert image.evaluate("img => img.complete && img.naturalWidth") == 1080
        assert image.get_attribute("alt") == recap.description

        assert layout_problems(page) == []
        if os.environ.get("SCREENSHOTS"):  # to look at the page: SCREENSHOTS=/tmp/shots
            page.screenshot(path=f"{os.environ['SCREENSHOTS']}/page-{viewport}.png", full_page=True)
    finally:
        page.close()


def test_open_graph_tags_point_at_the_wide_card(browser, shared):
    page = browser.new_page()
    try:
        page.goto(shared["link"]["url"])
        og_image = page.locator('meta[property="og:image"]').get_attribute("content")
        assert og_image == shared["link"]["images"]["og"]
        assert page.locator('meta[name="twitter:card"]').get_attribute("content") == (
            "summary_large_image"
        )
        card = httpx.get(og_image)
        assert card.status_code == 200 and card.headers["content-type"] == "image/png"
    finally:
        page.close()


def test_share_copies_the_link_where_the_web_share_api_is_missing(browser, shared):
    context = browser.new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    try:
        page.goto(shared["link"]["url"])
        assert page.evaluate("() => typeof navigator.share") == "undefined"  # desktop Chromium

        page.get_by_role("button", name="Share").click()

        status = page.locator("[data-share-status]")
        status.filter(has_text="Link copied").wait_for(timeout=5000)
        assert page.evaluate("() => navigator.clipboard.readText()") == shared["link"]["url"]
    finally:
        context.close()


def test_share_uses_the_web_share_api_where_there_is_one(browser, shared):
    page = browser.new_page()
    try:
        page.add_init_script(
            "navigator.share = (data) => { window.__shared = data; return Promise.resolve(); };"
        )
        page.goto(shared["link"]["url"])
        page.get_by_role("button", name="Share").click()
        page.wait_for_function("() => window.__shared !== undefined")
        assert page.evaluate("() => window.__shared.url") == shared["link"]["url"]
    finally:
        page.close()


@pytest.mark.parametrize("viewport", ["narrow", "desktop"])
def test_a_long_name_and_an_empty_year_fit(browser, live_server, owner, viewport):
    api = owner.client()
    Metric.objects.create(tenant=owner.tenant, key="words", name="Words written")
    body = {"user": {"id": "newbie", "name": LONG_NAME}, "value": 1}
    body["timestamp"] = "2026-01-10T12:00:00Z"  # nothing in 2025
    assert api.post("/v1/metrics/words/event", body, format="json").status_code == 201
    with override_settings(SHARE_BASE_URL=live_server.url):
        link = api.post("/v1/users/newbie/wrapped/share?year=2025").json()
    width, height = WIDTHS[viewport]
    page = browser.new_page(viewport={"width": width, "height": height})
    try:
        page.goto(link["url"])
        assert page.get_by_test_id("empty").is_visible()
        assert LONG_NAME in page.locator("h1").inner_text()
        assert layout_problems(page) == []
    finally:
        page.close()
