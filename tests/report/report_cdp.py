"""A small Chrome DevTools Protocol client: open a page in headless Chromium and inspect it.

Used by the browser tests to check that a report renders: every image decoded (natural
width > 0), no console errors or uncaught exceptions, and no request leaving the file
(only `data:` and `file:` URLs). Talks to Chromium over its remote-debugging websocket with
aiohttp's client; Chromium runs with a fresh profile and every network feature switched off.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

__all__ = ["CHROMIUM_FLAGS", "PageReport", "inspect_page", "inspect_pages"]

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)

# Runs in the page: what a reader would see of every image, and the page's outline.
_PROBE = """JSON.stringify({
  title: document.title,
  headings: Array.from(document.querySelectorAll('h2')).map(h => h.textContent.trim()),
  scripts: document.scripts.length,
  images: Array.from(document.images).map(i => ({
    alt: i.alt, complete: i.complete, naturalWidth: i.naturalWidth,
    naturalHeight: i.naturalHeight, shownWidth: i.getBoundingClientRect().width,
    src: i.currentSrc.slice(0, 22)})),
  scrollWidth: document.documentElement.scrollWidth,
  innerWidth: window.innerWidth,
  overflowing: Array.from(document.querySelectorAll('body *')).filter(e => {
    const style = getComputedStyle(e);
    if (style.display === 'inline' || e.closest('svg')) return false;
    const inScroller = e.parentElement && e.parentElement.closest('.scroll');
    const wide = e.getBoundingClientRect().right > document.documentElement.clientWidth + 1;
    const spills = style.overflowX === 'visible' && e.clientWidth > 0
      && e.scrollWidth > e.clientWidth + 1;
    return (spills || wide) && !inScroller;
  }).map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : '')
             + (e.id ? '#' + e.id : '')),
  scrolled: Array.from(document.querySelectorAll('.scroll')).filter(e =>
    e.offsetParent !== null && e.scrollWidth > e.clientWidth + 1).map(e => {
      const t = e.querySelector('table, caption, th');
      return (t ? t.textContent : e.textContent).trim().slice(0, 60); }),
  figures: Array.from(document.querySelectorAll('figure')).map(f => ({
    id: f.id, images: f.querySelectorAll('img').length,
    src: Array.from(f.querySelectorAll('img')).map(i => i.currentSrc)})),
})"""


@dataclass
class PageReport:
    """What the browser saw: the probe's answer, errors, every URL requested, a screenshot."""

    probe: dict[str, Any]
    errors: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    screenshot: bytes = b""


class _Session:
    """One websocket to one page target: commands by id, events kept in order."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        self._loaded = asyncio.Event()

    async def read(self) -> None:
        async for message in self._ws:
            data = json.loads(message.data)
            if "id" in data:
                self._pending.pop(data["id"]).set_result(data)
                continue
            self.events.append(data)
            if data.get("method") == "Page.loadEventFired":
                self._loaded.set()

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        ident = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._pending[ident] = future
        await self._ws.send_json({"id": ident, "method": method, "params": params})
        reply = await asyncio.wait_for(future, 30)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    async def loaded(self) -> None:
        await asyncio.wait_for(self._loaded.wait(), 30)


def _errors(events: list[dict[str, Any]]) -> list[str]:
    errors = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            errors.append(f"exception: {params['exceptionDetails'].get('text')}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append(f"console.{params['type']}: {params.get('args')}")
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            errors.append(f"log: {params['entry'].get('text')} {params['entry'].get('url', '')}")
    return errors


async def _port(profile: Path, process: subprocess.Popen[bytes]) -> int:
    marker = profile / "DevToolsActivePort"
    for _ in range(300):
        if marker.exists() and marker.read_text().strip():
            return int(marker.read_text().splitlines()[0])
        if process.poll() is not None:
            raise RuntimeError(f"chromium exited with code {process.returncode}")
        await asyncio.sleep(0.1)
    raise TimeoutError("chromium did not open its debugging port within 30 s")


async def _inspect(session: _Session, url: str, width: int) -> PageReport:
    for domain in ("Page", "Runtime", "Log", "Network"):
        await session.send(f"{domain}.enable")
    await session.send(
        "Emulation.setDeviceMetricsOverride",
        width=width, height=900, deviceScaleFactor=1, mobile=False,
    )  # fmt: skip
    await session.send("Page.navigate", url=url)
    await session.loaded()
    reply = await session.send("Runtime.evaluate", expression=_PROBE, returnByValue=True)
    probe = json.loads(reply["result"]["value"])
    shot = await session.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
    urls = [
        e["params"]["request"]["url"]
        for e in session.events
        if e.get("method") == "Network.requestWillBeSent"
    ]
    return PageReport(probe, _errors(session.events), urls, base64.b64decode(shot["data"]))


async def _open(http: aiohttp.ClientSession, port: int, url: str, width: int) -> PageReport:
    """A fresh tab for one page at one width; closed after."""
    async with http.put(f"http://127.0.0.1:{port}/json/new?about:blank") as response:
        target = await response.json(content_type=None)
    try:
        async with http.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            session = _Session(ws)
            reader = asyncio.create_task(session.read())
            try:
                return await _inspect(session, url, width)
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
    finally:
        async with http.get(f"http://127.0.0.1:{port}/json/close/{target['id']}") as closed:
            await closed.read()


async def _run(chromium: str, pages: list[tuple[str, int]], profile: Path) -> list[PageReport]:
    args = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
            "--remote-debugging-port=0", "--window-size=1200,900", "about:blank"]  # fmt: skip
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port = await _port(profile, process)
        async with aiohttp.ClientSession() as http:
            return [await _open(http, port, url, width) for url, width in pages]
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def inspect_page(chromium: str, path: Path, profile: Path, *, width: int = 1200) -> PageReport:
    """Open `path` in headless Chromium with a fresh profile, a viewport `width` CSS px wide,
    and report what it saw."""
    return inspect_pages(chromium, [(path, width)], profile)[0]


def inspect_pages(chromium: str, pages: list[tuple[Path, int]], profile: Path) -> list[PageReport]:
    """Each `(path, width)` in its own tab of one headless Chromium; what each tab saw."""
    profile.mkdir(parents=True, exist_ok=True)
    uris = [(path.resolve().as_uri(), width) for path, width in pages]
    return asyncio.run(_run(chromium, uris, profile))
