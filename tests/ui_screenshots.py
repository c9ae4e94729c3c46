"""Screenshots of the Temporal Web UI as an operator sees it, kept in docs/images/: the saga list
filtered by `OrderStatus = "stalled"` and one saga's page, with the summaries the codec server
decrypts. Run against a `make run` stack with stalled sagas (docs/operating-sagas.md):

    python -m tests.ui_screenshots http://127.0.0.1:8233 order-<id>/<run id> docs/images
"""

from __future__ import annotations

import asyncio
import base64
import sys
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

from tests.e2e.test_docs_offline import _CHROMIUM_FLAGS, CHROMIUM, DevTools

LIST = "/namespaces/default/workflows?query=OrderStatus%3D%22stalled%22"


async def _shoot(tools: DevTools, url: str, path: Path, width: int, height: int) -> None:
    await tools.send(
        "Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
        mobile=False,
    )  # fmt: skip
    await tools.send("Page.navigate", url=url)
    await asyncio.sleep(6)  # the UI loads, lists, and asks the codec server to decrypt
    shot = await tools.send("Page.captureScreenshot", format="png")
    await asyncio.to_thread(path.write_bytes, base64.b64decode(shot["data"]))


async def main(ui: str, saga: str, out: Path) -> None:
    profile = out / ".chromium-profile"
    browser = await asyncio.create_subprocess_exec(
        str(CHROMIUM), *_CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        active = profile / "DevToolsActivePort"
        while not (active.exists() and active.read_text().strip()):
            await asyncio.sleep(0.1)
        port = active.read_text().split()[0]
        async with httpx.AsyncClient() as client:
            targets = (await client.get(f"http://127.0.0.1:{port}/json/list")).json()
        target = next(t for t in targets if t["type"] == "page")
        async with connect(target["webSocketDebuggerUrl"], max_size=None) as socket:
            tools = DevTools(socket)
            for domain in ("Page", "Runtime"):
                await tools.send(f"{domain}.enable")
            await _shoot(tools, ui + LIST, out / "temporal-ui-stalled-sagas.png", 1500, 700)
            page = f"{ui}/namespaces/default/workflows/{saga}/history"
            await _shoot(tools, page, out / "temporal-ui-saga.png", 1500, 1300)
            await tools.close()
    finally:
        browser.terminate()
        await browser.wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], Path(sys.argv[3])))
