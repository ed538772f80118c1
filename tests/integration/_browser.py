"""A real headless browser for the report tests: Debian's chromium driven over the DevTools protocol.

Chromium listens on 127.0.0.1 only (``--remote-debugging-port=0``, the port read from
``DevToolsActivePort`` in its profile folder); we speak to it with aiohttp's websocket
client. Every wait is bounded; the browser is killed on exit.

A page opened to be timed is not inspected: with the DevTools ``Runtime`` domain on,
V8 keeps source positions for every function it compiles (for the stack traces of
console messages), which doubled the time to compile plotly.js in our traces, a cost
no reader of the page pays. Errors are then recorded by a script the page runs first
(uncaught errors, rejected promises, ``console.error`` and failed ``console.assert``).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

CHROMIUM_NAMES = ("chromium", "chromium-browser")
START_TIMEOUT_S = 30.0
COMMAND_TIMEOUT_S = 60.0
RENDER_TIMEOUT_S = 60.0


def chromium_or_skip() -> str:
    """The chromium executable; skip when absent, fail when VIRTUOSO_REQUIRE_DATA=1 (CI installs it)."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    reason = "chromium is not installed (apt-get install -y chromium; .ci/run installs it)"
    if os.environ.get("VIRTUOSO_REQUIRE_DATA") == "1":
        pytest.fail(reason + " and VIRTUOSO_REQUIRE_DATA=1")
    pytest.skip(reason)


ERROR_RECORDER = """
window.__pageErrors = [];
window.addEventListener("error", function (e) { window.__pageErrors.push("error: " + e.message); });
window.addEventListener("unhandledrejection", function (e) { window.__pageErrors.push("rejected: " + e.reason); });
(function (error, assert) {
  console.error = function () {
    window.__pageErrors.push("console.error: " + Array.prototype.join.call(arguments, " "));
    return error.apply(console, arguments);
  };
  console.assert = function (ok) {
    if (!ok) window.__pageErrors.push("console.assert: " + Array.prototype.slice.call(arguments, 1).join(" "));
    return assert.apply(console, arguments);
  };
})(console.error, console.assert);
"""
"""Run before a page's own scripts when it is not inspected: keeps its errors in ``window.__pageErrors``."""


@dataclass
class Page:
    """One browser tab: send DevTools commands, collect console errors and exceptions."""

    socket: aiohttp.ClientWebSocketResponse
    inspected: bool = True
    errors: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one command and return its result (events arriving meanwhile are kept)."""
        call = next(self._ids)
        await self.socket.send_json({"id": call, "method": method, "params": params})
        async with asyncio.timeout(COMMAND_TIMEOUT_S):
            while True:
                message = await self.socket.receive_json()
                if message.get("id") == call:
                    if "error" in message:
                        raise RuntimeError(f"{method}: {message['error']}")
                    result: dict[str, Any] = message.get("result", {})
                    return result
                self._keep(message)

    def _keep(self, message: dict[str, Any]) -> None:
        method, params = message.get("method", ""), message.get("params", {})
        self.events.append(message)
        if method == "Runtime.exceptionThrown":
            self.errors.append(json.dumps(params.get("exceptionDetails", {}))[:500])
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.errors.append(json.dumps(params.get("args", []))[:500])
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            self.errors.append(str(params["entry"].get("text"))[:500])

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page."""
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def open(self, url: str, ready: str) -> float:
        """Navigate to ``url`` and wait until the expression ``ready`` is true; the seconds it took."""
        started = time.perf_counter()
        await self.send("Page.navigate", url=url)
        async with asyncio.timeout(RENDER_TIMEOUT_S):
            while not await self.evaluate(ready):  # noqa: ASYNC110 - polling the page, bounded by the timeout
                await asyncio.sleep(0.02)
        took = time.perf_counter() - started
        if not self.inspected:
            self.errors.extend(await self.evaluate("window.__pageErrors || ['the error recorder did not run']"))
        return took

    async def main_thread_s(self) -> float:
        """CPU seconds the page's main thread has run so far (after ``Performance.enable`` with thread ticks)."""
        metrics = (await self.send("Performance.getMetrics"))["metrics"]
        return float(next(m["value"] for m in metrics if m["name"] == "ThreadTime"))

    async def screenshot(self, height: int | None = None) -> bytes:
        """A PNG of the page, 1400 px wide and ``height`` tall (default: the whole page, up to 6000 px)."""
        if height is None:
            height = min(int(await self.evaluate("document.documentElement.scrollHeight")), 6000)
        await self.send(
            "Emulation.setDeviceMetricsOverride", width=1400, height=height, deviceScaleFactor=1, mobile=False
        )
        shot = await self.send("Page.captureScreenshot", format="png")
        return base64.b64decode(shot["data"])


@asynccontextmanager
async def headless_page(profile: Path, *, inspected: bool = True) -> AsyncIterator[Page]:
    """A fresh headless chromium (profile in ``profile``) and one page in it.

    Inspected, its console and exceptions come over DevTools; else (to time it) the page records its own errors.
    """
    executable = chromium_or_skip()
    process = subprocess.Popen(  # noqa: ASYNC220 - the browser runs beside the loop; we only wait on its port file
        [executable, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--no-first-run", "--no-default-browser-check", "--remote-debugging-address=127.0.0.1",
         "--remote-debugging-port=0", f"--user-data-dir={profile}", "--window-size=1400,1000", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        port = await _devtools_port(profile, process)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/json/list", timeout=aiohttp.ClientTimeout(10)) as response:
                targets = await response.json()
            target = next(t for t in targets if t.get("type") == "page")
            async with http.ws_connect(
                target["webSocketDebuggerUrl"], max_msg_size=0, timeout=aiohttp.ClientWSTimeout(ws_close=30.0)
            ) as socket:
                page = Page(socket, inspected)
                for domain in ("Page", "Runtime", "Log") if inspected else ("Page",):
                    await page.send(f"{domain}.enable")
                if not inspected:
                    await page.send("Page.addScriptToEvaluateOnNewDocument", source=ERROR_RECORDER)
                yield page
    finally:
        process.kill()
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)


async def _devtools_port(profile: Path, process: subprocess.Popen[bytes]) -> int:
    marker = profile / "DevToolsActivePort"
    async with asyncio.timeout(START_TIMEOUT_S):
        while not (text := await asyncio.to_thread(_read, marker)):
            if process.poll() is not None:
                raise RuntimeError(f"chromium exited with {process.returncode} before it listened")
            await asyncio.sleep(0.05)
    return int(text.split()[0])


def _read(path: Path) -> str:
    return path.read_text().strip() if path.exists() else ""
