"""Every page kind in a real browser at a desktop and a phone width: nothing overflows
sideways (on a phone no table even scrolls in its box: wide ones are split into one table
per design or stacked as cards), every image loads and shows something, no console error.

The pages are the run (a bare network and a real platform run), the drill and its
measured-against-predicted page, a two-design comparison and the capacity page
(`report_pages`). Each is opened at 1,280 and at 390 CSS px in headless Chromium
(`report_cdp`). Skips only when Chromium is not installed.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import pytest
from PIL import Image

from tests.report.report_cdp import PageReport, inspect_pages
from tests.report.report_pages import build_pages
from tests.report.test_report_browser import chromium_path

pytestmark = pytest.mark.browser

WIDTHS = (1280, 390)
PAGES = ("run-network", "run-platform", "drill", "drill-vs-predicted", "compare", "capacity")


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, int], PageReport]:
    chromium = chromium_path()
    if chromium is None:
        pytest.skip("chromium is not installed (looked for $TWIN_CHROMIUM, /usr/bin/chromium)")
    pages = build_pages(tmp_path_factory.mktemp("pages"))
    assert sorted(pages) == sorted(PAGES)
    keys = [(name, width) for name in PAGES for width in WIDTHS]
    reports = inspect_pages(
        chromium, [(pages[n], w) for n, w in keys], tmp_path_factory.mktemp("chromium-profile")
    )
    return dict(zip(keys, reports, strict=True))


def colours(src: str) -> int:
    """How many colours a data-URI or file image holds (1 for a blank image)."""
    if src.startswith("data:"):
        data = base64.b64decode(src.split(",", 1)[1])
    else:  # a PNG beside the page
        data = Path(url2pathname(urlparse(src).path)).read_bytes()
    with Image.open(io.BytesIO(data)) as image:
        found = image.convert("RGB").getcolors(maxcolors=1_000_000)
    return len(found) if found is not None else 1_000_000


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", PAGES)
def test_nothing_overflows_sideways(seen: dict, name: str, width: int) -> None:
    probe = seen[name, width].probe
    assert probe["innerWidth"] == width
    assert probe["scrollWidth"] <= probe["innerWidth"], probe["overflowing"]
    assert probe["overflowing"] == []
    if width < 600:  # on a phone a wide table is split or stacked, not left to scroll
        assert probe["scrolled"] == []


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", PAGES)
def test_no_console_error_and_every_image_loads(seen: dict, name: str, width: int) -> None:
    page = seen[name, width]
    assert page.errors == []
    assert page.probe["images"], "a page with no figure"
    for image in page.probe["images"]:
        assert image["complete"] and image["naturalWidth"] > 0, image["alt"]
        assert 0 < image["shownWidth"] <= width, image["alt"]


@pytest.mark.parametrize("name", PAGES)
def test_no_figure_is_empty(seen: dict, name: str) -> None:
    figures = seen[name, WIDTHS[0]].probe["figures"]
    assert figures
    for figure in figures:
        assert figure["images"] >= 1, figure["id"]
        assert all(colours(src) > 50 for src in figure["src"]), figure["id"]
