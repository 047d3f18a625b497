"""Screenshots of every page kind at 1,280 and 390 px, for a person to look at.

    python tests/report/report_shots.py DIR      (what `make report-shots` runs)

Builds the pages of `report_pages` under DIR/pages and writes DIR/<page>-<width>.png, each a
whole page captured beyond the viewport, with headless Chromium (`$TWIN_CHROMIUM`,
/usr/bin/chromium or `chromium` on PATH).
"""

from __future__ import annotations

import sys
import tempfile
import types
from pathlib import Path

# A package called `tests` is installed in site-packages by a dependency: make `tests` this
# repository's folder, as pytest does, before importing the helpers beside this file.
ROOT = Path(__file__).resolve().parents[2]
sys.modules["tests"] = types.ModuleType("tests")
sys.modules["tests"].__path__ = [str(ROOT / "tests")]
sys.path.insert(0, str(ROOT))

from tests.report.report_cdp import inspect_pages  # noqa: E402
from tests.report.report_pages import build_pages  # noqa: E402
from tests.report.test_report_browser import chromium_path  # noqa: E402

WIDTHS = (1280, 390)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python tests/report/report_shots.py DIR", file=sys.stderr)
        return 2
    chromium = chromium_path()
    if chromium is None:
        print("report-shots: chromium is not installed (set TWIN_CHROMIUM)", file=sys.stderr)
        return 2
    out = Path(argv[0])
    pages = build_pages(out / "pages", exact=True)
    keys = [(name, width) for name in pages for width in WIDTHS]
    with tempfile.TemporaryDirectory() as profile:
        seen = inspect_pages(chromium, [(pages[n], w) for n, w in keys], Path(profile))
    for (name, width), page in zip(keys, seen, strict=True):
        shot = out / f"{name}-{width}.png"
        shot.write_bytes(page.screenshot)
        print(shot)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
