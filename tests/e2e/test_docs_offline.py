"""/docs works on a machine without internet: headless Chromium, driven over the DevTools
protocol, opens the page served by the API, authorizes with a bearer token through the page's own
dialog, creates a cart, adds a line and places an order by pressing "Execute", and every request
the page made went to the API itself."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from websockets.asyncio.client import ClientConnection, connect

from api.app import create_app
from commerce.embedded import free_port
from commerce.settings import Settings
from tests.e2e.conftest import Caller, CreateProduct
from tests.e2e.orders_support import ADDRESS, wait_for_status

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Chromium at /usr/bin/chromium (Debian: apt-get install -y chromium)",
)
_CHROMIUM_FLAGS = [  # headless, and no call home: a closed network refuses those anyway
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--remote-debugging-port=0",
]  # fmt: skip
_TIMEOUT_S = 60


class DevTools:
    """One page of the browser over the Chrome DevTools Protocol: commands and the events seen."""

    def __init__(self, socket: ClientConnection) -> None:
        self._socket = socket
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self._socket:
            message = json.loads(raw)
            if "id" in message and message["id"] in self._waiting:
                self._waiting.pop(message["id"]).set_result(message)
            else:
                self.events.append(message)

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        command_id = next(self._ids)
        self._waiting[command_id] = asyncio.get_running_loop().create_future()
        await self._socket.send(json.dumps({"id": command_id, "method": method, "params": params}))
        answer = await asyncio.wait_for(self._waiting[command_id], _TIMEOUT_S)
        assert "error" not in answer, answer
        return answer["result"]  # type: ignore[no-any-return]

    async def evaluate(self, expression: str) -> Any:
        result = await self.send(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    async def close(self) -> None:
        self._reader.cancel()
        await self._socket.close()


@pytest.fixture
async def docs_url(settings: Settings) -> AsyncIterator[str]:
    """The API under uvicorn on a free loopback port, as `make run` serves it."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_config=None)
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        assert not serving.done(), "uvicorn did not start"
        await asyncio.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await serving


@pytest.fixture
async def page(tmp_path: Path) -> AsyncIterator[DevTools]:
    profile = tmp_path / "chromium-profile"
    browser = await asyncio.create_subprocess_exec(
        str(CHROMIUM), *_CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        active_port = profile / "DevToolsActivePort"
        for _ in range(_TIMEOUT_S * 10):
            if active_port.exists() and active_port.read_text().strip():
                break
            assert browser.returncode is None, "Chromium exited"
            await asyncio.sleep(0.1)
        port = active_port.read_text().split()[0]
        async with httpx.AsyncClient() as client:
            targets = (await client.get(f"http://127.0.0.1:{port}/json/list")).json()
        target = next(t for t in targets if t["type"] == "page")
        async with connect(target["webSocketDebuggerUrl"], max_size=None) as socket:
            tools = DevTools(socket)
            for domain in ("Network", "Page", "Runtime"):
                await tools.send(f"{domain}.enable")
            yield tools
            await tools.close()
    finally:
        browser.terminate()
        try:
            await asyncio.wait_for(browser.wait(), 10)
        except TimeoutError:
            browser.kill()
            await browser.wait()


# Drives Swagger UI as a person would; React inputs take a value through the native setter and
# an input event. Each helper resolves once the page shows what the click produced.
_HELPERS = r"""
window.__until = (find, what) => new Promise((resolve, reject) => {
  const started = Date.now();
  const poll = () => {
    const found = find();
    if (found) return resolve(found);
    if (Date.now() - started > 20000) return reject(new Error('timed out waiting for ' + what));
    setTimeout(poll, 50);
  };
  poll();
});
window.__type = (element, value) => {
  const setter = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(element), 'value').set;
  setter.call(element, value);
  element.dispatchEvent(new Event('input', {bubbles: true}));
  element.dispatchEvent(new Event('change', {bubbles: true}));
};
window.__authorize = async (token) => {
  document.querySelector('.auth-wrapper .authorize').click();
  const input = await __until(() => document.querySelector('.modal-ux input'), 'the token field');
  __type(input, token);
  document.querySelector('.modal-ux .auth-btn-wrapper .authorize').click();
  await __until(() => document.querySelector('.modal-ux .auth-btn-wrapper .btn-done, .modal-ux button.logout'), 'logged in');
  document.querySelector('.modal-ux .close-modal').click();
  return document.querySelector('.auth-wrapper .authorize').classList.contains('locked');
};
window.__execute = async (domId, params, body) => {
  const block = document.getElementById(domId);
  if (!block.classList.contains('is-open')) block.querySelector('.opblock-summary-control').click();
  const tryOut = await __until(() => block.querySelector('.try-out__btn'), 'Try it out');
  if (!tryOut.classList.contains('cancel')) tryOut.click();
  await __until(() => block.querySelector('.execute'), 'Execute');
  for (const [name, value] of Object.entries(params)) {
    __type(await __until(() => block.querySelector(`tr[data-param-name="${name}"] input`), name), value);
  }
  if (body !== null) {
    __type(await __until(() => block.querySelector('textarea.body-param__text'), 'the body'), body);
  }
  await new Promise(resolve => setTimeout(resolve, 600));  // parameter fields debounce by 300 ms
  block.querySelector('.execute').click();
  const status = await __until(() => block.querySelector('.live-responses-table tr.response .response-col_status'), 'the answer');
  const answer = block.querySelector('.live-responses-table tr.response .response-col_description .microlight');
  return {status: status.textContent.trim(), body: answer ? answer.textContent : ''};
};
true
"""


async def _execute(
    page: DevTools, operation: str, params: dict[str, str], body: dict[str, Any] | None
) -> tuple[int, dict[str, Any]]:
    sent = json.dumps(None if body is None else json.dumps(body))
    answer = await page.evaluate(
        f"__execute({json.dumps(operation)}, {json.dumps(params)}, {sent})"
    )
    return int(answer["status"]), json.loads(answer["body"] or "{}")


def _dom_id(openapi: dict[str, Any], path: str, method: str) -> str:
    operation = openapi["paths"][path][method]
    return f"operations-{operation['tags'][0]}-{operation['operationId']}"


@pytest.mark.usefixtures("saga_worker")
async def test_the_docs_page_places_an_order_with_nothing_from_the_internet(
    docs_url: str,
    page: DevTools,
    customer: Caller,
    create_product: CreateProduct,
    http: httpx.AsyncClient,
) -> None:
    product = await create_product(price=700, stock=5)
    openapi = (await http.get("/openapi.json")).json()
    await page.send("Page.navigate", url=f"{docs_url}/docs")
    operations = await page.evaluate(
        "new Promise((resolve, reject) => { const started = Date.now(); (function poll() {"
        " const n = document.querySelectorAll('.opblock').length;"
        " if (n > 10) return resolve(n);"
        " if (Date.now() - started > 30000) return reject(new Error('no operations rendered'));"
        " setTimeout(poll, 100); })(); })"
    )
    assert operations >= len([p for p in openapi["paths"] if p.startswith("/api/v1/")])
    await page.evaluate(_HELPERS)
    token = customer.headers["Authorization"].removeprefix("Bearer ")
    assert await page.evaluate(f"__authorize({json.dumps(token)})") is True

    status, cart = await _execute(page, _dom_id(openapi, "/api/v1/cart/", "post"), {}, {})
    assert status == 201, cart
    add_item = _dom_id(openapi, "/api/v1/cart/{cart_id}/items", "post")
    status, filled = await _execute(
        page, add_item, {"cart_id": cart["id"]}, {"sku": product["sku"], "quantity": 2}
    )
    assert status == 200, filled
    assert filled["subtotal"] == 1400
    checkout = {"cart_id": cart["id"], "payment_token": "tok_ok", "shipping_address": ADDRESS}
    status, order = await _execute(page, _dom_id(openapi, "/api/v1/orders/", "post"), {}, checkout)
    assert status == 202, order

    placed = await http.get(f"/api/v1/orders/{order['id']}", headers=customer.headers)
    assert placed.status_code == 200 and placed.json()["total"] == 1400
    assert (await wait_for_status(http, customer, order["id"]))["status"] == "completed"
    requested = [
        event["params"]["request"]["url"]
        for event in page.events
        if event.get("method") == "Network.requestWillBeSent"
    ]
    assert any(url.endswith("/openapi.json") for url in requested)
    assert any("swagger-ui-bundle.js" in url for url in requested)
    elsewhere = [url for url in requested if not url.startswith((docs_url, "data:", "about:"))]
    assert not elsewhere, elsewhere
