"""`commerce codec-server`: the Temporal Web UI's remote codec endpoint, so an operator reads the
encrypted history in clear in the UI — and only there — without the keys ever leaving the shop.

Temporal's remote codec protocol: POST /decode (and /encode) with `{"payloads": [...]}` in
protobuf JSON, answered in the same shape.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jwt
from fastapi import FastAPI, Header, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads
from temporalio.converter import PayloadCodec

from api.problems import problem_response
from commerce.payload_codec import codec_for
from commerce.settings import Settings
from commerce.tokens import signing_secret


def create_codec_app(
    codec: PayloadCodec, ui_origin: str, require_token: Any | None = None
) -> FastAPI:
    """`require_token(authorization_header)` raises when the caller may not read payloads."""
    app = FastAPI(title="Commerce payload codec", docs_url=None, redoc_url=None)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=[ui_origin],
        allow_methods=["POST", "OPTIONS"],
        allow_headers=["content-type", "x-namespace", "authorization"],
        allow_credentials=True,
    )

    async def convert(request: Request, authorization: str | None, decode: bool) -> JSONResponse:
        if require_token is not None:
            try:
                require_token(authorization)
            except Exception as error:
                return problem_response(401, f"not allowed to read payloads: {error}")
        try:
            payloads = json_format.Parse(await request.body(), Payloads())
        except json_format.ParseError as error:
            return problem_response(400, f"not a Payloads document: {error}")
        converted = await (codec.decode if decode else codec.encode)(payloads.payloads)
        body = json_format.MessageToDict(Payloads(payloads=converted))
        return JSONResponse(body or {"payloads": []})

    @app.post("/decode")
    async def decode(request: Request, authorization: str | None = Header(None)) -> JSONResponse:
        return await convert(request, authorization, decode=True)

    @app.post("/encode")
    async def encode(request: Request, authorization: str | None = Header(None)) -> JSONResponse:
        return await convert(request, authorization, decode=False)

    return app


def _admin_token_check(settings: Settings) -> Callable[[str | None], None]:
    """Production: only an admin's bearer token may read payloads in clear."""

    def check(authorization: str | None) -> None:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise PermissionError("an admin bearer token is required")
        claims = jwt.decode(token, signing_secret(settings), algorithms=["HS256"])
        if "admin" not in claims.get("roles", []):
            raise PermissionError("the token is not an admin's")

    return check


def serve_codec(settings: Settings) -> None:
    """`commerce codec-server`; in development it trusts loopback callers (the dev UI has no
    login), in production it asks for an admin token (the UI forwards the operator's)."""
    import uvicorn

    check = _admin_token_check(settings) if settings.environment == "production" else None
    app = create_codec_app(codec_for(settings), settings.temporal_ui_url, check)
    uvicorn.run(app, host=settings.api_host, port=settings.codec_port, log_config=None)
