"""The report in a real browser: headless Chromium renders it, every image loads, no errors.

Driven over the DevTools protocol (see report_cdp.py) so that console errors, failed loads
and every requested URL are seen, not guessed from a DOM dump. Skips only when Chromium is
not installed.
"""

from __future__ import annotations

import io
import os
import shutil

import pytest
from PIL import Image

from tests.report.report_cdp import PageReport, inspect_page
from tests.report.report_fake import Rendered

pytestmark = pytest.mark.browser


def chromium_path() -> str | None:
    """The Chromium to drive: $TWIN_CHROMIUM, /usr/bin/chromium or `chromium` on PATH."""
    for candidate in (os.environ.get("TWIN_CHROMIUM"), "/usr/bin/chromium", "chromium"):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


@pytest.fixture(scope="module")
def page(rendered: Rendered, tmp_path_factory: pytest.TempPathFactory) -> PageReport:
    chromium = chromium_path()
    if chromium is None:
        pytest.skip("chromium is not installed (looked for $TWIN_CHROMIUM, /usr/bin/chromium)")
    profile = tmp_path_factory.mktemp("chromium-profile")
    return inspect_page(chromium, rendered.html, profile)


def test_it_renders_without_console_errors(page: PageReport) -> None:
    assert page.errors == []
    assert page.probe["title"] == "twin report: mmc-example"
    assert page.probe["headings"] == [
        "Findings", "Incidents", "Services", "Requests end to end", "Plots",
    ]  # fmt: skip
    assert page.probe["scripts"] == 0


def test_every_image_loads_at_full_width(page: PageReport, rendered: Rendered) -> None:
    images = page.probe["images"]
    assert len(images) == len(list(rendered.html.parent.glob("*.png"))) == 7
    for image in images:
        assert image["complete"], image["alt"]
        assert image["naturalWidth"] == 1000, image["alt"]
        assert image["naturalHeight"] >= 300, image["alt"]
        assert image["shownWidth"] == 1000, image["alt"]  # not squeezed at a 1,200 px window


def test_nothing_is_fetched_but_the_file_itself(page: PageReport, rendered: Rendered) -> None:
    assert page.urls[0] == rendered.html.resolve().as_uri()
    assert all(url.startswith("data:image/png;base64,") for url in page.urls[1:])


def test_the_page_fits_the_window(page: PageReport) -> None:
    assert page.probe["scrollWidth"] <= page.probe["innerWidth"]


def test_the_screenshot_shows_a_whole_page(page: PageReport) -> None:
    with Image.open(io.BytesIO(page.screenshot)) as shot:
        assert shot.format == "PNG"
        assert shot.width >= 1000
        assert shot.height > 3000  # seven figures and the tables, captured beyond the viewport
        colours = shot.convert("RGB").getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 100
