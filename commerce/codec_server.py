"""`commerce codec-server`: the Temporal Web UI's remote codec endpoint, so an operator reads the
encrypted history in clear in the UI — and only there — without the keys ever leaving the shop.

Temporal's remote codec protocol: POST /decode (and /encode) with `{"payloads": [...]}` in
protobuf JSON, answered in the same shape. Who may call it:

- production: a bearer token with the `admin` role, checked exactly as the API checks tokens
  (signature, `exp`, `iss`/`aud` when set); the UI forwards the operator's token;
- development: callers on this machine's loopback only, whatever address it binds (the dev UI
  has no login).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads
from temporalio.converter import PayloadCodec

from api.auth import require_admin
from api.problems import Problem, install_problem_handlers
from commerce.payload_codec import ENCODING, UndecryptablePayload, codec_for
from commerce.settings import Settings


def is_loopback(host: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and their IPv4-mapped forms; False for anything else or none."""
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool((mapped or address).is_loopback)


async def require_loopback(request: Request) -> None:
    """Development: only a caller on this machine; 403 otherwise."""
    if not is_loopback(request.client.host if request.client else None):
        raise Problem(403, "the development codec server answers this machine's loopback only")


def ui_origin(url: str) -> str:
    """`scheme://host[:port]` of a URL: what a browser sends as `Origin`."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def create_codec_app(codec: PayloadCodec, settings: Settings) -> FastAPI:
    """The codec endpoints, guarded for `settings.environment`; CORS for the Temporal UI only."""
    guard = require_admin if settings.environment == "production" else require_loopback
    app = FastAPI(title="Commerce payload codec", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    install_problem_handlers(app)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=[ui_origin(settings.temporal_ui_url)],
        allow_methods=["POST"],
        allow_headers=["content-type", "x-namespace", "authorization"],
    )

    async def payloads_of(request: Request) -> Payloads:
        try:
            return json_format.Parse(await request.body(), Payloads())
        except json_format.ParseError as error:
            raise Problem(400, f"not a Payloads document: {error}") from error

    @app.post("/decode", dependencies=[Depends(guard)])
    async def decode(request: Request) -> JSONResponse:
        payloads = (await payloads_of(request)).payloads
        for index, payload in enumerate(payloads):
            if payload.metadata.get("encoding") != ENCODING:
                raise Problem(422, f"payload {index} is not encrypted: there is nothing to decode")
        try:
            decoded = await codec.decode(payloads)
        except UndecryptablePayload as error:
            raise Problem(422, str(error)) from error
        return _answer(decoded)

    @app.post("/encode", dependencies=[Depends(guard)])
    async def encode(request: Request) -> JSONResponse:
        return _answer(await codec.encode((await payloads_of(request)).payloads))

    return app


def _answer(payloads: object) -> JSONResponse:
    body = json_format.MessageToDict(Payloads(payloads=payloads))  # type: ignore[arg-type]
    return JSONResponse(body or {"payloads": []})


def serve_codec(settings: Settings) -> None:
    """`commerce codec-server` on `COMMERCE_API_HOST:COMMERCE_CODEC_PORT`. Proxy headers are not
    trusted: the loopback rule reads the peer address itself."""
    import uvicorn

    app = create_codec_app(codec_for(settings), settings)
    uvicorn.run(
        app,
        host=settings.api_host,
        port=settings.codec_port,
        log_config=None,
        proxy_headers=False,
        timeout_keep_alive=settings.api_keep_alive_s,
    )
